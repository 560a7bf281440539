"""``solve place``: partition a model across the devices of a platform and place each part on one."""

from __future__ import annotations

import argparse
from pathlib import Path

from solver.commands._exact import add_exact_arguments, map_path, progress, secondary_names
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
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the greedy's chains (default 0)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write partition_map.json with its placement (default: next to MODEL)")
    parser.add_argument("--json", action="store_true", help="print the placement as JSON instead of the report")
    add_exact_arguments(parser, "the objective", "cut (edges between devices) and/or bytes (sent over links)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.commands._output import print_json
    from solver.io.partition_map import write_partition_map
    from solver.io.platform import read_platform
    from solver.placement.place import PlaceSettings, place
    from solver.placement.report import format_placement

    settings = PlaceSettings(objective=args.objective, exact=args.exact, time_limit=args.time_limit,
                             workers=args.workers, seed=args.seed, secondary=secondary_names(args),
                             slack=args.slack)  # fmt: skip
    out = map_path(args)
    platform = read_platform(args.platform)
    problem = problem_from_args(args)
    result = place(problem, platform, settings, on_progress=progress(args.objective) if args.exact else None)
    write_partition_map(out, result.parts, len(result.metrics.order), placement=result.placement)
    if args.json:
        print_json("place", {**result.to_json(), "partition_map_file": str(out)})
    else:
        print(format_placement(result))
        print(f"wrote {out}")
    return 0
