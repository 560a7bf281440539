"""The HTML report of ``solve show``, ``partition --html`` and ``place --html``: its path checked before the
work, the page written after it."""

from __future__ import annotations

import sys
from pathlib import Path

from solver.errors import UsageError


def check_html_path(path: Path) -> None:
    """Refuse a directory as the report file before any work (the report is written after the solve)."""
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; --html takes the file to write")


def show_html(path: Path, view) -> None:
    """Write the report of ``view`` (for partition --html and place --html) and say so on stderr (with --json,
    stdout holds one JSON document)."""
    from solver.show.html import write_report

    write_report(path, view)
    print(f"wrote {path}", file=sys.stderr)
