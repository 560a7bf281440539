"""``solve partition``: split a model into pipeline stages and write ONE's partition_map.json."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from solver.commands._problem import add_problem_arguments, problem_from_args
from solver.errors import UsageError
from solver.commands._exact import add_exact_arguments, map_path, progress, secondary_names
from solver.partitioning.settings import ALGORITHMS, PartitionSettings

if TYPE_CHECKING:
    from solver.partitioning.problem import PartitionProblem


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "partition",
        help="split a model into K pipeline stages with the least bottleneck; write partition_map.json",
        description="Split the operator graph of MODEL into K pipeline stages (parts) so that the slowest stage "
        "(the bottleneck: the sum of its ops' measured times from TRACE) is as small as possible, with an "
        "acyclic session graph. Both ONE's MinMax heuristic (with its defects fixed) and our order search run "
        "and the report compares them; --exact then solves the problem with CP-SAT, warm-started by the best "
        "heuristic, and reports the proven bound and gap. Writes ONE's partition_map.json and prints a "
        "report: per part the op count, weight, share, first and last op; the session graph; bottleneck / "
        "lower bound; edge cut and memory overhead as ONE defines them; transfer bytes.",
    )
    add_problem_arguments(parser)
    parser.add_argument("--num-parts", "-k", type=int, default=4, metavar="K",
                        help="number of pipeline stages, 1..number of ops (default 4)")
    parser.add_argument("--algo", choices=ALGORITHMS, default="best",
                        help="heuristic answer to keep and to warm-start --exact with: minmax (ONE's MinMax), "
                             "orders (our search over topological orders, each split exactly) or best (the "
                             "smaller bottleneck of the two; default)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=10, metavar="N",
                        help="random topological orders MinMax tries, keeping the best (ONE's nruns; default 10)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the heuristics' randomness; the same seed gives the same answer (default 0)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write partition_map.json (default: next to MODEL; with MODEL omitted, "
                             "in the current directory)")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (the same facts, machine-readable) instead of text")
    parser.add_argument("--split", type=Path, metavar="DIR",
                        help="also write the part models, conn.json and an nnpackage MANIFEST into DIR and verify "
                             "them against the whole model with onert, as 'solve split' does (exit 4 on a mismatch)")  # fmt: skip
    exact = add_exact_arguments(parser, "the bottleneck", "cut (edge cut) and/or bytes (transfer bytes)")
    exact.add_argument("--memory-cap", type=int, metavar="BYTES",
                       help="most bytes of constant tensors (weights) any one part may hold")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.commands._output import print_json
    from solver.io.partition_map import write_partition_map
    from solver.partitioning.partition import partition
    from solver.partitioning.report import format_report

    settings = PartitionSettings(
        num_parts=args.num_parts, algo=args.algo, runs=args.runs, seed=args.seed, exact=args.exact,
        time_limit=args.time_limit, workers=args.workers, secondary=secondary_names(args),
        slack=args.slack, memory_cap=args.memory_cap,
    )  # fmt: skip
    problem = problem_from_args(args)
    if args.split and problem.model is None:
        raise UsageError(f"{problem.source}: --split needs a TFLite model, not a graph file")
    out = map_path(args)
    result = partition(problem, settings, on_progress=progress("bottleneck") if args.exact else None)
    write_partition_map(out, result.parts, settings.num_parts)
    if args.json:
        print_json("partition", {**problem.to_json(), **result.to_json(), "partition_map_file": str(out)})
    else:
        print(format_report(problem, result))
        print(f"wrote {out}")
    if args.split:
        _split(problem, result.parts, args.split, quiet=args.json)
    return 0


def _split(problem: PartitionProblem, parts: list[int], out_dir: Path, quiet: bool) -> None:
    from solver.deploy.report import split_text, verify_text
    from solver.deploy.verify import split_and_verify

    weights = [problem.graph.nodes[v]["weight"] for v in range(problem.num_ops)]
    split, verified = split_and_verify(problem.source, parts, out_dir, model=problem.model, op_weights=weights)
    if not quiet:
        print(split_text(split))
        print(verify_text(verified))
