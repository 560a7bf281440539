"""The options of the numerical check that ``solve verify`` and ``solve split`` share."""

from __future__ import annotations

import argparse

from devices.base import DEFAULT_EXECUTOR, EXECUTORS


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs, tolerance and executor of the numerical check (shared with 'solve split')."""
    group = parser.add_argument_group("numerical check")
    group.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    group.add_argument("--rtol", type=float, default=1e-4, help="tolerance relative to max|output| (default 1e-4)")
    group.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (default 1e-6)")
    group.add_argument("--executor", default=DEFAULT_EXECUTOR, choices=EXECUTORS,
                       help=f"onert executor of every run (default {DEFAULT_EXECUTOR}: onert 0.1.0's Linear executor "
                            "miscomputes model outputs that other ops also read)")  # fmt: skip
    group.add_argument("--input-range", metavar="LO,HI",
                       help="draw float inputs uniform in [LO, HI) (default: standard normal, or [0, 1) when the "
                            "model has SQRT, RSQRT, LOG or POW)")  # fmt: skip


def settings_from_args(args: argparse.Namespace):
    """The :class:`solver.deploy.verify.VerifySettings` of the options (it refuses bad values)."""
    from solver.deploy.verify import VerifySettings
    from solver.errors import UsageError

    input_range = None
    if args.input_range is not None:
        try:
            lo, hi = (float(x) for x in args.input_range.split(","))
        except ValueError:
            raise UsageError(f"--input-range takes LO,HI (two numbers), not {args.input_range!r}") from None
        input_range = (lo, hi)
    return VerifySettings(
        seed=args.seed, rtol=args.rtol, atol=args.atol, executor=args.executor,
        probe_package=getattr(args, "probe_package", False), input_range=input_range,
    )
