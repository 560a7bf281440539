"""Exact K-way min-max partitioning of an op DAG (SALBP-2) with CP-SAT.

The problem
-----------
Ops ``V`` with integer weights ``w``, data edges ``E``, ``K`` parts. Find ``p: V -> {0..K-1}`` with
``p(u) <= p(v)`` for every edge (u, v) (the session graph is acyclic) minimizing the bottleneck
``max_s sum_{p(v)=s} w_v``. Assembly-line balancing calls it SALBP-2 (stations = parts, cycle time =
bottleneck). Optional: a memory cap per part on the bytes of the constant tensors its ops read (each
tensor counted once per part), and secondary objectives after the bottleneck (edge cut, then bytes).

The search: bisection on the bottleneck
---------------------------------------
Dedicated SALBP-2 methods search on the cycle time, because a *fixed* cycle time ``C`` makes every
bound much stronger than a free objective does. We keep ``lo`` (every C < lo is proven infeasible)
and ``hi`` (the best partition found, ``bottleneck == hi``) and solve feasibility sub-problems
``F(C)`` with ``lo <= C < hi``: first at ``C = lo`` (the optimum usually equals the lower bound), then
at the midpoint. A feasible ``F(C)`` lowers ``hi`` to the found partition's real bottleneck (often
below C); an infeasible one raises ``lo`` to ``C + 1``. A sub-problem that times out raises neither:
the search then only looks above it for better partitions and spends what is left on ``F(hi - 1)``,
which either proves ``hi`` optimal or improves it.

Each sub-problem gets CP-SAT alone for a second; if that does not settle it, CP-SAT (one worker
fewer) goes on while the station search of solver/partitioning/stations.py runs beside it in the main thread,
restarted from both ends, the front and the back in turn, with budgets (in search nodes) following the
Luby sequence: CP-SAT refutes well and finds tight packings slowly, the station search the reverse.
Every third station-search run is complete (all loads tried): ending inside its budget, it proves the
sub-problem infeasible as CP-SAT would. Whichever finishes first stops the other. A probe whose model would
not build in its time (large graphs with many stations), or is larger than CP-SAT takes in a probe's time and
memory (``_MODEL_SIZE_MAX``), runs the station search alone.

Before the bisection, a descent (:meth:`_Search.descend`, up to half the time) lowers ``hi`` with the station
search and its beam search (solver/partitioning/beam.py) alone, as SALOME and BB&R solve SALBP-2 by SALBP-1 at a
sequence of cycle times: above the optimum a tight packing takes it a fraction of a second. Its first phase
(:meth:`_Search._quick_descent`) bisects with cheap beam rounds alone, on heuristics.dag's windows.

Lower bound before any solve: :func:`heuristics.dag.lower_bound`, the largest of ``ceil(total / K)``,
``max w`` and the bin-packing bounds ``LB_j``, raised to the smallest C whose station windows (below)
are all non-empty; then, where they are cheap (``salbp_bounds.applies``: n (n + K^2) up to 2^20), to the
smallest C that the destructive-improvement tests of solver/partitioning/salbp_bounds.py do not refute (head
and tail windows with LB1-LB3, interval counting, idle time, probing; within ``_BOUND_SHARE`` of the time).
Their windows, tighter than the ones below, are also what every probe's model, station search and beam work
on. The search starts from the hint (the caller's heuristics) or the trivial partition.

The feasibility model F(C)
--------------------------
Station windows (the classic assembly-line bounds, :func:`heuristics.dag.station_windows`): with ``head(v)`` = w of v and all its ancestors
and ``tail(v)`` = w of v and all its descendants, any partition with bottleneck <= C has
``E_v = ceil(head(v) / C) - 1 <= p(v) <= K - ceil(tail(v) / C) = L_v``.

- Variables: order encoding ``y[v][b] <=> p(v) <= b`` for ``b`` in ``E_v .. L_v - 1`` (``y`` is the
  constant 0 below ``E_v`` and 1 from ``L_v`` on); ``x(v, s) = y[v][s] - y[v][s-1]`` is "v in s".
- Order: ``y[v][b-1] => y[v][b]``.
- Precedence, edge (u, v): ``y[v][b] => y[u][b]`` (if v is in the first b+1 parts, so is u).
- Loads: ``sum_v w_v x(v, s) <= C - i_s`` for each station s, with ``i_s`` its least idle time where the
  destructive-improvement tests ran (``salbp_bounds.CycleBounds.least_idles``, else 0), and at least C less the
  idle time the others leave it, ``K C - total - sum_{t != s} i_t``.
- Redundant prefix loads (stronger propagation than the per-station sums alone):
  ``total - (K-1-b) C + sum_{t > b} i_t <= sum_v w_v y[v][b] <= (b+1) C - sum_{t <= b} i_t``.
- Symmetry: no empty part, ``sum_v x(v, s) >= 1``. This loses no optimum when n >= K (split any part
  of two or more ops along a topological order) and removes every solution that merely moves an empty
  part around. (K > n is refused, as by the heuristics and the checker.)
- Memory cap: ``m[c][s] >= x(v, s)`` for each constant tensor c that v reads;
  ``sum_c bytes_c m[c][s] <= cap``.
- Memory cap on a memory model instead (``part_memory``: a part's ops -> bytes, not linear: onert's planner
  decides the arena, and a calibrated model may count constants at less than their bytes, so the constants cap
  is left out), lazily: each partition CP-SAT finds is checked part by part, and a part S over the cap is
  forbidden as a whole in every station, ``sum_{v in S} x(v, s) - sum_{u not in S} x(u, s) <= |S| - 1``, and the
  model solved again. A forbidden set is over the cap whatever else the partition holds, so no partition under
  the cap is lost and an infeasible probe stays a proof.

Secondary objectives (lexicographic, :mod:`solver.solving.secondary`) use the same model at
``C = floor(best * (1 + slack))``; their models are in their table, solver/partitioning/objectives.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np
from ortools.sat.python import cp_model

from heuristics.dag import WINDOW_OPS, Dag, check_num_parts, lower_bound, station_windows
from solver.errors import CheckError, InfeasibleError, UsageError
from solver.partitioning.beam import ENDS, Ends, beam_stations, round_sizes
from solver.partitioning.metrics import PartitionMetrics, PartMemory, check_partition, part_ops
from solver.partitioning.objectives import SECONDARY, TABLE
from solver.partitioning.salbp_bounds import CycleBounds, applies
from solver.partitioning.settings import check_exact_options
from solver.partitioning.stations import DIRECTIONS, EXHAUSTED, MAX_LOADS, LevelSearch, fill_stations
from solver.solving.budget import Budget
from solver.solving.cpsat import Solve, default_workers, make_solver, solve_in_thread
from solver.solving.outcome import OPTIMAL, gap, status_of
from solver.solving.secondary import minimize_in_order, primary

# Share of the remaining time that one bisection probe may use, so that a hard probe cannot starve
# the ones that would prove optimality.
_PROBE_SHARE = 0.4
_HEARTBEAT = 1.0  # seconds between progress calls while a long probe runs
_QUICK_SOLVE = 1.0  # seconds of CP-SAT alone before the station search joins it
# Enumeration nodes of the shortest station-search restart (0.15 to 0.3 s); longer ones are multiples
# (Luby). A budget in nodes rather than seconds makes every run, on any machine, do the same restarts.
_STATION_NODES = 100_000
# One station-search run in this many is complete (all loads tried: a prover), the others heuristic.
_COMPLETE_EVERY = 3
# Beam-search rounds (a run from one end or each, beam.Ends) of the first size, and of the wider ones, at most per
# cycle: a packing the beam has not found in that many runs is rare (ARC111 m = 9..13 and SCHOLL at their optima took
# 1 to 10 rounds), and where there is none (TONGE70 m=21 at 169, ARC83 m=18 at 4316) its time is the complete runs' and
# CP-SAT's, which prove.
_BEAM_ROUNDS = 16
# The level search (stations.LevelSearch) at the lower bound, a turn per end at each station search there, backward
# first (where it fails, it mostly fails fast), after the beam's first turn: its sets of placed ops per level at most,
# and its share of the solve's time left a turn (a turn goes on where the last stopped). At near-zero idle time few
# sets fill whole stations: refuted from the back WARNECKE m = 22 at 72 (1.8 s), m = 26 at 63 (2.9 s, more than 2,000
# sets a level) and SCHOLL m = 41 at 1699 (7.6 s at load 8, 4.4-7.8 s at load 3; a 60 s solve's first turn, 11.4 s
# beside CP-SAT, fell short once and settled it in 6.4 s once), from the front ARC83 m = 19 at 4067 (5.1 s; load 8).
# Where it finds no verdict a level passes the cap: SCHOLL m = 46 and 48 at their optima from the back in 3 s at 5,000
# sets, 12-30 s at 20,000-50,000 (time the beam needs there); ARC111 m = 12 and 14 at theirs in 4-18 s (load 10).
# Its turns at lo take no more time than the beam and the restarts had there (at least _LEVEL_TURN a turn and end),
# but where only lo is open: a first turn of its full share at ARC111 m = 14 spent 18.5 s at the optimum 10747 (load
# 9) passing no verdict, where a wider beam round packs one run in 8 (2.6 s a run).
_LEVEL_STATES = 5_000
_LEVEL_SHARE = 0.2
_LEVEL_TURN = 0.5
# The descent (_Search.descend): station-search rounds (one run from each end) per cycle, and its share of the time.
_DESCENT_RUNS = 3
_DESCENT_SHARE = 0.5
# The descent's first phase (_Search._quick_descent): rounds of the first beam size (one run from each end) per cycle,
# and its share of the descent's time. Above the optimum such a round packs in 0.1-0.5 s, where a cycle of the
# descent proper first spends 2.8 s on the destructive-improvement windows (ARC111 m = 21, load 10) and its turns at
# the lower bound 25 s on the level search: main's descent ended at 7600-8023 there (best known 7183), the beam
# alone on heuristics.dag's windows reached 7195 in 5.6 s (ARC111 m = 14: 10749 in 4.3 s, main 10753-10878).
_QUICK_ROUNDS = 2
_QUICK_SHARE = 0.25
_QUICK_SEEDS = 1 << 48  # its beam runs' seeds start here, past any of _beam's (random.Random reads -s as s)
# Share of the time the destructive-improvement bound (salbp_bounds) may take before the search starts: 0.1 to 0.8 s
# on the SALBP set, a cycle or two more on bigger graphs.
_BOUND_SHARE = 0.1
# The station search keeps bitsets of the sums up to C (C / 8 bytes each, one per candidate op): above this
# cycle it would take gigabytes, and CP-SAT probes alone.
_STATION_CYCLE_MAX = 2**24
# The descent, and a probe whose model would not build in time, run the station search alone on graphs of up to
# this many ops (its load enumeration recurses once per candidate op: Python's stack) and when ops x cycle stays
# below _STATION_SUMS_MAX (its bitsets of sums, one per available op, take at most that many bits); beside CP-SAT
# it runs on graphs of up to _STATION_DEPTH_MAX ops (Python's stack: 1,000 frames) under the same sums bound.
_STATION_OPS_MAX = 512
_STATION_DEPTH_MAX = 900
_STATION_SUMS_MAX = 2**30
# Model building in Python is the cost on big graphs: about _BUILD_SECONDS per op and edge and _VARIABLE_COST
# times that per variable y[v][b] at first, then at the rate the last build took. A probe whose model would take
# more than _BUILD_SHARE of its time is not built: on a graph too big for the time limit the answer stays the
# heuristics', with the lower bound (ExactResult.notes says so).
_BUILD_SECONDS = 3e-6
# Largest total weight CP-SAT is given (2^40, about 10^12); heavier instances are scaled (model_weights).
MAX_MODEL_TOTAL = 2**40
_VARIABLE_COST = 8
_BUILD_SHARE = 0.5
# Largest model (in the units above: ops + edges + _VARIABLE_COST x variables) built at all. Above it CP-SAT's own
# copy and presolve pass the time and memory a probe has: on layered-100000 at K = 8 (3.2 M units: 361 k variables,
# 874 k implications, 2.2 M load terms) presolve alone took 3.4-22 s and overran its limit by up to 3 s while
# stopped every 0.1 s, the process grew by 1.3 GB (2.3 GB with presolve off) and no probe got past presolve; a
# layered graph of 10,000 ops at K = 8 (353 k units) adds about 220 MB and runs its probes to their limits.
_MODEL_SIZE_MAX = 1_000_000

Progress = Callable[[int, int, float], None]


@dataclass
class ExactResult:
    """The answer of :func:`solve_exact`.

    ``status`` is ``OPTIMAL`` (``bottleneck == bound``, proven), ``FEASIBLE`` (the solver improved on
    the heuristic; ``bound`` is the best proven lower bound) or ``HEURISTIC`` (nothing better than the
    heuristic was found in time). ``secondary`` holds ``edge_cut`` and ``transfer_bytes`` of ``parts``;
    ``secondary_status`` says for each requested secondary objective whether its minimum was proven.
    """

    status: str
    parts: list[int]
    bottleneck: int
    bound: int
    wall_time: float
    workers: int
    secondary: dict[str, int] = field(default_factory=dict)
    secondary_status: dict[str, str] = field(default_factory=dict)
    probes: int = 0  # feasibility sub-problems solved
    interrupted: bool = False  # Ctrl-C stopped the search; the answer is the best so far
    notes: list[str] = field(default_factory=list)  # what the search could not do, and scaled weights
    weight_scale: int = 1  # the weights were divided by this (and rounded down) for CP-SAT, see model_weights

    def to_json(self) -> dict:
        """The result as a JSON object (snake_case keys)."""
        return {
            "status": self.status,
            "bottleneck": self.bottleneck,
            "bound": self.bound,
            "gap": self.gap,
            "wall_time": self.wall_time,
            "workers": self.workers,
            "secondary": self.secondary,
            "secondary_status": self.secondary_status,
            "probes": self.probes,
            "interrupted": self.interrupted,
            "notes": self.notes,
            "weight_scale": self.weight_scale,
            "parts": self.parts,
        }

    @property
    def gap(self) -> float:
        """(bottleneck - bound) / bottleneck, 0 when proven optimal."""
        return gap(self.bottleneck, self.bound)


def solve_exact(
    graph: nx.DiGraph | Dag,
    num_parts: int,
    *,
    hint: Sequence[int] | None = None,
    time_limit: float = 60.0,
    workers: int | None = None,
    secondary: Sequence[str] = (),
    slack: float = 0.0,
    memory_cap: int | None = None,
    on_progress: Progress | None = None,
    weight: str = "weight",
    part_memory: PartMemory | None = None,
) -> ExactResult:
    """Partition ``graph`` into ``num_parts`` parts minimizing the bottleneck, exactly (see module doc).

    Parameters
    ----------
    graph : networkx.DiGraph or heuristics.dag.Dag
        Op DAG, nodes ``0..n-1`` with integer ``weight`` (docs/design.md); checked once into a ``Dag``.
    num_parts : int
        K in 1..n; no part is left empty.
    hint : list of int, optional
        A partition (best heuristic). Checked first; an invalid hint is ignored. The result is never
        worse than it. No heuristic runs here: without a hint the search starts from the trivial
        partition (the first K-1 ops of a topological order alone), or from nothing under a memory
        cap; :func:`solver.partitioning.partition.partition` runs the heuristics, then this.
    time_limit : float
        Seconds for the whole search (bisection probes and secondary objectives); 0 returns the best
        start.
    workers : int, optional
        CP-SAT workers; default: the machine's cores.
    secondary : tuple of "cut", "bytes"
        Secondary objectives, minimized lexicographically in this order after the bottleneck.
    slack : float
        Secondary objectives may raise the bottleneck to ``floor(best * (1 + slack))``.
    memory_cap : int, optional
        Bytes of constant tensors allowed per part, and with ``part_memory`` bytes of the memory model.
    part_memory : callable(ops) -> bytes, optional
        The memory model of a part (solver.memory); capped lazily (module doc).
    on_progress : callable(incumbent, bound, elapsed), optional
        Called whenever the incumbent or the bound changes, and about every second during a probe.

    Returns
    -------
    ExactResult

    Raises
    ------
    GraphError
        K outside ``1..n``, or the graph is not a DAG with non-negative integer weights on ``0..n-1``.
    UsageError
        Bad workers, secondary objective, slack or memory cap (:mod:`solver.partitioning.settings`).
    InfeasibleError
        No partition meets the memory cap (proven), or none was found in time.
    CheckError
        The solver's answer failed the independent checker (a bug).
    """
    budget = Budget(time_limit)
    dag = Dag.from_graph(graph, weight)
    check_num_parts(dag, num_parts)
    check_exact_options(workers, secondary, slack, memory_cap)
    _check_byte_range(dag, num_parts, secondary, memory_cap)
    workers = workers or default_workers()
    # On weights too large for CP-SAT's 64-bit arithmetic the search runs on scaled weights (see model_weights).
    scaled, scale = model_weights(dag)
    search = _Search(scaled, num_parts, memory_cap, workers, budget, on_progress)
    search.part_memory = part_memory if memory_cap is not None else None
    incumbent = _starting_partition(scaled, num_parts, hint, memory_cap, search.part_memory)
    if incumbent is not None:
        # Its first progress line may meet a Ctrl-C; the incumbent is kept all the same.
        budget.guard(search.accept, incumbent, False)
    search_budget = primary(budget, secondary) if search.incumbent is not None else budget
    budget.guard(search.descend, search_budget.part(_DESCENT_SHARE))
    budget.guard(search.bisect, search_budget)
    if search.incumbent is None:
        raise InfeasibleError(_infeasible_message(search, memory_cap, time_limit))
    status, bound = search.status(), min(search.lo, search.hi)
    secondary_status: dict[str, str] = {}
    if secondary and not budget.interrupted:
        secondary_status = budget.guard(search.secondary, secondary, slack) or {}
    metrics = _verify(dag, search.incumbent, num_parts, memory_cap, search.part_memory)
    notes = search.notes()
    if scale > 1:
        # Every true load is at least scale times its scaled load, so scale * (scaled bound) bounds the truth.
        bound = min(metrics.bottleneck, max(scale * bound, lower_bound(dag, num_parts)))
        status = status_of(metrics.bottleneck, bound, search.improved)
        notes.append(f"the weights (summing to {dag.total}) were divided by {scale} and rounded down for CP-SAT's "
                     "64-bit model: the search is exact for the rounded weights; bound and gap are for the true ones")
    return ExactResult(
        status=status,
        parts=list(search.incumbent),
        bottleneck=metrics.bottleneck,
        bound=bound,
        wall_time=budget.elapsed(),
        workers=workers,
        secondary={o.metric: o.evaluate(metrics) for o in TABLE.values() if o.secondary},
        secondary_status=secondary_status,
        probes=search.probes,
        interrupted=budget.interrupted,
        notes=notes,
        weight_scale=scale,
    )


def beyond_models(dag: Dag) -> bool:
    """Whether no probe's model can be built at all (its ops and edges alone pass _MODEL_SIZE_MAX, and the
    station search takes far fewer ops): the search could only check its hint and keep it, which takes seconds
    at 10^7 ops."""
    return dag.n + len(dag.edges) > _MODEL_SIZE_MAX


def model_weights(dag: Dag) -> tuple[Dag, int]:
    """The instance CP-SAT solves and the factor its weights were divided by (1: ``dag`` itself).

    CP-SAT checks that no linear expression can overflow 64 bits, and its LP relaxation works in doubles
    (53 bits): the load sums reach the total weight times a few, so totals above ``MAX_MODEL_TOTAL`` are
    divided by ``scale = ceil(total / MAX_MODEL_TOTAL)`` and rounded down. Rounding down keeps every scaled
    bound valid for the true weights once multiplied by ``scale``.
    """
    if dag.total <= MAX_MODEL_TOTAL:
        return dag, 1
    scale = -(-dag.total // MAX_MODEL_TOTAL)
    return replace(dag, weights=[w // scale for w in dag.weights]), scale


def _check_byte_range(dag: Dag, num_parts: int, secondary: Sequence[str], memory_cap: int | None) -> None:
    """Refuse a memory cap or a bytes objective whose byte sums CP-SAT cannot hold in 64 bits."""
    checks = [("the constants", sum(b for b, _ in dag.constants.values()), memory_cap is not None, "--memory-cap"),
              ("the tensors", sum(b for b, _, _ in dag.tensors.values()), "bytes" in secondary, "--secondary bytes")]
    for what, nbytes, used, option in checks:
        if used and nbytes * num_parts > MAX_MODEL_TOTAL:
            raise UsageError(f"{dag.name}: {what} hold {nbytes} bytes, too many for CP-SAT's 64-bit model of "
                             f"{option} at K = {num_parts} (at most {MAX_MODEL_TOTAL // num_parts})")


def luby(i: int) -> int:
    """The i-th term (from 1) of the Luby sequence 1, 1, 2, 1, 1, 2, 4, 1, 1, 2, 1, 1, 2, 4, 8, ...

    >>> [luby(i) for i in range(1, 16)]
    [1, 1, 2, 1, 1, 2, 4, 1, 1, 2, 1, 1, 2, 4, 8]
    """
    k = i.bit_length()
    while i != (1 << k) - 1:  # inside a block of 2^k - 1 terms, the sequence repeats its first 2^(k-1) - 1
        i -= (1 << (k - 1)) - 1
        k = i.bit_length()
    return 1 << (k - 1)


class _Search:
    """State of the bisection on the bottleneck: bounds, incumbent, progress, interruption."""

    def __init__(self, dag, num_parts, memory_cap, workers, budget: Budget, on_progress):
        self.dag = dag
        self.k = num_parts
        self.memory_cap = memory_cap
        self.workers = workers
        self.budget = budget  # the whole solve's: its clock, and the interrupt
        self.on_progress = on_progress
        self.incumbent: list[int] | None = None
        self.improved = False  # the solver found something better than the starting partition
        self.hi = dag.total if dag.n else 0
        self.lo = 0
        self.probes = 0
        self.unknown_above = -1  # largest C whose probe timed out
        self.station_attempts: dict[int, int] = {}  # cycle -> station-search restarts made
        self.station_memos: dict[int, dict[int, int]] = {}  # cycle -> failed states of complete runs (stations.py)
        self.beam_rounds: dict[int, int] = {}  # cycle -> beam-search rounds of the first size made (see _fill_stations)
        self.beam_seconds: dict[int, float] = {}  # cycle -> seconds the beam search took there
        self.wide_rounds: dict[int, tuple[int, float]] = {}  # cycle -> wider beam rounds made, and their seconds
        self.beam_ends = Ends()  # the ends its rounds run from (beam.Ends)
        self.level_searches: dict[tuple[int, str], LevelSearch] = {}  # (cycle, end) -> its level search, resumed
        # at each station search there (see _fill_stations)
        self.station_seconds: dict[int, float] = {}  # cycle -> seconds the station search took there
        self.level_seconds: dict[int, float] = {}  # cycle -> seconds the level search took there
        self.descent_floor = 0  # the descent's bisection found nothing below this C (see descend)
        self.floor_tried = False  # the descent tried the lower bound first (see _descend)
        self.quick: tuple[Budget, int] | None = None  # the quick descent's time and floor (see _quick_descent)
        self.unbuilt: tuple[int, int | None, float, bool] | None = None  # (C, variables, seconds, too big) of a
        # model left unbuilt
        self.build_rate = _BUILD_SECONDS  # seconds per unit of model size, as last measured
        self.part_memory: PartMemory | None = None  # the memory model capped lazily (module doc)
        self.forbidden: list[list[int]] = []  # parts found over the cap of the memory model
        # The destructive-improvement tests (solver/partitioning/salbp_bounds.py): the lower bound, and tighter
        # station windows at every cycle the search tries.
        self.cycle_bounds = CycleBounds(dag, num_parts) if applies(dag.n, num_parts) else None
        if dag.n:
            self.lo = TABLE["bottleneck"].bound(dag, num_parts)
        if self.cycle_bounds is not None:
            bounding = budget.part(_BOUND_SHARE)
            self.lo = self.cycle_bounds.least(self.lo, max(self.lo, dag.total),
                                              lambda: bounding.passed() or budget.interrupted)

    def accept(self, parts: list[int], from_solver: bool) -> None:
        loads = _loads(self.dag.weights, parts)
        value = max(loads, default=0)
        if self.incumbent is None or value < self.hi:
            self.incumbent, self.hi = list(parts), value
            self.improved = self.improved or from_solver
            self._report()

    def notes(self) -> list[str]:
        if self.unbuilt is None or self.status() == OPTIMAL:
            return []
        cycle, variables, seconds, too_big = self.unbuilt
        size = f"{self.dag.n} ops, {len(self.dag.edges)} edges" + (f", {variables} variables" if variables else "")
        if too_big:
            return [f"the exact model at bottleneck {cycle} ({size}) is too large for CP-SAT in this time and memory "
                    "(its presolve alone would take seconds to minutes and gigabytes); that probe was skipped"]
        return [f"the exact model at bottleneck {cycle} ({size}) would not build in the {seconds:.1f} s left; "
                "that probe was skipped"]

    def status(self) -> str:
        return status_of(self.hi, self.lo, self.improved)

    def descend(self, budget: Budget) -> None:
        """Lower the incumbent with the station search alone, while CP-SAT tries to prove ``lo`` beside it.

        A bisection on C between ``lo`` and ``hi`` whose probes are the first ``_DESCENT_RUNS`` rounds of the
        station-search restarts (:meth:`_fill_stations`: two short heuristic runs and one complete run from each
        end, 0.1 to 0.3 s each): SALOME's and BB&R's SALBP-2 methods solve SALBP-1 at a sequence of cycle
        times, and above the optimum a tight packing is found in a fraction of a second, where a CP-SAT probe
        spends its first second (``_QUICK_SOLVE``) alone. A complete run that ends inside its budget, or empty
        station windows, prove C infeasible and raise ``lo``; otherwise a failure proves nothing, and only the
        descent's own floor moves above that C. The bisection that follows proves or improves what it left,
        and its station search at a C the descent tried goes on with the next restarts.

        The descent tries ``lo`` itself first, for one round of restarts (the optimum often equals it: ARC111 and
        SCHOLL at near-zero idle time, where the beam search of :meth:`_fill_stations` packs it).

        The station search takes one core; with two workers or more, CP-SAT takes the others meanwhile on the
        bisection's probes (F(lo), then F((lo + hi) / 2), a new model whenever one settles): CP-SAT refutes
        quickly where the station search fails slowly. The descent pauses whenever CP-SAT settles a probe.
        """
        if self.incumbent is None or not self._stations_alone(self.hi):
            return  # e.g. under a memory cap, which the station search does not know
        self.descent_floor = self.lo
        first = True
        while not self._descent_over(budget):
            cycle = self.lo if first else (self.lo + self.hi) // 2
            first = False
            built = self._model_beside(cycle, budget) if self.workers > 1 else None
            if built is None:
                self._descend(budget, lambda: False)
                return
            self.probes += 1
            done = self._run(built.model, budget.left(), lambda finished: self._descend(budget, finished))
            self._take(cycle, built, done)

    def _descent_over(self, budget: Budget) -> bool:
        return max(self.descent_floor, self.lo) >= self.hi or budget.passed() or budget.interrupted

    def _descend(self, budget: Budget, finished: Callable[[], bool]) -> str:
        """The descent's bisection (see :meth:`descend`) until it is over ("over") or ``finished()`` ("paused"),
        after its quick phase (:meth:`_quick_descent`)."""
        if self._quick_descent(budget, finished):
            return "paused"
        while not self._descent_over(budget):
            if finished():
                return "paused"
            stop = lambda: budget.passed() or finished()
            floor = self.descent_floor = max(self.descent_floor, self.lo)
            # The lower bound first, for one round (the optimum often equals it: ARC111 and SCHOLL at near-zero
            # idle time); then the bisection.
            at_floor, self.floor_tried = not self.floor_tried, True
            cycle = floor if at_floor else (floor + self.hi) // 2
            runs = 1 if at_floor else _DESCENT_RUNS
            if not self._stations_alone(cycle):
                break
            windows = self._windows(cycle)
            if windows is None:  # the windows bound: no partition at this C
                self.lo = max(self.lo, cycle + 1)
                self._report()
                continue
            parts = self._fill_stations(cycle, windows, budget.left(), stop, until=runs * len(DIRECTIONS))
            if parts is None and finished():
                return "paused"  # the cycle's remaining runs are made when the descent goes on
            if parts == EXHAUSTED:
                self.lo = max(self.lo, cycle + 1)
                self.floor_tried = self.floor_tried and not at_floor  # the new floor first, in turn
                self._report()
            if parts is None or parts == EXHAUSTED:
                self.descent_floor = cycle + 1
            else:
                self.accept(_split_parts(parts, self.k, self.dag.order), from_solver=True)
        self.descent_floor = self.hi  # over: also when the station search may not run here
        return "over"

    def _quick_descent(self, budget: Budget, finished: Callable[[], bool]) -> bool:
        """The descent's first phase: a bisection on C strictly between ``lo`` and ``hi`` whose probes are
        ``_QUICK_ROUNDS`` rounds of the beam search's first size (beam.py) on heuristics.dag's station windows (LB1,
        no least idle times), for ``_QUICK_SHARE`` of ``budget``'s seconds from its first call; whether ``finished()``
        paused it (it goes on where it stopped at the next call).

        The upper side first, cheaply: far above the optimum any round packs, and a cycle here costs the beam's
        0.1-0.5 s, not the destructive-improvement windows' seconds (see ``_QUICK_ROUNDS``). A failure proves
        nothing: only this phase's floor moves above the cycle, and the descent proper tries below it again. Before
        it, one round of the beam (:meth:`_beam`) at ``lo`` on its own windows, as the descent proper starts: where
        the optimum is the bound it often packs there at once (ARC83 m = 14 in 3 s), and once the bisection leaves
        ``hi = lo + 1`` the level search would go first at ``lo`` (17 s there before CP-SAT proved it at 27 s).
        """
        if self.quick is None:
            if finished():
                return True
            self.quick = (budget.within(_QUICK_SHARE * budget.seconds), self.lo + 1)
            windows = self._windows(self.lo)
            parts = None if windows is None else self._beam(self.lo, windows, lambda: budget.passed() or finished())
            if parts is not None:
                self.accept(_split_parts(parts, self.k, self.dag.order), from_solver=True)
        share, floor = self.quick
        stop = lambda: share.passed() or budget.interrupted or finished()
        while max(floor, self.lo + 1) < self.hi and not stop():
            cycle = (max(floor, self.lo + 1) + self.hi) // 2
            windows = station_windows(self.dag, self.k, cycle)
            if windows is None:  # the windows bound: no partition at this C
                self.lo = max(self.lo, cycle + 1)
                self._report()
                continue
            parts = self._quick_beam(cycle, windows, stop)
            if parts is not None:
                self.accept(_split_parts(parts, self.k, self.dag.order), from_solver=True)
            elif not stop():  # a round cut short says nothing
                floor = cycle + 1
            self.quick = (share, floor)
        return finished()

    def _quick_beam(self, cycle: int, windows: tuple[list[int], list[int]],
                    stop: Callable[[], bool]) -> list[int] | None:
        """The quick descent's probe at ``cycle``: ``_QUICK_ROUNDS`` rounds of the first beam size from each end,
        seeded apart from :meth:`_beam`'s rounds (``_QUICK_SEEDS`` on): where no cycle bounds tighten the windows,
        the descent proper's first rounds at this cycle would otherwise repeat these runs exactly."""
        for round_ in range(_QUICK_ROUNDS):
            for direction in ENDS:
                parts = beam_stations(self.dag, self.k, cycle, windows, direction=direction, stop=stop,
                                      seed=_QUICK_SEEDS + (cycle * 1009 + round_) * 2 + ENDS.index(direction))
                self._report()
                if parts is not None or stop():
                    return parts
        return None

    def _model_beside(self, cycle: int, budget: Budget) -> _FeasibilityModel | None:
        """F(cycle), built within half of ``budget`` (None if its price or its build passes that)."""
        windows = self._windows(cycle)
        if windows is None or self.dag.n > WINDOW_OPS:
            return None
        size = self.dag.n + len(self.dag.edges) + _VARIABLE_COST * sum(late - early for early, late in zip(*windows))
        if not self._builds(size, budget.left()):
            return None
        return self._build(cycle, windows, size, budget.within(budget.left() * _BUILD_SHARE))

    def _build(self, cycle: int, windows, size: int, building: Budget) -> _FeasibilityModel | None:
        """F(cycle) on ``windows``, hinted and branched station by station, built within ``building`` (None
        if it was not). The rate measured here (wall seconds: a crowded machine builds slower) prices the next
        model; a build cut short prices it at least twice as slow."""
        try:
            idles = self._least_idles(cycle)
            built = _FeasibilityModel(self.dag, self.k, cycle, windows, self._linear_cap(), budget=building,
                                      forbidden=self.forbidden, least_idles=idles)
            built.hint(self.incumbent)
            built.branch_station_by_station(self.dag.tail)
        except _BuildTimeout:
            self.build_rate = max(self.build_rate, 2 * building.elapsed() / size)
            return None
        self.build_rate = building.elapsed() / size
        return built

    def _rules(self) -> list[tuple[Sequence[int], Sequence[int]]]:
        """The station search's priority rules (forward, backward): closure weight, weight, successor count."""
        dag = self.dag
        return [(dag.tail, dag.head), (dag.weights, dag.weights),
                ([len(s) for s in dag.succs], [len(p) for p in dag.preds])]

    def bisect(self, budget: Budget) -> None:
        """Close ``lo..hi`` with feasibility probes until proven or out of ``budget`` (see module doc)."""
        first = True
        while not budget.interrupted and self.lo < self._ceiling():
            remaining = budget.left()
            if remaining <= 0.01:
                return
            top = self._ceiling() - 1  # the largest C worth probing
            floor = max(self.lo, self.unknown_above + 1)
            if floor > top:
                # Every C worth trying timed out once: give all the time left to proving top.
                cycle, limit = top, remaining
            else:
                cycle, limit = (floor if first else (floor + top) // 2), remaining * _PROBE_SHARE
            first = False
            if not self._probe(cycle, limit) and limit == remaining:
                return  # not even all the time left would build the model

    def _ceiling(self) -> int:
        """One more than the largest C worth probing: the incumbent's value, or total + 1 without one."""
        return self.hi if self.incumbent is not None else self.dag.total + 1

    def _windows(self, cycle: int) -> tuple[list[int], list[int]] | None:
        """Earliest and latest station of each op at ``cycle``, None when no partition fits: the destructive-
        improvement tests' (salbp_bounds) where the graph is small enough for them, else heuristics.dag's."""
        if self.cycle_bounds is None:
            return station_windows(self.dag, self.k, cycle)
        windows = self.cycle_bounds.windows(cycle)
        return None if windows is None else (windows[0].tolist(), windows[1].tolist())

    def _probe(self, cycle: int, limit: float) -> bool:
        """Probe F(cycle) within ``limit`` seconds; False when its model would take too long to build."""
        self.probes += 1
        probe = self.budget.within(limit)
        size = self.dag.n + len(self.dag.edges)
        # Too big before any variable; or its station windows alone (closures, see heuristics.dag) would take longer.
        if not self._builds(size, limit) or self.dag.n > WINDOW_OPS:
            return self._unbuilt(cycle, None, limit, size > _MODEL_SIZE_MAX)
        windows = self._windows(cycle)
        if windows is None:
            self.lo = max(self.lo, cycle + 1)
            self._report()
            return True
        variables = sum(late - early for early, late in zip(*windows))
        size += _VARIABLE_COST * variables
        if not self._builds(size, probe.left()):
            return self._without_model(cycle, windows, variables, limit, probe, size > _MODEL_SIZE_MAX)
        built = self._build(cycle, windows, size, probe.within(limit * _BUILD_SHARE))
        if built is None:
            return self._without_model(cycle, windows, variables, limit, probe)
        # A short CP-SAT run settles easy probes. Then CP-SAT, to find or refute a partition, runs
        # beside the station search, which finds tight packings that CP-SAT finds slowly; the first
        # to finish stops the other.
        done = self._run_capped(built, min(probe.left(), _QUICK_SOLVE))
        if done.status == cp_model.UNKNOWN and not self.budget.interrupted:
            if not self._stations_beside(cycle):
                done = self._run_capped(built, probe.left())
            else:
                beside = lambda stop: self._fill_stations(cycle, windows, probe.left(), stop)
                done = self._run(built.model, probe.left(), beside)
                if self._settle(cycle, done.beside):
                    return True
        if not self._take(cycle, built, done):
            self.unknown_above = max(self.unknown_above, cycle)
        return True

    def _take(self, cycle: int, built: _FeasibilityModel, done: Solve) -> bool:
        """Take CP-SAT's answer on F(cycle): a partition, or a proof that there is none; whether it had one."""
        if done.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.accept(built.parts(done.solver), from_solver=True)
        elif done.status == cp_model.INFEASIBLE:
            self.lo = max(self.lo, cycle + 1)
            self._report()
        else:
            return False
        return True

    def _linear_cap(self) -> int | None:
        """The cap on the constants the model states: none when the memory model is capped instead."""
        return self.memory_cap if self.part_memory is None else None

    def _run_capped(self, built: _FeasibilityModel, limit: float) -> Solve:
        """Solve ``built`` within ``limit`` seconds; while its answer has a part over the memory model's cap,
        forbid that part (here and in every later model) and solve again (module doc)."""
        within = self.budget.within(limit)
        while True:
            done = self._run(built.model, within.left())
            if self.part_memory is None or done.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                return done
            over = [ops for ops in part_ops(built.parts(done.solver), self.k)
                    if self.part_memory(ops) > self.memory_cap]  # fmt: skip
            if not over:
                return done
            for ops in over:
                self.forbidden.append(ops)
                built.forbid(ops)
            if within.passed() or self.budget.interrupted:
                return Solve(cp_model.UNKNOWN, done.solver, done.interrupted)

    def _stations_beside(self, cycle: int) -> bool:
        """Whether the station search may run beside CP-SAT at ``cycle``: no memory cap (it knows none), and a graph
        and cycle small enough for its bitsets of sums and its recursion (a layered graph of 10,000 ops at K = 8
        passed Python's stack; of 100,000 ops, its bitsets took 1.3 GB)."""
        return (self.memory_cap is None and cycle <= _STATION_CYCLE_MAX and self.dag.n <= _STATION_DEPTH_MAX
                and self.dag.n * cycle <= _STATION_SUMS_MAX)

    def _stations_alone(self, cycle: int) -> bool:
        """Whether the station search may run without a model at ``cycle``: where it may run beside one, on a
        graph of up to _STATION_OPS_MAX ops."""
        return self._stations_beside(cycle) and self.dag.n <= _STATION_OPS_MAX

    def _settle(self, cycle: int, packed: list[int] | str | None) -> bool:
        """Take the station search's answer at ``cycle``: a partition, or EXHAUSTED (F(cycle) is infeasible);
        whether it settled the probe."""
        if packed == EXHAUSTED:  # the complete station search found none
            self.lo = max(self.lo, cycle + 1)
            self._report()
            return True
        if packed is not None:
            self.accept(_split_parts(packed, self.k, self.dag.order), from_solver=True)
            return True
        return False

    def _builds(self, size: int, seconds: float) -> bool:
        """Whether a model of ``size`` (ops + edges + _VARIABLE_COST x variables) is built with ``seconds`` left:
        at most _MODEL_SIZE_MAX, and priced at most _BUILD_SHARE of them."""
        return size <= _MODEL_SIZE_MAX and self.build_rate * size <= seconds * _BUILD_SHARE

    def _without_model(self, cycle: int, windows: tuple[list[int], list[int]], variables: int, limit: float,
                       probe: Budget, too_big: bool = False) -> bool:
        """A probe whose model would not build in time (or is too big): the station search alone where it may run
        (module doc), else the probe is left unbuilt (False)."""
        if not self._stations_alone(cycle):
            return self._unbuilt(cycle, variables, limit, too_big)
        if not self._settle(cycle, self._fill_stations(cycle, windows, probe.left(), lambda: self.budget.interrupted)):
            self.unknown_above = max(self.unknown_above, cycle)
        return True

    def _unbuilt(self, cycle: int, variables: int | None, limit: float, too_big: bool) -> bool:
        """Leave the probe of F(cycle) unbuilt: the model would not build in ``limit`` (or is too big); False."""
        self.unknown_above = max(self.unknown_above, cycle)
        self.unbuilt = (cycle, variables, limit, too_big)
        return False

    def _fill_stations(self, cycle: int, windows: tuple[list[int], list[int]], seconds: float,
                       stop: Callable[[], bool], until: int | None = None) -> list[int] | str | None:
        """Station search (solver/partitioning/stations.py) restarted from both ends, the front and the back in turn.

        Restart ``j`` of each direction runs ``luby(j + 1)`` times ``_STATION_NODES`` nodes (Luby,
        Sinclair & Zuckerman 1993: many short runs, a few ever longer ones, within a log factor of the
        best restart schedule for an unknown run-length distribution): small graphs like WEE-MAG are
        packed by one of many short runs, large ones like SCHOLL only by a run of millions of nodes.
        Priorities: the closure, weight and successor-count rules, then seeded random perturbations of
        a randomly chosen one. Every third run is complete (all loads tried, doubling budgets): ``EXHAUSTED``
        from it proves F(cycle) infeasible; the complete runs share the states they refuted (their memo), so a
        complete run goes on from what the earlier ones proved. A later probe at the same cycle goes on where
        this one stopped.
        The beam search (solver/partitioning/beam.py) goes first and takes turns with these runs, a run from each
        end per round or, once one end leads (beam.Ends), from it alone in every other round, seeded by the cycle
        and the round, until it has had as much time at this cycle as they
        (``_BEAM_ROUNDS`` rounds of the first size at most, and at the lower bound and one below the incumbent as
        many wider ones, beam.round_sizes; :meth:`_beam_size`):
        it packs the near-zero idle times (ARC111, SCHOLL) that no depth-first run finds, which prove instead.
        After the beam's first turn, at the lower bound ``lo``, the level search (:meth:`_levels`) from each end,
        within ``_LEVEL_SHARE`` of the solve's time left each, going on where its last turn at this cycle stopped,
        in turns that keep its time at ``lo`` level with the beam's and the restarts' together (:meth:`_levels_due`,
        :meth:`_level_turn`): it settles near-zero idle times where few sets of ops fill whole stations (above
        ``lo`` the beam and the restarts find packings fast; at SCHOLL's optima the beam does, so it goes first),
        and elsewhere passes its cap without a verdict, which its turns should not delay the beam's packing by.
        Where ``hi = lo + 1`` only ``lo`` is open and a refutation proves the incumbent: the level search goes first,
        for its full share.
        ``until``: stop once this many restarts were made at this cycle (None: only time stops it).
        """
        dag = self.dag
        rules = self._rules()
        budget = Budget(seconds)
        out_of_time = lambda: stop() or budget.passed()
        attempt = self.station_attempts.get(cycle, 0)
        rng = np.random.default_rng([cycle, attempt])
        levels_first = self.hi == cycle + 1 == self.lo + 1
        while not out_of_time() and (until is None or attempt < until):
            # The beam search gets as much time at this cycle as the station search, and goes first, for up to
            # _BEAM_ROUNDS rounds of each kind (_beam_size); not where only this cycle is open (its level search goes
            # first).
            while (not levels_first and self._beam_size(cycle) is not None and not out_of_time()
                   and self.beam_seconds.get(cycle, 0.0) <= self.station_seconds.get(cycle, 0.0)):
                parts = self._beam(cycle, windows, out_of_time)
                if parts is not None:
                    return parts
            if out_of_time():
                break
            if levels_first or self._levels_due(cycle):
                started = self.budget.elapsed()
                parts = self._levels(cycle, windows, budget, None if levels_first else self._level_turn(cycle))
                self.level_seconds[cycle] = self.level_seconds.get(cycle, 0.0) + self.budget.elapsed() - started
                levels_first = False
                if parts is not None:
                    return parts
            run, turn = divmod(attempt, len(DIRECTIONS))
            rule = run if run < len(rules) else int(rng.integers(len(rules)))
            forward, backward = (np.asarray(r, dtype=float) for r in rules[rule])
            if run >= len(rules):
                forward, backward = (r * (1 + 0.5 * rng.random(dag.n)) for r in (forward, backward))
            # Every third run tries all loads: a complete search, which proves F(cycle) infeasible when it
            # ends inside its budget (as SALOME does; each direction proves cycles the others do not). Its
            # budget doubles from one complete run of a direction to the next, so the work lost to
            # restarting stays within twice the budget that succeeds; the two runs between keep the
            # short restarts that pack WEE-MAG (every other run complete lost m = 20 and 24 there).
            complete = run % _COMPLETE_EVERY == _COMPLETE_EVERY - 1
            nodes = _STATION_NODES * (2 ** (run // _COMPLETE_EVERY) if complete else luby(run + 1))
            started = self.budget.elapsed()
            parts = fill_stations(dag, self.k, cycle, windows, (forward, backward), nodes, stop=out_of_time,
                                  directions=DIRECTIONS[turn], max_loads=None if complete else MAX_LOADS,
                                  memo=self._station_memo(cycle) if complete else None,
                                  least_idles=self._least_idles(cycle))
            self.station_seconds[cycle] = self.station_seconds.get(cycle, 0.0) + self.budget.elapsed() - started
            attempt += 1
            self.station_attempts[cycle] = attempt
            self._report()  # between restarts: the station search has no heartbeat of its own
            if parts is not None:
                return parts
        return None

    def _beam(self, cycle: int, windows: tuple[list[int], list[int]], stop: Callable[[], bool]) -> list[int] | None:
        """One round of the beam search at ``cycle`` (its size: :meth:`_beam_size`): a run from each end the
        instance's rounds so far chose (beam.Ends), seeded by the cycle, the round and the end."""
        started, size = self.budget.elapsed(), self._beam_size(cycle)
        cheap, (wide, wide_seconds) = self.beam_rounds.get(cycle, 0), self.wide_rounds.get(cycle, (0, 0.0))
        round_ = cheap + wide
        width, loads, nodes = round_sizes(size)
        parts, ran = None, []
        for direction in self.beam_ends.plan():
            ran.append(direction)
            parts = beam_stations(self.dag, self.k, cycle, windows, direction=direction, stop=stop,
                                  seed=(cycle * 1009 + round_) * 2 + ENDS.index(direction),
                                  width=width, loads=loads, nodes=nodes, least_idles=self._least_idles(cycle))
            self._report()
            if parts is not None or stop():
                break
        self.beam_ends.record(ran, parts is not None)
        took = self.budget.elapsed() - started
        self.beam_seconds[cycle] = self.beam_seconds.get(cycle, 0.0) + took
        if size:
            self.wide_rounds[cycle] = (wide + 1, wide_seconds + took)
        else:
            self.beam_rounds[cycle] = cheap + 1
        return parts

    def _beam_size(self, cycle: int) -> int | None:
        """The round to pass beam.round_sizes for the next beam round at ``cycle`` (0: the first size; 2 and on: the
        wider ones), or None once it had ``_BEAM_ROUNDS`` rounds of the first size and, where it may widen,
        ``_BEAM_ROUNDS`` wider ones.

        At the lower bound and one below the incumbent the rounds of the first size and the wider ones share the
        beam's time: only a packing there settles the instance or improves it, some instances pack there in one
        of many cheap rounds (ARC111 m = 9..13: 1 to 10) and some only in a wider one (SCHOLL m = 46 and 50, ARC111
        m = 12, ARC83 m = 17-20: module beam). Elsewhere the first size packs or the cycle is left behind: wider
        rounds at every cycle cost SCHOLL m = 50 ten units in a run each (1407 against 1397, load 9-10).
        """
        cheap, (wide, wide_seconds) = self.beam_rounds.get(cycle, 0), self.wide_rounds.get(cycle, (0, 0.0))
        widens = cycle in (self.lo, self.hi - 1) and wide < _BEAM_ROUNDS
        if widens and (cheap >= _BEAM_ROUNDS or wide_seconds < self.beam_seconds.get(cycle, 0.0) - wide_seconds):
            return 2 + wide
        return 0 if cheap < _BEAM_ROUNDS else None

    def _others_seconds(self, cycle: int) -> float:
        """Seconds the beam and the station-search restarts took at ``cycle``."""
        return self.beam_seconds.get(cycle, 0.0) + self.station_seconds.get(cycle, 0.0)

    def _levels_due(self, cycle: int) -> bool:
        """Whether the level search takes a turn at ``cycle``: at the lower bound, while it has had no more time there
        than the beam and the restarts together."""
        return cycle == self.lo and self.level_seconds.get(cycle, 0.0) <= self._others_seconds(cycle)

    def _level_turn(self, cycle: int) -> float:
        """Seconds of the level search's next turn per end at ``cycle``: what brings its time there level with the
        beam's and the restarts', at least ``_LEVEL_TURN``."""
        behind = self._others_seconds(cycle) - self.level_seconds.get(cycle, 0.0)
        return max(_LEVEL_TURN, behind / len(ENDS))

    def _levels(self, cycle: int, windows: tuple[list[int], list[int]], budget: Budget,
                turn: float | None = None) -> list[int] | str | None:
        """The level search (stations.LevelSearch) at the lower bound, one turn per end, backward first, each within
        ``_LEVEL_SHARE`` of the solve's time left, ``budget`` and ``turn`` seconds (None: no more), going on where the
        end's last turn at this cycle stopped; its answer, else None."""
        for direction in ENDS[::-1]:
            if cycle != self.lo or budget.passed():
                return None
            search = self.level_searches.get((cycle, direction))
            if search is None:
                # The lower bound only rises: the searches below it are of no more use.
                self.level_searches = {key: kept for key, kept in self.level_searches.items() if key[0] >= cycle}
                search = self.level_searches[cycle, direction] = LevelSearch(
                    self.dag, self.k, cycle, windows, _LEVEL_STATES, direction, self._least_idles(cycle))
            if search.over:
                continue
            # Its share only stops it (or an interrupt): CP-SAT settling a probe meanwhile leaves it to finish.
            share = Budget(min(budget.left(), self.budget.left() * _LEVEL_SHARE, math.inf if turn is None else turn))
            parts = search.run(2**62, stop=lambda: share.passed() or self.budget.interrupted)
            if parts is not None:
                return parts
        return None

    def _least_idles(self, cycle: int) -> list[int] | None:
        """Each station's least idle time at ``cycle`` (salbp_bounds) where its tests run, else None."""
        return None if self.cycle_bounds is None else self.cycle_bounds.least_idles(cycle)

    def _station_memo(self, cycle: int) -> dict[int, int]:
        """The failed states the complete station-search runs at ``cycle`` share.

        A state that has no completion at some C has none at a smaller one, so a cycle's memo starts as a
        copy of the nearest larger cycle's.
        """
        if cycle not in self.station_memos:
            above = [c for c in self.station_memos if c > cycle]
            self.station_memos[cycle] = dict(self.station_memos[min(above)]) if above else {}
        return self.station_memos[cycle]

    def secondary(self, names: Sequence[str], slack: float) -> dict[str, str]:
        """Minimize the secondary objectives in order with the bottleneck capped; their status by metric."""
        cycle = math.floor(self.hi * (1 + slack))
        windows = station_windows(self.dag, self.k, cycle)
        built = _FeasibilityModel(self.dag, self.k, cycle, windows, self._linear_cap(), forbidden=self.forbidden)
        objectives = [(name, lambda name=name: TABLE[name].model(built)) for name in names]
        _, statuses = minimize_in_order(built.model, objectives, self.incumbent, hint=built.hint,
                                        read=lambda solver: self.take(built.parts(solver)),
                                        solve=lambda model, seconds: self._run_capped(built, seconds),
                                        budget=self.budget)  # fmt: skip
        return {SECONDARY[name]: status for name, status in statuses.items()}

    def take(self, parts: list[int]) -> list[int]:
        """Make ``parts`` (a secondary objective's answer, within the slack) the incumbent."""
        self.incumbent = parts
        self.hi = max(_loads(self.dag.weights, parts))
        return parts

    def _run(self, model: cp_model.CpModel, limit: float, beside: Callable | None = None) -> Solve:
        """Solve in a thread (solver.solving.cpsat) so that Ctrl-C stops the search cleanly.

        ``beside(done)``, when given, runs in the main thread meanwhile and gets one worker of CP-SAT's;
        it polls ``done()`` and returns a partition or None. A partition stops CP-SAT; the solve's ``beside``
        is what it returned (None without it).
        """
        workers = max(1, self.workers - 1) if beside else self.workers
        solver = make_solver(limit, workers)
        if workers <= 2:
            # Few workers: the LP-based default and the station-by-station fixed search (when the
            # model has a strategy) complement each other best.
            solver.parameters.subsolvers.extend(["default_lp", "fixed"][:workers])
        return solve_in_thread(solver, model, beside=beside, on_tick=self._report, tick=_HEARTBEAT, budget=self.budget)

    def _report(self) -> None:
        if self.on_progress is not None and self.incumbent is not None:
            self.on_progress(self.hi, min(self.lo, self.hi), self.budget.elapsed())


class _BuildTimeout(Exception):
    """A model's build passed its deadline (the probe is then left unbuilt)."""


class _FeasibilityModel:
    """The CP-SAT model F(C) of the module docstring (the secondary objectives' models are in their table)."""

    def __init__(self, dag: Dag, num_parts: int, cycle: int, windows, memory_cap: int | None,
                 budget: Budget | None = None, forbidden: Sequence[Sequence[int]] = (),
                 least_idles: Sequence[int] | None = None):
        """Build F(cycle); past ``budget`` (checked every few thousand ops or edges) raise _BuildTimeout.
        ``least_idles``: each station's least idle time (salbp_bounds.CycleBounds.least_idles), for the loads."""
        self.dag, self.k = dag, num_parts
        self.early, self.late = windows
        self.budget = budget
        self.model = cp_model.CpModel()
        # y[v][b] <=> p(v) <= b, only inside v's window; constants outside it (see _y).
        self.y = []
        for v in range(dag.n):
            self._in_time(v)
            self.y.append({b: self.model.new_bool_var(f"y[{v}][{b}]") for b in range(self.early[v], self.late[v])})
        self._order()
        self._precedence()
        self._loads(cycle, least_idles or [0] * num_parts)
        self._no_empty_parts()
        if memory_cap is not None:
            self._memory(memory_cap)
        for ops in forbidden:
            self.forbid(ops)

    def _in_time(self, i: int = 0) -> None:
        """Raise _BuildTimeout past the budget, looked at when ``i`` is a multiple of 4,096 (the default: now)."""
        if i & 4095 == 0 and self.budget is not None and self.budget.passed():
            raise _BuildTimeout

    def _add(self, constraint) -> None:
        """Add a linear constraint; one whose terms are all constant is checked here instead."""
        if isinstance(constraint, bool):
            if not constraint:
                self.model.add_bool_or([])  # an empty clause: the model is infeasible
            return
        self.model.add(constraint)

    def y_expr(self, v: int, b: int):
        """p(v) <= b: y[v][b] inside v's window, the constant 0 before it and 1 after it."""
        if b < self.early[v]:
            return 0
        if b >= self.late[v]:
            return 1
        return self.y[v][b]

    def x_expr(self, v: int, s: int):
        """v is in part s, as a linear expression of y."""
        return self.y_expr(v, s) - self.y_expr(v, s - 1)

    def stations(self, v: int) -> range:
        """The parts op v may be in: its window."""
        return range(self.early[v], self.late[v] + 1)

    def _order(self) -> None:
        # p(v) <= b-1 implies p(v) <= b.
        for v, row in enumerate(self.y):
            self._in_time(v)
            bs = sorted(row)
            for a, b in zip(bs, bs[1:]):
                self.model.add_implication(row[a], row[b])

    def _precedence(self) -> None:
        # p(u) <= p(v): whenever v sits in the first b+1 parts, u does too.
        for e, (u, v) in enumerate(self.dag.edges):
            self._in_time(e)
            for b in range(self.early[v], self.late[u]):
                yu, yv = self.y_expr(u, b), self.y_expr(v, b)
                # On big graphs the closure weights are lower bounds (heuristics.dag), so windows need not be
                # monotone along edges: a constant side then fixes the other (issue 29: answers with an edge
                # going backwards at 100,000 ops).
                if isinstance(yu, int) and isinstance(yv, int):
                    if yv > yu:
                        self.model.add_bool_or([])  # v's last part comes before u's first: infeasible
                elif isinstance(yu, int):
                    self.model.add(yv == 0)  # yu is 0 here: u is after part b, so v is too
                elif isinstance(yv, int):
                    self.model.add(yu == 1)  # yv is 1 here: v is in the first b+1 parts, so u is too
                else:
                    self.model.add_implication(yv, yu)

    def load(self, weights: Sequence[int], s: int):
        """The load of part s under ``weights`` (the model's, or a scenario's), a linear expression of y."""
        return sum(weights[v] * self.x_expr(v, s) for v in self.by_station[s])

    def _loads(self, cycle: int, least_idles: Sequence[int]) -> None:
        w, k = self.dag.weights, self.k
        self.by_station: list[list[int]] = [[] for _ in range(k)]
        for v in range(self.dag.n):
            for s in self.stations(v):
                self.by_station[s].append(v)
        # Each station's load is at most C less its least idle time, and at least C less the idle time the others
        # leave it (subset sums that CP-SAT does not reason on: at ARC111 m=16 and C = 9411 the first station
        # takes all the idle time). The sums are the build's largest part: the budget is looked at often.
        total = self.dag.total
        idle = k * cycle - total
        spare = idle - sum(least_idles)
        for s in range(k):
            self._in_time()
            self._add(self.load(w, s) <= cycle - least_idles[s])
            if cycle - least_idles[s] - spare > 0:
                self._add(self.load(w, s) >= cycle - least_idles[s] - spare)
        # Redundant prefix loads: the first b+1 parts hold at most (b+1) C and leave at most (K-1-b) C for the rest
        # (each less its stations' least idle times); they propagate where the per-station sums alone do not.
        before = np.cumsum(least_idles).tolist()  # b -> least idle time of stations 0..b
        free: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in range(k)]  # b -> (w_v, y[v][b])
        for v, row in enumerate(self.y):
            self._in_time(v)
            for b, var in row.items():
                free[b].append((w[v], var))
        # fixed[b]: weight of the ops certainly in the first b+1 parts (L_v <= b).
        by_late = np.zeros(k, dtype=np.int64)
        np.add.at(by_late, np.asarray(self.late, dtype=np.int64), self.dag.weight_array)
        fixed = np.cumsum(by_late).tolist()
        for b in range(k - 1):
            self._in_time()
            prefix = sum(weight * var for weight, var in free[b]) + fixed[b]
            self._add(prefix <= (b + 1) * cycle - before[b])
            self._add(prefix >= total - (k - 1 - b) * cycle + (before[-1] - before[b]))

    def _no_empty_parts(self) -> None:
        # Every part holds an op (symmetry breaking, see the module docstring).
        for s, ops in enumerate(self.by_station):
            self._add(sum(self.x_expr(v, s) for v in ops) >= 1)

    def _memory(self, cap: int) -> None:
        # m[c][s]: constant tensor c is loaded by part s; counted once per part.
        for s in range(self.k):
            terms = []
            for c, (nbytes, readers) in self.dag.constants.items():
                readers = [v for v in readers if s in self.stations(v)]
                if not readers or nbytes == 0:
                    continue
                used = self.model.new_bool_var(f"m[{c}][{s}]")
                for v in readers:
                    self.model.add(used >= self.x_expr(v, s))
                terms.append(nbytes * used)
            self._add(sum(terms) <= cap)

    def forbid(self, ops: Sequence[int]) -> None:
        """No part holds exactly the ops ``ops``: ``sum_{v in S} x(v, s) - sum_{u not in S} x(u, s) <= |S| - 1``
        in every station s where all of S can be (elsewhere the set cannot form)."""
        inside = set(ops)
        for s in range(self.k):
            if not all(s in self.stations(v) for v in ops):
                continue
            outside = [u for u in self.by_station[s] if u not in inside]
            self._add(sum(self.x_expr(v, s) for v in ops) - sum(self.x_expr(u, s) for u in outside) <= len(ops) - 1)

    def branch_station_by_station(self, priority: Sequence[int]) -> None:
        """Search order for the fixed-search worker: fill part 0 first, ops of high priority first."""
        by_station: list[list[cp_model.IntVar]] = [[] for _ in range(self.k)]
        for v in sorted(range(self.dag.n), key=lambda v: -priority[v]):
            for b, var in self.y[v].items():
                by_station[b].append(var)
        variables = [var for station in by_station for var in station]
        self.model.add_decision_strategy(variables, cp_model.CHOOSE_FIRST, cp_model.SELECT_MAX_VALUE)

    def hint(self, parts: Sequence[int] | None) -> None:
        """Hint a partition, its non-empty parts renumbered 0, 1, ... (empty parts go last)."""
        self.model.clear_hints()
        if parts is None:
            return
        rank = {p: i for i, p in enumerate(sorted(set(parts)))}
        parts = [rank[p] for p in parts]
        for v, row in enumerate(self.y):
            self._in_time(v)
            for b, var in row.items():
                self.model.add_hint(var, parts[v] <= b)

    def parts(self, solver: cp_model.CpSolver) -> list[int]:
        """p(v) = the first b with y[v][b] true."""
        return [
            next((b for b in range(self.early[v], self.late[v]) if solver.boolean_value(self.y[v][b])), self.late[v])
            for v in range(self.dag.n)
        ]


def _loads(weights: Sequence[int], parts: Sequence[int]) -> list[int]:
    loads = [0] * (max(parts, default=-1) + 1)
    for w, p in zip(weights, parts):
        loads[p] += w
    return loads


def _starting_partition(dag: Dag, num_parts: int, hint, memory_cap: int | None,
                        part_memory: PartMemory | None = None) -> list[int] | None:
    """The better valid partition of the hint and (without a memory cap) the trivial partition."""
    candidates = [list(hint)] if hint is not None else []
    if memory_cap is None:
        candidates.append(_trivial_partition(dag, num_parts))
    best, best_value = None, None
    for parts in candidates:
        try:
            _verify(dag, parts, num_parts, memory_cap, part_memory)
        except CheckError:
            continue  # an invalid hint is not trusted; the solver starts without it
        value = max(_loads(dag.weights, parts), default=0)
        if best_value is None or value < best_value:
            best, best_value = parts, value
    return best


def _split_parts(parts: list[int], num_parts: int, order: list[int]) -> list[int]:
    """Split parts until there are ``num_parts``, none empty; loads only shrink, validity is kept.

    The first op (in topological ``order``) of a part holding two or more becomes a part of its own,
    placed just before the rest of its old part.
    """
    parts = list(parts)
    used = sorted(set(parts))
    parts = [used.index(p) for p in parts]
    count = len(used)
    while count < num_parts:
        sizes = np.bincount(parts, minlength=count)
        big = int(np.argmax(sizes))
        first = next(v for v in order if parts[v] == big)
        parts = [p + 1 if p > big or (p == big and v != first) else p for v, p in enumerate(parts)]
        count += 1
    return parts


def _trivial_partition(dag: Dag, num_parts: int) -> list[int]:
    """The first K-1 ops of a topological order alone, the rest in the last part: valid, no part empty."""
    parts = [num_parts - 1] * dag.n
    for i, v in enumerate(dag.order[: num_parts - 1]):
        parts[v] = i
    return parts


def _verify(dag: Dag, parts, num_parts: int, memory_cap: int | None,
            part_memory: PartMemory | None = None) -> PartitionMetrics:
    return check_partition(dag, parts, num_parts, memory_cap=memory_cap, part_memory=part_memory)


def _infeasible_message(search: _Search, memory_cap, time_limit) -> str:
    if search.lo > search.dag.total:
        return f"no partition into {search.k} parts meets the memory cap of {memory_cap} bytes per part"
    return (f"no partition into {search.k} parts meeting the memory cap of {memory_cap} bytes per part "
            f"was found in {time_limit:g} s (not proven impossible)")
