"""How long the HTML report of a partition takes on large transformer-shaped graphs, and how many boxes it draws.

Ours: runs of ops inside a part as one box, then windows of a topological order beyond 600 boxes. Baseline: runs
only (what the report drew before the windows), which leaves most ops of a wide graph as their own box and makes
Graphviz's dot slow; it is run once and only up to 2,000 ops. Times are the median of --repeats runs of
``solver.show.html.report_html`` (min-max in brackets), dot included.

    python -m benchmarks.report [--ops 1000,2000,10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.transformer import transformer_graph
from solver.problem import PartitionProblem
from solver.show.graph import op_groups
from solver.show.html import report_html
from solver.show.view import partition_view

BASELINE_UP_TO = 2000  # ops; beyond it the runs-only drawing takes minutes


def timed(view, repeats: int, max_boxes: int | None = None) -> list[float]:
    options = {} if max_boxes is None else {"max_boxes": max_boxes}
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        report_html(view, **options)
        seconds.append(time.perf_counter() - start)
    return seconds


def spread(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):7.2f} s [{min(seconds):.2f}-{max(seconds):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default="1000,2000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'ops':>6} {'boxes':>6} {'report (ours)':>24} {'baseline boxes':>15} {'baseline (runs only)':>22}")
    for n in (int(x) for x in args.ops.split(",")):
        problem = PartitionProblem(transformer_graph(n, seed=0), f"transformer-{n}", None)
        k = 8
        parts = [v * k // problem.num_ops for v in range(problem.num_ops)]  # its ops are numbered topologically
        view = partition_view(problem, parts, k)
        ours = timed(view, args.repeats)
        boxes = len(op_groups(view))
        if problem.num_ops <= BASELINE_UP_TO:
            unbounded = problem.num_ops + 1
            base_boxes = len(op_groups(view, max_boxes=unbounded))
            base = spread(timed(view, 1, max_boxes=unbounded))
        else:
            base_boxes, base = "-", "-"
        print(f"{problem.num_ops:>6} {boxes:>6} {spread(ours):>24} {base_boxes:>15} {base:>22}", flush=True)


if __name__ == "__main__":
    main()
