"""The ``solve`` command line: a thin layer that parses options and calls the library.

Each subcommand lives in ``solver/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``run(args) -> int``. Errors of nnpart (``NnpartError`` and the
device and heuristic errors) become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from solver.errors import EXIT_INTERRUPTED, USER_ERRORS

COMMANDS = ("partition", "compare", "profile", "oplist", "brute_force", "pareto", "split", "verify", "pipeline")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="solve",
        description="Partition neural-network models into pipeline stages (exactly, with CP-SAT) and "
        "search backend assignments (Pareto fronts of time and memory).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"solver.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except USER_ERRORS as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return getattr(err, "exit_code", 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
