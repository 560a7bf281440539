"""Pareto fronts of (time, memory), their quality (indicators and ``assess``), and choosing one point of a front.

Both objectives are minimized: execution time in ms and peak memory in KB. Quality is measured against
one fixed reference point per problem (``reference_point``), so figures of different searches on the same
problem compare: objectives are divided by the reference point, the hypervolume is that of the box
[0, 1]^2 dominated by the front, and IGD+ is the mean distance, in those units, from each point of the
true front to the region dominated by the found one (pymoo's indicators).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymoo.indicators.hv import HV
from pymoo.indicators.igd_plus import IGDPlus
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from solver.errors import InfeasibleError, UsageError
from solver.io.files import write_atomic

REFERENCE_MARGIN = 1.1  # the reference point lies 10% beyond the worst valid point


def non_dominated(objectives: np.ndarray) -> list[int]:
    """Indices (ascending time) of the points no other point dominates.

    A point dominates another when it is no worse in both objectives and better in one; points with equal
    objectives are all kept.

    >>> non_dominated(np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [2.0, 2.0]]))
    [0, 1, 3]
    """
    objectives = np.asarray(objectives, dtype=float).reshape(-1, 2)
    order = np.lexsort((objectives[:, 1], objectives[:, 0]))
    kept: list[int] = []
    best_memory = np.inf
    for i in order:
        time, memory = objectives[i]
        tie = kept and (objectives[kept[-1]] == (time, memory)).all()
        if memory < best_memory or tie:
            kept.append(int(i))
            best_memory = min(best_memory, memory)
    return kept


def rank_order(objectives: np.ndarray) -> np.ndarray:
    """Indices of the points, best first: by non-dominated rank (the front, then the front of the rest, ...),
    then by time."""
    objectives = np.asarray(objectives, dtype=float).reshape(-1, 2)
    if not len(objectives):
        return np.zeros(0, dtype=int)
    _, rank = NonDominatedSorting().do(objectives, return_rank=True)
    return np.lexsort((objectives[:, 0], rank))


def reference_point(objectives: np.ndarray) -> np.ndarray:
    """The fixed reference point of a problem: ``REFERENCE_MARGIN`` times the worst valid objectives.

    Pass every valid point of a complete dump when there is one, else every valid point evaluated.
    """
    objectives = np.asarray(objectives, dtype=float).reshape(-1, 2)
    if not len(objectives):
        raise InfeasibleError("no valid configuration was measured, so there is no front")
    return objectives.max(axis=0) * REFERENCE_MARGIN


def hypervolume(front: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume of ``front`` in units of the reference box (0 for an empty front, at most 1)."""
    front = np.asarray(front, dtype=float).reshape(-1, 2)
    if not len(front):
        return 0.0
    return float(HV(ref_point=np.ones(2))(front / reference))


def igd_plus(front: np.ndarray, true_front: np.ndarray, reference: np.ndarray) -> float:
    """IGD+ of ``front`` against ``true_front``, objectives in units of the reference point (0 = exact)."""
    front = np.asarray(front, dtype=float).reshape(-1, 2)
    if not len(front):
        return float("inf")
    true_front = np.asarray(true_front, dtype=float).reshape(-1, 2)
    return float(IGDPlus(true_front / reference)(front / reference))


@dataclass(frozen=True)
class TruePoint:
    """A valid point of a completely known space (a complete dump)."""

    point_id: int
    time_ms: float
    memory_kb: float


@dataclass(frozen=True)
class Quality:
    """How good a found front is, against one fixed reference point per problem."""

    reference: tuple[float, float]  # (ms, KB)
    reference_from: str  # "complete dump" or "evaluated points"
    hypervolume: float  # of the found front, in units of the reference box
    true_front: tuple[TruePoint, ...] | None = None  # when the whole space is known
    true_hypervolume: float | None = None
    igd_plus: float | None = None

    @property
    def ratio(self) -> float | None:
        """Hypervolume found / true (1 = the true front's hypervolume)."""
        if self.true_hypervolume is None:
            return None
        return self.hypervolume / self.true_hypervolume if self.true_hypervolume else 1.0


def _objectives(points: Sequence[TruePoint]) -> np.ndarray:
    return np.array([(p.time_ms, p.memory_kb) for p in points], dtype=float).reshape(-1, 2)


def true_front(points: Sequence[TruePoint]) -> tuple[TruePoint, ...]:
    """The non-dominated valid points of a complete space, ascending time."""
    return tuple(points[i] for i in non_dominated(_objectives(points)))


def assess(found: np.ndarray, evaluated: np.ndarray, space_points: Sequence[TruePoint] | None = None) -> Quality:
    """Quality of the ``found`` front (objectives, one row per point) of a search that measured the valid
    points ``evaluated``; ``space_points`` are every valid point of the space when known.

    The reference point comes from the complete space when known, else from the points evaluated.
    """
    found = np.asarray(found, dtype=float).reshape(-1, 2)
    if space_points is None:
        reference = reference_point(evaluated)
        return Quality(tuple(reference), "evaluated points", hypervolume(found, reference))
    reference = reference_point(_objectives(space_points))
    best = true_front(space_points)
    return Quality(
        tuple(reference),
        "complete dump",
        hypervolume(found, reference),
        best,
        hypervolume(_objectives(best), reference),
        igd_plus(found, _objectives(best), reference),
    )


@dataclass(frozen=True)
class Pick:
    """How to choose a point: the fastest, the smallest, or the best within a bound on the other objective."""

    objective: str  # the objective to minimize: "time" or "memory"
    limit_on: str | None = None  # the objective bounded: "time" or "memory"
    limit: float = float("inf")  # the bound, in ms or KB


_UNITS = {"time": {"ms": 1.0, "s": 1000.0, "us": 0.001}, "memory": {"kb": 1.0, "mb": 1024.0, "gb": 1024.0**2}}
_CONSTRAINT = re.compile(r"^\s*(time|memory)\s*<=?\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_pick(text: str) -> Pick:
    """``fastest``, ``smallest``, ``memory<=80MB`` (KB, MB, GB) or ``time<=50ms`` (us, ms, s).

    >>> parse_pick("memory<=80MB")
    Pick(objective='time', limit_on='memory', limit=81920.0)
    """
    word = text.strip().lower()
    if word == "fastest":
        return Pick("time")
    if word == "smallest":
        return Pick("memory")
    match = _CONSTRAINT.match(text.lower())
    if not match:
        raise UsageError(f"cannot read --pick {text!r}: use fastest, smallest, 'memory<=80MB' or 'time<=50ms'")
    bounded, value, unit = match.groups()
    units = _UNITS[bounded]
    unit = unit or ("ms" if bounded == "time" else "kb")
    if unit not in units:
        raise UsageError(f"--pick {text!r}: unit {unit!r} is not one of {', '.join(units)}")
    other = "memory" if bounded == "time" else "time"
    return Pick(other, bounded, float(value) * units[unit])


def pick_point(front: np.ndarray, pick: Pick) -> int:
    """Index into ``front`` of the point ``pick`` chooses (ties broken by the other objective).

    Raises InfeasibleError when no point meets the bound.
    """
    front = np.asarray(front, dtype=float).reshape(-1, 2)
    column = {"time": 0, "memory": 1}
    candidates = np.arange(len(front))
    if pick.limit_on is not None:
        candidates = candidates[front[candidates, column[pick.limit_on]] <= pick.limit]
    if not len(candidates):
        unit = "ms" if pick.limit_on == "time" else "KB"
        best = front[:, column[pick.limit_on]].min() if len(front) else float("nan")
        raise InfeasibleError(
            f"no point of the front has {pick.limit_on} <= {pick.limit:g} {unit} (the best has {best:g} {unit})"
        )
    main, other = column[pick.objective], 1 - column[pick.objective]
    return int(min(candidates, key=lambda i: (front[i, main], front[i, other])))


TOLD_APART_SHARE = 0.01  # medians closer than 1% are never called different (e.g. 390 KB of a 39 MB peak)


def told_apart(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two samples (run times, or each round's peak memory) show different figures: their ranges do not
    overlap and their medians differ by more than ``TOLD_APART_SHARE``. One sample each is never enough.

    With n runs each from one distribution, disjoint ranges happen with probability 2 / C(2n, n) (10% at 3
    runs, 0.2% at 6, 1e-5 at 10): a cautious rule that needs rounds before it separates close points.
    """
    if len(a) < 2 or len(b) < 2:
        return False
    ma, mb = float(np.median(a)), float(np.median(b))
    if abs(ma - mb) <= TOLD_APART_SHARE * max(ma, mb):
        return False
    return max(a) < min(b) or max(b) < min(a)


@dataclass(frozen=True)
class Picked:
    """What a pick chooses from a search: the point, the candidates the measurements cannot tell from it (the
    point first), and, with a complete dump, the true front's point for the pick when it beats the one chosen."""

    chosen: object  # an evaluated point (``time_ms``, ``memory_kb``, ``runs``, ``memories``, ``point_id``)
    candidates: list
    better: TruePoint | None = None

    @property
    def decided(self) -> bool:
        return len(self.candidates) == 1


def pick_measured(front: Sequence, valid: Sequence, pick: Pick, true: Sequence[TruePoint] | None = None) -> Picked:
    """The point of ``front`` that ``pick`` chooses and every valid point that cannot be told from it: one that
    meets the same bound and whose runs (time) or rounds' peak memories (memory) overlap the chosen one's
    (:func:`told_apart`; points with single figures tie only when equal). Every valid point is looked at, not
    only the front's: noise may have put an equal point just behind the chosen one.

    Raises InfeasibleError when no point of the front meets the bound.
    """
    chosen = front[pick_point(np.array([(e.time_ms, e.memory_kb) for e in front]).reshape(-1, 2), pick)]
    tied = [chosen] + [e for e in valid if e is not chosen and _meets(e, pick) and _tied(e, chosen, pick)]
    return Picked(chosen, tied, _better_in_dump(true, chosen, pick))


def _better_in_dump(true: Sequence[TruePoint] | None, chosen, pick: Pick) -> TruePoint | None:
    """With a complete dump: the true front's point for ``pick`` when it beats the one chosen, else None."""
    if not true:
        return None
    best = true[pick_point(np.array([(p.time_ms, p.memory_kb) for p in true]).reshape(-1, 2), pick)]
    key = (lambda p: (p.time_ms, p.memory_kb)) if pick.objective == "time" else (lambda p: (p.memory_kb, p.time_ms))
    if key(best) >= key(chosen):
        return None
    return best


def _meets(e, pick: Pick) -> bool:
    if pick.limit_on is None:
        return True
    return (e.time_ms if pick.limit_on == "time" else e.memory_kb) <= pick.limit


def _tied(e, chosen, pick: Pick) -> bool:
    """Whether ``e`` cannot be told from ``chosen`` in the objective picked: time by their runs, memory by
    their rounds' peaks, when both have several (a dump's single figures are taken as they are)."""
    a, b = (e.runs, chosen.runs) if pick.objective == "time" else (e.memories, chosen.memories)
    if len(a) < 2 or len(b) < 2:
        return (e.time_ms, e.memory_kb) == (chosen.time_ms, chosen.memory_kb)
    return not told_apart(a, b)


def plot_front(
    path: Path,
    evaluated: np.ndarray,
    front: np.ndarray,
    true_front: np.ndarray | None = None,
    title: str = "",
    front_ids: Sequence[int] | None = None,
    quality: Quality | None = None,
) -> Path:
    """Draw every evaluated point, the found front (each point labelled with its id) and, when known, the true
    front, with the hypervolume ratio; the format (png, svg, pdf) follows the file name."""
    from solver.extras import plot_format, pyplot

    fmt = plot_format(path)
    plt = pyplot("plotting the front")
    fig, ax = plt.subplots(figsize=(7, 5))
    evaluated = np.asarray(evaluated, dtype=float).reshape(-1, 2)
    ax.scatter(evaluated[:, 0], evaluated[:, 1] / 1024, s=10, c="0.7", label=f"evaluated ({len(evaluated)})")
    if true_front is not None:
        _draw_front(ax, true_front, "tab:blue", f"true front ({len(true_front)})", "s")
    _draw_front(ax, front, "tab:red", f"found front ({len(front)})", "o")
    for point_id, (x, y) in zip(front_ids or (), np.asarray(front, dtype=float).reshape(-1, 2)):
        ax.annotate(str(point_id), (x, y / 1024), textcoords="offset points", xytext=(5, 4), fontsize=8,
                    color="tab:red")  # fmt: skip
    if quality is not None and quality.ratio is not None:
        text = f"hypervolume found / true = {quality.ratio:.4f}"
        if quality.igd_plus is not None:
            text += f"\nIGD+ = {quality.igd_plus:.4g}"
        ax.text(0.98, 0.98, text, transform=ax.transAxes, ha="right", va="top", fontsize=9,
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})  # fmt: skip
    ax.set_xlabel("execution time (ms)")
    ax.set_ylabel("peak memory (MB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120)
    plt.close(fig)
    return write_atomic(path, buffer.getvalue())


def _draw_front(ax, front: Sequence, color: str, label: str, marker: str) -> None:
    front = np.asarray(front, dtype=float).reshape(-1, 2)
    front = front[np.argsort(front[:, 0], kind="stable")]
    ax.step(front[:, 0], front[:, 1] / 1024, where="post", color=color, alpha=0.6)
    ax.scatter(front[:, 0], front[:, 1] / 1024, s=30, color=color, marker=marker, label=label, zorder=3)
