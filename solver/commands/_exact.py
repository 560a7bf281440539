"""The exact-solver options and the map output that ``solve partition`` and ``solve place`` share."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from solver.solving.objectives import Objective, described, secondaries
from solver.solving.outcome import gap


def add_exact_arguments(parser: argparse.ArgumentParser, objective: str,
                        table: Mapping[str, Objective]) -> argparse._ArgumentGroup:  # fmt: skip
    """``--exact``, ``--time-limit``, ``--workers``, ``--secondary`` and ``--slack``, in a group returned for more.

    ``objective`` names what the solver minimises ("the bottleneck"); ``table`` is the problem's objectives table,
    whose secondary objectives ``--secondary`` offers.
    """
    secondary = [table[name] for name in secondaries(table)]
    exact = parser.add_argument_group("exact solver")
    exact.add_argument("--exact", action="store_true",
                       help="solve exactly with OR-Tools CP-SAT; reports OPTIMAL, or FEASIBLE with the proven "
                            "bound and gap when the time limit stops it; Ctrl-C keeps the best so far")  # fmt: skip
    exact.add_argument("--quiet", action="store_true",
                       help="no progress line on stderr (by default a solve longer than a second shows its "
                            "incumbent, bound and time left)")  # fmt: skip
    exact.add_argument("--time-limit", type=float, default=60.0, metavar="T",
                       help="seconds for the whole search, heuristics included (default 60)")
    exact.add_argument("--workers", type=int, metavar="W", help="CP-SAT worker threads (default: all cores)")
    exact.add_argument("--secondary", default="", metavar=",".join(o.name for o in secondary),
                       help=f"after {objective}, also minimise these in order: {described(secondary, ' and/or ')}; "
                            "needs --exact")  # fmt: skip
    exact.add_argument("--slack", type=float, default=0.0, metavar="X",
                       help=f"let the secondary objectives raise {objective} by up to this fraction of its "
                            "optimum, e.g. 0.02 for 2%% (default 0); needs --exact")  # fmt: skip
    return exact


def secondary_names(args: argparse.Namespace) -> tuple[str, ...]:
    """``--secondary cut,bytes`` as a tuple (the settings check the names)."""
    return tuple(word.strip() for word in args.secondary.split(",") if word.strip())


def map_path(args: argparse.Namespace, *inputs: Path | None, name: str = "partition_map.json") -> Path:
    """Where the map goes: ``--out``, else ``name`` next to MODEL (the current directory without one, or for
    the bundled default model, whose directory belongs to the installed package). ``solve place`` names it
    ``placement_map.json``, so a placement and a partition of one model do not write over each other.

    Checked before any work (``solver.io.files.check_output``): a target that cannot be written, or MODEL, TRACE
    or one of ``inputs``, is refused at once, not after the solve.
    """
    from solver.io.files import check_output

    from solver.data import DATA_DIR

    beside = args.model.parent if args.model and args.model.resolve().parent != DATA_DIR.resolve() else Path.cwd()
    out = args.out or beside / name
    return check_output(out, inputs=(args.model, args.trace, *inputs))


def exact_progress(args: argparse.Namespace):
    """The progress of an exact solve (a ``solver.progress.Progress`` timed against the time limit).

    Silent without ``--exact`` or with ``--quiet``. Use::

        with exact_progress(args) as shown:
            partition(..., on_progress=shown.callback(bounds_text("bottleneck")))
    """
    from solver.progress import Progress

    return Progress("exact solve", total=args.time_limit, unit="s", quiet=args.quiet or not args.exact)


def bounds_text(what: str):
    """``describe(incumbent, bound)`` -> ``bottleneck 123, bound 120 (gap 2.4%)``: an exact solver's state."""

    def describe(incumbent: int, bound: int) -> str:
        return f"{what} {incumbent}, bound {bound} (gap {gap(incumbent, bound):.1%})"

    return describe
