"""Model-based backend search: learn time and memory over the decisions, measure where the front should be.

Surrogate. A point g (gene k taking a value g_k in 0..c_k-1) is described by its features phi(g):

- main effects ``[g_k = v]`` for v >= 1 (value 0 is the baseline): the cost of an op type on a backend;
- pairwise effects ``[g_k = v][g_l = w]`` for k < l, v, w >= 1: any function of two decisions, such as
  the copy a backend switch between two ops costs (in a network op types interleave, so any two
  decisions may meet, not only neighbours in the op list);
- loaded backends ``[some decision is on backend j]``: a backend costs its memory once, when it is used;
- when the space knows its model (``SearchSpace.planned``) and has at most ``PLANNER_LIMIT`` points, the memory planner's figures of the point in KB
  (:mod:`solver.assignment.planned`: per backend the arena onert's planner gives it, the constants its ops
  read, its largest im2col; the hand-off bytes): maxima over live tensors and who holds what, which no sum of
  main effects and pairs expresses.

Each objective y (time in ms, memory in KB) is fitted as ``y = mean + phi(g) . beta + eps`` with
``eps ~ N(0, s^2)`` and the Gaussian prior ``beta ~ N(0, s^2 / (lambda d_f))`` (Bayesian ridge
regression): ``d_f`` is 1 for main effects and loaded backends and ``r`` for pairwise ones
(interactions are usually smaller and always more numerous) and 1 for the planner's columns (in KB, so
barely penalised); ``lambda``, ``r`` and whether the planner's columns are kept minimise the
closed-form leave-one-out error over a grid (one SVD per ``r`` serves every lambda). The posterior predictive of a point is
``N(phi . beta_hat, s^2 (1 + phi' A^-1 phi))``, ``A = Phi' Phi + lambda D``.

Acquisition: hypervolume improvement, then uncertainty near the front. Objectives are divided by the
reference point (1.1 x the worst valid point measured). A candidate's score is the hypervolume its
point (predicted mean minus ``KAPPA`` predictive standard deviations; 0 measured best) adds to the
measured front. A batch is chosen greedily, each chosen point joining the front at its predicted mean
(the "believer" rule), so one batch spreads along the front instead of piling on one spot. When no
candidate promises an improvement, the candidates whose optimistic points (mean minus ``NEAR_KAPPA``
standard deviations) come closest to the front (additive epsilon) are measured: near the front, within
the model's error, is where the rest of the true front hides.

Search: the uniform assignments and random points first (``initial_size``), then batches, a refit after each,
until the budget is spent. The fit's leave-one-out R^2 says how much of each objective the model explains;
when, fitted on at least twice as many points as decisions' main effects, it explains less than
``WELL_EXPLAINED`` of one and ``STALLED_BATCHES`` batches in a row left the measured front unchanged, its
proposals have stopped paying: it hands the rest of the budget to NSGA-II, started from the best points
measured (on the real onert dump of benchmarks/surrogate.py, whose peak memory lies mostly in interactions of
three or more decisions, this lifts the median at 10% of the space from 0.953 to 0.973). Invalid points are
constraint violations: measured once, never fitted, never proposed again, never on a front. Candidates are
every point of spaces up to ``ENUMERATE_LIMIT``, else random points plus the one-gene neighbours of the
measured and predicted fronts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from solver.assignment.algorithms.nsga2 import default_population, nsga2, uniform_points
from solver.assignment.algorithms.sampling import random_unmeasured
from solver.assignment.evaluator import Evaluator, best_measured
from solver.assignment.front import non_dominated
from solver.assignment.planned import planner_features
from solver.assignment.settings import SearchSettings
from solver.assignment.space import SearchSpace

PAIR = 2.0  # marks a pairwise column in Features.penalties
PLANNED = 3.0  # marks a memory planner's column (KB) in Features.penalties
PAIR_PENALTIES = (1.0, 4.0, 16.0, 64.0)  # prior precisions of a pairwise effect relative to a main effect, tried
LAMBDAS = np.logspace(-3, 3, 13)  # ridge penalties tried by leave-one-out
KAPPA = 0.0  # optimism of the gain, in predictive standard deviations (0 measured best: benchmarks/surrogate.py)
NEAR_KAPPA = 1.0  # optimism when ranking candidates by their distance to the front
INITIAL_SHARE = 0.2  # of the budget, measured before the first fit
ENUMERATE_LIMIT = 1 << 17  # spaces up to this size are scored whole
RANDOM_POOL = 20000  # random candidates of a larger space per batch
SCORED = 3000  # candidates closest to the predicted front whose uncertainty is computed
PLANNER_LIMIT = 1 << 14  # spaces up to this size get the planner's columns (each point simulated once)
WELL_EXPLAINED = 0.8  # leave-one-out R^2 below which the model misses much of an objective (warned, may hand over)
STALLED_BATCHES = 3  # batches that left the measured front unchanged before a poor model hands over


# --- features -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Features:
    """The feature map of a space: which (gene, value) pairs, pairs of pairs and backends are columns, and the
    memory planner's columns when the space knows its model (``solver.assignment.planned``)."""

    cards: tuple[int, ...]
    main: tuple[tuple[int, int], ...]  # (gene, value) of every main-effect column
    pairs: tuple[tuple[int, int], ...]  # (main column a, main column b) of every pairwise column, genes differ
    loaded: tuple[np.ndarray, ...]  # per loaded-backend column: a boolean table [gene, value] -> on that backend
    space: SearchSpace | None = None  # the space whose planner gives the last columns (None: no planner columns)
    simulated: dict = field(default_factory=dict, compare=False, repr=False)  # planner rows already computed

    @property
    def num_planned(self) -> int:
        return 0 if self.space is None else 3 * len(self.space.backends) + 1

    @property
    def penalties(self) -> np.ndarray:
        """The kind of every column: ``PAIR`` for a pairwise effect, ``PLANNED`` for the planner's, 1 for the others."""
        return np.concatenate([np.ones(len(self.main)), np.full(len(self.pairs), PAIR), np.ones(len(self.loaded)),
                               np.full(self.num_planned, PLANNED)])  # fmt: skip

    def __call__(self, genes: np.ndarray) -> np.ndarray:
        """The feature matrix (float) of a gene matrix (one row per point)."""
        genes = np.asarray(genes, dtype=np.int64).reshape(-1, len(self.cards))
        main = np.stack([genes[:, k] == v for k, v in self.main], axis=1) if self.main else np.zeros((len(genes), 0), bool)
        columns = [main]
        if self.pairs:
            a, b = np.array(self.pairs).T
            columns.append(main[:, a] & main[:, b])
        for table in self.loaded:
            columns.append(table[np.arange(len(self.cards))[None, :], genes].any(axis=1)[:, None])
        phi = np.concatenate(columns, axis=1).astype(np.float64)
        if self.space is None:
            return phi
        return np.concatenate([phi, planner_features(self.space.planned, self.space, genes, self.simulated)], axis=1)


def features(space: SearchSpace) -> Features:
    """The feature map of ``space`` (see the module docstring)."""
    cards = space.cardinalities
    main = tuple((k, v) for k, c in enumerate(cards) for v in range(1, c))
    pairs = tuple((a, b) for a in range(len(main)) for b in range(a + 1, len(main)) if main[a][0] != main[b][0])
    always = {space.decisions[k].allowed[0] for k, d in enumerate(space.decisions) if len(d.allowed) == 1}
    width = max(cards, default=1)
    loaded = []
    for backend in range(len(space.backends)):
        if backend in always:
            continue  # a fixed decision loads it at every point: a constant
        table = np.zeros((len(cards), width), dtype=bool)
        for gene, k in enumerate(space.free):
            for value, b in enumerate(space.decisions[k].allowed):
                table[gene, value] = b == backend
        if table.any():
            loaded.append(table)
    planned = space.planned is not None and space.size <= PLANNER_LIMIT
    return Features(cards, main, pairs, tuple(loaded), space if planned else None)


# --- the Bayesian ridge fit -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """A fitted objective: predictive mean and standard deviation of new points."""

    x_mean: np.ndarray
    y_mean: float
    scale: np.ndarray  # columns are divided by sqrt(penalty) so one lambda serves all
    beta: np.ndarray
    basis: np.ndarray  # right singular vectors of the training matrix (columns)
    shrink: np.ndarray  # 1 / (s_i^2 + lambda) - 1 / lambda per singular vector
    lam: float
    noise: float  # s, the residual standard deviation (leave-one-out)
    explained: float  # leave-one-out R^2: the share of the measured variance the fit predicts out of sample

    def mean(self, phi: np.ndarray) -> np.ndarray:
        return self.y_mean + ((phi - self.x_mean) / self.scale) @ self.beta

    def sd(self, phi: np.ndarray) -> np.ndarray:
        """Predictive standard deviation: noise plus the posterior uncertainty of the coefficients."""
        z = (phi - self.x_mean) / self.scale
        projected = z @ self.basis
        quad = (z * z).sum(axis=1) / self.lam + (projected * projected) @ self.shrink
        return self.noise * np.sqrt(1.0 + np.maximum(quad, 0.0))


def fit(phi: np.ndarray, y: np.ndarray, penalties: np.ndarray) -> Fit:
    """Bayesian ridge regression of ``y`` on ``phi``; the penalty and the pairwise prior's relative
    precision are chosen by leave-one-out among ``LAMBDAS`` x ``PAIR_PENALTIES`` (module docstring).

    ``penalties`` marks the pairwise columns with ``PAIR`` and the others with 1.
    """
    x_mean, y_mean = phi.mean(axis=0), float(y.mean())
    t = y - y_mean
    best = None
    planned = penalties == PLANNED
    for ratio, use in itertools.product(PAIR_PENALTIES, (True, False) if planned.any() else (True,)):
        # the planner's columns (KB, barely penalised) are dropped (infinite scale: a zero column) when that helps
        scale = np.sqrt(np.where(penalties == PAIR, ratio, 1.0)) * np.where(planned & (not use), np.inf, 1.0)
        u, s, vt = np.linalg.svd((phi - x_mean) / scale, full_matrices=False)
        ut = u.T @ t
        for lam in LAMBDAS:
            f = s * s / (s * s + lam)
            hat = (u * u) @ f + 1.0 / len(y)  # the centring is a fitted intercept
            loo = (t - u @ (f * ut)) / np.maximum(1.0 - hat, 1e-9)
            error = float(np.mean(loo * loo))
            if best is None or error < best[0]:
                best = (error, lam, scale, s, vt, ut)
    error, lam, scale, s, vt, ut = best
    beta = vt.T @ (s / (s * s + lam) * ut)
    shrink = 1.0 / (s * s + lam) - 1.0 / lam
    explained = 1.0 - error / float(np.mean(t * t)) if np.any(t) else 1.0
    return Fit(x_mean, y_mean, scale, beta, vt.T, shrink, float(lam), math.sqrt(max(error, 1e-18)), explained)


# --- the acquisition ------------------------------------------------------------------------------------


def hypervolume_gain(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Hypervolume each of ``points`` adds to ``front`` (non-dominated, normalised objectives, reference (1, 1)).

    The front's attainment surface is a staircase: height ``h(t) = min(1, min{f1 : f0 <= t})``; a point
    (x, y) adds the integral over t in [x, 1] of ``max(0, h(t) - y)``.
    """
    front = front[np.argsort(front[:, 0], kind="stable")]
    edges = np.concatenate([[-np.inf], np.minimum(front[:, 0], 1.0), [1.0]])
    heights = np.concatenate([[1.0], np.minimum.accumulate(np.minimum(front[:, 1], 1.0))])
    start = np.maximum(edges[None, :-1], points[:, :1])
    length = np.clip(edges[None, 1:] - start, 0.0, None)
    return (length * np.clip(heights[None, :] - points[:, 1:2], 0.0, None)).sum(axis=1)


def epsilon_distance(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """How far each point must move down in both objectives to leave the region ``front`` dominates (<= 0: out)."""
    return (np.minimum(points[:, None, 0] - front[None, :, 0], points[:, None, 1] - front[None, :, 1])).max(axis=1)


def choose_batch(optimistic: np.ndarray, believed: np.ndarray, near: np.ndarray, front: np.ndarray,
                 size: int) -> list[int]:  # fmt: skip
    """Indices of ``size`` candidates: greatest hypervolume gain of their ``optimistic`` points, each choice joining
    the front at its ``believed`` (mean) point; then, when none promises a gain, those whose ``near`` points
    (more optimistic) come closest to the front."""
    chosen: list[int] = []
    available = np.ones(len(optimistic), dtype=bool)
    front = front.copy()
    while len(chosen) < min(size, len(optimistic)):
        gain = np.where(available, hypervolume_gain(optimistic, front), -1.0)
        best = int(np.argmax(gain))
        if gain[best] <= 0.0:
            break
        chosen.append(best)
        available[best] = False
        front = np.vstack([front, believed[best]])
        front = front[non_dominated(front)]
    if len(chosen) < size:
        distance = np.where(available, epsilon_distance(near, front), np.inf)
        rest = np.argsort(distance, kind="stable")[: size - len(chosen)]
        chosen.extend(int(i) for i in rest if np.isfinite(distance[i]))
    return chosen


# --- the search -----------------------------------------------------------------------------------------


def initial_size(budget: int, num_features: int) -> int:
    """Points measured before the first fit: ``INITIAL_SHARE`` of the budget, at least a few."""
    return int(min(budget, max(num_features // 8 + 2, round(budget * INITIAL_SHARE))))


def batch_size(budget: int, parallel: int = 1) -> int:
    """Points per batch: about twenty refits over the budget, and at least one per device."""
    return int(max(parallel, math.ceil(budget / 20)))


def all_points(space: SearchSpace) -> np.ndarray:
    """The gene matrix of every point, in order of its number (mixed radix, first gene least significant)."""
    ordinals = np.arange(space.size, dtype=np.int64)
    genes = np.empty((space.size, space.num_genes), dtype=np.int64)
    for k, card in enumerate(space.cardinalities):
        ordinals, genes[:, k] = np.divmod(ordinals, card)
    return genes


def candidate_pool(space: SearchSpace, seeds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points of a space too large to enumerate: random ones plus the one-gene neighbours of ``seeds``."""
    cards = np.array(space.cardinalities)
    pool = [rng.integers(0, cards, size=(RANDOM_POOL, len(cards)))]
    for k, card in enumerate(cards):
        for shift in range(1, card):
            moved = seeds.copy()
            moved[:, k] = (moved[:, k] + shift) % card
            pool.append(moved)
    return np.unique(np.vstack(pool), axis=0)


def ordinals(genes: np.ndarray, cards: tuple[int, ...]) -> np.ndarray:
    """The number of each point (rows of ``genes``): mixed radix, first gene least significant."""
    weights = np.cumprod((1,) + tuple(cards[:-1]), dtype=np.int64)
    return np.asarray(genes, dtype=np.int64).reshape(-1, len(cards)) @ weights


@dataclass(frozen=True)
class ModelFit:
    """How well the surrogate's last fit explains what was measured: leave-one-out R^2 of each objective."""

    points: int
    time: float
    memory: float
    stalled: bool = False  # the model is poor and its proposals stopped improving the front: hand over

    @property
    def poorly_explained(self) -> list[str]:
        """The objectives the model explains less than ``WELL_EXPLAINED`` of."""
        return [name for name, r2 in (("time", self.time), ("memory", self.memory)) if r2 < WELL_EXPLAINED]

    def describe(self) -> str:
        text = (f"the model-based search's model explains {self.time:.0%} of the time and {self.memory:.0%} of the "
                f"memory measured (leave-one-out, {self.points} points)")  # fmt: skip
        poor = self.poorly_explained
        if poor:
            text += (f"; points better in {' and '.join(poor)} than the model predicts are found only by exploring, "
                     f"so the front there is less certain")  # fmt: skip
        if self.stalled:
            text += (f"; after {self.points} measurements its proposals stopped improving the front, and NSGA-II, "
                     f"started from the best points measured, explored with the rest of the budget")  # fmt: skip
        return text


def surrogate_search(space: SearchSpace, evaluator, start: list[tuple[int, ...]],
                     draw: Callable[[int], list[tuple[int, ...]]], rng: np.random.Generator,
                     parallel: int = 1) -> ModelFit | None:  # fmt: skip
    """Measure ``start`` and random points, then batches chosen by the surrogate until the budget is spent;
    how well the last fit explained the measurements (None when no fit was made).

    ``evaluator`` is the search's :class:`~solver.assignment.evaluator.Evaluator` (its ``evaluate_batch``
    measures each batch, in parallel on a farm); ``draw(n)`` gives up to n random unmeasured points;
    ``rng`` draws the candidates of large spaces; ``parallel`` is how many devices measure at once.
    """
    if space.num_genes == 0:
        evaluator.evaluate_batch([()])
        return None
    featurize = features(space)
    penalties = featurize.penalties
    budget = evaluator.remaining
    first = initial_size(budget, len(penalties))
    design = list(dict.fromkeys(list(start)[:first] + draw(first)))[:first]
    evaluator.evaluate_batch(design)
    everything = all_points(space) if space.size <= ENUMERATE_LIMIT else None
    phi_all = featurize(everything).astype(np.float32) if everything is not None else None
    size = batch_size(budget, parallel)
    predicted_front = np.zeros((0, space.num_genes), dtype=np.int64)
    model = None
    fronts: list[frozenset] = []  # the measured front's points after each batch
    while evaluator.remaining and not evaluator.exhausted:
        measured = evaluator.evaluations()
        valid = [e for e in measured if e.valid]
        if len(valid) < 3:
            evaluator.evaluate_batch(draw(size))
            continue
        genes = np.array([e.genes for e in valid], dtype=np.int64)
        objectives = np.array([(e.time_ms, e.memory_kb) for e in valid])
        fronts.append(frozenset(map(tuple, genes[non_dominated(objectives)])))
        phi = featurize(genes)
        fits = [fit(phi, objectives[:, j], penalties) for j in range(2)]
        model = ModelFit(len(valid), fits[0].explained, fits[1].explained)
        judged = len(valid) >= 2 * len(featurize.main)  # fewer points judge the sample more than the model
        stalled = len(fronts) > STALLED_BATCHES and len(set(fronts[-STALLED_BATCHES - 1:])) == 1
        if judged and model.poorly_explained and stalled:
            return replace(model, stalled=True)
        reference = objectives.max(axis=0) * 1.1
        front = objectives[non_dominated(objectives)] / reference
        if everything is not None:
            unmeasured = np.ones(space.size, dtype=bool)
            unmeasured[ordinals(np.array([e.genes for e in measured]), space.cardinalities)] = False
            pool = np.flatnonzero(unmeasured)
            pool_genes, pool_phi = everything[pool], phi_all[pool]
        else:
            seeds = np.vstack([genes[non_dominated(objectives)], predicted_front])
            pool_genes = candidate_pool(space, seeds, rng)
            pool_genes = pool_genes[[tuple(g) not in evaluator for g in pool_genes]]
            pool_phi = featurize(pool_genes)
        if not len(pool_genes):
            return model
        mean = np.stack([f.mean(pool_phi) for f in fits], axis=1) / reference
        nearest = np.argsort(epsilon_distance(mean, front), kind="stable")[:SCORED]
        predicted_front = pool_genes[nearest[non_dominated(mean[nearest])]]
        sd = np.stack([f.sd(pool_phi[nearest].astype(np.float64)) for f in fits], axis=1) / reference
        chosen = choose_batch(mean[nearest] - KAPPA * sd, mean[nearest], mean[nearest] - NEAR_KAPPA * sd, front,
                              min(size, evaluator.remaining))  # fmt: skip
        batch = [tuple(int(g) for g in pool_genes[nearest[i]]) for i in chosen] or draw(size)
        if not batch:
            return model
        evaluator.evaluate_batch(batch)
    return model


def run(space: SearchSpace, evaluator: Evaluator, settings: SearchSettings, parallel: int = 1,
        on_fit: Callable[[ModelFit], None] | None = None) -> None:
    """``surrogate``: :func:`surrogate_search` from the uniform assignments, then NSGA-II from the best points
    measured when a poor model stops improving the front. ``on_fit`` gets the last fit before the hand-over
    (which the budget or Ctrl-C may end)."""
    rng = np.random.default_rng(settings.seed)
    draw = lambda n: random_unmeasured(space, evaluator, rng, n)  # noqa: E731
    model = surrogate_search(space, evaluator, uniform_points(space), draw, rng, parallel)
    if model is not None and on_fit is not None:
        on_fit(model)
    if model is not None and model.stalled:
        population = default_population(evaluator.remaining, space)
        nsga2(space, evaluator, population, settings.seed, start=best_measured(evaluator, population))
