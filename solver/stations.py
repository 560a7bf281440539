"""Station-oriented depth-first search for a partition with bottleneck at most C (SALBP-1 style).

The primal heuristic of the exact solver's feasibility probes (solver/exact.py). CP-SAT proves bounds
well but finds tight packings slowly when stations must be almost full; the dedicated SALBP methods
(Hoffmann 1963, SALOME: Scholl & Klein 1997) fill one station at a time instead:

- Parts are filled in order 0, 1, ..., K-1. A part's *load* is a set of unassigned ops whose
  predecessors are all in earlier parts or in the load itself, with weight at most C.
- Only *maximal* loads are tried (no further available op fits): moving an op into an earlier part
  that has room and holds its predecessors keeps a partition valid, so some solution uses maximal
  loads only. Loads are enumerated heaviest first.
- Pruning: the idle time ``sum_s (C - load_s)`` may not exceed ``K C - total``; an op must be placed by
  its latest part ``L_v`` (the tail bound of solver/exact.py); ops past a part must fit in the parts
  left.

The search stops at the first partition, or when its node or time budget runs out (it is not
exhaustive then: no answer means "not found", never "infeasible").
"""

from __future__ import annotations

import time
from collections.abc import Sequence


def fill_stations(
    weights: Sequence[int],
    preds: Sequence[Sequence[int]],
    succs: Sequence[Sequence[int]],
    num_parts: int,
    cycle: int,
    latest: Sequence[int],
    priority: Sequence[float],
    time_limit: float,
) -> list[int] | None:
    """A partition into at most ``num_parts`` parts with every load <= ``cycle``, or None if not found.

    Parameters
    ----------
    weights, preds, succs : op weights and adjacency (nodes 0..n-1).
    latest : latest feasible part of each op for this cycle (``L_v``).
    priority : larger first when several ops are available (e.g. the weight of the op and its
        descendants, the "positional weight").
    time_limit : seconds before giving up.

    Examples
    --------
    >>> fill_stations([3, 2, 2, 3], [[], [0], [0], [1, 2]], [[1, 2], [3], [3], []], 2, 5, [0, 1, 1, 1],
    ...               [10, 5, 5, 3], 1.0)
    [0, 0, 1, 1]
    """
    total = sum(weights)
    search = _Search(weights, preds, succs, num_parts, cycle, latest, priority, time.monotonic() + time_limit)
    if search.station(0, num_parts * cycle - total, total):
        return search.parts
    return None


class _Search:
    def __init__(self, weights, preds, succs, num_parts, cycle, latest, priority, deadline):
        self.w, self.succs, self.k, self.c = weights, succs, num_parts, cycle
        self.latest, self.priority, self.deadline = latest, priority, deadline
        self.missing = [len(p) for p in preds]  # unassigned predecessors of each op
        self.parts = [-1] * len(weights)
        self.nodes = 0
        self.by_latest = sorted(range(len(weights)), key=lambda v: latest[v])

    def station(self, s: int, idle: int, left: int) -> bool:
        """Fill part s and the ones after it; ``idle`` is the idle time still allowed, ``left`` the weight."""
        if left == 0 and all(p >= 0 for p in self.parts):
            return True
        if s >= self.k or left > (self.k - s) * self.c:
            return False
        available = sorted((v for v in range(len(self.w)) if self.parts[v] < 0 and self.missing[v] == 0),
                           key=lambda v: -self.priority[v])
        for load, members in self._loads(available, s):
            if self.c - load > idle:
                break  # loads come heaviest first: the rest idle even more
            for v in members:
                self._assign(v, s)
            if not self._overdue(s) and self.station(s + 1, idle - (self.c - load), left - load):
                return True
            self._undo(members)
            if time.monotonic() > self.deadline:
                return False
        return False

    def _loads(self, available: list[int], s: int) -> list[tuple[int, tuple[int, ...]]]:
        """Maximal loads of part s (at most 64), heaviest first."""
        found: list[tuple[int, tuple[int, ...]]] = []
        self._enumerate(list(available), 0, 0, [], found, s)
        found.sort(key=lambda item: -item[0])
        return found

    def _enumerate(self, cands, i, load, chosen, found, s) -> None:
        """Include/exclude each candidate in turn; ops made available by an inclusion join the candidates."""
        self.nodes += 1
        if len(found) >= 64 or (self.nodes & 1023 == 0 and time.monotonic() > self.deadline):
            return
        while i < len(cands) and load + self.w[cands[i]] > self.c:
            i += 1
        if i == len(cands):
            if not any(load + self.w[v] <= self.c for v in cands if v not in chosen):
                found.append((load, tuple(chosen)))
            return
        v = cands[i]
        freed = [u for u in self.succs[v] if self.missing[u] == 1]
        for u in self.succs[v]:
            self.missing[u] -= 1
        chosen.append(v)
        self._enumerate(cands + freed, i + 1, load + self.w[v], chosen, found, s)
        chosen.pop()
        for u in self.succs[v]:
            self.missing[u] += 1
        if self.latest[v] > s:  # an op whose last chance is part s must go in
            self._enumerate(cands, i + 1, load, chosen, found, s)

    def _overdue(self, s: int) -> bool:
        return any(self.parts[v] < 0 for v in self.by_latest if self.latest[v] <= s)

    def _assign(self, v: int, s: int) -> None:
        self.parts[v] = s
        for u in self.succs[v]:
            self.missing[u] -= 1

    def _undo(self, members) -> None:
        for v in members:
            self.parts[v] = -1
            for u in self.succs[v]:
                self.missing[u] += 1
