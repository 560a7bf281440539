"""The readable report of a placement: per device, per used link, the objective and how good it is."""

from __future__ import annotations

from solver.placement.place import PlacementResult
from solver.placement.replicas import Replicated


def format_placement(result: PlacementResult) -> str:
    """Devices (ops, compute, memory of capacity), links used (tensors, bytes, time), objective and bound."""
    m, problem = result.metrics, result.problem
    devices = problem.devices
    rank = {d: k for k, d in enumerate(m.order)}
    lines = [f"{problem.name}: {problem.num_ops} ops on {len(devices)} devices of {problem.platform.source.name}, "
             f"objective {result.objective}"]  # fmt: skip
    lines += [f"note: {note}" for note in result.notes]
    engine = f" {'engine us':>10}" if m.overhead else ""
    lines += ["", f"memory: the {problem.memory_name} model's figure of each device's session",
              f"{'device':<12} {'part':>4} {'ops':>5} {'compute us':>11}{engine} {'memory B':>12} {'of capacity':>12}"]
    for d, name in enumerate(devices):
        cap = problem.memory_cap(d)
        over = "  OVER" if cap is not None and m.memory[d] > cap else ""
        engine = f" {m.overhead[d]:>10}" if m.overhead else ""
        lines.append(f"{name:<12} {rank.get(d, '-'):>4} {m.op_counts[d]:>5} {m.compute[d]:>11}{engine} "
                     f"{m.memory[d]:>12} {'unlimited' if cap is None else cap:>12}{over}")  # fmt: skip
    if m.overhead:
        lines.append("engine us: the measured engine's cost per request beyond the compute (tasks, tensors through "
                     "the session), counted in the objective")  # fmt: skip
    if m.links:
        lines += ["", f"{'link':<25} {'tensors':>7} {'bytes':>12} {'time us':>9}"]
        lines += [f"{devices[l.source] + ' -> ' + devices[l.target]:<25} {l.tensors:>7} {l.nbytes:>12} {l.time:>9}"
                  for l in m.links]  # fmt: skip
    else:
        lines += ["", "no tensor crosses a link"]
    lines += [
        "",
        f"bottleneck        {m.throughput} us, at the {m.bottleneck_at}",
        f"latency           {m.latency} us (a request's way through the parts, each starting once all it reads "
        "have finished)",
        f"{result.objective + ':':<17} {result.value} us, {result.status}, proven bound {result.bound} us, "
        f"gap {result.gap:.2%}",
    ]
    if result.seed002 is not None:
        seed = result.seed002
        held = [sum(1 for a in seed.assign if a == d) for d in seed.nodes]
        path = ", ".join(f"{devices[d]} {n} op{'s' if n != 1 else ''}" for d, n in zip(seed.nodes, held))
        shown = "" if list(result.assign) == list(seed.assign) else "; the table above is the solver's answer, not this"
        lines.append(f"seed 002          worst hop {seed.bottleneck_s:.3f} s by its own transfer sizes "
                     f"({len(seed.segments)} segments along its path: {path}{shown})")  # fmt: skip
    if result.heuristic is not None:
        lines.append(f"{'seed 002' if result.seed002 is not None else 'greedy chain':<17} {result.heuristic} us")
    lines.append(f"time              {result.time:.2f} s")
    return "\n".join(lines)


def format_replicated(answer: Replicated, proven: bool, model: str, platform) -> str:
    """A replicated placement: each stage's devices (ops, load per request), links used, the period."""
    lines = [f"{model}: {len(answer.stages)} stages on {len(answer.devices)} devices of {platform}, replicated "
             "stages dealt requests round robin", "",
             f"{'stage':>5} {'ops':>5}  {'device':<12} {'load us':>10}"]  # fmt: skip
    for s, ops in enumerate(answer.stages):
        for d in answer.replicas(s):
            name = answer.devices[d]
            lines.append(f"{s:>5} {len(ops):>5}  {name:<12} {answer.device_us[name]:>10.1f}")
    if answer.link_us:
        lines += ["", f"{'link':<25} {'bytes':>12} {'load us':>10}"]
        lines += [f"{a + ' -> ' + b:<25} {answer.link_bytes[a, b]:>12.0f} {us:>10.1f}" for (a, b), us in answer.link_us.items()]
    else:
        lines += ["", "no tensor crosses a link"]
    lines += ["", f"period            {answer.period} us ({answer.throughput:.2f} inf/s), at the {answer.bottleneck_at}, "
              f"{'OPTIMAL' if proven else 'FEASIBLE (not proven optimal in the time)'}",
              f"latency           {answer.latency_us:.0f} us (each stage on its slowest replica)"]  # fmt: skip
    return "\n".join(lines)
