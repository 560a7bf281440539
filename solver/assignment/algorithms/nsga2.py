"""NSGA-II (pymoo) on the genes of a search space: categorical operators, offspring never measured before, the
budget kept by an ask/tell loop."""

from __future__ import annotations

from collections.abc import Iterable

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

from solver.assignment.algorithms.hlps import hamming_one
from solver.assignment.algorithms.sampling import random_unmeasured
from solver.assignment.evaluator import Evaluator
from solver.assignment.front import non_dominated
from solver.assignment.settings import SearchSettings
from solver.assignment.space import SearchSpace

INVALID_OBJECTIVE = 1e30  # objectives of an infeasible point: pymoo ranks it by its constraint violation

POLISH_SHARE = 0.1  # of the NSGA-II budget, kept for a local search one gene away from the front


def default_population(budget: int, space: SearchSpace) -> int:
    """A population that leaves NSGA-II about ten generations of the budget, between 8 and 50."""
    return int(min(max(budget // 10, 8), 50, max(space.size, 1)))


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
            immigrants = random_unmeasured(space, evaluator, rng, population)
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
        near = sorted({g for i in front for g in hamming_one(valid[i].genes, cards) if g not in evaluator})
        if not near:
            near = random_unmeasured(space, evaluator, rng)
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


def run(space: SearchSpace, evaluator: Evaluator, settings: SearchSettings, parallel: int = 1, on_fit=None) -> None:
    """``nsga2``: the settings' population, else :func:`default_population` of the budget."""
    population = settings.population or default_population(evaluator.budget, space)
    nsga2(space, evaluator, population, settings.seed)
