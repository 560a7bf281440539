"""The offloading problem: choose the backend of every op and cut the model into parts for least end-to-end latency.

-----------
Ops ``V`` with a time ``t(v, b)`` on each backend ``b`` allowed for them (the backend supports the op type,
the rules do not pin it elsewhere, ``exclude_ops`` keeps it on the default), data tensors ``i`` (bytes, one
producer, consumers), and a hand-off cost ``c(i, a, b)`` per tensor sent from a part on backend a to a later
part on backend b: the platform's link ``latency_us + bytes / bandwidth``; between two parts on one backend its
``(b, b)`` link if listed, else the default link, else nothing. A *plan* groups the ops into parts, each part
on one backend; a backend may run several parts (cpu, ruy, cpu, ...).

Valid: every op on an allowed backend; parts can be numbered so that every tensor flows to an equal or later
part (the session graph is acyclic); every part has at least ``min_part_ops`` ops (optimize_for's subgraph
rejection, TFLite's ``min_nodes_per_partition``); at most ``max_parts`` parts (``max_delegated_partitions``,
counted over all parts here); a tensor crossing between two backends needs their link.

Memory: every part is its own session, so a backend holds the sum of its parts' sessions; under a memory model
(``base.memory_model``, docs/memory.md) each part's session is the model's figure of its ops, and the sum over a
backend's parts stays within its device's capacity (``devices[].memory``). Without a model memory is not checked.

Latency: parts run one after another, as ``solve run`` and one onert session per part run them, so the
end-to-end latency is the sum of the op times plus the hand-off of every tensor into every part that reads it
outside its producer's part. (Overlapping parts on different devices is the placement's latency objective,
which puts one part per device.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from solver.errors import PlatformError
from solver.io.partrules import PartitionRules
from solver.io.platform import Link
from solver.placement.problem import PlacementProblem, supports_type


@dataclass
class OffloadProblem:
    """A placement problem with the offloading rules: allowed backends per op, hand-off costs, part limits."""

    base: PlacementProblem
    allowed: list[tuple[int, ...]]  # allowed[v]: backend numbers op v may run on
    handoff: list[list[list[int] | None]]  # handoff[a][b][i]: us to hand tensor i from a part on a to one on b
    default: int  # the default backend (the rules' default, else the platform's first device)
    reads_input: list[bool]  # op v reads a model input (circle-partitioner counts it in the default group)
    op_names: list[str | None]
    min_part_ops: int = 1
    max_parts: int | None = None
    rules: PartitionRules | None = None
    backend_min_ops: list[int] | None = None  # per backend, beside min_part_ops (partition_for's Backend.min_ops)
    reject: list[Callable[[list[int]], bool] | None] | None = None  # per backend: True rejects a part's ops

    @property
    def num_ops(self) -> int:
        return self.base.num_ops

    def min_ops(self, b: int) -> int:
        """The fewest ops a part on backend b may have."""
        return max(self.min_part_ops, self.backend_min_ops[b] if self.backend_min_ops else 1)

    def rejects(self, b: int, ops: list[int]) -> bool:
        """Whether backend b rejects a part of these ops (too small, or its own ``reject`` says so)."""
        if len(ops) < self.min_ops(b):
            return True
        check = self.reject[b] if self.reject else None
        return bool(check(sorted(ops))) if check is not None else False

    @property
    def backends(self) -> tuple[str, ...]:
        return self.base.devices

    def time(self, v: int, b: int) -> int:
        t = self.base.times[v][b]
        assert t is not None
        return t

    @property
    def memory_capped(self) -> bool:
        """Whether some backend's memory is capped under a memory model."""
        base = self.base
        return base.memory_model is not None and any(base.memory_cap(b) is not None for b in range(len(self.backends)))

    def backend_memory(self, backend: Sequence[int], parts: Sequence[int]) -> list[int] | None:
        """Each backend's memory under the memory model: the sum of its parts' sessions (None without a model)."""
        if self.base.memory_model is None:
            return None
        held = [0] * len(self.backends)
        for b, ops in _part_ops(backend, parts):
            held[b] += self.base.part_memory(ops)
        return held

    def over_memory(self, backend: Sequence[int], parts: Sequence[int]) -> list[tuple[int, list[list[int]]]]:
        """The backends whose sessions pass their capacity, each with the fewest of its parts (the largest) whose
        sessions alone pass it: no plan whose backend b runs those parts as they are fits."""
        if not self.memory_capped:
            return []
        by_backend: dict[int, list[list[int]]] = {}
        for b, ops in _part_ops(backend, parts):
            by_backend.setdefault(b, []).append(ops)
        over = []
        for b, groups in sorted(by_backend.items()):
            cap = self.base.memory_cap(b)
            if cap is None:
                continue
            held, chosen = 0, []
            for ops in sorted(groups, key=self.base.part_memory, reverse=True):
                held += self.base.part_memory(ops)
                chosen.append(ops)
                if held > cap:
                    over.append((b, chosen))
                    break
        return over


def _part_ops(backend: Sequence[int], parts: Sequence[int]) -> list[tuple[int, list[int]]]:
    """(backend, ops) of each part of a plan."""
    groups: dict[int, list[int]] = {}
    for v, k in enumerate(parts):
        groups.setdefault(k, []).append(v)
    return [(backend[ops[0]], ops) for ops in groups.values()]


def offload_problem(
    base: PlacementProblem,
    *,
    rules: PartitionRules | None = None,
    exclude_ops: Sequence[str] = (),
    min_part_ops: int = 1,
    max_parts: int | None = None,
    op_names: Sequence[str | None] | None = None,
    reads_input: Sequence[bool] | None = None,
) -> OffloadProblem:
    """The offloading problem of ``base``, its devices taken as backends.

    An op may run on a backend that supports it, is one of the rules' backends and is the one its rule names
    (an ``[OPCODE]`` or ``[OPNAME]`` entry pins it; the default is circle-partitioner's fallback, not a pin). An op
    whose type is in ``exclude_ops`` stays on the default backend.

    Raises
    ------
    PlatformError
        A rule names a backend that is not a device of the platform or does not run that op, or an op is
        left with no backend.
    """
    names, source = base.devices, base.platform.source
    known = set(rules.backends) if rules is not None else set(names)
    missing = sorted((known | ({rules.default} if rules else set())) - set(names))
    if missing:
        raise PlatformError(f"{rules.source if rules else source}: backends {missing} are not devices of {source}")
    default = names.index(rules.default) if rules is not None else 0
    n = base.num_ops
    op_names = list(op_names) if op_names is not None else [base.graph.nodes[v].get("name") for v in range(n)]
    allowed = []
    for v in range(n):
        op_type = base.graph.nodes[v].get("type", "")
        pinned = rules.rule(op_type, op_names[v]) if rules is not None else None
        if any(supports_type(frozenset([x]), op_type) for x in exclude_ops):
            pinned = names[default]
        choices = tuple(b for b, name in enumerate(names)
                        if base.times[v][b] is not None and name in known and (pinned is None or name == pinned))  # fmt: skip
        if not choices:
            why = f"pinned to {pinned}, which does not run it" if pinned else "no allowed backend runs it"
            raise PlatformError(f"{rules.source if rules else source}: op {v} ({op_type}) of {base.name}: {why}")
        allowed.append(choices)
    handoff = [[_costs(base, a, b) for b in range(len(names))] for a in range(len(names))]
    return OffloadProblem(base, allowed, handoff, default, list(reads_input or [False] * n), op_names,
                          min_part_ops, max_parts, rules)  # fmt: skip


def _costs(base: PlacementProblem, a: int, b: int) -> list[int] | None:
    if a != b:
        return base.transfer[a][b]
    platform = base.platform
    name = platform.names[a]
    link: Link | None = platform.links.get((name, name), platform.default_link)
    return [link.transfer_us(t.nbytes) if link else 0 for t in base.tensors]
