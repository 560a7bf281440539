"""Station-oriented beam search for a partition with bottleneck at most C: the upper side of SALBP-2.

The exact solver's depth-first station search (solver/partitioning/stations.py) spends its budget below its
first few choices; at near-zero idle time (ARC111 at m = 9..13 idles 0 to 11 units of 150,399; SCHOLL 2 to 72
of 69,655) no short run finds a packing and no run refutes one. A beam search instead keeps the ``width`` best
partial partitions part by part, as the beam searches and bounded dynamic programming of SALBP-1 do (Blum
2008; Bautista & Pereira 2009), and a random tie-break makes each run another.

- Parts are filled from one end: forward, part 0 first, an op once its predecessors are placed; backward, part
  K-1 first, an op once its successors are. A *state* after s parts is the set of placed ops; the idle time
  it used is ``s C - placed weight``, at most ``K C - total``.
- A state grows by up to ``loads`` loads for its next part, found by a depth-first include/exclude search over
  the available ops (and those an included op frees) in order of urgency: the latest part ``L_v`` (station
  windows), ties broken at random. A load weighs at least ``C`` less the idle time left and at most ``C``,
  holds every op whose latest part this is, and leaves ops that LB2 and LB3 (stations.bin_bound) fit in the
  parts left. Branches are pruned by bitsets of the sums the ops still undecided (and the ops they may free)
  can add. Loads need not be maximal: under a node cap per state the beam wants many different loads, and
  the urgent ops' order finds them where the maximal ones of the station search take the cap to enumerate.
- Given each part's least idle time ``i_s`` at C (salbp_bounds.CycleBounds.least_idles: every partition at C
  leaves part s idle that long at least), part s weighs at most ``C - i_s`` and the parts after it keep their
  ``i_t`` of the idle time left: on ARC111 m = 14 at its optimum 10747, part 0 must idle 51 of the 59 units there
  are, which a beam ranking states by idle time used would otherwise spend on the first parts it fills.
- Children with the same placed ops are one state; the ``width`` with the least idle time used (ties at
  random) go on. A state whose ops left weigh at most C is a partition: the rest go to its next part (they
  are closed under successors, so every edge still goes forward).

A heuristic: None means "not found", never "infeasible". Work is counted in enumeration nodes (at most
``nodes`` per state), so a run does the same on any machine; ``stop`` is polled between states.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from heuristics.dag import Dag
from solver.errors import UsageError
from solver.partitioning.stations import bin_shares

WIDTH = 20  # states kept per part
LOADS = 8  # loads tried per state
NODES = 2000  # enumeration nodes per state
# The beam's (width, loads, nodes) by the round at one cycle (:func:`round_sizes`), two rounds a size. Where the first
# size never packs, a wider beam does (single runs at the best known value, load 4-6): SCHOLL m = 46 and 50 and
# ARC111 m = 12 at (100, 32, 8000) in 10 s, ARC83 m = 17-20 only with more loads a state (32-64), whose beams die at
# once with 8. Each size takes about 2-4 times the last; at (250, 64, 16000) one run on SCHOLL took 28-76 s, past a
# 60 s solve.
SIZES = ((WIDTH, LOADS, NODES), (50, 16, 4000), (100, 32, 8000), (250, 64, 8000))
_TIES = 2.0  # random tie-breaks between ops of near latest parts (in parts)
ENDS = ("forward", "backward")


def beam_stations(
    dag: Dag,
    num_parts: int,
    cycle: int,
    windows: tuple[Sequence[int], Sequence[int]],
    seed: int = 0,
    direction: str = "forward",
    width: int = WIDTH,
    loads: int = LOADS,
    nodes: int = NODES,
    stop: Callable[[], bool] | None = None,
    least_idles: Sequence[int] | None = None,
) -> list[int] | None:
    """The part of each op in a partition into at most ``num_parts`` parts with every load <= ``cycle``, or None.

    ``windows``: the earliest and latest part of each op at this cycle (heuristics.dag.station_windows);
    ``direction``: "forward" or "backward" (module doc); ``least_idles``: each part's least idle time at this cycle
    (module doc; None: 0 each). Parts at the end may be empty.
    """
    k = num_parts
    early, late = windows
    if direction == "forward":
        before, after, latest = dag.preds, dag.succs, list(late)
        to_part: Callable[[int], int] = lambda s: s
    elif direction == "backward":
        before, after, latest = dag.succs, dag.preds, [k - 1 - e for e in early]
        to_part = lambda s: k - 1 - s
    else:
        raise UsageError(f"direction must be forward or backward, not {direction!r}")
    order = dag.order if direction == "forward" else dag.order[::-1]
    fill = _Fill(dag.weights, before, after, latest, order, cycle, random.Random(seed), loads, nodes)
    slack = k * cycle - dag.total
    idles = [0] * k if least_idles is None else [least_idles[to_part(s)] for s in range(k)]  # in filling order
    states: dict[int, tuple[tuple[tuple[int, ...], ...], int]] = {0: ((), dag.total)}  # placed -> (loads, weight left)
    for filled in range(k):
        done = next((history for history, left in states.values() if left <= cycle), None)
        if done is not None:
            return _parts(dag.n, done, to_part)
        if filled == k - 1:
            return None
        children: dict[int, tuple[tuple[tuple[int, ...], ...], int]] = {}
        for placed, (history, left) in states.items():
            if stop is not None and stop():
                return None
            idle_left = slack - (filled * cycle - (dag.total - left)) - sum(idles[filled + 1:])
            for load, members in fill.loads(placed, filled, cycle - idle_left, k - 1 - filled, cycle - idles[filled]):
                child = placed | sum(1 << v for v in members)
                children.setdefault(child, (history + (members,), left - load))
        if not children:
            return None
        ranked = sorted(children, key=lambda c: (children[c][1], fill.rng.random()))  # least idle used first
        states = {c: children[c] for c in ranked[:width]}
    return None


def round_sizes(round_: int) -> tuple[int, int, int]:
    """The beam's width, loads and nodes (:func:`beam_stations`) in round ``round_`` (from 0) at one cycle: each of
    :data:`SIZES` for two rounds (a round may run one end only, beam.Ends), then the last.

    >>> [round_sizes(r)[0] for r in range(9)]
    [20, 20, 50, 50, 100, 100, 250, 250, 250]
    """
    return SIZES[min(round_ // 2, len(SIZES) - 1)]


def _parts(n: int, history: Sequence[Sequence[int]], to_part: Callable[[int], int]) -> list[int]:
    """Each op's part: the loads of ``history`` in order, the ops left in the part after them."""
    parts = [to_part(len(history))] * n
    for s, members in enumerate(history):
        for v in members:
            parts[v] = to_part(s)
    return parts


class _Fill:
    """The loads of one side's next part at a state (see the module doc)."""

    def __init__(self, weights, before, after, latest, order, cycle, rng, loads, nodes):
        self.w, self.before, self.after, self.latest, self.order = weights, before, after, latest, order
        self.rng, self.cap, self.nodes = rng, loads, nodes
        self.shares = bin_shares(weights, cycle)

    def loads(self, placed: int, part: int, need: int, parts_left: int, room: int) -> list[tuple[int, tuple[int, ...]]]:
        """Up to ``cap`` loads for ``part`` weighing ``need..room`` from the state ``placed``."""
        w, n = self.w, len(self.w)
        self.c = room  # the part's room: C less its least idle time
        unplaced = [v for v in range(n) if not placed >> v & 1]
        self.missing = [0] * n
        for v in unplaced:
            self.missing[v] = sum(1 for u in self.before[v] if not placed >> u & 1)
        self.placed = placed
        self.key = {v: self.latest[v] + _TIES * self.rng.random() for v in unplaced}
        self.forced = {v for v in unplaced if self.latest[v] <= part}
        self.halves = sum(self.shares[v][0] for v in unplaced)
        self.thirds = sum(self.shares[v][1] for v in unplaced)
        self.parts_left = parts_left
        available = sorted((v for v in unplaced if self.missing[v] == 0), key=self.key.__getitem__)
        self.sums = self._reachable_sums(available)
        self.need, self.found, self.spent, self.chosen = need, [], 0, []
        self._branch(available, 0, 0, 0, 0, False)
        return self.found

    def _branch(self, cands: list[int], i: int, load: int, halves: int, thirds: int, merged: bool) -> None:
        """Include or exclude ``cands[i]``; an included op's freed successors join the candidates in order of
        urgency (then ``merged``: the suffix bitsets no longer describe the later candidates, the whole set's
        does)."""
        self.spent += 1
        if self.spent > self.nodes or len(self.found) >= self.cap:
            return
        w, c = self.w, self.c
        while i < len(cands) and load + w[cands[i]] > c:
            if cands[i] in self.forced:
                return
            i += 1
        low = max(0, self.need - load)
        if low > c - load or not (self.sums[0 if merged else min(i, len(self.sums) - 1)] >> low) & ((1 << (c - load - low + 1)) - 1):
            return  # no subset of what is left brings the load into [need, C]
        if i == len(cands):
            if (load >= self.need and self.forced.issubset(self.chosen)
                    and -(-(self.halves - halves) // 2) <= self.parts_left
                    and -(-(self.thirds - thirds) // 6) <= self.parts_left):
                self.found.append((load, tuple(self.chosen)))
            return
        v = cands[i]
        freed = [u for u in self.after[v] if self.missing[u] == 1 and not self.placed >> u & 1]
        for u in self.after[v]:
            self.missing[u] -= 1
        self.chosen.append(v)
        half, third = self.shares[v]
        if freed:
            later = sorted(cands[i + 1:] + freed, key=self.key.__getitem__)
            self._branch(later, 0, load + w[v], halves + half, thirds + third, True)
        else:
            self._branch(cands, i + 1, load + w[v], halves + half, thirds + third, merged)
        self.chosen.pop()
        for u in self.after[v]:
            self.missing[u] += 1
        if v not in self.forced:
            self._branch(cands, i + 1, load, halves, thirds, merged)

    def _reachable_sums(self, available: list[int]) -> list[int]:
        """Bitsets of the sums (up to C) of subsets of ``available[i:]`` and of the ops they may free (their
        unplaced predecessors all available or freed, precedence among them relaxed); the last entry is the
        freed ops' alone."""
        mask = (1 << (self.c + 1)) - 1
        inside = set(available)
        reach = 1
        for v in self.order:
            if (not self.placed >> v & 1 and v not in inside
                    and all(self.placed >> u & 1 or u in inside for u in self.before[v])):
                inside.add(v)
                reach = (reach | reach << self.w[v]) & mask
        sums = [reach]
        for v in reversed(available):
            reach = (reach | reach << self.w[v]) & mask
            sums.append(reach)
        return sums[::-1]



@dataclass
class Ends:
    """The ends the beam's rounds run from on one instance, learnt from the rounds so far.

    Near the optimum one end often packs and the other never does (SCHOLL m = 46 at C = 1516: backward 4 of 4 runs,
    forward 0 of 4; ARC111 m = 10 at 15045: forward 4 of 4, backward 1 of 4), while above it both pack at once, so
    plain success counts say nothing. What does: a *decisive* win, a packing from one end in a round where the other
    end had just failed. The end with more decisive wins leads: it runs first in every round, the other only in every
    other round (where it can win decisively in turn and take the lead). Without a leader both run, the first end
    alternating from round to round so that each can win decisively.
    """

    wins: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDS, 0))
    rounds: int = 0

    def plan(self) -> tuple[str, ...]:
        """The ends of the next round, in order."""
        self.rounds += 1
        forward, backward = ENDS
        if self.wins[forward] == self.wins[backward]:
            return ENDS if self.rounds % 2 else ENDS[::-1]
        leader, other = (forward, backward) if self.wins[forward] > self.wins[backward] else (backward, forward)
        return (leader, other) if self.rounds % 2 == 0 else (leader,)

    def record(self, ends: Sequence[str], found: bool) -> None:
        """A round ran ``ends`` in order and stopped after the last (``found``: it packed)."""
        if found and len(ends) == 2:
            self.wins[ends[1]] += 1
