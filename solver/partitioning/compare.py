"""Compare ONE's MinMax, our order search and the exact solver on one problem for several K.

For each K: MinMax (``runs`` random orders), the order search, then the exact solver warm-started by the
better of the two. Each method's bottleneck is divided by the reference of that K: the optimum when the
exact solver proved it, else its proven lower bound (so a ratio is an upper bound on the true one).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from heuristics.minmax import minmax
from heuristics.orders import order_search
from solver.errors import UsageError
from solver.partitioning.exact import OPTIMAL, solve_exact
from solver.io.files import write_atomic
from solver.partitioning.metrics import check_partition
from solver.partitioning.problem import PartitionProblem

METHODS = ("minmax", "orders", "exact")


@dataclass(frozen=True)
class CompareSettings:
    num_parts: tuple[int, ...] = (2, 3, 4, 6, 8)
    time_limit: float = 60.0  # seconds of exact solving per K
    workers: int | None = None
    runs: int = 10  # MinMax's random orders
    seed: int | None = 0


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

    def rows_for(self, method: str) -> list[MethodRow]:
        return [r for r in self.rows if r.method == method]


def compare(
    problem: PartitionProblem,
    settings: CompareSettings,
    on_progress: Callable[[int, int, int, float], None] | None = None,
) -> Comparison:
    """Run the three methods for every K of ``settings.num_parts``; every answer passes the checker.

    ``on_progress(K, incumbent, bound, elapsed)`` relays the exact solver's progress.

    Raises
    ------
    UsageError
        A K outside 1..number of ops.
    """
    graph = problem.graph
    bad = [k for k in settings.num_parts if not 1 <= k <= problem.num_ops]
    if bad:
        raise UsageError(f"{problem.source}: --num-parts {bad[0]} is outside 1..{problem.num_ops} (ops)")
    result = Comparison(problem.name, problem.weight_unit, problem.num_ops)
    for k in settings.num_parts:
        found = {
            "minmax": _timed(lambda: minmax(graph, k, runs=settings.runs, seed=settings.seed)),
            "orders": _timed(lambda: order_search(graph, k, seed=settings.seed)),
        }
        values = {m: check_partition(graph, parts, k).bottleneck for m, (parts, _) in found.items()}
        hint = found[min(values, key=values.get)][0]
        progress = (lambda inc, bound, t, k=k: on_progress(k, inc, bound, t)) if on_progress else None
        exact = solve_exact(graph, k, hint=hint, time_limit=settings.time_limit, workers=settings.workers,
                            on_progress=progress)
        reference = exact.bottleneck if exact.status == OPTIMAL else exact.bound
        for method, (parts, seconds) in found.items():
            result.rows.append(MethodRow(method, k, values[method], reference,
                                         exact.status == OPTIMAL and values[method] == exact.bottleneck,
                                         seconds, "HEURISTIC"))
        result.rows.append(MethodRow("exact", k, exact.bottleneck, reference, exact.status == OPTIMAL,
                                     exact.wall_time, exact.status))
    return result


def _timed(run: Callable[[], list[int]]) -> tuple[list[int], float]:
    start = time.monotonic()
    parts = run()
    return parts, time.monotonic() - start


def format_table(comparison: Comparison) -> str:
    """One line per K and method: bottleneck, ratio to the optimum (or bound), proven, time."""
    lines = [
        f"{comparison.name}: {comparison.num_ops} ops, bottleneck in {comparison.weight_unit}; ratio = "
        "bottleneck / optimum (or / proven lower bound when not proven, marked <=)",
        f"{'K':>3}  {'method':<7} {'bottleneck':>11} {'ratio':>9} {'proven':>6} {'time s':>8}  status",
    ]
    for r in comparison.rows:
        exact_row = next(x for x in comparison.rows if x.num_parts == r.num_parts and x.method == "exact")
        mark = "" if exact_row.status == OPTIMAL else "<="
        lines.append(f"{r.num_parts:>3}  {r.method:<7} {r.bottleneck:>11} {mark + f'{r.ratio:.4f}':>9} "
                     f"{'yes' if r.proven else 'no':>6} {r.seconds:>8.2f}  {r.status}")
    return "\n".join(lines)


def comparison_json(comparison: Comparison) -> dict:
    return {
        "name": comparison.name,
        "weight_unit": comparison.weight_unit,
        "num_ops": comparison.num_ops,
        "rows": [asdict(r) | {"ratio": r.ratio} for r in comparison.rows],
    }


def plot_comparison(comparison: Comparison, path: str | Path, methods: Sequence[str] = METHODS) -> Path:
    """Bottleneck per K for each method beside the optimum (or bound), and each method's ratio to it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (absolute, relative) = plt.subplots(1, 2, figsize=(11, 4))
    reference = {r.num_parts: r.reference for r in comparison.rows_for("exact")}
    for method in methods:
        rows = comparison.rows_for(method)
        ks = [r.num_parts for r in rows]
        absolute.plot(ks, [r.bottleneck for r in rows], marker="o", label=method)
        relative.plot(ks, [r.bottleneck / reference[r.num_parts] for r in rows], marker="o", label=method)
    absolute.plot(list(reference), list(reference.values()), linestyle=":", color="gray",
                  label="optimum / lower bound")  # fmt: skip
    absolute.set(xlabel="parts K", ylabel=f"bottleneck ({comparison.weight_unit})", title=comparison.name)
    relative.set(xlabel="parts K", ylabel="bottleneck / optimum (or lower bound)", title="distance from optimal")
    for ax in (absolute, relative):
        ax.set_xticks(sorted(reference))
        ax.grid(alpha=0.3)
        ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return write_atomic(path, buffer.getvalue())
