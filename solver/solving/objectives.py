"""One record per objective of a problem, so that a new objective is one row of that problem's table.

Light on purpose (no solver import): the commands read the tables for their choices and help at start-up.
A problem's table (``solver/<problem>/objectives.py``) holds records whose functions take the problem's own
metrics, CP-SAT model builder and problem; they import nothing heavy until called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Objective:
    """An objective: its word on the command line, its metric (the JSON key of its value), what it counts (the
    help's words), how it is evaluated on the problem's metrics, how it is modelled on the problem's CP-SAT model
    builder, and a proven lower bound from the problem alone (None: none better than 0)."""

    name: str
    metric: str
    help: str
    evaluate: Callable[[Any], int]  # metrics -> value
    # model builder -> the expression minimised (for the objective itself: the constraints that bind the builder's
    # objective variable); None when the problem's search models it (the partition's bisection)
    model: Callable[[Any], Any] | None
    bound: Callable[..., int] | None = None  # problem (as the table says) -> lower bound
    secondary: bool = False  # minimised after the objective (--secondary), not as it


def table(*objectives: Objective) -> dict[str, Objective]:
    """Name -> record, in the order given."""
    return {o.name: o for o in objectives}


def primaries(objectives: Mapping[str, Objective]) -> tuple[str, ...]:
    """The names of the objectives that may be the objective."""
    return tuple(name for name, o in objectives.items() if not o.secondary)


def secondaries(objectives: Mapping[str, Objective]) -> tuple[str, ...]:
    """The names of the secondary objectives."""
    return tuple(name for name, o in objectives.items() if o.secondary)


def described(objectives: Iterable[Objective], joined: str) -> str:
    """``cut (edge cut) and/or bytes (transfer bytes)``: each name with its help, for a command's help text."""
    return joined.join(f"{o.name} ({o.help})" for o in objectives)
