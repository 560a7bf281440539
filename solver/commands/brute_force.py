"""``solve brute-force``: ONE's brute-force profiler, with progress, checkpoints and resume."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from solver.assignment.settings import DEFAULT_MAX_POINTS, BruteForceSettings
from solver.commands._devices import (
    add_device_arguments,
    add_farm_arguments,
    add_memory_arguments,
    device_from_args,
    split_backends,
)
from solver.commands._output import print_json
from solver.errors import UsageError
from solver.io.oplist import MODES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "brute-force",
        help="measure every backend assignment of a model and write ONE's brute-force dump",
        description="Measure every runnable backend assignment (per op type in name mode, per op group in index "
        "mode) and write ONE's brute-force dump, which `solve pareto --offline` and lookup devices read. Every "
        "measurement is appended to a journal next to --out as it arrives: a run stopped in any way (even "
        "killed) resumes when the same command runs again, measuring nothing twice.",
    )
    parser.add_argument("model", type=Path, help="the .tflite model (also .tflite.xz or .tflite.gz)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the dump (JSON)")
    parser.add_argument("--mode", choices=MODES, default="name", help="name (per op type) or index (per op group)")
    parser.add_argument("--backends", default="cpu,ruy", metavar="B0,B1,...",
                        help="backends numbered in this order in the ids; the first is the default (default cpu,ruy)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per point (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs per point (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model inputs (default 0)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per measurement (default 300)")
    parser.add_argument("--max-points", type=int, default=DEFAULT_MAX_POINTS,
                        help=f"refuse a larger space (default {DEFAULT_MAX_POINTS})")
    parser.add_argument("--force", action="store_true", help="enumerate a space larger than --max-points anyway")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (schema nnpart.brute_force/1)")
    parser.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every point in this many rounds, interleaved (A B C A B C), and keep all runs "
                             "(default 1)")  # fmt: skip
    add_memory_arguments(parser)
    add_device_arguments(parser)
    add_farm_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.assignment.bruteforce import brute_force
    from solver.assignment.journal import journal_path
    from solver.assignment.report import brute_force_line
    from solver.io.files import check_output
    from solver.progress import Progress

    settings = BruteForceSettings(
        mode=args.mode, backends=split_backends(args.backends), warmup=args.warmup, repeats=args.repeats,
        seed=args.seed, timeout=args.timeout, max_points=args.max_points, force=args.force, rounds=args.rounds,
        memory=args.memory_figure, layouts=args.layouts,
    )  # fmt: skip
    check_output(args.out, inputs=(args.model,))

    def progress(done: int, total: int, entry: dict) -> None:
        what = f"{entry['time']} ms, {entry['memory']} KB" if entry.get("valid", True) else f"invalid: {entry['reason']}"
        shown.update(done=done, total=total, status=f"id {entry['id']}: {what}")

    if args.cluster and not args.devices:
        raise UsageError("--cluster needs --devices FILE (the devices its workers measure on)")
    farm = None
    if args.devices:
        from devices.farm import Farm, read_devices

        farm = Farm(read_devices(args.devices), args.cluster or "local", cache=not args.no_cache)
    try:
        with Progress("brute force", unit="points", quiet=args.quiet) as shown:
            result = brute_force(args.model, device_from_args(args), args.out, settings, progress, farm)
    except KeyboardInterrupt:
        print(f"interrupted; every measurement is kept in {journal_path(args.out)}: run the same command to resume",
              file=sys.stderr)  # fmt: skip
        raise
    finally:
        if farm is not None:
            farm.close()
    if args.json:
        print_json("brute_force", result.to_json())
    else:
        print(brute_force_line(result))
    return 0
