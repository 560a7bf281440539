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

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solver.assignment.algorithms import exhaustive, hlps, nsga2, sampling, surrogate
from solver.assignment.algorithms.surrogate import ModelFit
from solver.assignment.evaluator import BudgetSpent, Evaluation, Evaluator
from solver.assignment.front import non_dominated
from solver.assignment.settings import SearchSettings
from solver.assignment.space import SearchSpace

# name -> run(space, evaluator, settings, parallel, on_fit): measures through the evaluator until the budget is
# spent (BudgetSpent) or the algorithm ends; a model-based one hands its fit to on_fit. settings.ALGORITHMS adds auto.
ALGORITHMS: dict[str, Callable[..., None]] = {
    "surrogate": surrogate.run,
    "nsga2": nsga2.run,
    "random": sampling.run,
    "hlps": hlps.run,
    "brute-force": exhaustive.run,
}


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
    fits: list[ModelFit] = []
    algorithm = resolve_algorithm(settings.algorithm, space, evaluator.budget)
    try:
        ALGORITHMS[algorithm](space, evaluator, settings, parallel, fits.append)
    except BudgetSpent:
        pass
    except KeyboardInterrupt:
        interrupted = True
    evaluations = evaluator.evaluations()
    front = front_of(evaluations)
    model = fits[-1] if fits else None
    return SearchResult(algorithm, space, evaluations, front, time.perf_counter() - started, interrupted, model)


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
