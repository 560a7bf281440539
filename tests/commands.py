"""``solve`` command lines parsed in-process by the CLI's own parser, for tests that call a command's ``run``."""

from __future__ import annotations

import argparse

from solver.cli import build_parser, chosen_command


def parse_command(argv: list[str]) -> argparse.Namespace:
    """``solve ARGV``'s options as ``solve`` parses them (only the named command's module is imported)."""
    return build_parser(chosen_command(argv)).parse_args(argv)
