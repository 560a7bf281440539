"""Station-oriented depth-first search for a partition with bottleneck at most C (SALBP-1 style).

The primal heuristic of the exact solver's feasibility probes (solver/exact.py). CP-SAT proves bounds
well but finds tight packings slowly when stations must be almost full; the dedicated SALBP methods
(Hoffmann 1963, SALOME: Scholl & Klein 1997) fill one station at a time instead:

- Parts are filled in order 0, 1, ..., K-1. A part's *load* is a set of unassigned ops whose
  predecessors are all in earlier parts or in the load itself, with weight at most C.
- Only *maximal* loads are tried (no further available op fits): moving an op into an earlier part
  that has room and holds its predecessors keeps a partition valid, so some solution uses maximal
  loads only. Loads are tried heaviest first, and only those idling at most the idle time left (an
  enumeration branch whose load plus the weight it has not excluded falls short is cut).
- Jackson dominance: op u *dominates* v when ``w_u >= w_v`` and u's successors include v's (ties
  broken by index, so dominance is a strict order). A load holding v but not an available u that
  dominates it, where v may leave the part (``L_v > s``, no successor of v in the load) and swapping
  them still fits, is skipped: the swapped load leaves later parts at least as free.
- Pruning: the idle time ``sum_s (C - load_s)`` may not exceed ``K C - total``; an op must be placed by
  its latest part ``L_v`` (the tail bound of solver/exact.py); the ops left must fit in the parts left,
  by weight (``ceil(left / C)`` parts) and by the bin-packing bound LB2 (an op heavier than ``C / 2``
  needs a part of its own, two of exactly ``C / 2`` share one); a set of assigned ops that failed from
  part s fails from any later part (memo).

Running it on the reversed graph (parts filled from the last) is the backward direction of SALOME's
bidirectional search; the caller alternates both.

The search stops at the first partition, or when its node or time budget runs out (it is not
exhaustive then: no answer means "not found", never "infeasible").
"""

from __future__ import annotations

import time
from collections.abc import Sequence

_MAX_LOADS = 64  # loads tried per part; the caller restarts under other priorities rather than exhaust one


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
        self.w, self.preds, self.succs, self.k, self.c = weights, preds, succs, num_parts, cycle
        self.latest, self.priority, self.deadline = latest, priority, deadline
        self.missing = [len(p) for p in preds]  # unassigned predecessors of each op
        self.parts = [-1] * len(weights)
        self.assigned = 0  # bit v set: op v has a part
        self.failed: dict[int, int] = {}  # assigned set -> earliest part from which filling it failed
        self.nodes = 0
        self.opened = 0  # ops available when the current part was opened (the first candidates)
        self.by_latest = sorted(range(len(weights)), key=lambda v: latest[v])

    def station(self, s: int, idle: int, left: int) -> bool:
        """Fill part s and the ones after it; ``idle`` is the idle time still allowed, ``left`` the weight."""
        if left == 0 and all(p >= 0 for p in self.parts):
            return True
        if s >= self.k or left > (self.k - s) * self.c or s >= self.failed.get(self.assigned, self.k):
            return False
        if self._big_ops_bound() > self.k - s:
            self.failed[self.assigned] = s
            return False
        available = sorted((v for v in range(len(self.w)) if self.parts[v] < 0 and self.missing[v] == 0),
                           key=lambda v: -self.priority[v])
        for load, members in self._loads(available, s, self.c - idle, left):
            for v in members:
                self._assign(v, s)
            if not self._overdue(s) and self.station(s + 1, idle - (self.c - load), left - load):
                return True
            self._undo(members)
            if time.monotonic() > self.deadline:
                return False
        # The state is the assigned set and s; with fewer parts left it fails too.
        self.failed[self.assigned] = s
        return False

    def _loads(self, available: list[int], s: int, need: int, left: int) -> list[tuple[int, tuple[int, ...]]]:
        """Undominated maximal loads of part s weighing at least ``need`` (at most ``_MAX_LOADS``), heaviest first."""
        found: list[tuple[int, tuple[int, ...]]] = []
        self.opened = len(available)
        self._enumerate(list(available), 0, 0, left, [], found, s, need)
        found.sort(key=lambda item: -item[0])
        return found

    def _enumerate(self, cands, i, load, reach, chosen, found, s, need) -> None:
        """Include/exclude each candidate in turn; ops made available by an inclusion join the candidates.

        ``reach`` is the unassigned weight not yet excluded: a branch with ``load + reach < need``
        cannot make a heavy enough load.
        """
        self.nodes += 1
        if len(found) >= _MAX_LOADS or (self.nodes & 1023 == 0 and time.monotonic() > self.deadline):
            return
        while i < len(cands) and load + self.w[cands[i]] > self.c:
            reach -= self.w[cands[i]]
            i += 1
        if load + reach < need:
            return
        if i == len(cands):
            if (load >= need and not any(load + self.w[v] <= self.c for v in cands if v not in chosen)
                    and not self._dominated(load, chosen, cands, s)):
                found.append((load, tuple(chosen)))
            return
        v = cands[i]
        freed = [u for u in self.succs[v] if self.missing[u] == 1]
        for u in self.succs[v]:
            self.missing[u] -= 1
        chosen.append(v)
        self._enumerate(cands + freed, i + 1, load + self.w[v], reach - self.w[v], chosen, found, s, need)
        chosen.pop()
        for u in self.succs[v]:
            self.missing[u] += 1
        if self.latest[v] > s:  # an op whose last chance is part s must go in
            self._enumerate(cands, i + 1, load, reach - self.w[v], chosen, found, s, need)

    def _big_ops_bound(self) -> int:
        """LB2 of the unassigned ops: one part per op above C/2, one per two of exactly C/2."""
        above = half = 0
        for v, p in enumerate(self.parts):
            if p < 0:
                if 2 * self.w[v] > self.c:
                    above += 1
                elif 2 * self.w[v] == self.c:
                    half += 1
        return above + (half + 1) // 2

    def _dominated(self, load: int, members: list[int], cands: list[int], s: int) -> bool:
        """Whether swapping an op of the load for an available op that dominates it also fits.

        ``cands`` holds the ops available at the start of the part, then those the load made available
        (which are no rivals: they need an op of the load).
        """
        inside = set(members)
        outside = {u for u in cands[: self.opened] if u not in inside}
        for v in members:
            if self.latest[v] <= s or any(u in inside for u in self.succs[v]):
                continue
            # A dominator shares v's successors, so it is a predecessor of v's first one (if any).
            rivals = self.preds[self.succs[v][0]] if self.succs[v] else outside
            for u in rivals:
                if u in outside and load - self.w[v] + self.w[u] <= self.c and _dominates(self.w, self.succs, u, v):
                    return True
        return False

    def _overdue(self, s: int) -> bool:
        return any(self.parts[v] < 0 for v in self.by_latest if self.latest[v] <= s)

    def _assign(self, v: int, s: int) -> None:
        self.parts[v] = s
        self.assigned |= 1 << v
        for u in self.succs[v]:
            self.missing[u] -= 1

    def _undo(self, members) -> None:
        for v in members:
            self.parts[v] = -1
            self.assigned &= ~(1 << v)
            for u in self.succs[v]:
                self.missing[u] += 1


def _dominates(weights: Sequence[int], succs: Sequence[Sequence[int]], u: int, v: int) -> bool:
    """Jackson dominance: u is at least as heavy as v and has all of v's successors (ties: lower index)."""
    if weights[u] < weights[v] or not set(succs[v]) <= set(succs[u]):
        return False
    return weights[u] > weights[v] or len(succs[u]) > len(succs[v]) or u < v
