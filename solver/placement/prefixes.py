"""Exact throughput placement by branch and bound over pipeline prefixes, for graphs with few ideals.

The problem is :mod:`solver.placement.exact`'s with the ``throughput`` objective. Its placements are exactly
the chains of ideals (downward-closed op sets) ``{} = I_0 < I_1 < ... < I_k = V`` with distinct devices
``d_1 .. d_k``: part ``j`` is ``I_j - I_(j-1)`` on ``d_j``, and every edge then goes forward, so the session
graph is acyclic. Chain-shaped models (seed 002's, and most CNNs: branches only inside blocks) have few
ideals, a few per op, so the chains can be searched one part at a time.

The search
----------
Decision ``find(U)``: a placement of bottleneck ``< U``. Depth-first, it extends a prefix ``I`` (its parts
placed, the devices ``used``) by a part ``J - I`` on an unused device ``d`` when ``d`` runs every op of the
part, its compute and memory fit (``< U``, the capacity), and the tensors the part reads from earlier parts
load each link ``(a, d)`` by ``< U``. A link into ``d`` only ever carries tensors from the parts placed before
``d``, so once ``d`` is placed its loads are final, and every later link starts empty: the rest of the search
depends only on ``(I, used, the device of each tensor leaving I)``, which keys a memo of failed states.
Pruned without loss:

- ``J`` whose leaving tensors cannot all be sent within ``U`` over the fastest link there is;
- a part whose leaving tensors have no unused device to go to within ``U`` (or no link);
- a prefix whose remaining ops, each at its fastest, exceed ``U - 1`` times the unused devices, or whose
  remaining ops touch more bytes than the unused devices hold together;
- a prefix after which the spine (solver.placement.spine: a path of ops, its runs on a simple path of devices,
  the relays its hops need) cannot be laid on the unused devices below ``U``, from the device of its last op
  placed (a device the key fixes: it writes a leaving tensor), with the threshold of the laying's failure (the
  least of its hop's costs to the free devices it cannot reach below ``U`` and of the thresholds of the layings
  from those it can); and before any prefix, ``find(U)`` fails at once when the whole spine cannot be laid
  below ``U``, with the threshold of the laying's failure.

A failing ``find(U)`` proves more than ``U``: its *threshold*, the least value that ruled a choice out (a
part's compute or link load, the compute the ops left need on the free devices, the time a leaving tensor
needs to reach a free device, each at least ``U``), is a lower bound, since every placement the search did not
reach made one of those choices. The memo keeps each failed state's threshold, and a state whose used devices
hold a failed one's fails at once at every ``U`` up to its threshold, when the devices both use that hold parts
placed after the spine's last op placed (relays of its next hop, which the spine's completion counts at no cost)
held such parts in the failed one too.

First ``find(U)`` with ``U`` the value of the placement the search starts from: when it fails, that placement
is optimal. Then, between a proven lower bound ``L`` and the best value ``U``, ``find((L + U + 1) // 2)``
either finds a better placement (lowering ``U``) or proves its threshold a bound (raising ``L``), the memo
kept throughout, until ``L`` meets ``U``. The search gives up (``None``) when
the graph has more than ``max_ideals`` ideals, and stops incomplete at its deadline.
Memory of a part ``P = J - I`` (docs/platform-format.md: each tensor or constant its ops touch, once):
``M(J) - M(I) + sum of the items touching both I and P``, where ``M(X)`` is what the ops of ``X`` touch;
only items on the boundary of ``I`` can touch both, so a part costs its boundary, not its ops. Under a memory
model (``PlacementProblem.memory_model``) the items weigh their bytes in its monotone relaxation (what the
pruning of a prefix's remaining ops needs, and a cheap first test of a part), and each part is then checked
against the model's figure itself: the search enumerates parts, so its proofs hold under the model, and the
memo stays sound (a part's memory depends on its ops alone, not on ``U``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solver.placement.metrics import evaluate
from solver.placement.problem import PlacementProblem
from solver.placement.spine import MAX_OPS as MAX_SPINE_OPS
from solver.placement.spine import Laying, spine
from solver.solving.budget import Budget

MAX_IDEALS = 50_000
_BITS = 2**30  # the op sets of all ideals together stay within this many bits (128 MiB)
_CHECK_EVERY = 64  # ideals listed between two looks at the clock
_SPINE_VISITS = 2_000  # states of the spine's laying searched per prefix it checks (solver.placement.spine)
_SPINE_ROOT_VISITS = 50_000  # and before each find(U), for the whole spine (at 50 devices, seconds)


@dataclass
class PrefixSearch:
    """The search's answer: the best placement (None: none known), its value, and whether it is proven."""

    assign: list[int] | None
    value: int | None  # throughput of assign
    complete: bool  # True: assign is optimal, or (assign None) no placement exists
    bound: int  # proven: no placement has a lower throughput (value when complete)


class _Timeout(Exception):
    pass


@dataclass
class _Ideals:
    """Every ideal of the graph, each with its prefix sums: per-device compute and unsupported-op counts,
    the fastest compute, the memory its ops touch, its boundary items and its leaving tensors."""

    masks: list[int]  # by size, so V is the last
    compute: np.ndarray  # [ideal, device]
    unsupported: np.ndarray  # [ideal, device]
    fastest: list[int]
    memory: np.ndarray
    boundary: list[tuple[int, ...]]  # items touched by the ideal and by an op outside it
    leaving: list[tuple[int, ...]]  # data tensors produced in the ideal and read outside it
    holds: np.ndarray  # [ideal, op]: the ideal holds the op
    maximal: list[tuple[int, ...]]  # its ops without a successor in it: an ideal holds it iff it holds these
    size: np.ndarray  # ops per ideal


def prefix_search(problem: PlacementProblem, assign: list[int] | None, until: Budget, *, lower: int = 0,
                  max_ideals: int = MAX_IDEALS, stop: Callable[[], bool] | None = None,
                  on_found: Callable[[list[int], int], None] | None = None) -> PrefixSearch | None:  # fmt: skip
    """The optimal throughput placement, searched from ``assign`` (a valid placement or None); see the module.

    ``lower`` is a proven lower bound: a placement that meets it ends the search. The search stops (incomplete)
    when ``until`` ends or ``stop()`` says so; ``on_found(assign, value)`` is told each better placement (so
    a caller keeps the best when Ctrl-C ends the search). None when the graph has more than ``max_ideals``
    ideals (or than fit in ``_BITS`` bits of op sets), or they take past ``until``'s end to list.
    """
    return PrefixSearcher(problem, max_ideals).run(assign, until, lower=lower, stop=stop, on_found=on_found)


class PrefixSearcher:
    """:func:`prefix_search` in runs that share their work: the ideals, the spine and its laying, and the failed
    states (each failure's threshold bounds its state's extensions whatever the run's bound, so it is kept)."""

    def __init__(self, problem: PlacementProblem, max_ideals: int = MAX_IDEALS):
        self.problem = problem
        self.search = _Search(problem, min(max_ideals, _BITS // max(problem.num_ops, 1)))

    def run(self, assign: list[int] | None, until: Budget, *, lower: int = 0, stop: Callable[[], bool] | None = None,
            on_found: Callable[[list[int], int], None] | None = None) -> PrefixSearch | None:  # fmt: skip
        """:func:`prefix_search` from ``assign``, until ``until`` ends or ``stop()``."""
        self.search.until, self.search.stop = until, stop or (lambda: False)
        return self.search.run(assign, lower, on_found)


class _Search:
    def __init__(self, problem: PlacementProblem, max_ideals: int):
        self.problem = problem
        self.until = Budget(math.inf)  # of the run under way (PrefixSearcher.run)
        self.stop: Callable[[], bool] = lambda: False
        self.max_ideals = max_ideals
        self.ideals: _Ideals | None = None
        self.laying: Laying | None = None
        self.failed: dict[tuple, list[tuple[int, int, float]]] = {}  # (used, _after, threshold) per key
        n, D = problem.num_ops, len(problem.devices)
        self.n, self.D = n, D
        self.full = (1 << n) - 1
        # Items a device holds: data tensors (producer and readers) and constants, as (bytes, op mask), their
        # bytes those of the memory model's relaxation (solver.placement.problem.MemoryFigure); data tensors first.
        every = problem.memory_items()
        every = every[len(problem.constants):] + every[:len(problem.constants)]
        items = [(item.relaxed, _mask(item.ops)) for item in every]
        self.items = items
        self.tensor_count = len(problem.tensors)
        self.item_of_op: list[list[int]] = [[] for _ in range(n)]
        for k, (_, ops) in enumerate(items):
            for v in _bits(ops):
                self.item_of_op[v].append(k)
        self.readers = [_mask(t.consumers) for t in problem.tensors]
        self.caps = np.array([math.inf if problem.relaxed_cap(d) is None else problem.relaxed_cap(d) for d in range(D)])
        # cost[i, a, b]: transfer time of tensor i over link (a, b); infinite without a link (and for a == b).
        self.cost = np.full((self.tensor_count, D, D), math.inf)
        for a, row in enumerate(problem.transfer):
            for b, costs in enumerate(row):
                if costs is not None and a != b:
                    self.cost[:, a, b] = costs
        self.cheapest = self.cost.min(axis=(1, 2), initial=math.inf).tolist()  # per tensor, over the fastest link
        self.nodes = 0  # prefixes extended
        self.tried = 0  # parts tried

    def run(self, assign: list[int] | None, lower: int, on_found) -> PrefixSearch | None:
        best, value = assign, (evaluate(self.problem, assign).throughput if assign is not None else None)
        try:
            if self.ideals is None:
                self.ideals = self._ideals()
                if self.ideals is None:
                    return None
            self._lay_spine()
            self.total_fastest = max(self.ideals.fastest)
            # First: does the proven bound hold a placement (the spine bound is often tight)? Else: is the start
            # optimal? Near the bound the spine prunes hardest, so either question is answered fastest there.
            target = math.inf if value is None else lower + 1 if 0 < lower < value else value
            while value is None or value > lower:
                found = self._find(target)
                if isinstance(found, list):
                    best, value = found, evaluate(self.problem, found).throughput
                    if on_found is not None:
                        on_found(best, value)
                elif value is None or found >= value:
                    break  # no placement at all, or none better than the best
                else:
                    lower = int(found)  # no placement below the failure's threshold (at least the target)
                # Then bisection between the proven bound and the best value: find(U) lowers the value below U
                # or proves U a bound.
                target = (lower + value + 1) // 2
            return PrefixSearch(best, value, True, lower if value is None else value)
        except _Timeout:
            return PrefixSearch(best, value, False, lower)

    def _lay_spine(self) -> None:
        """The spine (solver.placement.spine) each prefix must leave room for, and the last of its ops each ideal
        holds (ideals hold a prefix of it; -1: none), laid within the run's time. Graphs of over ``spine.MAX_OPS``
        ops go without. Raises _Timeout when the run ends before the spine is built (the next run goes on with it)."""
        if self.laying is not None:
            self.laying.until = self.until
        elif self.n <= MAX_SPINE_OPS:
            built = spine(self.problem, self.until)
            if built is None:
                raise _Timeout
            self.spine = built
            self.laying = Laying(self.problem, self.spine, self.until, max_visits=_SPINE_VISITS)
            self.spine_end = self.ideals.holds[:, self.spine.ops].sum(axis=1) - 1

    def _halt(self) -> bool:
        return self.until.passed() or self.stop()

    def _tick(self) -> None:
        """Count a part tried, and stop at the deadline or when told to: on 50 devices a part tried costs
        milliseconds (its successors' fits and the spine's laying), so every one looks at the clock."""
        self.tried += 1
        if self._halt():
            raise _Timeout

    def _ideals(self) -> _Ideals | None:
        """List the ideals breadth first, each extended by one op whose predecessors it holds."""
        problem, D = self.problem, self.D
        preds = [_mask(ps) for ps in problem.dag.preds]
        times = np.array([[t or 0 for t in row] for row in problem.times], dtype=np.int64).reshape(self.n, D)
        missing = np.array([[t is None for t in row] for row in problem.times], dtype=np.int32).reshape(self.n, D)
        fastest = [min(t for t in row if t is not None) for row in problem.times]
        masks, seen = [0], {0: 0}
        ready = [tuple(v for v in range(self.n) if not preds[v])]
        compute, unsupported = [np.zeros(D, np.int64)], [np.zeros(D, np.int32)]
        fast, memory, boundary = [0], [0], [()]
        holds = [np.zeros(self.n, bool)]  # holds[k][v]: op v is in ideal k
        maximal: list[tuple[int, ...]] = [()]  # ops of the ideal none of whose successors it holds
        k = 0
        while k < len(masks):
            if k % _CHECK_EVERY == 0 and self._halt():
                return None
            ideal = masks[k]
            for v in ready[k]:
                child = ideal | (1 << v)
                if child in seen:
                    continue
                if len(masks) >= self.max_ideals:
                    return None
                seen[child] = len(masks)
                masks.append(child)
                ready.append(tuple(u for u in ready[k] if u != v)
                             + tuple(w for w in problem.dag.succs[v] if preds[w] & ~child == 0))  # fmt: skip
                compute.append(compute[k] + times[v])
                unsupported.append(unsupported[k] + missing[v])
                fast.append(fast[k] + fastest[v])
                new = (self.items[i][0] for i in self.item_of_op[v] if not self.items[i][1] & ideal)
                memory.append(memory[k] + sum(new))
                touched = set(boundary[k]) | set(self.item_of_op[v])
                boundary.append(tuple(sorted(i for i in touched if self.items[i][1] & ~child)))
                holds.append(holds[k].copy())
                holds[-1][v] = True
                maximal.append((*(u for u in maximal[k] if not preds[v] >> u & 1), v))
            k += 1
        leaving = [tuple(i for i in items if i < self.tensor_count and self.readers[i] & ~m)
                   for items, m in zip(boundary, masks)]  # fmt: skip
        return _Ideals(masks, np.array(compute), np.array(unsupported), fast, np.array(memory), boundary, leaving,
                       np.array(holds), maximal, np.array([m.bit_count() for m in masks]))  # fmt: skip

    def _find(self, upper: float) -> list[int] | float:
        """A placement of throughput ``< upper`` (the module's ``find(U)``), or the threshold its failure proves:
        no placement is better."""
        ideals = self.ideals
        dearest = [max((self.cheapest[i] for i in out), default=0) for out in ideals.leaving]
        sendable = [k for k, cost in enumerate(dearest) if cost < upper]
        # A placement with an end that is not sendable sends its dearest tensor, at least as dear as this.
        self.unsent = min((cost for cost in dearest if cost >= upper), default=math.inf)
        # Candidate ends of a part, by fastest compute: a part's compute is at least the difference.
        self.ends = np.array(sorted(sendable, key=lambda k: ideals.fastest[k]), dtype=np.int64)
        self.end_fast = [ideals.fastest[k] for k in self.ends]
        self.upper = upper
        if self.laying is not None and (laid := self.laying.threshold(upper, _SPINE_ROOT_VISITS)) is not None:
            return laid  # no laying of the spine below its threshold: no placement either (solver.placement.spine)
        self.near = self.cost < upper  # near[i, a, b]: tensor i goes from a to b within the bound
        self.assign = [-1] * self.n
        self.order: list[int] = []  # the devices of the parts placed, in pipeline order
        found = self._extend(0, 0, {})
        return list(self.assign) if found is None else found

    def _extend(self, k: int, used: int, source: dict[int, int]) -> float | None:
        """Extend the prefix ``k`` (devices ``used``; ``source[i]``: the device of leaving tensor i) to V.

        None when it did (``self.assign`` holds the placement); else the threshold of the failure: no extension
        has a bottleneck below it (the least of the values that ruled a choice out, each at least ``upper``).
        """
        ideals, upper = self.ideals, self.upper
        mask = ideals.masks[k]
        if mask == self.full:
            return None
        self.nodes += 1
        key = (k, tuple(source[i] for i in ideals.leaving[k]))
        after = self._after(k)
        # A state that failed with fewer devices used (a subset), below a threshold as high, fails here too, when the
        # devices both used that hold relays of the spine's next hop here held them there (_after).
        for old, relays, threshold in self.failed.get(key, ()):
            if old & ~used == 0 and after & old & ~relays == 0 and threshold >= upper:
                return threshold
        free = np.array([not used >> d & 1 for d in range(self.D)])
        # What the ops left must compute and hold, against what the free devices offer.
        rest, count = self.total_fastest - ideals.fastest[k], int(free.sum())
        held = ideals.memory[-1] - ideals.memory[k] + sum(self.items[i][0] for i in ideals.boundary[k])
        room = np.maximum(self.caps[free], 0).sum()  # a device that holds no part adds no room
        if held > room or rest > (upper - 1) * count:
            # Spread over the free devices, the ops left compute at least their mean on one of them.
            return self._failed(key, used, after, math.inf if held > room or not count else -(-rest // count))
        if (laid := self._spine_threshold(k, used, after)) is not None:
            return self._failed(key, used, after, laid)
        cut = bisect.bisect_left(self.end_fast, ideals.fastest[k] + upper)
        # A part ending past the cut computes at least the first such end's fastest compute beyond ideal k.
        threshold = min(self.unsent, self.end_fast[cut] - ideals.fastest[k] if cut < len(self.ends) else math.inf)
        # By size (the ideals are listed by size), so that the largest parts go first below. Not by compute: on a
        # network where memory and links decide (seed 002's at 64 MB), the parts of most compute are not the
        # largest, and the search then wanders among small ones (measured: InceptionResNetV2 on 20 nodes, 64 MB,
        # network 1 found its optimum in 10 s by size and not in 50 s by compute).
        ends = np.sort(self.ends[:cut])
        ends = ends[ideals.size[ends] > ideals.size[k]]
        for v in ideals.maximal[k]:  # the ideals that hold ideal k
            ends = ends[ideals.holds[ends, v]]
        fits, heaviest, over = self._fits(k, ends, free, source)
        threshold = min(threshold, over)
        for row in reversed(np.flatnonzero(fits.any(axis=1))):  # the largest parts first, as the greedy fills devices
            self._tick()
            j = int(ends[row])
            part = ideals.masks[j] & ~mask
            ok, unsent = self._onward(j, fits[row], free, source)
            threshold = min(threshold, unsent)
            load = heaviest[row]
            for d in sorted(np.flatnonzero(ok).tolist(), key=lambda d: load[d]):  # the least loaded link first
                if not self.problem.holds(d, list(_bits(part))):  # the memory model's figure (module doc)
                    continue
                placed = {i: source.get(i, d) for i in ideals.leaving[j]}
                for v in _bits(part):
                    self.assign[v] = d
                self.order.append(d)
                below = self._extend(j, used | 1 << d, placed)
                self.order.pop()
                if below is None:
                    return None
                threshold = min(threshold, below)
        return self._failed(key, used, after, threshold)

    def _after(self, k: int) -> int:
        """The devices (a mask) of the parts placed after the one of the spine's last op in ideal k (none: no spine op
        in it): they lie between it and the spine's next run, relays of that hop (solver.placement.spine)."""
        position = int(self.spine_end[k]) if self.laying is not None else -1
        if position < 0:
            return 0
        return _mask(self.order[self.order.index(self.assign[self.spine.ops[position]]) + 1:])

    def _spine_threshold(self, k: int, used: int, after: int) -> float | None:
        """None when the spine's ops not in ideal k can still be laid on the free devices below the bound, after the
        device of its last op placed; else the threshold of the laying's failure (a relaxation: no extension of the
        prefix has a bottleneck below it; the state's key fixes that device, which writes a leaving tensor)."""
        if self.laying is None:
            return None
        position = int(self.spine_end[k])
        sender = self.assign[self.spine.ops[position]] if position >= 0 else -1
        return self.laying.completes(position, sender, used, after)

    def _failed(self, key: tuple, used: int, after: int, threshold: float) -> float:
        self.failed.setdefault(key, []).append((used, after, threshold))
        return threshold

    def _fits(self, k: int, ends: np.ndarray, free: np.ndarray,
              source: dict[int, int]) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
        """For each part ``I_j - I_k`` (j in ``ends``) and device: whether the device is free, runs the part's ops
        within the bound, holds its memory and receives its tensors within the bound (a boolean matrix); the
        heaviest load the part puts on a link into it; and the least bottleneck (compute or link) of the free
        devices that run and hold a part, but not within the bound."""
        ideals, upper = self.ideals, self.upper
        runs = free & (ideals.unsupported[ends] == ideals.unsupported[k])
        compute = ideals.compute[ends] - ideals.compute[k]
        fits = runs & (compute < upper)
        heaviest = np.zeros(fits.shape)
        if not runs.any():
            return fits, heaviest, math.inf
        mask = ideals.masks[k]
        memory = ideals.memory[ends] - ideals.memory[k]
        for i in ideals.boundary[k]:  # items that ideal k and the part both hold count in the part too
            nbytes, ops = self.items[i]
            memory += nbytes * self._touches(ends, ops & ~mask)
        runs &= memory[:, None] <= self.caps
        loads: dict[int, np.ndarray] = {}
        for i in ideals.leaving[k]:
            reads = self._touches(ends, self.readers[i] & ~mask)
            a = source[i]
            loads[a] = loads.get(a, 0) + np.where(reads[:, None], self.cost[i, a], 0)
        for load in loads.values():
            heaviest = np.maximum(heaviest, load)
        bottleneck = np.maximum(compute, heaviest)
        fits = runs & (bottleneck < upper)
        over = bottleneck[runs & ~fits]
        return fits, heaviest, over.min() if len(over) else math.inf

    def _touches(self, ends: np.ndarray, ops: int) -> np.ndarray:
        """Which of the ideals ``ends`` hold one of the ``ops`` at least."""
        held = np.zeros(len(ends), bool)
        for v in _bits(ops):
            held |= self.ideals.holds[ends, v]
        return held

    def _onward(self, j: int, ok: np.ndarray, free: np.ndarray, source: dict[int, int]) -> tuple[np.ndarray, float]:
        """``ok`` narrowed to the devices after which every tensor leaving ideal j can still go to a free one, and
        the least time in which a tensor that ruled a device out reaches another free device (a threshold)."""
        threshold = math.inf
        for i in self.ideals.leaving[j]:
            if not ok.any():
                break
            a = source.get(i)
            if a is None:  # written on the candidate device itself: a free device near it (itself is not)
                rows = np.flatnonzero(ok)
                lost = rows[~(self.near[i][rows] & free).any(axis=1)]
                if len(lost):
                    threshold = min(threshold, np.where(free, self.cost[i][lost], math.inf).min())
            else:  # written on a: a free device near a other than the candidate
                near = self.near[i, a] & free
                lost = np.flatnonzero(ok & (near.sum() - near <= 0))
                if len(lost):
                    times = np.where(free, self.cost[i, a], math.inf)
                    nearest = int(times.argmin())
                    others = times.copy()
                    others[nearest] = math.inf
                    threshold = min(threshold, times[nearest] if (lost != nearest).any() else others.min())
            if len(lost):
                ok = ok.copy()
                ok[lost] = False
        return ok, threshold


def _mask(ops) -> int:
    mask = 0
    for v in ops:
        mask |= 1 << v
    return mask


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
