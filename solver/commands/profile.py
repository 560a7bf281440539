"""``solve profile``: measure a model on a device with onert's per-op tracing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devices.stats import DEFAULT_TARGET_CV
from solver.commands._devices import add_config_arguments, add_device_arguments, config_from_args, device_from_args
from solver.commands._output import print_json
from solver.commands._problem import add_weights_argument
from solver.errors import EXIT_OK, EXIT_UNSTABLE


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="measure per-op times of a model on onert (writes a Chrome trace for solve partition)",
        description="Run MODEL on a device with onert's per-op tracing in rounds: each round a fresh process, "
        "--warmup warm-up runs, then --runs timed runs, outputs checked against an all-cpu run. After --rounds "
        "rounds the spread of the run totals is judged (robust CV against --target-cv, outlier runs, drift over "
        "time); more rounds follow while it is unstable, up to --max-runs timed runs. Writes one Chrome trace "
        "with every round's events (what solve partition reads) and prints the slowest ops with their spread. "
        "Says whether the measurement is stable and why not; an unstable one is not kept in the cache. Before and "
        "during the rounds it compares onert's threads with the cores other work leaves free (running tasks, a "
        "one-thread probe, the load average): figures of threads beyond the free cores measure contention and "
        "are never called stable. The trace records where and how it ran (device, host, runtime, backends, "
        "every onert setting, the load), and the commands that measure with it use the same settings.",
    )
    parser.add_argument("model", type=Path, help="the .tflite model (also .tflite.xz or .tflite.gz)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the Chrome trace (trace.chrome.json)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per round (default 10)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="warm-up runs before them in each round, the preparing run included (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds at least, each a fresh process (default 3)")
    parser.add_argument("--max-runs", type=int, help="most timed runs over all rounds (default 2 x runs x rounds)")
    parser.add_argument("--target-cv", type=float, default=DEFAULT_TARGET_CV,
                        help="stable when the run totals' robust CV (IQR / 1.349 / median) is at most this "
                             f"(default {DEFAULT_TARGET_CV:g})")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the model inputs (default 0)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for each round (default 600)")
    parser.add_argument("--top", type=int, default=15, help="ops shown in the table (default 15)")
    parser.add_argument("--json", action="store_true", help="print the profile as JSON (schema nnpart.profile/1)")
    parser.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    parser.add_argument("--strict", action="store_true",
                        help=f"exit with status {EXIT_UNSTABLE} when the profile is UNSTABLE (its trace is still "
                             "written and says so), so that scripts can tell")  # fmt: skip
    add_weights_argument(parser)
    add_config_arguments(parser)
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.deploy.profiling import ProfileSettings, profile_model
    from solver.deploy.report import profile_table
    from solver.io.files import check_output
    from solver.progress import Progress

    settings = ProfileSettings(
        runs=args.runs, warmup=args.warmup, rounds=args.rounds, max_runs=args.max_runs, target_cv=args.target_cv,
        weights=args.weights, seed=args.seed, timeout=args.timeout,
    )  # fmt: skip
    check_output(args.out, inputs=(args.model,))
    device = device_from_args(args)
    with Progress("profiling", total=settings.rounds, unit="rounds", quiet=args.quiet) as shown:

        def on_round(done: int, more: bool, status: str) -> None:
            # Past --rounds, another round follows only while the totals are unstable: one more at a time.
            shown.update(done=done, total=max(settings.rounds, done + 1 if more else done), status=status)

        result = profile_model(args.model, device, settings, config=config_from_args(args), out=args.out,
                               on_round=on_round)  # fmt: skip
    if args.json:
        print_json("profile", result.to_json())
    else:
        print(profile_table(result, args.top))
    print(f"trace written to {result.trace_path}", file=sys.stderr)
    return EXIT_UNSTABLE if args.strict and not result.stable else EXIT_OK
