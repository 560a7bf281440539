"""A link-aware lower bound on a placement's throughput: the spine, a path of ops, laid on a simple path of devices.

The relaxation
--------------
Take a *spine*: a path of ops ``v_0 -> v_1 -> ... -> v_m-1`` in the DAG, ``e_s`` the tensor ``v_s`` writes and
``v_s+1`` reads. In any valid placement (parts on distinct devices, an acyclic session graph):

- the spine's ops visit devices in pipeline order, so each device holds a run ``v_a .. v_b`` of them, and the
  devices of the runs are distinct: a simple path ``d_0, d_1, ...`` of devices;
- where run ``j`` ends at ``v_b``, ``v_b+1`` on the next device reads ``e_b``: it crosses link ``(d_j, d_j+1)``
  directly, so that link's load, and the bottleneck, is at least ``e_b``'s transfer time on it;
- an op ``w`` between ``v_a`` and ``v_b`` (a descendant of one, an ancestor of the other) lies in a part between
  theirs, so on their device when they share it: the device holds the run's *closure*, computes it (its op
  times there) and holds its memory (the relaxation of the memory model, :class:`MemoryFigure`, which every
  figure is at least).

- *relays*: the ops between ``v_b`` (with the run's ops from ``v_b-k``, k < ``CUT_WINDOW``) and ``v_b+1`` lie on
  ``d_j``, on ``d_j+1`` or on *relay* devices off the spine whose parts come between the two in pipeline order,
  each relay for this hop alone. Take the set X of those ops on ``d_j``: each tensor written in X and read by an
  op outside it crosses, whole, the link from ``d_j`` to that op's device, once per device. So the ops reading
  from X that share a device receive the union of what they read over one link: the hop's own ``(d_j, d_j+1)``
  for those on ``d_j+1`` (``v_b+1`` among them), a link to a relay, each relay's its own, for the others; and
  all of it leaves over the hop's link and the r relays' links together. The hop's *cut front*
  (:func:`_cut_front`, :class:`Cut`) keeps, over the sets X, the bytes and the unions of what ``v_b+1`` and the
  ``READERS`` heaviest other readers read; the laying asks of some point of it that some grouping of those
  readers (:data:`_ASSIGNMENTS`, the heaviest group on the fastest free link, and so on) loads no link to
  ``U``, and that the bytes fit the links together. The same holds seen from ``d_j+1`` (:func:`_entry_front`:
  the writers outside its set Y of ops send over links into it). So each hop needs a least number of relays
  among the devices still free, its two ends together: the relays receiving from ``d_j`` and those sending to
  ``d_j+1`` are one set, a device in both only when its links on both sides are fast enough for what it takes
  there (:func:`_paired`, :meth:`Laying._needed`; not the larger of the two ends' counts, as if any relay served
  both); with no relay, link ``(d_j, d_j+1)`` carries a cut's bytes all. The runs and the relays their hops
  need together use at most every device. A completion after a placed spine op (:meth:`Laying.completes`)
  counts its first hop's relays too, the parts placed after that op's part among them at no cost.

So the least ``U`` for which some segmentation of the spine into runs, on a simple path of devices, has every
run's closure fit its device (memory within the cap, compute ``< U``), every hop's spine tensor cross its
link in ``< U`` and the relays its cuts need fit the devices left, bounds every placement's throughput from
below. The ops off the spine and the other tensors a link carries are otherwise left out, which only weakens
it. Unlike :func:`bounds.contraction_bound` it knows
that a chain of parts cannot use the fastest link twice: where memory forces many parts onto a network of
slow, distance-bound links (seed 002's), the path of devices is what decides.

The spine is a widest path from a source op to a sink (its smallest tensor as large as can be), each step
taken, among successors as wide, to the one last in the topological order (in residual blocks: the skip edge),
so each hop carries a block's input or output.

Before that search, a relaxation of it decides most bounds at once on a network of many devices, where the
search meets too many paths to prove that none fits: its *segments*. Take hops ``p .. q`` whose tensors are each
at least as large as the smallest of them (a maximal such interval, for each hop's size). The runs that hold the
spine's ops ``v_p .. v_q+1`` number at least ``f``, the fewest runs that cover them (a run's part within the
interval fits its device too: its closure is a subset); they lie on distinct devices, one after the other, and
each hop between two of them crosses its own link below ``U``, a link at least as fast as the interval's
smallest tensor needs. So the links on which some hop of the interval goes below ``U`` hold a simple path of
``f`` devices (:meth:`Laying._segments_fit`). Each interval is searched alone, over few links when its
tensors are large: the search for a path gives up (and says yes) past ``PATH_VISITS`` steps.

The search for a given ``U`` is depth-first over (run start, device, devices used, relays spent). A state fails
at once when the runs the spine still needs (at the least, each run as long as its best device allows) outnumber
the free devices, or the free devices its device reaches over links below ``U``. A failure returns its
*threshold*, the least value that ruled a choice out (a longer run's compute, a dearer hop, the value at which a
hop needs a relay fewer or the device reaches one more): no laying from that state has every value below it. So
failures are kept per (run start, device) with their used sets, relays and thresholds, across bounds: a state
that uses a failed one's devices and at least its relays fails too, at every bound up to the threshold; and the
bound's bisection jumps to a failure's threshold.
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from heuristics.bisection import least
from solver.placement.problem import PlacementProblem
from solver.solving.budget import Budget


MAX_OPS = 5_000  # larger graphs get no spine bound: its closures are op sets, quadratic in the ops
CUT_WINDOW = 4  # spine ops a run's end looks back over for its cut front
MAX_CUT_SETS = 4_096  # sets of ops between two spine ops tried for the cut front of a hop
MAX_VISITS = 200_000  # states searched for one bound before it is left undecided
READERS = 3  # heaviest readers of a hop's cut whose device is weighed (Cut)
PATH_VISITS = 20_000  # steps of the search for one segment's path before it says yes


Runs = tuple[tuple[int, int], ...]  # a laying's runs: (first spine position, device) each


class _Timeout(Exception):
    pass


class Cut(NamedTuple):
    """What a run's device d sends at a hop for one split of the ops between (:func:`_cut_front`), in bytes: all of
    it (each tensor once), and ``union[S]`` for each set S (a bit mask) of its *readers*, the hop's next spine op w
    (bit 0) and the ``READERS`` other ops that read most of it, heaviest first (bits 1 ..): what those ops read
    together. Readers on one device receive their union whole over one link from d: (d, e) for w's device e."""

    nbytes: int
    union: tuple[int, ...]  # 2 ** (READERS + 1) figures, union[0] = 0

    def figures(self) -> tuple[int, ...]:
        return (self.nbytes, *self.union[1:])


@dataclass(frozen=True)
class Spine:
    """A spine (ops in path order), the tensor of each hop, and per run start the closures' loads.

    ``memory[a][k]``, ``compute[a][k]`` (per device) and ``supported[a][k]`` (per device): of the closure of
    the run ``a .. a + k``, for as long as its memory fits the largest cap.
    """

    ops: list[int]
    hop_tensor: list[int | None]  # hop_tensor[s]: the tensor from ops[s] to ops[s + 1] (None: the edge has none)
    hop_cut: list[list[tuple[Cut, ...]]]  # hop_cut[s][k]: what a run ending at ops[s], from ops[s - k] at least,
    # sends out of its device towards ops[s + 1]: each split of the ops between at or above one of these cuts
    # (_cut_front); a longer run's at or above a shorter one's
    hop_entry: list[list[tuple[Cut, ...]]]  # the same, received by ops[s + 1]'s device (_entry_front)
    memory: list[np.ndarray]
    compute: list[np.ndarray]  # [k, device]
    supported: list[np.ndarray]  # [k, device]


def spine(problem: PlacementProblem, until: Budget | None = None) -> Spine | None:
    """The spine of ``problem``'s graph and its runs' closures (module docstring), made once per problem. The build
    (seconds on a large graph) goes hop by hop: when ``until`` ends first, None, and the next call goes on from
    where this one stopped."""
    if "spine" not in problem.derived:
        # The path and its fronts depend on the graph alone: every platform (and objective) shares one build.
        build = _BUILDS.get(problem.graph)
        if build is None:
            build = _BUILDS[problem.graph] = _Build(problem)
        if not build.advance(until or Budget(math.inf)):
            return None
        problem.derived["spine"] = build.finish(problem)
    return problem.derived["spine"]


_BUILDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # by graph (held while the graph lives)


class _Build:
    """A spine in the making, of a graph: its ops and closures at once, then the cut and entry fronts one hop at a
    time (:meth:`advance`); then, per problem on the graph, the runs' figures on its devices (:meth:`finish`)."""

    def __init__(self, problem: PlacementProblem):
        self.tensors, self.dag = problem.tensors, problem.dag  # not the problem: it holds the graph, the key
        written: dict[tuple[int, int], int] = {}
        self.out: list[list[int]] = [[] for _ in range(problem.num_ops)]  # the tensors each op writes
        for i, t in enumerate(problem.tensors):
            self.out[t.producer].append(i)
            for c in t.consumers:
                written.setdefault((t.producer, c), i)
        self.readers = [_mask_of(t.consumers) for t in problem.tensors]
        self.ops = _widest_path(problem, written)
        self.hop_tensor = [written.get((u, w)) for u, w in zip(self.ops, self.ops[1:])]
        self.ancestors, self.descendants = _closures(problem)
        self.hop_cut: list[list[tuple[Cut, ...]]] = []
        self.hop_entry: list[list[tuple[Cut, ...]]] = []

    def advance(self, until: Budget) -> bool:
        """Build the fronts of the hops left until ``until`` ends: whether every hop has them."""
        ops, ancestors, descendants = self.ops, self.ancestors, self.descendants
        while (s := len(self.hop_cut)) < len(ops) - 1:
            if until.passed():
                return False
            w = ops[s + 1]
            leaving: list[tuple[Cut, ...]] = []
            entering: list[tuple[Cut, ...]] = []
            for k in range(min(CUT_WINDOW, s + 1)):
                start = ops[s - k]
                run, between = descendants[start] & ancestors[ops[s]], descendants[start] & ancestors[w]
                _join(leaving, self._cut_front(run, w, between))
                _join(entering, self._entry_front(run, ops[s], w, between))
            self.hop_cut.append(leaving)
            self.hop_entry.append(entering)
        return True

    def _written(self, between: int, w: int) -> list[int]:
        """The tensors written in ``between`` (a bit mask) other than by ``w``, in index order."""
        return sorted(i for v in _bits(between) if v != w for i in self.out[v])

    def _cut_front(self, run: int, w: int, between: int) -> tuple[Cut, ...]:
        """What the device of a run's ops (the bit mask ``run``) sends out when ``w`` lies on another device and the
        ops ``between`` them (a bit mask, both included) anywhere: over the sets X of those ops on the run's device
        (``run`` and more, closed under predecessors within ``between``), the tensors written in X and read in
        ``between`` outside it, as a :class:`Cut`, kept where no other X's is as small in every figure (a Pareto
        front). Past ``MAX_CUT_SETS`` sets, the tensors ``run`` sends ``w`` directly (sent whatever X is)."""
        tensors = self.tensors
        inner = between & ~run & ~(1 << w)
        sent = [(1 << tensors[i].producer, self.readers[i] & between, tensors[i].nbytes)
                for i in self._written(between, w)]  # fmt: skip
        sets = _closed_sets(run, inner, {v: _mask_of(self.dag.preds[v]) & inner for v in _bits(inner)})
        sizes: dict[int, int] = {}
        return _direct(tensors, run, w) if sets is None else _pareto([_cut(sent, X, w, sizes) for X in sets])

    def _entry_front(self, run: int, last: int, w: int, between: int) -> tuple[Cut, ...]:
        """What the device of ``w`` receives, :meth:`_cut_front` seen from the other end: over the sets Y of the ops
        ``between`` on w's device (``w`` and more, none of ``run``, closed under successors within ``between``), the
        tensors written in ``between`` outside Y and read in Y, as a :class:`Cut` whose readers are their writers
        (those of ``run``, all on one device, as its op ``last``): each writer's device sends its tensors whole over
        one link to w's."""
        tensors = self.tensors
        inner = between & ~run & ~(1 << w)
        sent = [(self.readers[i] & between, 1 << (last if run >> (p := tensors[i].producer) & 1 else p),
                 tensors[i].nbytes) for i in self._written(between, w)]  # fmt: skip
        sets = _closed_sets(1 << w, inner, {v: _mask_of(self.dag.succs[v]) & inner for v in _bits(inner)})
        sizes: dict[int, int] = {}
        return _direct(tensors, run, w) if sets is None else _pareto([_cut(sent, Y, last, sizes) for Y in sets])

    def finish(self, problem: PlacementProblem) -> Spine:
        """The spine of ``problem`` (on this build's graph), with each run's memory, compute and support on its
        devices (the fronts all built)."""
        ops, ancestors, descendants = self.ops, self.ancestors, self.descendants
        n, D = problem.num_ops, len(problem.devices)
        items = problem.memory_items()
        item_of_op: list[list[int]] = [[] for _ in range(n)]
        for k, item in enumerate(items):
            for u in item.ops:
                item_of_op[u].append(k)
        caps = [problem.relaxed_cap(d) for d in range(D)]
        largest = math.inf if any(c is None for c in caps) else max(caps)
        times = np.array([[t if t is not None else 0 for t in row] for row in problem.times],
                         dtype=np.int64).reshape(n, D)  # fmt: skip
        runs = np.array([[t is not None for t in row] for row in problem.times], dtype=bool).reshape(n, D)
        memory, compute, supported = [], [], []
        for a, start in enumerate(ops):
            held: set[int] = set()
            inside = 0  # the closure so far, as a bit mask
            nbytes, load, ok = 0, np.zeros(D, np.int64), np.ones(D, bool)
            mem_a, comp_a, sup_a = [], [], []
            for end in ops[a:]:
                closure = descendants[start] & ancestors[end]
                for u in _bits(closure & ~inside):
                    load = load + times[u]
                    ok = ok & runs[u]
                    for k in item_of_op[u]:
                        if k not in held:
                            held.add(k)
                            nbytes += items[k].relaxed
                inside |= closure
                if nbytes > largest:
                    break
                mem_a.append(nbytes)
                comp_a.append(load)
                sup_a.append(ok)
            memory.append(np.array(mem_a, dtype=np.int64))
            compute.append(np.array(comp_a, dtype=np.int64).reshape(len(comp_a), D))
            supported.append(np.array(sup_a, dtype=bool).reshape(len(sup_a), D))
        return Spine(ops, self.hop_tensor, self.hop_cut, self.hop_entry, memory, compute, supported)


def _join(fronts: list[tuple[Cut, ...]], front: tuple[Cut, ...]) -> None:
    """Append ``front`` for a run one op longer than the last of ``fronts``'s: the longer run's splits are among the
    shorter one's, so each lies at or above a point of both fronts."""
    fronts.append(_pareto([_point(map(max, p.figures(), q.figures())) for p in front for q in (fronts[-1] if fronts else (p,))]))


def _widest_path(problem: PlacementProblem, written: dict[tuple[int, int], int]) -> list[int]:
    """A path from a source op to a sink whose smallest tensor is largest; ties go to the later successor."""
    dag = problem.dag
    rank = {v: k for k, v in enumerate(dag.order)}
    width = [0.0] * problem.num_ops
    step: list[int | None] = [None] * problem.num_ops
    for v in reversed(dag.order):
        width[v] = math.inf if not dag.succs[v] else -1.0
        for w in dag.succs[v]:
            i = written.get((v, w))
            through = min(problem.tensors[i].nbytes if i is not None else 0, width[w])
            if (through, rank[w]) > (width[v], rank[step[v]] if step[v] is not None else -1):
                width[v], step[v] = through, w
    v = max((u for u in range(problem.num_ops) if not dag.preds[u]), key=lambda u: (width[u], -rank[u]))
    ops = [v]
    while step[v] is not None:
        v = step[v]
        ops.append(v)
    return ops


def _closed_sets(start: int, inner: int, needs: dict[int, int]) -> list[int] | None:
    """The sets of ``start`` and ops of ``inner`` (bit masks) that hold each op's ``needs`` with it; None past
    ``MAX_CUT_SETS``."""
    seen, queue = {start}, [start]
    while queue:
        X = queue.pop()
        for v in _bits(inner & ~X):
            if needs[v] & ~X == 0 and (grown := X | 1 << v) not in seen:
                if len(seen) >= MAX_CUT_SETS:
                    return None
                seen.add(grown)
                queue.append(grown)
    return list(seen)


def _direct(tensors, run: int, w: int) -> tuple[Cut]:
    """The ``tensors`` ``run`` sends ``w`` directly, over the hop's own link whatever the split (a :class:`Cut`)."""
    direct = sum(t.nbytes for t in tensors if run >> t.producer & 1 and w in t.consumers)
    return (Cut(direct, tuple(direct if S & 1 else 0 for S in range(2 ** (READERS + 1)))),)


def _cut(sent: list[tuple[int, int, int]], X: int, w: int, sizes: dict[int, int]) -> Cut:
    """The :class:`Cut` of the tensors ``sent`` (writer mask, readers mask, bytes) written in X and read outside it;
    ``sizes`` caches the bytes of sets of them (masks of indices into ``sent``)."""
    reads: dict[int, int] = {}  # per reader outside X, the tensors it reads
    total = 0
    for k, (writer, readers, nbytes) in enumerate(sent):
        if writer & X and (out := readers & ~X):
            total += nbytes
            for u in _bits(out):
                reads[u] = reads.get(u, 0) | 1 << k

    def size(tensors: int) -> int:
        if tensors not in sizes:
            sizes[tensors] = sum(sent[k][2] for k in _bits(tensors))
        return sizes[tensors]

    heavy = sorted((u for u in reads if u != w), key=lambda u: -size(reads[u]))[:READERS]
    tensors = [reads.get(w, 0), *(reads[u] for u in heavy)] + [0] * (READERS - len(heavy))
    union = [0] * 2 ** (READERS + 1)
    for S in range(1, len(union)):
        low = S & -S
        union[S] = union[S ^ low] | tensors[low.bit_length() - 1]
    return Cut(total, tuple(size(u) for u in union))


def _pareto(points: list[Cut]) -> tuple[Cut, ...]:
    """The points no other point is at or below in every figure (one of equal ones), by bytes."""
    front: list[tuple[int, ...]] = []
    for p in sorted({c.figures() for c in points}):
        if not any(all(x <= y for x, y in zip(q, p)) for q in front):
            front.append(p)
    return tuple(_point(p) for p in front)


def _point(figures) -> Cut:
    """The :class:`Cut` of ``figures`` (:meth:`Cut.figures`)."""
    nbytes, *union = figures
    return Cut(nbytes, (0, *union))


def _assignments() -> list[tuple[int, tuple[int, ...]]]:
    """The ways to group a hop's readers (Cut): w with some of the others on e, the rest in groups, each group on a
    relay of its own; as (the readers on e, the other groups), each a bit mask of Cut's readers, each way once."""
    ways = set()
    for labels in itertools.product(range(READERS + 1), repeat=READERS):  # reader i + 1's group; 0: on e
        groups = [0] * (READERS + 1)
        groups[0] = 1
        for i, label in enumerate(labels):
            groups[label] |= 1 << i + 1
        ways.add((groups[0], tuple(sorted(g for g in groups[1:] if g))))
    return sorted(ways)


_ASSIGNMENTS = _assignments()


Way = tuple[int, int, tuple[int, ...]]  # a grouping of a cut's readers (_ways): groups on relays, bytes over the hop's
# own link, each relay group's bytes (heaviest first)


def _ways(figures: tuple[int, ...]) -> tuple[int, tuple[Way, ...]]:
    """A cut (Cut.figures) as its bytes and the groupings of its readers (:data:`_ASSIGNMENTS`) no other grouping
    beats (as few relay groups, as few bytes over the hop's link, each relay group's as light)."""
    nbytes, *union = figures
    ways = sorted({(len(groups), union[together - 1], tuple(sorted((union[g - 1] for g in groups), reverse=True)))
                   for together, groups in _ASSIGNMENTS})  # fmt: skip
    kept: list[Way] = []
    for g, together, loads in ways:
        if not any(h <= g and t <= together and all(x <= y for x, y in zip(o, loads)) for h, t, o in kept):
            kept.append((g, together, loads))
    return nbytes, tuple(kept)


def _fewest(points: list[tuple[int, tuple[Way, ...]]], link: float, links: list[float], none: int) -> int:
    """The fewest relays a hop's cut needs (``none`` when no count does) at one of its ``points`` (:func:`_ways`), the
    hop's own link carrying ``link`` bytes below the bound and the free relays' links ``links`` (fastest first): no
    relay and the link carries all its bytes; or its readers grouped, the union on the hop's far device (bit 0's)
    over the link, each other group's over a relay's link of its own (the heaviest on the fastest, and so on), and
    the link with the relays' links together all the bytes."""
    fewest = none
    for nbytes, ways in points:
        if nbytes <= link:
            return 0
        rate, count = link, 0  # the fewest relays whose links with the hop's carry all the bytes
        for bw in links:
            if rate >= nbytes or count >= fewest:
                break
            rate, count = rate + bw, count + 1
        if rate < nbytes:
            continue
        for groups, together, loads in ways:
            if max(groups, count, 1) < fewest and groups <= len(links) and together <= link \
                    and all(load <= bw for load, bw in zip(loads, links)):  # fmt: skip
                fewest = max(groups, count, 1)
    return fewest


def _least(points: list[tuple[int, tuple[Way, ...]]], link: float, links: list[float], relays: int) -> float:
    """The least time (seconds) below which a hop's cut needs at most ``relays`` relays (:func:`_fewest`), ``link`` and
    ``links`` the bandwidths."""
    wide = link + sum(links[:relays])
    least = math.inf
    for nbytes, ways in points:
        value = _seconds(nbytes, link)
        if relays:
            spread = _seconds(nbytes, wide)
            for groups, together, loads in ways:
                if groups <= min(relays, len(links)):
                    value = min(value, max(spread, _seconds(together, link), *map(_seconds, loads, links)))
        least = min(least, value)
    return least


MAX_PAIRINGS = 2_000  # sets of relay devices tried for one pairing question (_paired, _paired_least)
_ROUNDING = 4  # steps of a microsecond that mend floating point in a pairing's threshold (Laying._fewer)


def _paired(leaving: list[tuple[int, tuple[Way, ...]]], entering: list[tuple[int, tuple[Way, ...]]], link: float,
            devices: list[tuple[float, float]], none: int, placed: list[tuple[float, float]] = ()) -> int:
    """The fewest relays a hop from d to e needs, its two ends taken together: the least number of the free
    ``devices`` in a set S of relays such that the leaving cut is served by S's links from d and the entering cut
    by S's links into e, the relays ``placed`` already (parts between d's and e's, on devices taken) in S at no cost.

    ``devices`` and ``placed`` hold, per device, what its link from d and its link into e carry below the bound
    (bytes; 0: no link), ``link`` what the hop's own link carries. A *relay* is a device off the spine holding ops
    between the hop's ends; those receiving from d form R_out, those sending to e form R_in, and the hop's relays
    are at least ``|R_out | R_in|``. The leaving side is *served* by R_out (:func:`_fewest` on their links, fastest
    first) when at a point of its front the hop's link carries all the bytes, or the hop's link and R_out's links
    together carry them and a grouping of the readers puts its union with w over the hop's link and each other
    group on its own device of R_out, over a link that carries it; the entering side by R_in alike. Serving grows
    with the set, so S holds every placed relay, and the fewest free ones number at least the larger of the two
    sides' fewest (each side alone, placed relays and free devices together) less the placed ones, at most those
    of the two sides' fastest sets; counts in between are searched over the free devices fewer than that many
    others are as fast as on both links (one such can replace any other). ``none`` when no set serves both;
    past ``MAX_PAIRINGS`` sets of one count, that count (none smaller serves: still a lower bound)."""
    every = [*placed, *devices]
    p = _fewest(leaving, link, sorted((a for a, _ in every if a > 0), reverse=True), len(every) + 1)
    q = _fewest(entering, link, sorted((b for _, b in every if b > 0), reverse=True), len(every) + 1)
    if max(p, q) > len(every):
        return none
    if not placed and min(p, q) == 0:
        return max(p, q)
    # The p fastest links out of d and the q fastest into e serve the sides; ties broken to the placed relays, then
    # to share devices.
    order = range(len(every))
    fastest = {*sorted(order, key=lambda r: (-every[r][0], -every[r][1], r))[:p],
               *sorted(order, key=lambda r: (-every[r][1], -every[r][0], r))[:q]}
    most = len(fastest) - len(fastest & set(range(len(placed))))
    for n in range(max(max(p, q) - len(placed), 0), most):
        candidates = _undominated(devices, n)
        if math.comb(len(candidates), n) > MAX_PAIRINGS:
            return n
        for S in itertools.combinations(candidates, n):
            relays = (*placed, *S)
            if _serves(leaving, link, [a for a, _ in relays]) and _serves(entering, link, [b for _, b in relays]):
                return n
    return most


def _serves(points: list[tuple[int, tuple[Way, ...]]], link: float, carries: list[float]) -> bool:
    """Whether relays whose links carry ``carries`` (bytes; 0: no link) serve one side of a hop (:func:`_paired`)."""
    links = sorted((c for c in carries if c > 0), reverse=True)
    return _fewest(points, link, links, len(carries) + 1) <= len(carries)


def _paired_least(leaving: list[tuple[int, tuple[Way, ...]]], entering: list[tuple[int, tuple[Way, ...]]], link: float,
                  devices: list[tuple[float, float]], relays: int, placed: list[tuple[float, float]] = ()) -> float:
    """The least time (seconds) below which the hop needs at most ``relays`` free relays, its ends taken together
    (:func:`_paired`), ``link``, ``devices`` and ``placed`` as bandwidths: over the sets S of that many free devices
    (among those fewer than ``|S|`` others are as fast as on both links), with the placed relays, the later of the
    times at which they serve each side (:func:`_least`). Past ``MAX_PAIRINGS`` sets, the ends taken apart (each
    side's fastest links: earlier or the same)."""
    n = min(max(relays, 0), len(devices))
    candidates = _undominated(devices, n)
    if math.comb(len(candidates), n) > MAX_PAIRINGS:
        return _apart(leaving, entering, link, [*placed, *devices], len(placed) + n)
    return min((_apart(leaving, entering, link, [*placed, *S], len(placed) + n)
                for S in itertools.combinations(candidates, n)), default=math.inf)


def _apart(leaving: list[tuple[int, tuple[Way, ...]]], entering: list[tuple[int, tuple[Way, ...]]], link: float,
           every: list[tuple[float, float]], relays: int) -> float:
    """The least time (seconds) below which each end of a hop alone needs at most ``relays`` of the relays ``every``
    (bandwidths from d and into e, as :func:`_paired_least`'s), each end on its fastest links: no later than the ends
    taken together, since a set serving both serves each."""
    return max(_least(leaving, link, sorted((a for a, _ in every if a > 0), reverse=True), relays),
               _least(entering, link, sorted((b for _, b in every if b > 0), reverse=True), relays))


def _undominated(devices: list[tuple[float, float]], n: int) -> list[tuple[float, float]]:
    """The ``devices`` (pairs of link figures) fewer than ``n`` others are at least as good as on both figures (equal
    ones counted in index order): a set of n devices can trade any other for one of these and lose nothing."""
    return [(a, b) for r, (a, b) in enumerate(devices)
            if sum(x >= a and y >= b and ((x, y) != (a, b) or s < r) for s, (x, y) in enumerate(devices)) < n]


def _seconds(nbytes: float, rate: float) -> float:
    """Seconds to send ``nbytes`` at ``rate`` bytes/s (none: infinite, unless there is nothing to send)."""
    return 0.0 if nbytes == 0 else nbytes / rate if rate > 0 else math.inf


def _segments(sizes: list[int]) -> list[tuple[int, int]]:
    """The maximal intervals ``(p, q)`` of hops whose ``sizes`` are each at least that of one hop, each once."""
    found = set()
    for size in set(sizes):
        p = None
        for s, at in enumerate([*sizes, -1]):
            if at >= size and p is None:
                p = s
            elif at < size and p is not None:
                found.add((p, s - 1))
                p = None
    return sorted(found)


def _row_masks(flags: np.ndarray) -> list:
    """The rows of a boolean array (its last axis) as bit masks, in nested lists of its other axes."""
    masks = np.zeros(flags.shape[:-1], dtype=object)
    for low in range(0, flags.shape[-1], 62):  # 62 bits at a time, in integers numpy sums without overflow
        chunk = flags[..., low:low + 62].astype(np.int64)
        masks = masks + (chunk << np.arange(chunk.shape[-1], dtype=np.int64)).sum(axis=-1).astype(object) * (1 << low)
    return masks.tolist()


def _mask_of(ops) -> int:
    mask = 0
    for v in ops:
        mask |= 1 << v
    return mask


def _closures(problem: PlacementProblem) -> tuple[list[int], list[int]]:
    """Each op's ancestors and descendants, itself included, as bit masks."""
    dag, n = problem.dag, problem.num_ops
    ancestors, descendants = [0] * n, [0] * n
    for v in dag.order:
        ancestors[v] = 1 << v
        for u in dag.preds[v]:
            ancestors[v] |= ancestors[u]
    for v in reversed(dag.order):
        descendants[v] = 1 << v
        for w in dag.succs[v]:
            descendants[v] |= descendants[w]
    return ancestors, descendants


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def spine_bound(problem: PlacementProblem, lower: int, upper: int, until: Budget | None = None) -> int:
    """The least ``U`` in ``lower..upper`` at which the spine can be laid (module docstring): a lower bound on every
    placement's throughput when ``lower`` is one. Bisection, each failure raising the bound to its threshold (see
    :meth:`Laying.threshold`). A value whose search runs out of time or visits counts as laid, which keeps the
    answer a bound (the best proven so far); graphs of over ``MAX_OPS`` ops, or whose spine is not built by
    ``until``'s end, get ``lower``."""
    until = until or Budget(math.inf)
    built = spine(problem, until) if problem.num_ops <= MAX_OPS else None
    if built is None:
        return lower
    laying = Laying(problem, built, until)
    # The segments first: they decide a bound in milliseconds, the laying's search in up to seconds (past the
    # deadline a bound counts as laid, as below).
    low = least(lower, upper, lambda mid: until.passed() or laying.segments_fit(mid + 1))
    high = upper
    while low < high:
        mid = (low + high) // 2
        failed = laying.threshold(mid + 1)
        if failed is None:  # a laying with every value < mid + 1 (or none ruled out): the bound is <= mid
            high = mid
        else:  # no laying has every value below the failure's threshold
            low = min(max(mid + 1, int(failed)), high)
    return low


class Laying:
    """The spine laid on the devices below a bound ``U`` (:meth:`prepare`), from the start (:meth:`fits`) or from a
    hop out of a placed device (:meth:`completes`). Searches share their failures while ``U`` stays; past
    ``max_visits`` states for one question, or ``until``'s end, it answers yes (nothing ruled out)."""

    def __init__(self, problem: PlacementProblem, spine_: Spine, until: Budget, max_visits: int = MAX_VISITS):
        self.spine = spine_
        self.until = until
        self.max_visits = max_visits
        D = len(problem.devices)
        self.D = D
        self.caps = np.array([math.inf if problem.relaxed_cap(d) is None else problem.relaxed_cap(d)
                              for d in range(D)])  # fmt: skip
        # cost[s, a, b]: the hop tensor s over link (a, b); infinite without a link and for a == b.
        self.cost = np.full((len(spine_.hop_tensor), D, D), math.inf)
        for a, row in enumerate(problem.transfer):
            for b, costs in enumerate(row):
                if costs is not None and a != b:
                    self.cost[:, a, b] = [costs[i] if i is not None else 0 for i in spine_.hop_tensor]
        for s, i in enumerate(spine_.hop_tensor):
            if i is None:  # an edge without a tensor sends nothing: any other device may follow
                self.cost[s] = np.where(np.eye(D, dtype=bool), math.inf, 0)
        names = problem.devices
        self.bandwidth = np.zeros((D, D))  # of each link (0: none)
        for a, b in itertools.permutations(range(D), 2):
            link = problem.platform.link(names[a], names[b])
            self.bandwidth[a, b] = 0.0 if link is None else link.bandwidth
        self.rates = self.bandwidth.tolist()
        # leaving[k][s], entering[k][s]: the points of hop s's cut and entry fronts for a run of k + 1 spine ops or more,
        # as _ways; least[k, s]: the fewest bytes of its cut front
        self.leaving, self.entering = (
            [[[_ways(c.figures()) for c in fronts[min(k, len(fronts) - 1)]] for fronts in hops] for k in range(CUT_WINDOW)]
            for hops in (spine_.hop_cut, spine_.hop_entry))  # fmt: skip
        self.least = np.array([[min(p[0] for p in points) for points in hops] for hops in self.leaving],
                              dtype=float).reshape(CUT_WINDOW, len(spine_.hop_cut))  # fmt: skip
        # cheapest[a][d, e]: the least cost of link (d, e) for a hop from position a on
        self.cheapest = np.minimum.accumulate(self.cost[::-1], axis=0)[::-1]
        self.upper = None
        self.visits = self.limit = 0
        # failed[a, d]: (devices used, relays kept, threshold) of states that found no laying; they hold at every
        # bound up to their threshold, so they are kept from one bound to the next
        self.failed: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
        self.segments = _segments([0 if i is None else problem.tensors[i].nbytes for i in spine_.hop_tensor])

    def prepare(self, upper: int) -> None:
        """Lay below ``upper`` from now on."""
        if upper == self.upper:
            return
        s = self.spine
        self.upper = upper
        # reach[a][d]: the last spine position a run from a can end at on device d (a - 1: not even v_a).
        self.reach = []
        for a in range(len(s.ops)):
            fit = s.supported[a] & (s.compute[a] < upper) & (s.memory[a][:, None] <= self.caps)
            self.reach.append(a + np.cumprod(fit, axis=0).sum(axis=0) - 1)  # closures grow: fit is a prefix
        self.near = self.cost < upper
        self.alone = self._alone(upper)
        self.runs = self._runs()
        # Device sets as bit masks, for the search: near_to[s][d], the devices hop s reaches from d below the bound;
        # starts[a], the devices a run from position a fits on; onward[a][d], the devices a link from d reaches
        # below the bound for some hop from position a on.
        self.near_to = _row_masks(self.near)
        self.starts = _row_masks(np.array([self.reach[a] >= a for a in range(len(s.ops))]).reshape(len(s.ops), self.D))
        onward = np.logical_or.accumulate(self.near[::-1], axis=0)[::-1] if len(self.near) else self.near
        self.onward = _row_masks(onward)
        # Thresholds (:meth:`threshold`): longer, the least compute that ended a run short of its next op on some
        # device; dearer[d][s], the least cost at or above the bound of a hop s from d.
        self.longer = self._longer()
        dearer = np.where(self.near, math.inf, self.cost).min(axis=2) if len(self.near) else np.zeros((0, self.D))
        self.dearer = dearer.T.tolist()
        self.segmented = self._segments_fit()
        # laid[position, source]: the runs of the last laying found after that spine op (see completes)
        self.laid: dict[tuple[int, int], Runs] = {}

    def fits(self, upper: int, max_visits: int | None = None) -> bool:
        """Whether the spine can be laid with every run's compute and every hop's transfer below ``upper`` (past
        ``max_visits`` states, by default the laying's own, yes)."""
        return self.threshold(upper, max_visits) is None

    def segments_fit(self, upper: int) -> bool:
        """Whether each segment's hops may lie on a simple path below ``upper`` (module docstring): when not, the
        spine cannot be laid below it."""
        self.prepare(upper)
        return self.segmented

    def threshold(self, upper: int, max_visits: int | None = None) -> float | None:
        """None when the spine can be laid below ``upper`` (:meth:`fits`), else its failure's *threshold*: no laying
        has every value below it (at least ``upper``). It is the least of the values that ruled a choice out: a run's
        compute past its last op, a hop's link cost, the value at which a hop's cut needs a relay fewer or
        the devices left reach one more (each at least ``upper``), so every laying the search did not reach has a
        value at least that large. When the segments (:meth:`segments_fit`) rule ``upper`` out, ``upper`` itself."""
        self.prepare(upper)
        if not self.segmented:
            return float(upper)  # no laying below the bound: a segment's hops find no simple path
        self.limit = self.visits + (max_visits or self.max_visits)
        least = math.inf
        try:
            for d in range(self.D):
                laid = self._lay(0, d, 1 << d, 0)
                if isinstance(laid, tuple):
                    return None
                least = min(least, laid)
        except _Timeout:
            return None
        return least

    def completes(self, position: int, source: int, used: int, placed: int | None = None) -> float | None:
        """None when the spine after ``position`` (``ops[position]`` placed on device ``source``; -1: no spine op
        placed yet), the devices ``used`` taken, can be laid on the free devices below the prepared bound; else the
        failure's threshold (as :meth:`threshold`'s): no such laying has every value below it. The first hop's relays
        lie between ``source``'s part and the next run's: the parts ``placed`` after source's (a mask of devices
        among ``used``; None: any used device but source), at no cost, and free devices, the free ones counted
        (:meth:`_needed`, as a run of one spine op at least). Each question searches at most ``max_visits`` states
        (past them it answers None); a laying found before, on devices still free with room for its relays, answers
        at once."""
        last = len(self.spine.ops) - 1
        if position >= last:
            return None
        if placed is None:
            placed = used & ~(1 << source) if source >= 0 else 0
        key = (position, source)
        if key in self.laid and self._relaid(position, source, self.laid[key], used, placed):
            return None
        free = ~used & ((1 << self.D) - 1)
        nexts = free if position < 0 else self.near_to[position][source] & free
        # A free device the hop reaches only at or above the bound: a laying through it sends the hop at that cost.
        least = math.inf if position < 0 else min((self.cost[position, source, e] for e in _bits(free & ~nexts)),
                                                  default=math.inf)  # fmt: skip
        if nexts & ~self.starts[position + 1]:
            least = min(least, self.longer)  # a device the next run does not fit below the bound (as _lay's)
        self.limit = self.visits + self.max_visits
        try:
            for e in _bits(nexts & self.starts[position + 1]):
                spent = self._first(position, source, e, used, placed)
                if (used | 1 << e).bit_count() + spent > self.D:  # the first hop's relays do not fit
                    room = self.D - (used | 1 << e).bit_count()
                    least = min(least, self._fewer(position, position, source, e, room, used, placed))
                    continue
                end = self._lay(position + 1, e, used | 1 << e, spent)
                if isinstance(end, tuple):
                    self.laid[key] = end[2]
                    return None
                least = min(least, end)
                if spent and least > self.upper:  # up to where it needs a relay fewer, the state after it is the same
                    least = min(least, self._fewer(position, position, source, e, spent - 1, used, placed))
            return float(least)
        except _Timeout:
            return None

    def _relaid(self, position: int, source: int, runs: Runs, used: int, placed: int) -> bool:
        """Whether the runs of a laying found before after ``ops[position]`` on ``source`` lay it again, the devices
        ``used`` taken (those ``placed`` relays of the first hop): their devices free and every hop's relays
        (counted as :meth:`completes` and :meth:`_lay` count them) within the devices left."""
        devices = _mask_of(d for _, d in runs)
        if devices & used:
            return False
        (a, d), used = runs[0], used | 1 << runs[0][1]
        relays = self._first(position, source, d, used & ~(1 << d), placed)
        if used.bit_count() + relays > self.D:
            return False
        for a_next, e in runs[1:]:
            relays = self._next(a, a_next - 1, d, e, used, relays)
            if relays is None:
                return False
            (a, d), used = (a_next, e), used | 1 << e
        return True

    def _first(self, position: int, source: int, e: int, used: int, placed: int) -> int:
        """The free relays the first hop of a completion (:meth:`completes`), from ``source`` to ``e``, needs."""
        if position < 0 or self.alone[0][position] <= self.rates[source][e]:
            return 0
        return self._needed_at(0, position, source, e, used | 1 << e, self.upper, placed)

    def _alone(self, upper: int) -> list[list[float]]:
        """alone[k][s]: the least bandwidth at which hop s, after a run of k + 1 spine ops or more, may go over its own
        link with no relay below ``upper``: the rate that sends the fewest bytes of its cut front (:meth:`_needed`)
        in ``upper - 1`` microseconds (a load is whole microseconds)."""
        per = 1e6 / (upper - 1) if upper > 1 else math.inf  # bytes/s to send one byte within upper - 1 us
        with np.errstate(invalid="ignore"):
            return np.where(self.least > 0, self.least * per, 0.0).tolist()

    def _segments_fit(self) -> bool:
        """Whether the hops of each segment (module docstring) can lie on a simple path of as many devices as the
        fewest runs that cover their ops, over links on which one of the hops goes below the prepared bound; at
        ``until``'s end, yes for the segments not yet searched (nothing ruled out)."""
        farthest = [int(ends.max()) for ends in self.reach]  # the last op a run from each position reaches
        for p, q in self.segments:
            if self.until.passed():
                return True
            runs, a = 0, p
            while a <= q + 1:
                if farthest[a] < a:  # no device holds v_a below the bound
                    return False
                runs, a = runs + 1, farthest[a] + 1
            if runs > 1 and not self._path(self.cost[p:q + 1].min(axis=0) < self.upper, runs):
                return False
        return True

    def _path(self, links: np.ndarray, count: int) -> bool:
        """Whether the directed graph ``links`` (a boolean matrix of devices) holds a simple path of ``count``
        devices; past ``PATH_VISITS`` steps, or at ``until``'s end, yes (nothing ruled out)."""
        nexts = _row_masks(links)
        steps = 0

        def walk(d: int, used: int, left: int) -> bool:
            nonlocal steps
            steps += 1
            if left == 0 or steps > PATH_VISITS or (steps % 256 == 0 and self.until.passed()):
                return True
            return any(walk(e, used | 1 << e, left - 1) for e in _bits(nexts[d] & ~used))

        return any(walk(d, 1 << d, count - 1) for d in range(self.D))

    def _runs(self) -> list[int]:
        """runs[a]: the fewest runs the spine from position ``a`` on splits into below the prepared bound, on any
        devices (a run from ``a`` ends at most at the reach of its best device; past the end, 0)."""
        last = len(self.spine.ops)
        runs = [0] * (last + 1)
        for a in range(last - 1, -1, -1):
            longest = int(self.reach[a].max())
            runs[a] = 1 + min(runs[a + 1:longest + 2], default=last) if longest >= a else last + 1
        return runs

    def _longer(self) -> float:
        """The least compute (at least the bound) of a run one op longer than its device's reach, among those whose
        memory fits and whose ops the device runs: below it, no run grows."""
        s, least = self.spine, math.inf
        for a, ends in enumerate(self.reach):
            for d, end in enumerate(ends.tolist()):
                k = end + 1 - a
                if end + 1 < len(s.ops) and k < len(s.memory[a]) and s.supported[a][k, d] \
                        and s.memory[a][k] <= self.caps[d]:  # fmt: skip
                    least = min(least, float(s.compute[a][k, d]))
        return least

    def _reachable(self, a: int, d: int, free: int) -> int:
        """The ``free`` devices (a mask) a path of links from ``d`` reaches, each link below the bound for a hop from
        position ``a`` on."""
        seen, frontier = 0, 1 << d
        while frontier:
            grown = 0
            for v in _bits(frontier):
                grown |= self.onward[a][v]
            frontier = grown & free & ~seen
            seen |= frontier
        return seen

    def _widening(self, a: int, reached: int, others: int) -> float:
        """The least cost of a link from the devices ``reached`` to the ``others`` (masks) for a hop from position ``a``
        on: below it, the devices reached stay as they are."""
        rows, cols = list(_bits(reached)), list(_bits(others))
        return float(self.cheapest[a][np.ix_(rows, cols)].min()) if rows and cols else math.inf

    def _fewer(self, a: int, b: int, d: int, e: int, relays: int, used: int, placed: int = 0) -> float:
        """The largest bound at which the hop after run ``a .. b`` from ``d`` to ``e`` still needs more than ``relays``
        relays among the devices not ``used`` (:meth:`_needed`; those ``placed`` at no cost), at least the prepared
        one (where it needs more): up to it the state after the hop stays as it is, and one above it needs at most
        ``relays``. Infinite when no bound makes it so few."""
        if relays < 0:
            return math.inf
        k, taken = min(b - a, CUT_WINDOW - 1), used | 1 << e
        leaving, entering, link = self.leaving[k][b], self.entering[k][b], self.rates[d][e]
        devices, kept = self._carries(d, e, self._free(taken), 1.0), self._carries(d, e, placed, 1.0)
        # The ends taken apart drop no later (rounded down a hair against floating point): where one relay can serve
        # both ends as it would serve either, the count drops there too.
        apart = _apart(leaving, entering, link, [*kept, *devices], len(kept) + relays) * 1e6
        if apart == math.inf:
            return math.inf
        low = max(self.upper, math.floor(apart * (1 - 1e-9)))
        found = self._drops(k, b, d, e, taken, placed, relays, low, apart)
        if found is None:  # one relay cannot serve both ends as it would serve either: the sets of relays searched
            least = _paired_least(leaving, entering, link, devices, relays, kept) * 1e6
            if least == math.inf:
                return math.inf
            found = self._drops(k, b, d, e, taken, placed, relays, low, least)
        return float(low if found is None else found)

    def _drops(self, k: int, b: int, d: int, e: int, taken: int, placed: int, relays: int, low: int,
               near: float) -> int | None:
        """The bound after which the hop needs at most ``relays`` relays (:meth:`_needed_at`: more at it, at most
        ``relays`` one above), found within ``_ROUNDING`` steps of ``near`` (microseconds: where the count drops, up
        to floating point), at least ``low`` (a bound that needs more); None when not found there."""
        high = max(low, math.ceil(near))  # a bound U asks loads of U - 1 microseconds at most
        for _ in range(_ROUNDING):
            if high == low or self._needed_at(k, b, d, e, taken, high, placed) > relays:
                break
            high -= 1
        else:
            return None
        for _ in range(_ROUNDING):
            if self._needed_at(k, b, d, e, taken, high + 1, placed) <= relays:
                return high
            high += 1
        return None

    def _carries(self, d: int, e: int, devices: int, seconds: float) -> list[tuple[float, float]]:
        """Per device among ``devices`` (a mask) linked from ``d`` or into ``e``: what its link from d and its link into
        e carry in ``seconds`` (bytes; with ``seconds`` 1, the bandwidths; 0: no link). A device linked neither way
        serves no relay set, so it is left out."""
        out, into = self.rates[d], self.rates
        return [(out[x] * seconds, into[x][e] * seconds) for x in _bits(devices) if out[x] > 0 or into[x][e] > 0]

    def _free(self, taken: int) -> int:
        """The devices not ``taken`` (masks)."""
        return ~taken & ((1 << self.D) - 1)

    def _needed(self, k: int, b: int, d: int, e: int, used: int) -> int:
        """The fewest relays the hop after a run of k + 1 spine ops or more ending at ``b``, from ``d`` to ``e``, needs
        among the devices not ``used`` below the prepared bound, its two ends together (:func:`_paired`): the cuts d
        sends over its links and e receives over its own; ``D + 1``: no count does."""
        return self._needed_at(k, b, d, e, used | 1 << e, self.upper)

    def _needed_at(self, k: int, b: int, d: int, e: int, taken: int, upper: int, placed: int = 0) -> int:
        """:meth:`_needed` below the bound ``upper``, the devices ``taken`` (e among them) no free relays, those of them
        ``placed`` (a mask) relays at no cost."""
        seconds = max(upper - 1, 0) / 1e6  # the bytes a link carries per byte/s
        free, kept = self._carries(d, e, self._free(taken), seconds), self._carries(d, e, placed, seconds)
        return _paired(self.leaving[k][b], self.entering[k][b], self.rates[d][e] * seconds, free, self.D + 1, kept)

    def _next(self, a: int, b: int, d: int, e: int, used: int, relays: int) -> int | None:
        """The relays spent once the run ``a .. b`` on ``d`` hops to ``e`` (the hop's own, :meth:`_needed`, none when the
        hop may go alone: :meth:`_alone`), or None when the devices run out."""
        if b >= 0:
            k = min(b - a, CUT_WINDOW - 1)
            if self.alone[k][b] > self.rates[d][e]:
                relays += self._needed(k, b, d, e, used)
        return relays if (used | 1 << e).bit_count() + relays <= self.D else None

    def _lay(self, a: int, d: int, used: int, relays: int) -> tuple[int, int, Runs] | float:
        """A laying of the spine from position ``a`` on, its first run on device ``d``, on unused devices, ``relays``
        of them kept for the hops so far whose cut did not fit their link: the devices used and relays kept
        once it is laid, and its runs (start, device); or, when there is none, the threshold of the failure
        (:meth:`threshold`)."""
        self.visits += 1
        if self.visits > self.limit or (self.visits % 256 == 0 and self.until.passed()):
            raise _Timeout  # this question stays undecided
        last = len(self.spine.ops) - 1
        end = int(self.reach[a][d])
        if end >= last:
            return used, relays, ((a, d),)
        key = (a, d)
        upper = self.upper
        for old, spent, held in self.failed.get(key, ()):
            if held >= upper and spent <= relays and old & ~used == 0:
                return held
        # The runs after this one need devices of their own, free and reached from d over links below the bound.
        after = self.runs[a] - 1
        unused = ~used & ((1 << self.D) - 1)
        if end < a or after > unused.bit_count() - relays:
            return self._failed(key, used, relays, self.longer)
        reached = self._reachable(a, d, unused)
        if after > reached.bit_count():
            widening = self._widening(a, reached | 1 << d, unused & ~reached)
            return self._failed(key, used, relays, min(self.longer, widening))
        threshold = min([self.longer] + self.dearer[d][a:end + 1])  # a longer run, a dearer hop
        for b in range(end, a - 1, -1):  # the longest runs first
            for e in _bits(self.near_to[b][d] & unused & self.starts[b + 1]):
                spent = self._next(a, b, d, e, used, relays)
                if spent is None:  # not enough devices left for its relays
                    if threshold > self.upper:
                        threshold = min(threshold, self._fewer(a, b, d, e, self.D - (used | 1 << e).bit_count() - relays,
                                                               used))  # fmt: skip
                    continue
                laid = self._lay(b + 1, e, used | 1 << e, spent)
                if isinstance(laid, tuple):
                    return laid[0], laid[1], ((a, d), *laid[2])
                # Up to the value at which this hop needs a relay fewer, the state after it is the same.
                needed = spent - relays
                threshold = min(threshold, laid)
                if needed and threshold > self.upper:  # (a threshold is at least the bound)
                    threshold = min(threshold, self._fewer(a, b, d, e, needed - 1, used))
        return self._failed(key, used, relays, threshold)

    def _failed(self, key: tuple[int, int], used: int, relays: int, threshold: float) -> float:
        """Keep a failure, dropping those it implies (more devices used, as many relays or more, a threshold as low)."""
        kept = [(old, spent, held) for old, spent, held in self.failed.get(key, ())
                if not (held <= threshold and spent >= relays and used & ~old == 0)]  # fmt: skip
        kept.append((used, relays, threshold))
        self.failed[key] = kept
        return threshold
