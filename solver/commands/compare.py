"""``solve compare``: MinMax, order search and the exact solver side by side for several K."""

from __future__ import annotations

import argparse
from pathlib import Path

from solver.commands._problem import add_problem_arguments, problem_from_args
from solver.errors import UsageError
from solver.partitioning.settings import CompareSettings


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare ONE's MinMax, our order search and the exact solver for several K",
        description="For each K: run ONE's MinMax, our order search, and the exact CP-SAT solver warm-started by "
        "the better of the two, and print one table: bottleneck, ratio to the optimum (or to the proven lower "
        "bound when the time limit stops the solver before a proof, marked <=), whether the value is proven "
        "optimal, and the time each took.",
    )
    add_problem_arguments(parser)
    parser.add_argument("--num-parts", "-k", default="2,3,4,6,8", metavar="K,K,...",
                        help="comma-separated numbers of parts (default 2,3,4,6,8)")
    parser.add_argument("--time-limit", type=float, default=60.0, metavar="T",
                        help="seconds of exact solving per K (default 60)")
    parser.add_argument("--workers", type=int, metavar="W", help="CP-SAT worker threads (default: all cores)")
    parser.add_argument("--runs", type=int, default=10, metavar="N",
                        help="random topological orders MinMax tries (default 10)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the heuristics (default 0)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    parser.add_argument("--plot", type=Path, metavar="FILE",
                        help="also draw the bottleneck per K of each method into FILE (png, svg or pdf)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.commands._output import print_json
    from solver.partitioning.compare import compare
    from solver.extras import plot_format
    from solver.partitioning.report import format_table, plot_comparison

    from solver.io.files import check_output

    settings = CompareSettings(num_parts=_num_parts(args.num_parts), time_limit=args.time_limit,
                               workers=args.workers, runs=args.runs, seed=args.seed)  # fmt: skip
    check_output(args.plot, inputs=(args.model, args.trace), option="--plot")
    if args.plot:
        plot_format(args.plot)  # a wrong extension fails before the solves
    problem = problem_from_args(args)
    with _ProgressPerK(settings.time_limit, args.quiet) as shown:
        comparison = compare(problem, settings, on_progress=shown.update)
    if args.json:
        print_json("compare", comparison.to_json())
    else:
        print(format_table(comparison))
    if args.plot:
        plot_comparison(comparison, args.plot)
    return 0


def _num_parts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as err:
        raise UsageError(f"--num-parts: expected comma-separated integers, not {text!r}") from err
    return values


class _ProgressPerK:
    """One progress line per K's exact solve (``solver.progress``), each timed against the time limit."""

    def __init__(self, time_limit: float, quiet: bool):
        self.time_limit, self.quiet = time_limit, quiet
        self.k, self.shown = None, None

    def update(self, k: int, incumbent: int, bound: int, elapsed: float) -> None:
        from solver.commands._exact import bounds_text
        from solver.progress import Progress

        if k != self.k:
            self.close()
            self.k, self.shown = k, Progress(f"K={k} exact solve", total=self.time_limit, unit="s", quiet=self.quiet)
        self.shown.callback(bounds_text("bottleneck"))(incumbent, bound, elapsed)

    def close(self) -> None:
        if self.shown is not None:
            self.shown.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
