"""``solve run DIR``: run the parts of a split in sequence, each on its backend, and time them end to end."""

from __future__ import annotations

import argparse

from devices.base import DEFAULT_EXECUTOR, EXECUTORS
from solver.commands._memory import add_memory_model_argument, memory_model
from solver.errors import EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the parts of a split one after another on their backends and measure the end-to-end latency",
        description="Load every part of DIR (written by 'solve split') as its own onert session on its backend "
        "(the device in its file name: cpu, ruy; cpu for a device onert lacks), feed seeded inputs, run the parts "
        "in order handing tensors along by name, and time each round end to end and per part, beside the whole "
        "model on cpu in the same rounds. Prints medians with their spread and the machine's load average.",
    )
    parser.add_argument("dir", help="a split directory (with split.json, <name>.conn.json, metadata/MANIFEST)")
    parser.add_argument("--rounds", type=int, default=20, metavar="R", help="timed rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=2, metavar="W", help="untimed rounds first (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--executor", default=DEFAULT_EXECUTOR, choices=EXECUTORS,
                        help=f"onert executor of every session (default {DEFAULT_EXECUTOR})")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an onert variable of every session, e.g. NUM_THREADS=1 (default: the settings of the "
                             "trace the split was predicted with, when it records them); repeatable")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the timings as JSON (schema nnpart.run/1)")
    add_memory_model_argument(parser, "each part's session memory (printed beside the measured one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.deploy.report import sequential_text
    from solver.deploy.sequential import run_sequential

    from solver.commands._devices import _pairs

    told = dict(_pairs(args.setting, "--setting"))
    chosen = memory_model(args.memory_model)
    measured = run_sequential(args.dir, rounds=args.rounds, warmup=args.warmup, seed=args.seed, executor=args.executor,
                              settings=told, memory_model=chosen)  # fmt: skip
    if args.json:
        from solver.commands._output import print_json

        print_json("run", measured.to_json())
    else:
        print(sequential_text(measured))
    return EXIT_OK
