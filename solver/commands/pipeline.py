"""``solve pipeline DIR``: run the parts as a pipeline of processes and compare with the prediction."""

from __future__ import annotations

import argparse
from dataclasses import replace

from devices.base import DEFAULT_EXECUTOR, EXECUTORS
from solver.errors import EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="measure the parts of a split as a pipeline against the prediction and the whole model",
        description="Run the parts of DIR (written by 'solve split') as a pipeline, one stage per process, tensors "
        "handed over in shared memory, and report throughput and latency next to what the partition predicted "
        "(1 / bottleneck, when the split was made with a trace) and next to the whole model run on the same "
        "total number of threads (at most the machine's cores, and it says so), over interleaved rounds with "
        "their spread; flag stages more than 20% off their prediction; say faster or slower only when the "
        "difference exceeds the spread of the rounds, and why when the pipeline does not win.",
    )
    parser.add_argument("dir", help="a split directory")
    parser.add_argument("--threads-per-stage", type=int, metavar="T",
                        help="onert NUM_THREADS per stage (default: the trace's NUM_THREADS when the split records it, "
                             "else 1); the whole model runs on the trace's threads, the predicted speedup's baseline")  # fmt: skip
    parser.add_argument("--requests", type=int, default=50, metavar="N", help="timed requests per run (default 50)")
    parser.add_argument("--warmup", type=int, default=5, metavar="N", help="requests before timing starts (default 5)")
    parser.add_argument("--rounds", type=int, metavar="R",
                        help="interleaved rounds of whole model and pipeline; medians and their range are reported, "
                             "and a verdict needs at least 3 (default 3)")  # fmt: skip
    parser.add_argument("--executor", default=DEFAULT_EXECUTOR, choices=EXECUTORS,
                        help=f"onert executor (default {DEFAULT_EXECUTOR})")
    parser.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds per run (default 600)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON (schema nnpart.pipeline/1; nnpart.placed/1 with --platform)")
    from solver.commands._placed import add_options

    add_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.commands._placed import check_not_placed, run_placed_command

    if args.platform is not None:
        return run_placed_command(args)
    check_not_placed(args)
    from devices.pipeline import PipelineSettings
    from solver.deploy.pipeline import ComparisonSettings, compare_pipeline, trace_threads
    from solver.deploy.report import pipeline_text
    from solver.deploy.split import read_split

    settings = ComparisonSettings(  # checked before anything is read
        PipelineSettings(
            requests=args.requests, warmup=args.warmup,
            threads_per_stage=1 if args.threads_per_stage is None else args.threads_per_stage,
            executor=args.executor, timeout=args.timeout,
        ),
        **({} if args.rounds is None else {"rounds": args.rounds}),
    )
    split = read_split(args.dir)
    threads, where = args.threads_per_stage, "--threads-per-stage"
    if threads is None:
        threads, where = trace_threads(split)
        settings = replace(settings, run=replace(settings.run, threads_per_stage=threads))
    comparison = compare_pipeline(split, settings)
    comparison.notes.insert(0, f"each stage ran on {threads} thread(s) ({where})")
    if args.json:
        from solver.commands._output import print_json

        print_json("pipeline", comparison.to_json())
    else:
        print(pipeline_text(comparison))
    return EXIT_OK
