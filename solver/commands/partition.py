"""``solve partition``: split a model into pipeline stages and write ONE's partition_map.json."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from solver.commands._memory import add_memory_model_argument, memory_model
from solver.commands._problem import add_problem_arguments, problem_from_args
from solver.errors import UsageError
from solver.commands._exact import add_exact_arguments, bounds_text, exact_progress, map_path, secondary_names
from solver.partitioning.objectives import TABLE
from solver.partitioning.settings import ALGORITHMS, PartitionSettings

# The memory report's planner stops this share of the time limit before the limit ends, which leaves the time the
# report's other terms, the printing and the writing take (3 s at 60 s: 2-5 s for a million ops under load); after a
# search that used its whole time limit it still gets this share. Past its deadline, parts not yet simulated show a
# lower bound (a million-op wide graph's WIC simulation takes a minute).
REPORT_SHARE = 0.05
# The memory report's graph and its parts' lower bounds, priced in checks of a heuristic's answer (passes over the
# same arrays, timed in this process at the machine's present load): they took 4-6 checks at 10^6 and 10^7 ops. A
# report that would not be done by its deadline is left out (10^7 ops: 8 s), and the output says so.
REPORT_CHECKS = 8
# Printing and writing the answer after the report, in the same checks (1 at 10^7 ops under load; 2 kept).
OUTPUT_CHECKS = 2

if TYPE_CHECKING:
    from solver.partitioning.partition import PartitionResult
    from solver.problem import PartitionProblem


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "partition",
        help="split a model into K pipeline stages with the least bottleneck; write partition_map.json",
        description="Split the operator graph of MODEL into K pipeline stages (parts) so that the slowest stage "
        "(the bottleneck: the sum of its ops' measured times from TRACE) is as small as possible, with an "
        "acyclic session graph. Both ONE's MinMax heuristic (with its defects fixed) and our order search run "
        "and the report compares them; --exact then solves the problem with CP-SAT, warm-started by the best "
        "heuristic, and reports the proven bound and gap. Writes ONE's partition_map.json and prints a "
        "report: per part the op count, weight, share, constants and op index ranges; the session graph; bottleneck / "
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
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the HTML report of the answer (as solve show does: the op graph coloured by "
                             "part, cut tensors, the per-part table, the comparison with the heuristics)")  # fmt: skip
    parser.add_argument("--split", type=Path, metavar="DIR",
                        help="also write the part models, conn.json and an nnpackage MANIFEST into DIR and verify "
                             "them against the whole model with onert, as 'solve split' does (exit 4 on a mismatch)")  # fmt: skip
    exact = add_exact_arguments(parser, "the bottleneck", TABLE)
    exact.add_argument("--memory-cap", type=int, metavar="BYTES",
                       help="most bytes any one part's session may need under --memory-model (docs/memory.md), "
                            "its constants included; under --robust, bytes of constants only")  # fmt: skip
    exact.add_argument("--robust", nargs="?", const="worst", metavar="worst|quantile:Q",
                       help="treat each run of the trace as a scenario and minimise the bottleneck of the worst "
                            "run (default) or the Q quantile of the runs' bottlenecks (quantile:0.9 ignores the "
                            "slowest tenth); reports the median-weight optimum and the robust one on every run; "
                            "needs --exact and gets half its time limit")  # fmt: skip
    parser.add_argument("--calibrate", nargs="?", const=4, type=int, metavar="ROUNDS",
                        help="close the loop (needs --exact and a TFLite model): split the partition, measure every "
                             "part on the local onert device (one at a time, the trace's threads), correct the op "
                             "weights from the measured part times, re-solve, and repeat until the measured "
                             "bottleneck stops improving, at most ROUNDS rounds (default 4, at least 2); keeps the "
                             "round with the lowest measured bottleneck")  # fmt: skip
    add_memory_model_argument(parser, "each part's memory (what --memory-cap caps)")
    parser.add_argument("--calibrate-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an onert variable the parts are measured with under --calibrate instead of the "
                             "trace's (a trace of 'solve profile' records its settings, NUM_THREADS among them, and "
                             "calibration uses them by default and says so); repeatable")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.commands._output import print_json
    from solver.io.files import check_output
    from solver.io.partition_map import write_partition_map
    from solver.partitioning.partition import partition
    from solver.problem import IN_FILE, input_format
    from solver.partitioning.report import format_report

    settings = PartitionSettings(
        num_parts=args.num_parts, algo=args.algo, runs=args.runs, seed=args.seed, exact=args.exact,
        time_limit=args.time_limit, workers=args.workers, secondary=secondary_names(args),
        slack=args.slack, memory_cap=args.memory_cap, robust=args.robust,
    )  # fmt: skip
    calibration_settings = _calibration_settings(args, settings)
    # Refused before any work: calibrated without a calibration (unless --calibrate is about to fit one).
    requested = args.memory_model if not (calibration_settings and args.memory_model == "calibrated") else None
    chosen = memory_model(requested)
    out = map_path(args)
    if args.html:
        from solver.commands._html import check_html_path

        check_html_path(args.html)
    check_output(args.split, inputs=(args.model, args.trace), option="--split", directory=True)
    reading = time.monotonic()
    _small_pages()
    problem = problem_from_args(args)
    # The time limit covers reading the input (seconds for a million-op graph), not profiling a model first.
    measured = args.model is not None and args.trace is None and input_format(args.model).weights != IN_FILE
    if args.split and problem.model is None:
        raise UsageError(f"{problem.source}: --split needs a TFLite model, not a graph file")
    if calibration_settings and problem.model is None:
        raise UsageError(f"{problem.source}: --calibrate measures part models, so it needs a TFLite model")
    describe = bounds_text("bottleneck")
    from solver.deploy.memory import onert_memory_settings
    from solver.memory.parts import part_memory as part_memory_of, problem_graph

    planner, executor = onert_memory_settings(calibration_settings and calibration_settings.config)
    part_memory = None  # what a memory cap caps besides the constants; the partition uses it only under a cap
    if settings.memory_cap is not None:
        part_memory = part_memory_of(problem_graph(problem.model, problem.dag), chosen, planner, executor)
    started = time.monotonic() if measured else reading
    with exact_progress(args) as shown:
        result = partition(problem, settings, on_progress=shown.callback(describe), part_memory=part_memory,
                           started=started)
        shown.close(describe(result.metrics.bottleneck, result.bound))
    calibration = memory_fit = None
    if calibration_settings:
        calibration_settings, where = _in_trace_context(problem, calibration_settings, bool(args.calibrate_setting))
        problem, result, calibration = _calibrate(problem, settings, result, calibration_settings, quiet=args.json,
                                                  part_memory=part_memory)  # fmt: skip
        calibration.notes.insert(0, where)
        from devices import open_device
        from solver.deploy.memory import fit_device_memory
        from solver.memory.parts import problem_graph

        memory_fit = fit_device_memory(problem.source, problem_graph(problem.model, problem.dag), calibration,
                                       calibration_settings.config, open_device("local", cache=False))  # fmt: skip
    # The report's planner ends a small share before the time limit, and before the time printing and writing the
    # answer will take, or runs that share beyond the search's end when the search used it all.
    share, check = REPORT_SHARE * settings.time_limit, max(h.check_seconds for h in result.heuristics.values())
    deadline = max(started + settings.time_limit - share - OUTPUT_CHECKS * check, time.monotonic() + share)
    memory = None
    if time.monotonic() + REPORT_CHECKS * check <= deadline:
        memory = _parts_memory(problem, result.parts, settings.num_parts, args.memory_model, memory_fit,
                               calibration_settings, deadline)  # fmt: skip
    if memory is None:
        result.notes.append(f"no memory report: it would not have been done {deadline - started:.1f} s into the "
                            f"command (it ends {100 * REPORT_SHARE:g}% of the time limit and the time writing the "
                            "answer takes before the limit, or that share after a search that used it all); a longer "
                            "--time-limit gives it")  # fmt: skip
    # The answer is printed first, so a failing write loses nothing; the map is written last, so a failing
    # --split leaves an earlier map as it was.
    if args.json:
        extra = {"calibration": [r.to_json() for r in calibration.rounds],
                 "calibration_result": calibration.to_json()} if calibration else {}
        print_json("partition", {**problem.to_json(), **result.to_json(), **extra,
                                 "memory": memory.to_json() if memory else None,
                                 "partition_map_file": str(out)})  # fmt: skip
    else:
        print(format_report(problem, result))
        from solver.memory.report import parts_text

        if memory is not None:
            print(parts_text(memory))
        if calibration:
            from solver.deploy.report import calibration_text

            print(calibration_text(calibration))
    if args.split:
        _split(problem, result.parts, args.split, quiet=args.json)
    write_partition_map(out, result.parts, settings.num_parts)
    if not args.json:
        print(f"wrote {out}")
    if args.html:
        from solver.commands._html import show_html
        from solver.show.view import partition_view

        show_html(args.html, partition_view(problem, result.parts, settings.num_parts, result=result))
    return 0


def _small_pages() -> None:
    """Stop numpy advising transparent huge pages for its big arrays (4 MB and up). Where the kernel takes the advice
    with direct compaction (``defrag = madvise``), every first touch of such an array may compact memory: reading
    and building a 10^7-op graph took 14.5 s of system time with the advice, 7.5-8.7 s without (load 4). The
    advice is numpy's private switch; without it nothing changes."""
    import numpy as np

    switch = getattr(getattr(np, "_core", None) or getattr(np, "core", None), "multiarray", None)  # numpy 2, 1.x
    if switch is not None and hasattr(switch, "_set_madvise_hugepage"):
        switch._set_madvise_hugepage(False)


def _calibration_settings(args: argparse.Namespace, settings: PartitionSettings):
    """The calibration's settings when --calibrate is given (checked before any work), else None."""
    if args.calibrate is None:
        if args.calibrate_setting:
            raise UsageError("--calibrate-setting needs --calibrate")
        return None
    from devices.base import BackendConfig
    from solver.commands._devices import _pairs
    from solver.deploy.calibrate import CalibrationSettings

    if not settings.exact:
        raise UsageError("--calibrate needs the exact solver (--exact)")
    if settings.robust is not None:
        raise UsageError("--calibrate does not combine with --robust")
    config = BackendConfig(settings=tuple(_pairs(args.calibrate_setting, "--calibrate-setting")))
    return CalibrationSettings(max_rounds=args.calibrate, config=config)


def _in_trace_context(problem: PartitionProblem, calibration_settings, told: bool):
    """The calibration measures with the trace's onert settings (NUM_THREADS, EXECUTOR, ...) unless told otherwise
    by --calibrate-setting: its settings and a note saying which (and what differs from the trace: the settings
    when told, the device, host or runtime when the trace was measured elsewhere)."""
    from dataclasses import replace

    from devices.context import MeasurementContext, measurement_context
    from solver.io.trace import trace_facts

    facts = trace_facts(problem.trace) if problem.trace is not None else {}
    context = MeasurementContext.from_json(facts.get("context"))
    given = _settings_text(calibration_settings.config)
    if context is None:
        return calibration_settings, f"calibration measures the parts with {given}: the trace does not record its own"
    traced = context.setting_config()
    if not told:
        calibration_settings = replace(calibration_settings, config=traced)
        note = (f"calibration measures the parts in the trace's context: {_settings_text(traced)} (--calibrate-setting "
                "to measure otherwise)")  # fmt: skip
    elif dict(traced.settings) != dict(calibration_settings.config.settings):
        note = (f"calibration measures the parts with {given} (--calibrate-setting), the trace was measured with "
                f"{_settings_text(traced)}: predicted and measured times differ by that too")  # fmt: skip
    else:
        note = f"calibration measures the parts with {given}, as the trace was measured"
    elsewhere = context.elsewhere(measurement_context("local", calibration_settings.config))
    if elsewhere:
        note += f"; the trace was measured elsewhere ({elsewhere}), so its weights need not fit the parts measured here"
    return calibration_settings, note


def _settings_text(config) -> str:
    return " ".join(f"{k}={v}" for k, v in config.settings) or "onert's default settings"


def _calibrate(problem: PartitionProblem, settings: PartitionSettings, result: PartitionResult,
               calibration_settings, quiet: bool, part_memory=None):
    """Calibrate the weights and re-solve (solver.deploy.calibrate); the problem and answer of the best round."""
    from dataclasses import replace

    from devices import open_device
    from solver.deploy.calibrate import calibrate
    from solver.deploy.report import calibration_round_text
    from solver.partitioning.partition import partition

    solved = {tuple(result.parts): (problem, result)}

    def solve(weights: list[int]) -> list[int]:
        graph = problem.graph.copy()
        for v, w in enumerate(weights):
            graph.nodes[v]["weight"] = w
        note = "op weights calibrated: each part's ops scaled by its measured / predicted time (solve partition --calibrate)"
        again = replace(problem, graph=graph, notes=[*problem.notes, note])
        answer = partition(again, settings, part_memory=part_memory)
        solved.setdefault(tuple(answer.parts), (again, answer))
        return answer.parts

    weights = [problem.graph.nodes[v]["weight"] for v in range(problem.num_ops)]
    shown = None if quiet else lambda r: print(calibration_round_text(r), file=sys.stderr, flush=True)
    # Not cached: calibration is about what the parts take now, measured fresh every round.
    device = open_device("local", cache=False)
    calibration = calibrate(problem.source, result.parts, weights, solve, device, calibration_settings, shown)
    best_problem, best_result = solved[tuple(calibration.best_round.parts)]
    graph = best_problem.graph.copy()  # the split's part loads predict with the calibrated weights
    for v, w in enumerate(calibration.weights):
        graph.nodes[v]["weight"] = w
    return replace(best_problem, graph=graph), best_result, calibration


def _parts_memory(problem: PartitionProblem, parts: list[int], num_parts: int, requested: str | None, fitted,
                  calibration_settings, deadline: float):  # fmt: skip
    """Each part's memory under the requested model (or the default: docs/memory.md), the planner simulated
    until ``deadline`` (lower bounds of the arenas after it); None when not even the lower bounds would be taken
    by then (seconds at 10^7 ops)."""
    from solver.deploy.memory import onert_memory_settings
    from solver.memory.parts import parts_memory, problem_graph
    from solver.memory.planner import PlanningStopped

    planner, executor = onert_memory_settings(calibration_settings and calibration_settings.config)
    model = memory_model(requested, fitted)
    try:
        return parts_memory(problem_graph(problem.model, problem.dag), parts, num_parts, model, planner, executor,
                            deadline, bounds_by=deadline)  # fmt: skip
    except PlanningStopped:
        return None


def _split(problem: PartitionProblem, parts: list[int], out_dir: Path, quiet: bool) -> None:
    from solver.deploy.report import split_text, verify_text
    from solver.deploy.verify import split_and_verify

    from solver.io.trace import trace_facts

    weights = [problem.graph.nodes[v]["weight"] for v in range(problem.num_ops)]
    context = trace_facts(problem.trace).get("context") if problem.trace is not None else None
    split, verified = split_and_verify(problem.source, parts, out_dir, model=problem.model, op_weights=weights,
                                       context=context)  # fmt: skip
    if not quiet:
        print(split_text(split))
        print(verify_text(verified))
