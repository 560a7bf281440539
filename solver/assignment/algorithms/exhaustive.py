"""Brute force: every point of the space, in order of its number."""

from __future__ import annotations

from solver.assignment.evaluator import Evaluator
from solver.assignment.settings import SearchSettings
from solver.assignment.space import SearchSpace

EXHAUSTIVE_CHUNK = 256  # points handed to the evaluator at once by brute force (a farm measures them in parallel)


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


def run(space: SearchSpace, evaluator: Evaluator, settings: SearchSettings, parallel: int = 1, on_fit=None) -> None:
    """``brute-force``: :func:`exhaustive`."""
    exhaustive(space, evaluator)
