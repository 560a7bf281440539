"""The readable report of an offloading plan: its parts, latency and status beside the baselines."""

from __future__ import annotations

from solver.offload.offload import OffloadResult


def format_offload(result: OffloadResult) -> str:
    """The parts in run order (backend, ops), the plan's latency, hand-offs and status, beside the baselines."""
    m, problem = result.metrics, result.problem
    names = problem.backends
    lines = [f"{problem.base.name}: {problem.num_ops} ops offloaded to backends {', '.join(names)} of "
             f"{problem.base.platform.source.name} ({result.algo}), objective sequential latency"]  # fmt: skip
    lines += [f"note: {note}" for note in result.notes]
    lines += ["", f"{'part':>4} {'backend':<12} {'ops':>5}"]
    lines += [f"{k:>4} {names[b]:<12} {c:>5}" for k, (b, c) in enumerate(zip(m.part_backends, m.part_ops))]
    lines += ["", f"{'plan':<20} {'latency us':>11} {'compute us':>11} {'hand-off us':>12} {'hand-offs':>9} {'parts':>5}"]
    rows = [(result.algo + " (this)", m)] + [(name, b) for name, b in result.baselines.items() if name != result.algo]
    for name, plan in rows:
        if plan is None:
            lines.append(f"{name:<20} {'breaks the limits':>11}")
        else:
            lines.append(f"{name:<20} {plan.latency:>11} {plan.compute:>11} {plan.handoff_time:>12} "
                         f"{plan.handoffs:>9} {plan.num_parts:>5}")  # fmt: skip
    memory = result.backend_memory()
    if memory:
        lines += ["", f"memory per backend ({problem.base.memory_name} model; a backend holds each of its parts' "
                      "sessions)",
                  f"{'backend':<12} {'sessions':>8} {'predicted':>12} {'capacity':>12}"]
        lines += [f"{b.backend:<12} {b.sessions:>8} {_mb(b.predicted):>12} "
                  f"{'any' if b.capacity is None else _mb(b.capacity):>12}{'  OVER' if b.over else ''}"
                  for b in memory]  # fmt: skip
    lines += ["", f"latency:          {m.latency} us, {result.status}, proven bound {result.bound} us, gap {result.gap:.2%}",
              f"time              {result.time:.2f} s"]  # fmt: skip
    return "\n".join(lines)


def _mb(nbytes: int) -> str:
    return f"{nbytes / 2**20:.2f} MB"
