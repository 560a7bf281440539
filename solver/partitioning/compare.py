"""Compare ONE's MinMax, our order search and the exact solver on one problem for several K.

For each K, :func:`solver.partitioning.partition.partition` runs MinMax (``runs`` random orders), the order
search, then the exact solver warm-started by the better of the two; this module only tabulates the answers.
Each method's bottleneck is divided by the reference of that K: the optimum when the exact solver proved it,
else its proven lower bound (so a ratio is an upper bound on the true one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from heuristics.dag import check_num_parts
from solver.partitioning.partition import partition
from solver.partitioning.settings import CompareSettings, PartitionSettings
from solver.problem import PartitionProblem
from solver.solving.outcome import HEURISTIC, OPTIMAL

__all__ = ["METHODS", "CompareSettings", "Comparison", "MethodRow", "compare"]

METHODS = ("minmax", "orders", "exact")


@dataclass
class MethodRow:
    """One method at one K."""

    method: str
    num_parts: int
    bottleneck: int
    reference: int  # optimum if proven, else the exact solver's lower bound
    proven: bool  # bottleneck == proven optimum
    seconds: float
    status: str  # the exact solver's status; HEURISTIC for the heuristics

    @property
    def ratio(self) -> float:
        return self.bottleneck / self.reference if self.reference else 1.0


@dataclass
class Comparison:
    name: str
    weight_unit: str
    num_ops: int
    rows: list[MethodRow] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped it: the K solved so far, the last with its best answer

    def rows_for(self, method: str) -> list[MethodRow]:
        return [r for r in self.rows if r.method == method]

    def to_json(self) -> dict:
        """The comparison as a JSON object (snake_case keys), each row with its ratio."""
        return {
            "name": self.name,
            "weight_unit": self.weight_unit,
            "num_ops": self.num_ops,
            "rows": [asdict(r) | {"ratio": r.ratio} for r in self.rows],
            "interrupted": self.interrupted,
        }


def compare(
    problem: PartitionProblem,
    settings: CompareSettings,
    on_progress: Callable[[int, int, int, float], None] | None = None,
) -> Comparison:
    """Partition with the exact solver for every K of ``settings.num_parts`` and tabulate all three methods.

    ``on_progress(K, incumbent, bound, elapsed)`` relays the exact solver's progress. Every answer passed the
    checker in :func:`partition`. Ctrl-C (or SIGTERM) during a solve keeps that K's best answer and stops.

    Raises
    ------
    GraphError
        A K outside 1..number of ops (checked for all K before any is solved).
    """
    for k in settings.num_parts:
        check_num_parts(problem.dag, k)
    result = Comparison(problem.name, problem.weight_unit, problem.num_ops)
    for k in settings.num_parts:
        progress = (lambda inc, bound, t, k=k: on_progress(k, inc, bound, t)) if on_progress else None
        answer = partition(
            problem,
            PartitionSettings(num_parts=k, runs=settings.runs, seed=settings.seed, exact=True,
                              time_limit=settings.time_limit, workers=settings.workers),
            on_progress=progress,
        )  # fmt: skip
        optimal = answer.status == OPTIMAL
        best = answer.metrics.bottleneck
        reference = best if optimal else answer.bound
        for method in METHODS[:2]:
            run = answer.heuristics.get(method)
            if run is None:  # not run: its share of the time limit could not pay for it (the answer's notes say so)
                continue
            value = run.metrics.bottleneck
            result.rows.append(MethodRow(method, k, value, reference, optimal and value == best, run.seconds,
                                         HEURISTIC))
        # not run on a graph beyond any CP-SAT model (the answer's notes say so): the best heuristic's answer
        seconds = answer.exact.wall_time if answer.exact else 0.0
        result.rows.append(MethodRow("exact", k, best, reference, optimal, seconds, answer.status))
        if answer.exact and answer.exact.interrupted:
            result.interrupted = True  # the user asked to stop: no further K
            break
    return result
