"""onert's static memory planners, simulated: the arena a backend allocates for its non-constant tensors.

Model (onert ``runtime/onert/core/src/backend/basic/MemoryPlanner.cc``, 1.30)
----------------------------------------------------------------------------
A backend's tensor builder sends its planner a sequence of ``claim(tensor, size)`` and ``release(tensor)``
events (:mod:`solver.memory.lifetimes` derives them as onert's ``planTensors`` does); the planner gives each
tensor an offset in one arena and the arena's capacity is the largest ``offset + size``. The arena is one
allocation made when the session is prepared, so its capacity is what the session holds.

- ``Bump``: each claim goes at the current end; releases do nothing. Capacity = the sum of the sizes.
- ``FirstFit``: the tensors live now are kept sorted by offset; a claim scans them from offset 0 and takes the
  first gap before a live block that fits (``next + size <= offset``), else the end of the last block scanned.
  The table is keyed by offset, so a claim at an offset already in it replaces that entry (zero-size tensors);
  a release removes the tensor's entry if it is still there.
- ``WIC`` (weighted interval colouring, onert's default): claims and releases only record interference (two
  tensors interfere when one is claimed while the other is live); at the end the tensors are placed in
  descending size (ties in claim order), each at the lowest offset where it overlaps no placed tensor it
  interferes with, scanning those by offset (ties in the order they interfered) like FirstFit.

onert picks the planner from ``CPU_MEMORY_PLANNER`` (default ``WIC``) for every backend built on its basic
tensor manager (cpu, ruy); an unknown name gets ``FirstFit`` (its factory's fallback): :func:`planner_for`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solver.errors import UsageError

PLANNERS = ("WIC", "FirstFit", "Bump")
DEFAULT_PLANNER = "WIC"  # onert's Config.lst default of CPU_MEMORY_PLANNER
CLAIM, RELEASE = "claim", "release"


@dataclass(frozen=True)
class Event:
    """One call of a planner: ``claim`` (with the tensor's size in bytes) or ``release``."""

    kind: str
    tensor: int
    size: int = 0


@dataclass(frozen=True)
class Plan:
    """A planner's answer: the arena's capacity in bytes and each tensor's offset in it."""

    capacity: int
    offsets: dict[int, int]
    sizes: dict[int, int]


def planner_for(name: str | None) -> str:
    """The planner onert uses for ``CPU_MEMORY_PLANNER=name`` (None: unset)."""
    if name is None:
        return DEFAULT_PLANNER
    return name if name in PLANNERS else "FirstFit"


def check_planner(name: str) -> str:
    """``name`` if it is one of onert's planners, else ``UsageError``."""
    if name not in PLANNERS:
        raise UsageError(f"unknown memory planner {name!r} (onert has {', '.join(PLANNERS)})")
    return name


def plan_memory(events: Iterable[Event], planner: str = DEFAULT_PLANNER) -> Plan:
    """Run ``planner`` (one of :data:`PLANNERS`) on ``events`` as onert does (see the module docstring)."""
    check_planner(planner)
    events = list(events)
    if planner == "Bump":
        return _bump(events)
    if planner == "FirstFit":
        return _first_fit(events)
    return _wic(events)


def _bump(events: Sequence[Event]) -> Plan:
    offsets, sizes, capacity = {}, {}, 0
    for e in events:
        if e.kind == CLAIM:
            offsets[e.tensor], sizes[e.tensor] = capacity, e.size
            capacity += e.size
    return Plan(capacity, offsets, sizes)


def _first_fit(events: Sequence[Event]) -> Plan:
    offsets: dict[int, int] = {}
    sizes: dict[int, int] = {}
    table: dict[int, int] = {}  # offset -> tensor, of the live tensors (onert's std::map _claim_table)
    capacity = 0
    for e in events:
        if e.kind == CLAIM:
            nxt = 0
            for base in sorted(table):
                if nxt + e.size <= base:
                    break
                nxt = base + sizes[table[base]]
            table[nxt] = e.tensor
            offsets[e.tensor], sizes[e.tensor] = nxt, e.size
            capacity = max(capacity, nxt + e.size)
        else:
            for base in sorted(table):
                if table[base] == e.tensor:
                    del table[base]
                    break
    return Plan(capacity, offsets, sizes)


def _wic(events: Sequence[Event]) -> Plan:
    live: list[int] = []  # claim order; onert's unordered_set order only matters for ties of equal offsets
    interferes: dict[int, list[int]] = {}
    claimed: list[tuple[int, int]] = []  # (size, tensor) in claim order
    for e in events:
        if e.kind == CLAIM:
            interferes.setdefault(e.tensor, []).extend(live)
            for other in live:
                interferes[other].append(e.tensor)
            live.append(e.tensor)
            claimed.append((e.size, e.tensor))
        elif e.tensor in live:
            live.remove(e.tensor)
    offsets: dict[int, int] = {}
    sizes: dict[int, int] = {}
    capacity = 0
    # std::multimap with std::greater: descending size, equal sizes in insertion (claim) order (a stable sort).
    for size, tensor in sorted(claimed, key=lambda st: -st[0]):
        nxt = 0
        placed = sorted(((offsets[o], sizes[o]) for o in interferes[tensor] if o in offsets), key=lambda b: b[0])
        for base, other_size in placed:
            if nxt + size <= base:
                break
            if nxt < base + other_size:
                nxt = base + other_size
        offsets[tensor], sizes[tensor] = nxt, size
        capacity = max(capacity, nxt + size)
    return Plan(capacity, offsets, sizes)


def live_peak(events: Iterable[Event]) -> int:
    """The largest sum of sizes of tensors live at once (claimed, not yet released): no planner does better."""
    live: dict[int, int] = {}
    peak = 0
    for e in events:
        if e.kind == CLAIM:
            live[e.tensor] = e.size
            peak = max(peak, sum(live.values()))
        else:
            live.pop(e.tensor, None)
    return peak
