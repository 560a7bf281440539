"""``solve pareto``: the time-vs-memory Pareto front of backend assignments, on a device or a dump."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devices.base import MeasureSettings
from solver.assignment.settings import ALGORITHMS, SETTINGS, ParetoSettings, SearchSettings
from solver.commands._devices import (
    add_device_arguments,
    add_farm_arguments,
    add_memory_arguments,
    device_from_args,
    split_backends,
)
from solver.commands._output import print_json
from solver.io.oplist import MODES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pareto",
        help="search the time-vs-memory Pareto front of backend assignments",
        description="Search backend assignments (per onert op type in name mode, per (op, size) group in index "
        "mode, optionally with onert's EXECUTOR / CPU_MEMORY_PLANNER / NUM_THREADS) for the Pareto front of "
        "execution time and peak memory, measuring on a device or looking measurements up in a brute-force "
        "dump. Every point is measured at most once; --budget counts unique measurements. With a complete "
        "dump the found front is scored against the true one (hypervolume ratio, IGD+). Writes ONE's "
        "estimator dump plus a summary. Ctrl-C stops and keeps the front so far.",
    )
    parser.add_argument("model", type=Path, nargs="?",
                        help="the .tflite model, also .xz or .gz (optional with --offline)")
    parser.add_argument("--offline", type=Path, metavar="DUMP",
                        help="look measurements up in this brute-force dump (solve brute-force) instead of measuring")
    parser.add_argument("--algo", choices=ALGORITHMS, default="auto",
                        help="auto (default: the model-based search, or brute force when --budget covers the space), "
                             "surrogate (the model-based search), nsga2, random (ONE's random sampler), hlps (ONE's "
                             "Hamming local Pareto search) or brute-force")  # fmt: skip
    parser.add_argument("--backends", metavar="B0,B1,...",
                        help="the backends to search (default: all the device offers; a dump: names its backends in "
                             "the order its ids number them)")  # fmt: skip
    parser.add_argument("--journal", type=Path, metavar="FILE",
                        help="append every measurement to FILE and resume from it (default with --out: "
                             "OUT.journal.jsonl); the same command after a crash measures nothing twice")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2,
                        help="live: measure the points whose place in the front is unclear in this many "
                             "interleaved rounds before reporting (default 2)")  # fmt: skip
    parser.add_argument("--mode", choices=MODES,
                        help="one decision per op type (name) or per (op, size) group (index); default: the "
                             "dump's mode, else name")  # fmt: skip
    parser.add_argument("--settings", default="", metavar="VAR,...",
                        help=f"also search these onert variables (live devices only): {', '.join(SETTINGS)}")
    parser.add_argument("--budget", type=int, help="unique measurements (default 200; brute-force: the whole space)")
    parser.add_argument("--population", type=int, help="NSGA-II population (default: budget/10, 8 to 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs per measurement (default 1)")
    parser.add_argument("--out", type=Path, help="write ONE's estimator dump plus our summary (JSON) here")
    parser.add_argument("--plot", type=Path, metavar="FILE",
                        help="draw evaluated points, the found front (with ids) and the true front into FILE (png, "
                             "svg or pdf)")  # fmt: skip
    parser.add_argument("--pick", metavar="WHICH",
                        help="print one point of the front as onert environment lines: fastest, smallest, "
                             "'memory<=80MB' or 'time<=50ms'")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print the result (or the picked point) as JSON (schema nnpart.pareto/1, nnpart.pareto_pick/1)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_memory_arguments(parser)
    add_device_arguments(parser)
    add_farm_arguments(parser)
    parser.set_defaults(run=run, device=None)


def settings_from_args(args: argparse.Namespace) -> ParetoSettings:
    """The search the options describe (a dump named by --device is searched offline too)."""
    from solver.assignment.journal import journal_path

    return ParetoSettings(
        model=args.model,
        offline=args.offline,
        device=args.device if args.offline is not None or args.device is not None else "local",
        mode=args.mode,
        settings=tuple(s.strip() for s in args.settings.split(",") if s.strip()),
        search=SearchSettings(args.algo, args.budget, args.population, args.seed),
        measure=MeasureSettings(warmup=args.warmup, repeats=args.repeats),
        backends=split_backends(args.backends) if args.backends else None,
        devices=args.devices,
        cluster=args.cluster,
        journal=args.journal or (journal_path(args.out) if args.out else None),
        rounds=args.rounds,
        memory=args.memory_figure,
        layouts=args.layouts,
    )


def _measured(shown):
    """An ``on_measure(evaluator, evaluation)`` that shows the count, the budget and the last point measured."""

    def on_measure(evaluator, e) -> None:
        what = f"{e.time_ms:.3f} ms, {e.memory_kb / 1024:.1f} MB" if e.valid else f"invalid: {e.reason}"
        shown.update(done=evaluator.count, total=evaluator.budget, status=f"id {e.point_id}: {what}")

    return on_measure


def run(args: argparse.Namespace) -> int:
    from solver.assignment.front import parse_pick
    from solver.assignment.report import front_table
    from solver.assignment.run import run_pareto
    from solver.io.files import check_output, write_json
    from solver.progress import Progress

    settings = settings_from_args(args)
    for target, option in ((args.out, "--out"), (args.plot, "--plot")):
        check_output(target, inputs=(args.model, args.offline, args.device), option=option)
    pick = parse_pick(args.pick) if args.pick else None  # a bad --pick fails before any measurement
    if args.plot:
        from solver.extras import plot_format

        plot_format(args.plot)  # so does a plot file named with an extension no plot is written as
    live = settings.dump is None
    device = device_from_args(args, settings.device) if live else None
    with Progress("Pareto search", unit="points", quiet=args.quiet) as shown:
        outcome = run_pareto(settings, device, on_measure=_measured(shown))
    status = 0
    if pick is not None:
        status = _print_pick(outcome, pick, args.json)
    elif args.json:
        print_json("pareto", outcome.to_json())
    else:
        print(front_table(outcome.result, outcome.quality))
    if not args.json:  # --json carries them in its summary
        for note in outcome.notes:
            print(f"note: {note}", file=sys.stderr)
    if args.out:  # after the answer is printed: a failing write loses nothing
        write_json(args.out, outcome.estimator_dump())
    if args.plot:
        _plot(args.plot, outcome)
    return status


def _plot(path: Path, outcome) -> None:
    import numpy as np

    from solver.assignment.front import plot_front

    result, quality = outcome.result, outcome.quality
    evaluated = np.array([(e.time_ms, e.memory_kb) for e in result.valid]).reshape(-1, 2)
    found = np.array([(e.time_ms, e.memory_kb) for e in result.front]).reshape(-1, 2)
    true = None
    if quality.true_front is not None:
        true = np.array([(p.time_ms, p.memory_kb) for p in quality.true_front]).reshape(-1, 2)
    title = f"{result.algorithm}, {len(result.evaluations)} of {result.space.size} points ({result.space.mode} mode)"
    plot_front(path, evaluated, found, true, title, front_ids=[e.point_id for e in result.front], quality=quality)


def _print_pick(outcome, pick, as_json: bool) -> int:
    """The point ``pick`` chooses, or, when the measurements cannot tell it from other candidates that meet the
    same bound (their runs overlap), all of them and a note saying so instead of naming one."""
    from solver.assignment.front import pick_measured
    from solver.assignment.space import env_lines

    result = outcome.result
    picked = pick_measured(result.front, result.valid, pick, outcome.quality.true_front)
    tied, space = picked.candidates, result.space
    found = picked.better
    better = None if found is None else {"id": found.point_id, "time_ms": found.time_ms, "memory_kb": found.memory_kb}
    if as_json:
        points = [{"id": e.point_id, "time_ms": e.time_ms, "memory_kb": e.memory_kb, "runs": list(e.runs),
                   "memory_rounds_kb": list(e.memories),
                   "backends": list(space.config(e.genes).backends),
                   "environment": space.config(e.genes).environment()} for e in tied]  # fmt: skip
        print_json("pareto_pick", {**points[0], "decided": picked.decided, "candidates": points,
                                   "better_in_dump": better})  # fmt: skip
        return 0
    if better is not None:
        print(f"# a better point exists in the dump, not found by this search: id {better['id']}: "
              f"{better['time_ms']:.3f} ms, {better['memory_kb'] / 1024:.1f} MB (raise --budget or use --algo brute-force)")
    if len(tied) > 1:
        ids = ", ".join(str(e.point_id) for e in tied)
        what = "runs" if pick.objective == "time" else "rounds' peak memories"
        print(f"# cannot tell ids {ids} apart: their {what} overlap; measure them with more --repeats or --rounds")
    for e in tied:
        print(f"# id {e.point_id}: {e.time_ms:.3f} ms{_spread(e.runs, 'runs')}, {e.memory_kb / 1024:.1f} MB"
              f"{_spread(e.memories, 'rounds', 1 / 1024, 2)}")  # fmt: skip
        print("\n".join(env_lines(space.config(e.genes))))
    return 0


def _spread(samples, what: str, scale: float = 1.0, digits: int = 3) -> str:
    """The range of several samples (a point's runs, or its rounds' peak memories), in the figure's unit."""
    if len(samples) < 2:
        return ""
    return f" ({what} {min(samples) * scale:.{digits}f}-{max(samples) * scale:.{digits}f}, n={len(samples)})"
