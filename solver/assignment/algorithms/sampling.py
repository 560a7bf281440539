"""ONE's random sampler, and the random unmeasured points the other searches draw."""

from __future__ import annotations

import numpy as np

from solver.assignment.evaluator import Evaluator
from solver.assignment.settings import SearchSettings
from solver.assignment.space import SearchSpace


def random_sampler(space: SearchSpace, evaluator: Evaluator, rng: np.random.Generator) -> None:
    """ONE's random sampler: points drawn uniformly without replacement until the budget is spent.

    ONE drew ids uniformly over b**n; here the draw is over runnable points only (genes), which is the
    same distribution when every decision may take every backend.
    """
    while not evaluator.exhausted and evaluator.remaining:
        evaluator.evaluate_batch(random_unmeasured(space, evaluator, rng, max(1, evaluator.remaining)))


def random_unmeasured(
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


def run(space: SearchSpace, evaluator: Evaluator, settings: SearchSettings, parallel: int = 1, on_fit=None) -> None:
    """``random``: :func:`random_sampler` seeded with the settings' seed."""
    random_sampler(space, evaluator, np.random.default_rng(settings.seed))
