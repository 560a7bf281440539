"""Results of a Pareto search as files and text: ONE's estimator dump plus our summary and quality figures.

ONE's estimator dump (random_sampler.py, hlps_sampler.py): ``mode``; ``oplist`` (the op types in name mode,
the opmap in index mode); ``solutions``, the Pareto set only, as ``{"id", "exec_time" (ms), "max_rss" (KB)}``;
``configs``, id -> onert environment string; ``"profiling time"`` in seconds. We add ``backends``,
``settings`` (the searched onert variables), ``summary`` (algorithm, budget, unique evaluations, invalid
points, front size, hypervolume, reference point and, when the whole space is known, the true front's
hypervolume, the ratio found/true and IGD+) and ``evaluated`` (every point measured).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solver.assignment.front import hypervolume, igd_plus, non_dominated, reference_point
from solver.assignment.search import Evaluation, SearchResult


@dataclass(frozen=True)
class TruePoint:
    """A point of a complete dump's true front."""

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


def _objectives(points) -> np.ndarray:
    return np.array([(p.time_ms, p.memory_kb) for p in points], dtype=float).reshape(-1, 2)


def true_front(points: list[TruePoint]) -> tuple[TruePoint, ...]:
    """The non-dominated valid points of a complete space, ascending time."""
    return tuple(points[i] for i in non_dominated(_objectives(points)))


def assess(result: SearchResult, space_points: list[TruePoint] | None = None) -> Quality:
    """Quality of ``result``'s front; ``space_points`` are every valid point of the space when known.

    The reference point comes from the complete space when known, else from the points evaluated.
    """
    found = _objectives(result.front)
    if space_points is None:
        reference = reference_point(_objectives(result.valid))
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


def summary(result: SearchResult, quality: Quality, budget: int) -> dict:
    """Our summary of a search (the ``summary`` key of the output)."""
    out = {
        "algorithm": result.algorithm,
        "budget": budget,
        "space_size": result.space.size,
        "unique_evaluations": len(result.evaluations),
        "invalid": sum(not e.valid for e in result.evaluations),
        "front_size": len(result.front),
        "hypervolume": quality.hypervolume,
        "reference_point": {"time_ms": quality.reference[0], "memory_kb": quality.reference[1],
                            "from": quality.reference_from},  # fmt: skip
        "interrupted": result.interrupted,
        "wall_s": round(result.wall_s, 3),
    }
    if quality.true_front is not None:
        out.update(
            true_front=[{"id": p.point_id, "exec_time": p.time_ms, "max_rss": p.memory_kb} for p in quality.true_front],
            true_hypervolume=quality.true_hypervolume,
            hypervolume_ratio=quality.ratio,
            igd_plus=quality.igd_plus,
        )
    return out


def estimator_dump(result: SearchResult, quality: Quality, budget: int, profiling_time: float) -> dict:
    """ONE's estimator dump of ``result`` plus our keys (see the module docstring)."""
    space = result.space
    return {
        "mode": space.mode,
        "oplist": list(space.oplist) if space.mode == "name" else list(space.opmap or ()),
        "solutions": [_solution(e) for e in result.front],
        "configs": {str(e.point_id): space.config(e.genes).env_string() for e in result.front},
        "profiling time": round(profiling_time, 3),
        "backends": list(space.backends),
        "settings": {s.name: list(s.values) for s in space.settings},
        "summary": summary(result, quality, budget),
        "evaluated": [_solution(e) | ({} if e.valid else {"valid": False, "reason": e.reason})
                      for e in result.evaluations],  # fmt: skip
    }


def _solution(e: Evaluation) -> dict:
    return {"id": e.point_id, "exec_time": _finite(e.time_ms), "max_rss": _finite(e.memory_kb)}


def _finite(value: float) -> float | None:
    return None if value != value else round(float(value), 3)  # NaN (no measurement) -> null


def front_table(result: SearchResult, quality: Quality) -> str:
    """The found front as a text table, then one line of figures."""
    lines = [f"{'id':>12} {'time ms':>10} {'memory MB':>10}  configuration"]
    for e in result.front:
        lines.append(f"{e.point_id:>12} {e.time_ms:>10.3f} {e.memory_kb / 1024:>10.1f}  {_short(e, result)}")
    figures = (
        f"{result.algorithm}: {len(result.evaluations)} unique evaluations of {result.space.size} points "
        f"({sum(not e.valid for e in result.evaluations)} invalid), front of {len(result.front)}, "
        f"hypervolume {quality.hypervolume:.4f}"
    )
    if quality.ratio is not None:
        figures += (
            f"; true front {len(quality.true_front)} points, hypervolume ratio {quality.ratio:.4f}, "
            f"IGD+ {quality.igd_plus:.4f}"
        )
    if result.interrupted:
        figures += " (interrupted: the front so far)"
    return "\n".join(lines + [figures])


def _short(e: Evaluation, result: SearchResult) -> str:
    """The non-default part of a point: op types (or group numbers) not on the first backend, and settings."""
    space = result.space
    digits = space.digits(e.genes)
    words = []
    for number, backend in enumerate(space.backends[1:], start=1):
        moved = [d.label if space.mode == "name" else str(k) for k, d in enumerate(space.decisions) if digits[k] == number]
        if moved:
            words.append(f"{backend}: {','.join(moved)}" if space.mode == "name" else f"{backend}: groups {','.join(moved)}")
    words += [f"{k}={v}" for k, v in space.setting_values(e.genes)]
    return "; ".join(words) or f"all {space.backends[0]}"
