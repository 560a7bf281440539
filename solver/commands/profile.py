"""``solve profile``: measure a model on a device with onert's per-op tracing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from solver.commands._devices import add_config_arguments, add_device_arguments, config_from_args, device_from_args
from solver.commands._output import print_json
from solver.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="measure per-op times of a model on onert (writes a Chrome trace for solve partition)",
        description="Run MODEL on a device with onert's per-op tracing: warm-up runs, then --runs timed runs, in a "
        "fresh process, outputs checked against an all-cpu run. Writes onert's Chrome trace (what solve partition "
        "reads) and prints the slowest ops with their share of the total.",
    )
    parser.add_argument("model", type=Path, help="the .tflite model")
    parser.add_argument("--out", type=Path, required=True, help="where to write the Chrome trace (trace.chrome.json)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs before them (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model inputs (default 0)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole measurement (default 600)")
    parser.add_argument("--top", type=int, default=15, help="ops shown in the table (default 15)")
    parser.add_argument("--json", action="store_true", help="print the profile as JSON (schema nnpart.profile/1)")
    add_config_arguments(parser)
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.deploy.profiling import profile_model
    from solver.deploy.report import profile_table

    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    result = profile_model(
        args.model, device_from_args(args), runs=args.runs, config=config_from_args(args), out=args.out,
        warmup=args.warmup, seed=args.seed, timeout=args.timeout,
    )  # fmt: skip
    if args.json:
        print_json("profile", result.to_json())
    else:
        print(profile_table(result, args.top))
    print(f"trace written to {result.trace_path}", file=sys.stderr)
    return 0
