"""``solve verify DIR``: run the whole model and the parts on the same inputs and compare the outputs."""

from __future__ import annotations

import argparse

from solver.commands._verify import add_verify_arguments, settings_from_args
from solver.errors import EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check that the parts of a split compute the whole model's outputs",
        description="Run the whole model and the parts of DIR (written by 'solve split') in order with onert (cpu) "
        "on the same seeded inputs, hand tensors along by name, and compare every model output: max absolute "
        "and relative difference against |diff| <= ATOL + RTOL * max|output|. Exit 4 on a mismatch.",
    )
    parser.add_argument("dir", help="a split directory (with split.json, <name>.conn.json, metadata/MANIFEST)")
    add_verify_arguments(parser)
    parser.add_argument("--probe-package", action="store_true",
                        help="also try to load DIR as one multi-model nnpackage in onert (in a child process; "
                             "onert 0.1.0 crashes on them) and say what happened")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON (schema nnpart.verify/1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.deploy.report import verify_text
    from solver.deploy.verify import check_verified, verify_split

    result = verify_split(args.dir, settings_from_args(args))
    if args.json:
        from solver.commands._output import print_json

        print_json("verify", result.to_json())
    else:
        print(verify_text(result))
    check_verified(result)
    return EXIT_OK
