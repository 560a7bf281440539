"""SALBP-2 lower bounds by destructive improvement: SALBP-1 bounds at a trial cycle time refute it.

The model
---------
Ops ``V`` with weights ``w``, precedence (ancestors ``anc(v)`` and descendants ``desc(v)``, v included in
both), ``K`` stations in a line. A cycle time ``C`` is *refuted* when no partition with bottleneck ``<= C``
exists; SALOME-2 and Klein & Scholl (1996) raise a lower bound on SALBP-2 by refuting ``C = LB, LB + 1, ...``
with SALBP-1 bounds at ``C``. For a set ``S`` of ops, ``need(S)`` is the largest of ``ceil(w(S) / C)`` and the
bin-packing bounds LB2 and LB3 (Scholl & Becker's shares, :func:`share_arrays`): stations of capacity C that
S needs. The tests at C, each a necessary condition of a partition ``p`` with bottleneck ``<= C``:

- **Head and tail windows.** v and its ancestors lie in stations ``0..p(v)``, v and its descendants in
  ``p(v)..K-1``: ``E_v = need(anc(v)) - 1 <= p(v) <= K - need(desc(v)) = L_v`` (heuristics.dag's windows use
  LB1 alone). ``E_v > L_v`` refutes C.
- **Interval counting.** The ops whose window lies within stations ``a..b`` go there:
  ``need({v : a <= E_v, L_v <= b}) <= b - a + 1`` for every ``a <= b``.
- **Idle time.** With ``I = K C - w(V)`` idle in all, the idle times of the stations add up to ``I``. A station
  (or a run of stations) holds its mandatory ops (window inside) and a subset of the ops whose window meets it,
  so it is idle at least its capacity less the heaviest such load that fits (reachable subset sums, precedence
  ignored). Every run ``0..b`` alone, and all stations together, must need at most ``I``. At near-zero idle time
  (ARC111 m = 14 at C = 10746: I = 45 in a total of 150,399) few subsets do.
- **Probing.** ``p(v) = E_v`` moves v's descendants to ``E_v`` or later and its ancestors to ``E_v`` or earlier;
  if the windows, the counting or the stations' idle times then fail, ``E_v`` rises by one (and ``L_v`` falls
  likewise). Precedence carries a window's change on: ``E`` of a descendant is at least ``E_v``, ``L`` of an
  ancestor at most ``L_v``. The tests repeat until nothing changes (at most ``_ROUNDS`` rounds). A probe sums
  the idle times of all stations where that is cheap (``_PROBE_SUMS``), else checks the probed station alone.

A larger C gives smaller shares and sums, wider windows, more room in every interval and more idle time, so each
test passes at every C above one it passes at (the probes' choice by cost aside): the smallest C none refutes
(:meth:`CycleBounds.least`) is a lower bound on the optimum. A refuted C is a proof whatever the order of the
trials, so ``least`` (one above the largest C refuted) is a valid bound in any case. The windows left at a C
the tests pass hold every partition with bottleneck ``<= C``: the exact search (solver/partitioning/exact.py)
builds its models, station search and beam on them, and states the stations' least idle times in its models.

On the SALBP-2 set this proves ARC111 m = 14 and 15 optimal before any search, reaches the published lower bound
of ARC111 m = 22-24 and 26, raises ARC111 m = 25's above it (6091; published 6085, best known 6101), and raises
the bound of ARC111 m = 16-21 and ARC83 m = 17-20 by up to 100 (``python -m benchmarks.salbp2 --bounds``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from heuristics.dag import Dag

# Probing costs about n (n + K^2) per round at a cycle (0.3 s on SCHOLL's 297 ops at K = 46, 0.4 s on a random
# graph of 500 ops at K = 16, 0.6 s at K = 64): above this the windows of heuristics.dag (LB1) are all the search
# gets (every SALBP-2 instance is below: SCHOLL m = 52 is at 0.9 * 2^20).
_WORK_MAX = 2**20
# The idle-time test's subset sums cost the ops times the bits (the span's capacity): a span above this is left
# unchecked (every SALBP-2 instance is below; weights in microseconds on a big model would not be).
_SUMS_WORK = 2**24
# Probes sum every station's idle time while n times the ops meeting each station stay below this (see
# CycleBounds._probed_stations).
_PROBE_SUMS = 2**18
# Rounds of probing and propagation at most per cycle (each round moves at least one window; on the SALBP set a
# fixpoint takes a few).
_ROUNDS = 64


def share_arrays(weights: np.ndarray, cycle: int) -> tuple[np.ndarray, np.ndarray]:
    """Each op's share of a station of capacity ``cycle`` (> 0) in LB2 (in halves) and LB3 (in sixths).

    LB2: 1 above ``C / 2``, 1/2 at exactly ``C / 2``. LB3: 1 above ``2C / 3``, 2/3 at ``2C / 3``, 1/2 strictly
    between ``C / 3`` and ``2C / 3``, 1/3 at ``C / 3``. No station's shares sum to more than 1 in either (two ops
    above ``C / 2`` do not fit together; three above ``C / 3`` neither, and one above ``2C / 3`` leaves room for
    ops below ``C / 3`` only). Weight 0: share 0.
    """
    w = np.asarray(weights, dtype=np.int64)
    halves = np.where(2 * w > cycle, 2, np.where(2 * w == cycle, 1, 0))
    sixths = np.select([3 * w > 2 * cycle, 3 * w == 2 * cycle, 3 * w > cycle, 3 * w == cycle], [6, 4, 3, 2], 0)
    zero = w <= 0
    return np.where(zero, 0, halves), np.where(zero, 0, sixths)


def need(sums: np.ndarray, cycle: int) -> np.ndarray:
    """Stations a set needs, from its sums ``[..., (weight, halves, sixths)]``: LB1, LB2, LB3, the largest."""
    return np.maximum(-(-sums[..., 0] // cycle), np.maximum(-(-sums[..., 1] // 2), -(-sums[..., 2] // 6)))


def applies(num_ops: int, num_parts: int) -> bool:
    """Whether the tests are cheap enough to run at every cycle a search tries (see ``_WORK_MAX``)."""
    return 0 < num_ops and num_ops * (num_ops + num_parts**2) <= _WORK_MAX


class CycleBounds:
    """The tests of the module doc on one instance (``dag``, ``num_parts``), their windows kept per cycle."""

    def __init__(self, dag: Dag, num_parts: int):
        self.dag = dag
        self.k = num_parts
        self.weights = np.asarray(dag.weights, dtype=np.int64)
        self.ancestry = _ancestry(dag)  # [v, u]: u is v or one of its ancestors
        self._windows: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}
        self._idles: dict[int, list[int] | None] = {}

    def refutes(self, cycle: int) -> bool:
        """Whether the tests prove that no partition has bottleneck ``<= cycle``."""
        return self.windows(cycle) is None

    def windows(self, cycle: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Earliest and latest station of each op at ``cycle`` after all the tests; None when they refute it."""
        if cycle not in self._windows:
            self._windows[cycle] = self._tighten(cycle) if cycle > 0 else self._weightless(cycle)
        return self._windows[cycle]

    def _weightless(self, cycle: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The windows at a cycle of 0 (or less): anywhere when every op weighs 0, else none."""
        if cycle < 0 or self.weights.any():
            return None
        return np.zeros(self.dag.n, dtype=np.int64), np.full(self.dag.n, self.k - 1, dtype=np.int64)

    def least_idles(self, cycle: int) -> list[int] | None:
        """Each station's least idle time at ``cycle`` on its windows (module doc, idle time); None: refuted, or a
        station overfull by its mandatory ops (possible only on windows that the last of ``_ROUNDS`` rounds shaved
        after its tests). Kept per cycle (the station searches ask at every restart)."""
        if cycle not in self._idles:
            windows = self.windows(cycle)
            idles = [] if windows is None or cycle <= 0 else \
                [_least_idle(*windows, self.weights, cycle, s, s) for s in range(self.k)]
            self._idles[cycle] = [int(i) for i in idles] if idles and math.inf not in idles else None
        return self._idles[cycle]

    def least(self, low: int, high: int, stop: Callable[[], bool] = lambda: False) -> int:
        """The smallest C in ``low..high`` the tests do not refute (``high`` if they refute all below it), given
        that none below ``low`` passes; once ``stop()``, the bound proven so far (``low`` is always tried).

        Galloping up from ``low`` (the bound is usually a few units above the weight bounds), then bisection.
        """
        step, below = 1, low - 1  # every C <= below is refuted
        while below + step < high and self.refutes(below + step):
            below, step = below + step, 2 * step
            if stop():
                return below + 1
        top = min(high, below + step)  # not refuted, or high
        while top - below > 1:
            if stop():
                return below + 1
            mid = (below + top) // 2
            below, top = (mid, top) if self.refutes(mid) else (below, mid)
        return top

    def _tighten(self, cycle: int) -> tuple[np.ndarray, np.ndarray] | None:
        values = self._values(cycle)
        early = np.maximum(0, need(self.ancestry @ values, cycle) - 1)
        late = np.minimum(self.k - 1, self.k - need(self.ancestry.T @ values, cycle))
        prefixes = [(0, b) for b in range(1, self.k - 1)]
        for _ in range(_ROUNDS):
            if self._fails(early, late, values, cycle, prefixes, range(self.k)):
                return None
            shaved_early, shaved_late = self._probe(early, late, values, cycle, self._probed_stations(early, late))
            # Precedence: a descendant starts no earlier, an ancestor ends no later.
            shaved_early = np.where(self.ancestry, shaved_early[None, :], 0).max(axis=1)
            shaved_late = np.where(self.ancestry.T, shaved_late[None, :], self.k).min(axis=1)
            if (shaved_early == early).all() and (shaved_late == late).all():
                break
            early, late = shaved_early, shaved_late
        return early, late

    def _values(self, cycle: int) -> np.ndarray:
        """Per op: weight, LB2 share, LB3 share (columns), the quantities every set's need sums."""
        halves, sixths = share_arrays(self.weights, cycle)
        return np.stack([self.weights, halves, sixths], axis=1)

    def _fails(self, early, late, values, cycle, spans, stations) -> bool:
        """Whether the windows fail: one is empty, an interval is overfull, or the idle time falls short of what
        the runs of stations in ``spans`` (each alone) or the ``stations`` (together) need."""
        return bool((early > late).any()
                    or _overfull(need(_interval_sums(early, late, values, self.k), cycle))
                    or _idle_short(early, late, self.weights, cycle, self.k, spans, stations))

    def _probed_stations(self, early, late) -> bool:
        """Whether a probe sums the idle time of every station (else it checks the probed station's alone): when
        the subset sums that takes, n ops times the ops whose window meets each station, stay below
        ``_PROBE_SUMS`` (ARC111 at K = 16: 0.1 * 2^20, 0.25 s a cycle; SCHOLL at K = 46: 1.7 * 2^20, 2 s a cycle
        where the idle times of its stations never added up)."""
        meets = (late - early) > 0
        return self.dag.n * int((late - early + 1)[meets].sum()) <= _PROBE_SUMS

    def _probe(self, early, late, values, cycle, every_station: bool) -> tuple[np.ndarray, np.ndarray]:
        """Windows with each end cut while placing the op there, its descendants no earlier and its ancestors no
        later, fails the tests (module doc, probing)."""
        early, late = early.copy(), late.copy()
        for v in np.flatnonzero(early < late):
            for end in (early, late):  # the earliest station, then the latest
                while early[v] < late[v]:
                    station = int(end[v])
                    stations = range(self.k) if every_station else [station]
                    if not self._placing_fails(early, late, values, cycle, v, station, stations):
                        break
                    end[v] += 1 if end is early else -1
        return early, late

    def _placing_fails(self, early, late, values, cycle, v, station, stations) -> bool:
        """Whether ``p(v) = station`` fails the tests, precedence applied once, the idle time summed over
        ``stations`` (adding the runs of stations up to it, as at the top, took twice the time on ARC111 and SCHOLL
        and refuted no more cycles)."""
        placed_early = np.where(self.ancestry[:, v] > 0, np.maximum(early, station), early)  # v's descendants
        placed_late = np.where(self.ancestry[v] > 0, np.minimum(late, station), late)  # v's ancestors
        return self._fails(placed_early, placed_late, values, cycle, [], stations)


def _ancestry(dag: Dag) -> np.ndarray:
    """``[v, u]`` = 1 when u is v or an ancestor of v (int64, for the products with the op values)."""
    closure = np.zeros((dag.n, dag.n), dtype=bool)
    for v in dag.order:
        if dag.preds[v]:
            closure[v] = closure[dag.preds[v]].any(axis=0)
        closure[v, v] = True
    return closure.astype(np.int64)


def _interval_sums(early: np.ndarray, late: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """``[a, b]``: the summed values of the ops whose window lies within stations ``a..b``."""
    grid = np.zeros((k, k, values.shape[1]), dtype=np.int64)
    np.add.at(grid, (early, late), values)
    # Windows starting at a or later (suffix over the start) and ending at b or earlier (prefix over the end).
    return np.cumsum(np.cumsum(grid[::-1], axis=0)[::-1], axis=1)


def _overfull(needs: np.ndarray) -> bool:
    """Whether some interval ``a..b`` needs more than its ``b - a + 1`` stations."""
    stations = np.arange(needs.shape[0])
    span = stations[None, :] - stations[:, None] + 1
    return bool((needs > np.maximum(span, 0)).any())


def _idle_short(early, late, weights, cycle, k, spans, stations) -> bool:
    """Whether the idle time ``I = K C - w(V)`` cannot cover what the stations must leave idle: some run of stations
    in ``spans`` alone, or the (disjoint) ``stations`` together, need more than ``I``."""
    idle = k * cycle - int(weights.sum())
    if any(_least_idle(early, late, weights, cycle, a, b) > idle for a, b in spans):
        return True
    needed = 0
    for station in stations:
        needed += _least_idle(early, late, weights, cycle, station, station)
        if needed > idle:
            return True
    return False


def _least_idle(early, late, weights, cycle, a, b) -> float:
    """The least idle time of stations ``a..b``: their capacity less the heaviest load of their mandatory ops (window
    inside) and a subset of the ops whose window meets them (subset sums as a bitset, precedence ignored); 0 (no
    claim) when the bitset would cost more than ``_SUMS_WORK``, infinite when the mandatory ops overfill them."""
    capacity = int(b - a + 1) * cycle  # Python ints: the bitsets below are wider than 64 bits
    inside = (early >= a) & (late <= b)
    high = capacity - int(weights[inside].sum())
    if high < 0:
        return math.inf
    optional = weights[~inside & (early <= b) & (late >= a)]
    optional = optional[optional <= high]  # the others never fit (and would shift the bitset past its mask)
    if int(optional.sum()) <= high:
        return high - int(optional.sum())
    if (len(optional) + 1) * high > _SUMS_WORK:  # the bitset alone is high bits wide
        return 0
    mask, reach = (1 << (high + 1)) - 1, 1
    for w in optional.tolist():
        reach |= (reach << w) & mask
    return high - (reach.bit_length() - 1)
