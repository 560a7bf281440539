"""``solve place``: partition a model across the devices of a platform and place each part on one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from solver.commands._problem import add_problem_arguments, problem_from_args

OBJECTIVES = ("throughput", "latency")  # solver.placement.metrics.OBJECTIVES, without importing the solver


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "place",
        help="partition a model across heterogeneous devices and links (a platform file) and place the parts",
        description="Split the operator graph of MODEL into at most as many parts as the platform has devices "
        "and put each part on its own device, so that the bottleneck (throughput: the slowest device or link) or "
        "the end-to-end latency (the longest path through the session graph, links included) is least. Devices "
        "have their own speed or trace, memory and supported op types (docs/platform-format.md). A greedy chain "
        "placement runs first; --exact solves with CP-SAT, warm-started by it, and reports OPTIMAL, or the proven "
        "bound and gap. Writes ONE's partition_map.json with the placement added.",
    )
    add_problem_arguments(parser)
    parser.add_argument("--platform", type=Path, required=True, metavar="P.json",
                        help="the devices and links (docs/platform-format.md)")
    parser.add_argument("--objective", choices=OBJECTIVES, default="throughput",
                        help="throughput (default: the slowest device or link) or latency (longest path)")
    parser.add_argument("--exact", action="store_true", help="solve exactly with CP-SAT; Ctrl-C keeps the best so far")
    parser.add_argument("--time-limit", type=float, default=60.0, metavar="T", help="seconds for --exact (default 60)")
    parser.add_argument("--workers", type=int, metavar="W", help="CP-SAT worker threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the greedy's chains (default 0)")
    parser.add_argument("--secondary", default="", metavar="cut,bytes",
                        help="after the objective, also minimise these in order: cut (edges between devices) and/or "
                             "bytes (sent over links); needs --exact")  # fmt: skip
    parser.add_argument("--slack", type=float, default=0.0, metavar="X",
                        help="let the secondary objectives raise the objective by up to this fraction of its "
                             "optimum, e.g. 0.02 for 2%% (default 0); needs --exact")  # fmt: skip
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write partition_map.json with its placement (default: next to MODEL)")
    parser.add_argument("--json", action="store_true", help="print the placement as JSON instead of the report")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.commands._output import print_json
    from solver.io.partition_map import write_partition_map
    from solver.io.platform import read_platform
    from solver.placement.place import PlaceSettings, place
    from solver.placement.report import format_placement

    secondary = tuple(word.strip() for word in args.secondary.split(",") if word.strip())
    settings = PlaceSettings(objective=args.objective, exact=args.exact, time_limit=args.time_limit,
                             workers=args.workers, seed=args.seed, secondary=secondary, slack=args.slack)  # fmt: skip
    platform = read_platform(args.platform)
    problem = problem_from_args(args)
    out = args.out or (args.model.parent if args.model else Path.cwd()) / "partition_map.json"
    result = place(problem, platform, settings, on_progress=_progress if args.exact else None)
    write_partition_map(out, result.parts, len(result.metrics.order), placement=result.placement)
    if args.json:
        print_json("place", {**result.to_json(), "partition_map_file": str(out)})
    else:
        print(format_placement(result))
        print(f"wrote {out}")
    return 0


def _progress(value: int, bound: int, elapsed: float) -> None:
    print(f"[{elapsed:7.1f} s] objective {value}, bound {bound}", file=sys.stderr, flush=True)
