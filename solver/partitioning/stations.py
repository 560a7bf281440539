"""Bidirectional station-oriented search for a partition with bottleneck at most C (SALBP-1 style).

The primal heuristic of the exact solver's feasibility probes (solver/partitioning/exact.py). CP-SAT proves bounds
well but finds tight packings slowly when stations must be almost full; the dedicated SALBP methods
(Hoffmann 1963, SALOME: Scholl & Klein 1997) fill one station at a time instead:

- Parts are filled from both ends: the next *forward* part (0, 1, ...) takes ops whose predecessors
  are all placed forward, the next *backward* part (K-1, K-2, ...) ops whose successors are all
  placed backward. Each node fills the side with fewer candidate loads (SALOME's bidirectional
  branching: fail first), so the constrained end of the graph is settled before the free middle.
  Filling every part from one end instead finds other packings (on WEE-MAG, whose many near-equal
  ops give both sides many loads, one direction finds in seconds what both miss in a minute), so
  the search can be restricted to either end.
- A part's *load* is a set of unplaced ops, each available or made available by the load itself,
  weighing at most C. Only *maximal* loads are tried (no further available op fits): moving an op
  into the part being filled keeps a partition valid when the part has room and holds the op's
  predecessors (forward; successors backward), so some solution uses maximal loads only. Loads are
  tried heaviest first, and only those idling at most the idle time left.
- A load's weight must be a subset sum of what the part can still take: each enumeration branch
  checks a bitset of reachable sums (the later candidates and the ops they may free, precedence
  among them relaxed), which prunes hard when the idle time is nearly zero.
- Jackson dominance: op u *dominates* v when ``w_u >= w_v`` and u's successors include v's (ties
  broken by index, so dominance is a strict order; mirrored backward). A load holding v but not an
  available u that dominates it, where v may leave the part and swapping them still fits, is skipped:
  the swapped load leaves the parts still to fill at least as free.
- Least idle times: given each station's least idle time ``i_s`` at C (salbp_bounds.CycleBounds.least_idles,
  a fact about every partition at C), station s takes at most ``C - i_s`` (its loads are maximal under that
  room: moving an op in keeps the partition within C, and so within every ``i_t``), and the idle time the parts
  still empty must leave, ``sum i_t`` over them, is held back from the station being filled. At ARC111 m = 16 and
  C = 9411, station 0 must idle 177 units of the 177 there are: every other station is exactly full.
- Pruning: the idle time ``sum_s (C - load_s)`` may not exceed ``K C - total``; an op must be placed
  by its latest part ``L_v`` forward and its earliest part ``E_v`` backward (heuristics/dag.py's station
  windows); the ops left must fit in the parts left, by weight and by the bin-packing bounds LB2 and LB3
  of Scholl & Becker (2006) (:func:`bin_bound`); a state that failed with some number of parts used
  fails with more (memo, BB&R's memory-based dominance: Sewell & Jacobson 2012). What is left to do at a
  state depends only on the ops still unplaced and the number of parts still empty (those ops go to the
  parts between the two filled ends, in any split of the placed ops into forward and backward), so the memo
  keys on the placed ops alone, whichever side placed them. A complete search's failures are facts about
  the instance at this C: callers may keep them (``memo``) for the next complete run at the same C,
  whatever its direction or priorities, so that restarts of the prover lose no work.

The search stops at the first partition, or when its budget runs out. The budget counts enumeration
nodes, not seconds, so that a restart does the same work on every run, on any machine and under any
load. Each part tries at most ``max_loads`` loads: with the default cap the search is a heuristic (no
answer means "not found", never "infeasible"); the caller restarts it under other priorities rather
than exhaust one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from heuristics.dag import Dag
from solver.errors import UsageError
from solver.partitioning.salbp_bounds import share_arrays

MAX_LOADS = 64
DIRECTIONS = ("both", "forward", "backward")
# What a complete search (max_loads None) returns when it tried everything within its budget: no partition.
EXHAUSTED = "exhausted"


def fill_stations(
    dag: Dag,
    num_parts: int,
    cycle: int,
    windows: tuple[Sequence[int], Sequence[int]],
    priority: tuple[Sequence[float], Sequence[float]],
    budget: int,
    max_loads: int | None = MAX_LOADS,
    stop: Callable[[], bool] | None = None,
    directions: str = "both",
    memo: dict[int, int] | None = None,
    least_idles: Sequence[int] | None = None,
) -> list[int] | str | None:
    """A partition into at most ``num_parts`` parts with every load <= ``cycle``, or None if not found.

    Parameters
    ----------
    dag : the validated op DAG (its weights and adjacency).
    windows : earliest and latest feasible part of each op for this cycle (``E_v``, ``L_v``).
    priority : forward and backward priorities, larger first when several ops are available (e.g. the
        weight of the op and its descendants forward, of the op and its ancestors backward).
    budget : enumeration nodes (one include/exclude decision on a candidate op) before giving up;
        0.3 to 0.7 million a second in CPython.
    max_loads : loads tried per part; None: all of them, which makes the search complete (a prover).
    stop : polled now and then; the search gives up when it returns True (e.g. another search ended,
        or a deadline passed).
    directions : "both" (bidirectional), or "forward" / "backward" to fill every part from that end
        only; each finds packings the others miss, so callers restart under all three.
    memo : the failed states of earlier complete runs at this ``num_parts`` and ``cycle`` (placed ops -> parts
        used), extended in place; only read and written by a complete search (``max_loads`` None).
    least_idles : each part's least idle time at ``cycle`` in every partition (module doc); None: 0 each.

    Returns
    -------
    The part of each op (parts in the middle may be empty); None if none was found; ``EXHAUSTED`` if the
    search was complete (``max_loads`` None) and ended inside its budget without one: then no partition into
    ``num_parts`` parts has every load <= ``cycle`` (every rule above keeps some solution when one exists).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3)])
    >>> nx.set_node_attributes(g, {0: 3, 1: 2, 2: 2, 3: 3}, "weight")
    >>> fill_stations(Dag.from_graph(g), 2, 5, ([0, 0, 0, 1], [0, 1, 1, 1]), ([10, 5, 5, 3], [3, 5, 5, 10]), 1000)
    [0, 0, 1, 1]
    """
    search = _searcher(dag, num_parts, cycle, windows, priority, budget, max_loads, stop, directions, least_idles)
    if memo is not None and max_loads is None:
        search.failed = memo
    total = sum(dag.weights)
    if search.node(num_parts * cycle - total, total):
        return _place_weightless(dag, search.parts)
    return None if max_loads is not None or search.expired() else EXHAUSTED


def level_stations(
    dag: Dag,
    num_parts: int,
    cycle: int,
    windows: tuple[Sequence[int], Sequence[int]],
    budget: int,
    max_states: int = 5000,
    stop: Callable[[], bool] | None = None,
    direction: str = "forward",
    least_idles: Sequence[int] | None = None,
) -> list[int] | str | None:
    """The complete station search breadth first (:class:`LevelSearch`), run once within ``budget`` nodes and
    ``stop``: a partition, ``EXHAUSTED``, or None (see :meth:`LevelSearch.run`)."""
    return LevelSearch(dag, num_parts, cycle, windows, max_states, direction, least_idles).run(budget, stop)


class LevelSearch:
    """The complete station search breadth first: a dynamic program over the sets of ops the first parts hold.

    Level s holds every distinct set of ops that parts 0..s-1 can hold (``direction`` "forward"; "backward": parts
    K-1..K-s), each reached from a set of level s - 1 by an undominated maximal load under the rules of
    :func:`fill_stations` (module doc: windows, least idle times, LB2/LB3, Jackson dominance). A set reached twice
    is kept once, since what is left to do depends on it alone: this is the memo of the depth-first search, and
    where few sets of ops fill whole stations exactly (ARC111 m = 16 at C = 9411: at most a few hundred a level,
    where the depth-first search spends millions of nodes below its first choices), it settles C.

    ``max_states``: sets per level at most. The search can be resumed: :meth:`run` stopped by its budget or its
    ``stop`` keeps the levels built and the parents of the current level already expanded, so that the next run
    goes on from there (a parent cut short is expanded again whole; its children are kept once each).
    """

    def __init__(self, dag: Dag, num_parts: int, cycle: int, windows: tuple[Sequence[int], Sequence[int]],
                 max_states: int = 5000, direction: str = "forward", least_idles: Sequence[int] | None = None):
        if direction not in ("forward", "backward"):  # breadth first fills from one end only
            raise UsageError(f"direction must be forward or backward, not {direction!r}")
        self.dag, self.k, self.max_states = dag, num_parts, max_states
        self.search = _searcher(dag, num_parts, cycle, windows, (dag.weights, dag.weights), 0, None, None, direction,
                                least_idles)
        # placed ops (a bitset) -> (loads so far, weight left): the parents still to expand, and their children.
        self.pending: list[tuple[int, tuple[tuple[tuple[int, ...], ...], int]]] = [(0, ((), sum(dag.weights)))]
        self.children: dict[int, tuple[tuple[tuple[int, ...], ...], int]] = {}
        self.answer: list[int] | str | None = None
        self.capped = False  # a level passed max_states: no verdict, ever

    @property
    def over(self) -> bool:
        """Whether a further run can give no other answer: a verdict, or a level past the cap."""
        return self.answer is not None or self.capped

    def run(self, budget: int, stop: Callable[[], bool] | None = None) -> list[int] | str | None:
        """Go on for at most ``budget`` enumeration nodes, or until ``stop()``. Returns the part of each op once a
        load takes all the ops left; ``EXHAUSTED`` when a level is empty (no partition has every load <= ``cycle``:
        each rule keeps some solution where one exists); None when a level passes ``max_states`` (then every later
        run too), the budget runs out or ``stop()`` says so."""
        if self.over:
            return self.answer
        search, side = self.search, self.search.fillable[0]
        search.budget, search.stop, search.stopped = search.nodes + budget, stop, False
        while self.pending or self.children:
            if not self.pending:
                self.pending, self.children = list(self.children.items())[::-1], {}
                continue
            placed, (history, left) = self.pending[-1]
            for members in history:
                side.place(members, search.parts)
            packed = self._expand(side, placed, history, left)
            for members in reversed(history):
                side.unplace(members, search.parts)
            if packed is not None:
                self.answer = _place_weightless(self.dag, packed)
                return self.answer
            if len(self.children) > self.max_states:
                self.capped, self.pending, self.children = True, [], {}  # its sets are of no more use
                return None
            if search.expired():  # its loads may be cut short: expanded again next run
                return None
            self.pending.pop()
            if search._poll():
                return None
        self.answer = EXHAUSTED
        return self.answer

    def _expand(self, side: _Side, placed: int, history, left: int) -> list[int] | None:
        """Add the children of one parent (its loads placed) to the next level; the partition if a load ends it."""
        search = self.search
        idle = (self.k - len(history)) * search.c - left
        if side.overdue(search.parts) or search.dead_end(idle):
            return None
        # A parent with more loads than a level may hold would pass the cap anyway.
        for load, members in search.loads(side, idle, left, self.max_states + 1):
            if load == left:
                side.place(members, search.parts)
                packed = list(search.parts)
                side.unplace(members, search.parts)
                return packed
            child = placed | sum(1 << v for v in members)
            self.children.setdefault(child, (history + (members,), left - load))
        return None


def _place_weightless(dag: Dag, parts: list[int]) -> list[int]:
    """``parts`` once every op with weight is placed: each op left (of weight 0, e.g. one available only from a later
    part on, by its window) goes to its predecessors' last part (0 if none). That part precedes all of its placed
    successors' parts, which were filled from the back (or hold its weightless predecessors)."""
    for v in dag.order:
        if parts[v] < 0:
            parts[v] = max((parts[u] for u in dag.preds[v]), default=0)
    return parts


def _searcher(dag, num_parts, cycle, windows, priority, budget, max_loads, stop, directions, least_idles) -> _Search:
    """The depth-first search's state at the start (see :func:`fill_stations` for the parameters)."""
    weights, preds, succs = dag.weights, dag.preds, dag.succs
    early, late = windows
    k = num_parts
    forward = _Side(weights, preds, succs, (early, late), priority[0], lambda r: r)
    backward = _Side(weights, succs, preds, ([k - 1 - x for x in late], [k - 1 - x for x in early]), priority[1],
                     lambda r: k - 1 - r)
    fillable = {"both": (forward, backward), "forward": (forward,), "backward": (backward,)}.get(directions)
    if fillable is None:
        raise UsageError(f"directions must be one of {', '.join(DIRECTIONS)}, not {directions!r}")
    return _Search(weights, k, cycle, (forward, backward), fillable, budget, max_loads, stop, least_idles)


class _Side:
    """One direction of filling: its adjacency (``before`` must be placed first), windows and state.

    Parts are numbered in the side's own order (``r = 0`` is part 0 forward, part K-1 backward);
    ``to_part`` maps them back, and ``windows`` (earliest, latest) are in that order too. An op is available
    from its earliest part on: a partition at C never has it earlier (so no such op would fit in a maximal load).
    """

    def __init__(self, weights, before, after, windows, priority, to_part):
        self.w, self.before, self.after = weights, before, after
        (self.earliest, self.latest), self.priority, self.to_part = windows, priority, to_part
        self.missing = [len(b) for b in before]  # unplaced ops this op waits for
        self.filled = 0  # parts filled from this side
        self.placed = 0  # bitset of the ops this side placed
        self.by_latest = sorted(range(len(weights)), key=lambda v: self.latest[v])
        self.topo = _topological(before)

    def available(self, parts: list[int]) -> list[int]:
        ready = (v for v in range(len(self.w))
                 if parts[v] < 0 and self.missing[v] == 0 and self.earliest[v] <= self.filled)
        return sorted(ready, key=lambda v: -self.priority[v])

    def place(self, members, parts: list[int]) -> None:
        part = self.to_part(self.filled)
        for v in members:
            parts[v] = part
            self.placed |= 1 << v
            for u in self.after[v]:
                self.missing[u] -= 1
        self.filled += 1

    def unplace(self, members, parts: list[int]) -> None:
        self.filled -= 1
        for v in members:
            parts[v] = -1
            self.placed &= ~(1 << v)
            for u in self.after[v]:
                self.missing[u] += 1

    def overdue(self, parts: list[int]) -> bool:
        """An unplaced op whose last chance (on this side) was a part already filled."""
        for v in self.by_latest:
            if self.latest[v] >= self.filled:
                return False
            if parts[v] < 0:
                return True
        return False


class _Search:
    def __init__(self, weights, num_parts, cycle, sides: tuple[_Side, _Side], fillable: tuple[_Side, ...],
                 budget, max_loads, stop, least_idles: Sequence[int] | None = None):
        self.w, self.k, self.c = weights, num_parts, cycle
        self.idles = list(least_idles) if least_idles is not None else [0] * num_parts
        self.held = [0]  # held[s]: the least idle times of parts 0..s-1 summed
        for i in self.idles:
            self.held.append(self.held[-1] + i)
        self.sides, self.fillable = sides, fillable
        self.budget, self.max_loads, self.stop = budget, max_loads, stop
        self.nodes = 0  # enumeration nodes spent
        self.stopped = False
        self.parts = [-1] * len(weights)
        self.failed: dict[int, int] = {}  # ops placed (a bitset) -> parts used when it failed
        self.shares = bin_shares(weights, cycle)

    def node(self, idle: int, left: int) -> bool:
        """Fill the parts still empty; ``idle`` is the idle time still allowed, ``left`` the weight."""
        if left == 0:
            return True
        # Polled at every node too: on big graphs one node (its loads' enumeration) takes milliseconds.
        if self.expired() or self._poll():
            return False
        if self.dead_end(idle):
            return False
        forward, backward = self.sides
        used = forward.filled + backward.filled
        key = forward.placed | backward.placed
        side, loads = None, None
        for candidate in self.fillable:
            # A side is only worth taking with fewer loads than the best so far: stop counting there.
            cap = self.max_loads if loads is None else len(loads)  # None: uncapped
            found = self.loads(candidate, idle, left, cap)
            if loads is None or len(found) < len(loads):
                side, loads = candidate, found
            if not found:
                break
        for load, members in loads:
            side.place(members, self.parts)
            if not side.overdue(self.parts) and self.node(idle - (self.c - load), left - load):
                return True
            side.unplace(members, self.parts)
            if self.expired():
                return False
        # With more parts used, the same placed ops fail too. Not when the budget cut the loads' enumeration
        # short: then the state was not refuted.
        if not self.expired():
            self.failed[key] = used
        return False

    def dead_end(self, idle: int) -> bool:
        """Whether the parts placed so far leave no completion: every part used, less idle time left than the empty
        parts' least idle times, a failure remembered, or more parts needed by the ops left (LB2, LB3)."""
        forward, backward = self.sides
        used = forward.filled + backward.filled
        key = forward.placed | backward.placed
        if used >= self.k or idle < self._held() or self.failed.get(key, self.k + 1) <= used:
            return True
        if bin_bound(self.shares, self.parts) > self.k - used:
            self.failed[key] = used
            return True
        return False

    def loads(self, side: _Side, idle: int, left: int, cap: int | None) -> list[tuple[int, tuple[int, ...]]]:
        """The next part's loads on ``side`` (at most ``cap``): at most C less its least idle time, and idling at
        most what the other empty parts' least idle times leave of ``idle``."""
        own = self.idles[side.to_part(side.filled)]
        return _Loads(self, side, cap, self.c - own).enumerate(self.c - (idle - self._held() + own), left)

    def _held(self) -> int:
        """The empty parts' least idle times summed."""
        forward, backward = self.sides
        return self.held[self.k - backward.filled] - self.held[forward.filled]

    def expired(self) -> bool:
        return self.nodes > self.budget or self.stopped

    def spend(self) -> bool:
        """Count one enumeration node; whether the search must give up (``stop`` polled at the first
        node and every 1024 after)."""
        self.nodes += 1
        if self.nodes & 1023 == 1:
            self._poll()
        return self.expired()

    def _poll(self) -> bool:
        """Ask ``stop`` whether to give up; remembered once it says so."""
        if self.stop is not None and self.stop():
            self.stopped = True
        return self.stopped



class _Loads:
    """The undominated maximal loads of the next part of one side, heaviest first."""

    def __init__(self, search: _Search, side: _Side, cap: int, room: int):
        self.search, self.side, self.cap = search, side, cap
        self.w, self.c, self.r = search.w, room, side.filled  # c: the part's room, C less its least idle time
        self.available = side.available(search.parts)
        self.sums = self._reachable_sums()
        self.found: list[tuple[int, tuple[int, ...]]] = []

    def enumerate(self, need: int, left: int) -> list[tuple[int, tuple[int, ...]]]:
        """Loads weighing at least ``need`` (at most ``cap`` of them); ``left`` is the unplaced weight."""
        self._branch(list(self.available), 0, 0, left, [], need)
        self.found.sort(key=lambda item: -item[0])
        return self.found

    def _branch(self, cands, i, load, reach, chosen, need) -> None:
        """Include/exclude each candidate in turn; ops made available by an inclusion join the candidates.

        ``reach`` is the unplaced weight not yet excluded: a branch with ``load + reach < need``
        cannot make a heavy enough load. ``need`` grows as ops are excluded: a maximal load must
        leave too little room for any of them.
        """
        if self.search.spend() or (self.cap is not None and len(self.found) >= self.cap):
            return
        w, side = self.w, self.side
        while i < len(cands) and load + w[cands[i]] > self.c:
            reach -= w[cands[i]]
            i += 1
        if load + reach < need:
            return
        low = max(0, need - load)
        if not (self.sums[min(i, len(self.available))] >> low) & ((1 << (self.c - load - low + 1)) - 1):
            return  # no subset of what is left brings the load into [need, C]
        if i == len(cands):
            if (load >= need and not any(load + w[v] <= self.c for v in cands if v not in chosen)
                    and not self._dominated(load, chosen)):
                self.found.append((load, tuple(chosen)))
            return
        v = cands[i]
        freed = [u for u in side.after[v]
                 if side.missing[u] == 1 and self.search.parts[u] < 0 and side.earliest[u] <= self.r]
        for u in side.after[v]:
            side.missing[u] -= 1
        chosen.append(v)
        self._branch(cands + freed, i + 1, load + w[v], reach - w[v], chosen, need)
        chosen.pop()
        for u in side.after[v]:
            side.missing[u] += 1
        if side.latest[v] > self.r:  # an op whose last chance is this part must go in
            # v stays available, so a maximal load without it has no room left for it.
            self._branch(cands, i + 1, load, reach - w[v], chosen, max(need, self.c - w[v] + 1))

    def _reachable_sums(self) -> list[int]:
        """Bitsets of the sums (up to C) of subsets of ``available[i:]`` plus the ops they may free.

        A relaxation of what the part can still take once the first i candidates are decided: any
        subset of the later candidates and of the unplaced ops whose unplaced ``before`` ops could all
        join the part. The last entry is the freed ops alone.
        """
        parts, side = self.search.parts, self.side
        mask = (1 << (self.c + 1)) - 1
        inside = set(self.available)
        reach = 1
        for v in side.topo:
            if parts[v] < 0 and v not in inside and all(parts[u] >= 0 or u in inside for u in side.before[v]):
                inside.add(v)
                reach = (reach | reach << self.w[v]) & mask
        sums = [reach]
        for v in reversed(self.available):
            reach = (reach | reach << self.w[v]) & mask
            sums.append(reach)
        return sums[::-1]

    def _dominated(self, load: int, members: list[int]) -> bool:
        """Whether swapping an op of the load for an available op that dominates it also fits."""
        side, inside = self.side, set(members)
        outside = {u for u in self.available if u not in inside}
        for v in members:
            if side.latest[v] <= self.r or any(u in inside for u in side.after[v]):
                continue
            # A dominator shares v's successors, so it is a predecessor of v's first one (if any).
            rivals = side.before[side.after[v][0]] if side.after[v] else outside
            for u in rivals:
                if u in outside and load - self.w[v] + self.w[u] <= self.c and _dominates(self.w, side.after, u, v):
                    return True
        return False


def bin_shares(weights: Sequence[int], cycle: int) -> list[tuple[int, int]]:
    """Each op's share of a part of capacity ``cycle`` in LB2 (in halves) and LB3 (in sixths), Scholl & Becker
    (:func:`solver.partitioning.salbp_bounds.share_arrays`, as pairs)."""
    halves, sixths = share_arrays(weights, cycle)
    return list(zip(halves.tolist(), sixths.tolist()))


def bin_bound(shares: Sequence[tuple[int, int]], parts: Sequence[int]) -> int:
    """Parts the unplaced ops (``parts[v] < 0``) need at least: LB2 and LB3 of :func:`bin_shares`, rounded up.

    >>> bin_bound(bin_shares([4, 4, 4, 4, 4], 10), [-1] * 5)  # above C / 3: two per part (LB1 and LB2 say 2)
    3
    """
    halves = thirds = 0
    for (half, third), p in zip(shares, parts):
        if p < 0:
            halves += half
            thirds += third
    return max(-(-halves // 2), -(-thirds // 6))


def _topological(before: Sequence[Sequence[int]]) -> list[int]:
    """Nodes in an order where every node comes after those in its ``before`` list (Kahn)."""
    missing = [len(b) for b in before]
    after: list[list[int]] = [[] for _ in before]
    for v, bs in enumerate(before):
        for u in bs:
            after[u].append(v)
    order = [v for v, m in enumerate(missing) if m == 0]
    for v in order:
        for u in after[v]:
            missing[u] -= 1
            if missing[u] == 0:
                order.append(u)
    return order


def _dominates(weights: Sequence[int], succs: Sequence[Sequence[int]], u: int, v: int) -> bool:
    """Jackson dominance: u is at least as heavy as v and has all of v's successors (ties: lower index)."""
    if weights[u] < weights[v] or not set(succs[v]) <= set(succs[u]):
        return False
    return weights[u] > weights[v] or len(succs[u]) > len(succs[v]) or u < v
