"""Backend assignment as a two-objective search: NSGA-II (pymoo), random sampling, ONE's HLPS, brute force.

Model. A point is a gene vector of a :class:`~solver.assignment.space.SearchSpace` (one gene per free decision and per
settings variable). Objectives, both minimized: f1 = execution time (ms), f2 = peak memory (KB), as the
device measures them. Constraint: g = 0 for a configuration the device ran correctly, g = 1 for one that
failed or computed wrong outputs; an infeasible point is never on a front.

Every algorithm asks for points through one :class:`Evaluator`, a cache keyed by the gene vector: a point is
measured at most once, and the budget counts unique measurements. The found front is the non-dominated set
of every valid point measured, not only of the final population. Ctrl-C stops the search and keeps
everything measured so far.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.evaluator import Evaluator as PymooEvaluator
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.crossover.ux import UniformCrossover
from pymoo.operators.sampling.rnd import IntegerRandomSampling
from pymoo.core.termination import NoTermination

from devices.base import Device, Measurement, MeasureSettings
from devices.errors import LookupMiss
from solver.assignment.front import non_dominated, rank_order
from solver.assignment.settings import SearchSettings
from solver.assignment.space import SearchSpace
from solver.assignment.surrogate import ModelFit, surrogate_search
from solver.io.dumps import memory_figure
INVALID_OBJECTIVE = 1e30  # objectives of an infeasible point: pymoo ranks it by its constraint violation
EXHAUSTIVE_CHUNK = 256  # points handed to the evaluator at once by brute force (a farm measures them in parallel)
POLISH_SHARE = 0.1  # of the NSGA-II budget, kept for a local search one gene away from the front


@dataclass(frozen=True)
class Evaluation:
    """One point measured: once, or in several rounds (``runs`` holds every timed run)."""

    genes: tuple[int, ...]
    point_id: int  # ONE's id of the point
    valid: bool
    time_ms: float  # median of the runs
    memory_kb: float
    reason: str = ""  # why an invalid point is invalid
    runs: tuple[float, ...] = ()  # every timed run (ms), all rounds
    rounds: int = 1
    memories: tuple[float, ...] = ()  # peak memory (KB) of every round; memory_kb is their memory_figure

    def merged(self, m: Measurement) -> Evaluation:
        """This point with one more round measured: runs pooled and their median, each round's peak memory
        kept and their median (``solver.io.dumps.memory_figure``)."""
        if not (self.valid and m.valid):
            return replace(self, valid=False, reason=self.reason or m.reason, rounds=self.rounds + 1)
        runs, memories = self.runs + tuple(m.times_ms), self.memories + (float(m.peak_rss_kb),)
        return replace(self, time_ms=statistics.median(runs), memory_kb=memory_figure(memories), runs=runs,
                       memories=memories, rounds=self.rounds + 1)  # fmt: skip


def _first_round(genes: tuple[int, ...], point_id: int, m: Measurement) -> Evaluation:
    """A point as its first round measured it."""
    memories = (float(m.peak_rss_kb),) if m.valid else ()
    return Evaluation(genes, point_id, m.valid, m.time_ms, m.peak_rss_kb, m.reason, tuple(m.times_ms), 1, memories)


class BudgetSpent(Exception):
    """The budget of unique measurements is used up (control flow inside the search, never reported)."""


class Evaluator:
    """Measures points of ``space`` on ``device``, each at most once, and counts unique measurements.

    ``measure_id`` answers a point by its id when the space is a dump's own (offline search: no
    configuration is built); otherwise the device measures the point's configuration.
    ``on_measure(evaluator, evaluation)`` is called after every new measurement (progress output).
    ``farm`` (``measure_many(model, configs, settings)`` yielding ``(index, Measurement)`` as they arrive)
    measures batches in parallel; ``journal`` (``record(config, measurement)``) keeps every new
    measurement on disk as it arrives, so a killed run loses none. ``memory_rounds`` gives the peak memory
    of each round of an id answered by ``measure_id`` (a dump's ``memory_rounds``; empty when it has none).
    """

    def __init__(
        self,
        space: SearchSpace,
        device: Device,
        model: Path | None,
        measure: MeasureSettings = MeasureSettings(),
        budget: int | None = None,
        on_measure: Callable[[Evaluator, Evaluation], None] | None = None,
        measure_id: Callable[[int], Measurement] | None = None,
        farm=None,
        journal=None,
        memory_rounds: Callable[[int], tuple[float, ...]] | None = None,
    ):
        self.space = space
        self.device = device
        self.model = model
        self.measure = measure
        self.budget = space.size if budget is None else budget
        self.on_measure = on_measure
        self.measure_id = measure_id
        self.farm = farm  # measures a batch on several devices at once (devices.farm.Farm)
        self.journal = journal  # appends every new measurement to disk (solver.assignment.journal.Journal)
        self.memory_rounds = memory_rounds
        self.cache: dict[tuple[int, ...], Evaluation] = {}  # insertion order = measurement order

    def __contains__(self, genes) -> bool:
        return tuple(int(g) for g in genes) in self.cache

    @property
    def count(self) -> int:
        """Unique measurements made."""
        return len(self.cache)

    @property
    def remaining(self) -> int:
        """Unique measurements the budget still allows."""
        return max(0, self.budget - len(self.cache))

    @property
    def exhausted(self) -> bool:
        """True when every point of the space has been measured."""
        return len(self.cache) >= self.space.size

    def evaluate(self, genes: Iterable[int]) -> Evaluation:
        """The measurement of ``genes``: from the cache, else measured (BudgetSpent when none is left)."""
        key = self.space.check_genes(genes)
        if key in self.cache:
            return self.cache[key]
        if not self.remaining:
            raise BudgetSpent
        if self.measure_id is not None:
            point_id = self.space.point_id(key)
            try:
                m = self.measure_id(point_id)
            except LookupMiss as err:
                # A dump that lacks a point tells nothing about it: it cannot be on the front.
                return self._record(key, Measurement(False, str(err)), float("nan"))
            return self._record(key, m, memories=self.memory_rounds(point_id) if self.memory_rounds else ())
        return self._record(key, self.device.measure(self.model, self.space.config(key), self.measure))

    def evaluate_batch(self, points: Iterable[Iterable[int]]) -> list[Evaluation]:
        """The measurements of ``points`` the budget pays for: cached ones from the cache, the others
        measured, all at once on the farm when there is one (each recorded as it arrives)."""
        keys = list(dict.fromkeys(self.space.check_genes(g) for g in points))
        new = [k for k in keys if k not in self.cache][: self.remaining]
        if self.farm is not None and self.measure_id is None and len(new) > 1:
            configs = [self.space.config(k) for k in new]
            for i, measurement in self.farm.measure_many(self.model, configs, self.measure):
                self._record(new[i], measurement)
        else:
            for key in new:
                self.evaluate(key)
        return [self.cache[k] for k in keys if k in self.cache]

    def _record(self, key: tuple[int, ...], m: Measurement, memory_kb: float | None = None,
                memories: tuple[float, ...] = ()) -> Evaluation:  # fmt: skip
        """Keep a new measurement: in the cache, in the journal (when there is one), on the progress line.
        ``memories``: each round's peak memory when the answer pools several rounds (a dump's)."""
        evaluation = _first_round(key, self.space.point_id(key), m)
        if memory_kb is not None:
            evaluation = replace(evaluation, memory_kb=memory_kb, memories=())
        elif len(memories) > 1:
            evaluation = replace(evaluation, memories=tuple(memories))
        self.cache[key] = evaluation
        if self.journal is not None:
            self.journal.record(self.space.config(key), m, self.measure)
        if self.on_measure is not None:
            self.on_measure(self, evaluation)
        return evaluation

    def remeasure(self, keys: Iterable[tuple[int, ...]], round_number: int) -> None:
        """Measure measured points once more, as round ``round_number`` (a fresh process and cache entry per
        round), and pool the runs; on a farm, all at once. Not counted in the budget of unique points."""
        keys = [k for k in keys if k in self.cache and self.cache[k].rounds <= round_number]  # not resumed ones
        settings = replace(self.measure, round=round_number)
        configs = [self.space.config(k) for k in keys]
        if self.farm is not None:
            arrived = self.farm.measure_many(self.model, configs, settings)
        else:
            arrived = ((i, self.device.measure(self.model, c, settings)) for i, c in enumerate(configs))
        for i, m in arrived:
            self.cache[keys[i]] = self.cache[keys[i]].merged(m)
            if self.journal is not None:
                self.journal.record(configs[i], m, settings)

    def restore(self, measurements: Mapping[tuple[int, ...], Measurement],
                rounds: Mapping[tuple[int, ...], list[Measurement]] = {}) -> None:  # fmt: skip
        """Put measurements made before (a journal's) into the cache, as if measured by this run, with the
        later ``rounds`` of some points."""
        for genes, m in measurements.items():
            key = self.space.check_genes(genes)
            evaluation = _first_round(key, self.space.point_id(key), m)
            for later in rounds.get(genes, ()):
                evaluation = evaluation.merged(later)
            self.cache[key] = evaluation

    def evaluations(self) -> list[Evaluation]:
        """Every point measured, in measurement order."""
        return list(self.cache.values())


@dataclass
class SearchResult:
    """Everything a search measured, its front and how it ended."""

    algorithm: str
    space: SearchSpace
    evaluations: list[Evaluation]
    front: list[Evaluation]  # valid, non-dominated, ascending time
    wall_s: float
    interrupted: bool = False
    model: ModelFit | None = None  # the model-based search's last fit

    @property
    def valid(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.valid]


def default_budget(space: SearchSpace, algorithm: str) -> int:
    """The whole space for brute force, otherwise 200 measurements (at most the space)."""
    return space.size if algorithm == "brute-force" else min(space.size, 200)


def default_population(budget: int, space: SearchSpace) -> int:
    """A population that leaves NSGA-II about ten generations of the budget, between 8 and 50."""
    return int(min(max(budget // 10, 8), 50, max(space.size, 1)))


def resolve_algorithm(algorithm: str, space: SearchSpace, budget: int) -> str:
    """The algorithm ``auto`` stands for: brute force when the budget pays for the whole space, else the
    model-based search: on the synthetic dumps it reaches the front with fewer measurements than NSGA-II and
    random at every budget measured; where its model misses an objective it says so and hands over to NSGA-II
    (benchmarks/surrogate.py)."""
    if algorithm != "auto":
        return algorithm
    return "brute-force" if budget >= space.size else "surrogate"


def search(space: SearchSpace, evaluator: Evaluator, settings: SearchSettings, parallel: int = 1) -> SearchResult:
    """Run ``settings.algorithm`` until the budget is spent, the space is exhausted or Ctrl-C.

    ``parallel`` is how many devices measure at once (the model-based search's smallest batch).

    The evaluator's budget is set from the settings; every algorithm draws its randomness from
    ``np.random.default_rng(settings.seed)`` (or pymoo's generator seeded with it), so runs repeat.
    """
    budget = default_budget(space, settings.algorithm) if settings.budget is None else settings.budget
    evaluator.budget = min(budget, space.size)
    started = time.perf_counter()
    interrupted = False
    model = None
    algorithm = resolve_algorithm(settings.algorithm, space, evaluator.budget)
    try:
        if algorithm == "surrogate":
            rng = np.random.default_rng(settings.seed)
            draw = lambda n: _random_unmeasured(space, evaluator, rng, n)  # noqa: E731
            model = surrogate_search(space, evaluator, uniform_points(space), draw, rng, parallel)
            if model is not None and model.stalled:
                population = default_population(evaluator.remaining, space)
                nsga2(space, evaluator, population, settings.seed, start=best_measured(evaluator, population))
        elif algorithm == "nsga2":
            population = settings.population or default_population(evaluator.budget, space)
            nsga2(space, evaluator, population, settings.seed)
        elif algorithm == "random":
            random_sampler(space, evaluator, np.random.default_rng(settings.seed))
        elif algorithm == "hlps":
            hlps(space, evaluator, np.random.default_rng(settings.seed))
        else:
            exhaustive(space, evaluator)
    except BudgetSpent:
        pass
    except KeyboardInterrupt:
        interrupted = True
    evaluations = evaluator.evaluations()
    front = front_of(evaluations)
    return SearchResult(algorithm, space, evaluations, front, time.perf_counter() - started, interrupted, model)


def best_measured(evaluator: Evaluator, count: int) -> list[tuple[int, ...]]:
    """The ``count`` best valid points measured: by non-dominated rank, then time."""
    valid = [e for e in evaluator.evaluations() if e.valid]
    return [valid[i].genes for i in rank_order([(e.time_ms, e.memory_kb) for e in valid])[:count]]


def front_of(evaluations: list[Evaluation]) -> list[Evaluation]:
    """The valid, non-dominated evaluations, ascending time."""
    valid = [e for e in evaluations if e.valid]
    return [valid[i] for i in non_dominated(np.array([(e.time_ms, e.memory_kb) for e in valid]))]


def unclear_candidates(evaluations: list[Evaluation]) -> list[Evaluation]:
    """The front, and every valid point that its fastest run and its lowest round's peak memory would put on
    the front: the points whose place in the front the measurements do not settle."""
    valid = [e for e in evaluations if e.valid]
    front = front_of(valid)
    optimistic = np.array([(min(e.runs, default=e.time_ms), min(e.memories, default=e.memory_kb))
                           for e in valid]).reshape(-1, 2)  # fmt: skip
    measured = np.array([(e.time_ms, e.memory_kb) for e in front]).reshape(-1, 2)
    out = list(front)
    ids = {e.point_id for e in front}
    for e, (t, m) in zip(valid, optimistic):
        dominated = ((measured[:, 0] <= t) & (measured[:, 1] <= m) & ((measured[:, 0] < t) | (measured[:, 1] < m))).any()
        if e.point_id not in ids and not dominated:
            out.append(e)
    return out


def confirm_front(evaluator: Evaluator, rounds: int) -> int:
    """Re-measure the points whose place in the front is unclear in ``rounds - 1`` more rounds, interleaved
    (A B C A B C: a slow spell of the machine hits every candidate alike, not one); how many points."""
    candidates = [e.genes for e in unclear_candidates(evaluator.evaluations())]
    for round_number in range(1, rounds):
        evaluator.remeasure(candidates, round_number)
    return len(candidates) if rounds > 1 else 0


# --- brute force and ONE's random sampler -------------------------------------------------------------


def exhaustive(space: SearchSpace, evaluator: Evaluator) -> None:
    """Measure every point in order of its number until the budget is spent (points measured already,
    e.g. resumed from a checkpoint, come from the cache)."""
    chunk = []
    for genes in space.points():
        chunk.append(genes)
        if len(chunk) == EXHAUSTIVE_CHUNK:
            evaluator.evaluate_batch(chunk)
            chunk = []
    evaluator.evaluate_batch(chunk)


def random_sampler(space: SearchSpace, evaluator: Evaluator, rng: np.random.Generator) -> None:
    """ONE's random sampler: points drawn uniformly without replacement until the budget is spent.

    ONE drew ids uniformly over b**n; here the draw is over runnable points only (genes), which is the
    same distribution when every decision may take every backend.
    """
    while not evaluator.exhausted and evaluator.remaining:
        evaluator.evaluate_batch(_random_unmeasured(space, evaluator, rng, max(1, evaluator.remaining)))


def _random_unmeasured(
    space: SearchSpace, evaluator: Evaluator, rng: np.random.Generator, n: int = 1
) -> list[tuple[int, ...]]:
    """Up to ``n`` distinct unmeasured points drawn uniformly (fewer when fewer are left)."""
    cards = space.cardinalities
    if (evaluator.count + n) * 2 < space.size:
        # Rejection is cheap while at most half of the space is measured or drawn.
        drawn: dict[tuple[int, ...], None] = {}
        while len(drawn) < n:
            genes = tuple(int(rng.integers(c)) for c in cards)
            if genes not in evaluator:
                drawn[genes] = None
        return list(drawn)
    unmeasured = [o for o in range(space.size) if space.point(o) not in evaluator]
    return [space.point(int(o)) for o in rng.permutation(unmeasured)[:n]]


# --- NSGA-II --------------------------------------------------------------------------------------------


class BackendProblem(Problem):
    """pymoo's view of the space: integer genes 0..cardinality-1, two objectives, one constraint g <= 0."""

    def __init__(self, evaluator: Evaluator):
        cards = np.array(evaluator.space.cardinalities)
        super().__init__(n_var=len(cards), n_obj=2, n_ieq_constr=1, xl=0, xu=cards - 1, vtype=int)
        self.evaluator = evaluator

    def _evaluate(self, X, out, *args, **kwargs):
        points = [tuple(int(g) for g in x) for x in np.asarray(X, dtype=int)]
        self.evaluator.evaluate_batch(points)  # the new points at once (on a farm, in parallel)
        results = [self.evaluator.evaluate(x) for x in points]
        out["F"] = np.array(
            [(e.time_ms, e.memory_kb) if e.valid else (INVALID_OBJECTIVE, INVALID_OBJECTIVE) for e in results]
        )
        out["G"] = np.array([[0.0 if e.valid else 1.0] for e in results])


class UniformFirst(IntegerRandomSampling):
    """Initial population: every backend on all the ops it can run (all-cpu among them), then random points.

    The uniform assignments are the extremes users compare against (all-cpu is usually the smallest) and
    are costly to hit at random in a large space.
    """

    def __init__(self, space: SearchSpace):
        super().__init__()
        self.space = space

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        uniform = np.array(uniform_points(self.space), dtype=int).reshape(-1, problem.n_var)[:n_samples]
        rest = super()._do(problem, n_samples - len(uniform), *args, random_state=random_state, **kwargs)
        return np.vstack([uniform, rest]) if len(rest) else uniform


def uniform_points(space: SearchSpace) -> list[tuple[int, ...]]:
    """For each backend, the point that puts it on every decision it may take (others on their first
    allowed backend), settings at their defaults; duplicates removed."""
    points: dict[tuple[int, ...], None] = {}
    for backend in range(len(space.backends)):
        genes = [space.decisions[k].allowed.index(backend) if backend in space.decisions[k].allowed else 0
                 for k in space.free]  # fmt: skip
        points[tuple(genes) + (0,) * len(space.settings)] = None
    return list(points)


class RandomReset(Mutation):
    """Categorical mutation: each gene, with probability ``1 / n_var``, takes another of its values at random."""

    def _do(self, problem, X, random_state=None, **kwargs):
        X = np.asarray(X, dtype=int).copy()
        cards = (problem.xu - problem.xl + 1).astype(int)
        flip = (random_state.random(X.shape) < 1.0 / problem.n_var) & (cards > 1)
        # A shift of 1..card-1 modulo card is a uniform choice among the *other* values.
        shift = random_state.integers(1, np.maximum(cards, 2), size=X.shape)
        X[flip] = ((X + shift) % cards)[flip]
        return X


class Unmeasured(DuplicateElimination):
    """Drops offspring equal to one another, to the populations given, or to any point already measured.

    So every offspring is a new measurement: the budget buys information, not cache hits. The points of
    ``start`` (a first population of measured points) pass once, in the first population.
    """

    def __init__(self, evaluator: Evaluator, start: Iterable[tuple[int, ...]] = ()):
        super().__init__()
        self.evaluator = evaluator
        self.start = set(start)

    def _do(self, pop, other, is_duplicate):
        keys = [tuple(int(v) for v in x) for x in pop.get("X")]
        if other is None:
            seen = set(self.evaluator.cache) - self.start
            self.start = set()
            for i, key in enumerate(keys):
                is_duplicate[i] = key in seen
                seen.add(key)
        else:
            others = {tuple(int(v) for v in x) for x in other.get("X")}
            for i, key in enumerate(keys):
                is_duplicate[i] |= key in others
        return is_duplicate


def nsga2_algorithm(evaluator: Evaluator, population: int, start: list[tuple[int, ...]] | None = None) -> NSGA2:
    """pymoo's NSGA-II with categorical operators: the first population ``start``, else integer sampling seeded
    with the uniform assignments; uniform crossover, random-reset mutation, and elimination of offspring
    already measured."""
    return NSGA2(
        pop_size=population,
        sampling=np.array(start, dtype=int) if start else UniformFirst(evaluator.space),
        crossover=UniformCrossover(prob=0.9),
        mutation=RandomReset(),
        eliminate_duplicates=Unmeasured(evaluator, start or ()),
    )


def nsga2(space: SearchSpace, evaluator: Evaluator, population: int, seed: int,
          start: list[tuple[int, ...]] | None = None) -> None:  # fmt: skip
    """NSGA-II through pymoo's ask/tell loop, so that the budget stays ours; ``start`` is the first population
    (default: the uniform assignments and random points).

    Each generation is cut to what the budget still pays for. When mating finds no unmeasured offspring
    (pymoo gives up after 100 tries, which happens once the population has converged), the generation is
    filled with random unmeasured points instead, so the whole budget is used.
    """
    if space.num_genes == 0:
        evaluator.evaluate(())
        return
    problem = BackendProblem(evaluator)
    algorithm = nsga2_algorithm(evaluator, population, start)
    algorithm.setup(problem, termination=NoTermination(), seed=seed, verbose=False)
    rng = np.random.default_rng(seed)
    polish = int(POLISH_SHARE * evaluator.remaining)
    while evaluator.remaining > polish and not evaluator.exhausted:
        offspring = algorithm.ask()
        if offspring is None or not len(offspring):
            algorithm.termination.force_termination = False
            immigrants = _random_unmeasured(space, evaluator, rng, population)
            offspring = Population.new("X", np.array(immigrants, dtype=int))
        offspring = offspring[: _affordable(offspring.get("X"), evaluator, evaluator.remaining - polish)]
        PymooEvaluator().eval(problem, offspring, algorithm=algorithm)
        algorithm.tell(infills=offspring)
    _polish_front(space, evaluator, rng)


def _polish_front(space: SearchSpace, evaluator: Evaluator, rng: np.random.Generator) -> None:
    """Spend the rest of the budget on unmeasured points one gene away from the current front."""
    cards = np.array(space.cardinalities)
    while evaluator.remaining and not evaluator.exhausted:
        valid = [e for e in evaluator.evaluations() if e.valid]
        front = non_dominated(np.array([(e.time_ms, e.memory_kb) for e in valid])) if valid else []
        near = sorted({g for i in front for g in _hamming_one(valid[i].genes, cards) if g not in evaluator})
        if not near:
            near = _random_unmeasured(space, evaluator, rng)
        evaluator.evaluate(near[int(rng.integers(len(near)))])


def _affordable(X: np.ndarray, evaluator: Evaluator, budget: int) -> int:
    """How many leading rows of X ``budget`` more measurements can measure."""
    new: set[tuple[int, ...]] = set()
    for n, x in enumerate(X):
        key = tuple(int(v) for v in x)
        if key not in evaluator and key not in new:
            if len(new) == budget:
                return n
            new.add(key)
    return len(X)


# --- ONE's Hamming local Pareto search ----------------------------------------------------------------


def hlps(space: SearchSpace, evaluator: Evaluator, rng: np.random.Generator, queue_cap: int = 2000) -> None:
    """ONE's Hamming local Pareto search (tools/pareto_profiler/estimator/Hlps.py), on genes.

    Model (ONE's): a FIFO queue of points to measure starts with one random point. After each
    measurement the Pareto archive is updated; every archive member not yet expanded this round is
    expanded once: a member that entered by dominating others is *exploited* (all its Hamming-distance-1
    neighbours are queued, then it is marked explored), a member that entered without dominating anyone
    is *explored* (for every distance hd = 1..n, the point with hd random genes shifted, for each shift).
    A round ends when the queue is empty (or after ``queue_cap`` insertions, ONE's ``--samples``); the
    next round queues the distance-1 neighbours of the archive. Runs until the budget is spent.

    Defects of ONE's code fixed here: points were re-measured when queued twice (the evaluator measures
    each point once, and nothing measured or queued is queued again); the archive kept points that tie or
    weakly dominate others and could hold one point under several keys (here a proper non-dominated
    archive); digits assumed every decision may take every backend (here shifts are modulo each gene's
    own number of values); it imported Python 2's ``Queue``. When a round queues nothing new, ONE stopped;
    here the next round restarts from a random unmeasured point so the budget is used. ONE's index mode
    first searched the name-mode space and then extended its front; this searches the index space directly.
    """
    cards = np.array(space.cardinalities)
    archive: dict[tuple[int, ...], bool] = {}  # front member -> explored (True: wide search next)
    queue: deque[tuple[int, ...]] = deque(_random_unmeasured(space, evaluator, rng))
    queued = set(queue)
    while not evaluator.exhausted:
        visited: set[tuple[int, ...]] = set()
        inserted = 0

        def push(candidates: Iterable[tuple[int, ...]]) -> None:
            nonlocal inserted
            for genes in candidates:
                if inserted < queue_cap and genes not in queued and genes not in evaluator:
                    queue.append(genes)
                    queued.add(genes)
                    inserted += 1

        if not queue:
            for member in list(archive):
                push(_hamming_one(member, cards))
            if not queue:
                push(_random_unmeasured(space, evaluator, rng))
        while queue:
            genes = queue.popleft()
            evaluation = evaluator.evaluate(genes)
            if evaluation.valid:
                _update_archive(archive, evaluator, genes)
            for member in list(archive):
                if member in visited:
                    continue
                visited.add(member)
                if archive[member]:
                    for hd in range(1, len(cards) + 1):
                        push(_hamming(member, hd, cards, rng))
                else:
                    push(_hamming_one(member, cards))
                    archive[member] = True


def _update_archive(archive: dict[tuple[int, ...], bool], evaluator: Evaluator, genes: tuple[int, ...]) -> None:
    """ONE's ParetoData.update_pareto_solutions on a proper archive: a newcomer that dominates members
    replaces them and is exploited next; one that dominates nobody joins and is explored next."""
    new = evaluator.cache[genes]
    point = (new.time_ms, new.memory_kb)
    members = {m: (evaluator.cache[m].time_ms, evaluator.cache[m].memory_kb) for m in archive}
    if any(o[0] <= point[0] and o[1] <= point[1] for o in members.values()):
        return
    dominated = [m for m, o in members.items() if point[0] <= o[0] and point[1] <= o[1]]
    for m in dominated:
        del archive[m]
    archive[genes] = not dominated


def _hamming_one(genes: tuple[int, ...], cards: np.ndarray) -> list[tuple[int, ...]]:
    """ONE's gen_hamming_one: every point that differs from ``genes`` in exactly one gene."""
    out = []
    for shift in range(1, int(cards.max(initial=1))):
        for k, card in enumerate(cards):
            if shift < card:
                neighbour = list(genes)
                neighbour[k] = (genes[k] - shift) % card
                out.append(tuple(neighbour))
    return out


def _hamming(genes: tuple[int, ...], hd: int, cards: np.ndarray, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """ONE's gen_hamming: ``hd`` random genes shifted together by r = 1..(most values - 1)."""
    positions = rng.permutation(len(genes))[:hd]
    out = []
    for shift in range(1, int(cards.max(initial=1))):
        candidate = list(genes)
        for k in positions:
            candidate[k] = (genes[k] - shift) % cards[k]
        out.append(tuple(int(g) for g in candidate))
    return out
