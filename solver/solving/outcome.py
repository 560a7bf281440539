"""What an answer to any of our problems (partition, place, offload) says about itself, and the notes it carries.

An answer has a value (the objective, lower is better) and a proven lower bound on the optimum. Its status:
``OPTIMAL`` when the bound meets the value (proven), ``FEASIBLE`` when the exact solver improved on the
heuristic without proving it, ``HEURISTIC`` when the answer is the heuristic's. The gap is how far the value
may be above the optimum, as a fraction of the value.
"""

from __future__ import annotations

from collections.abc import Sequence

OPTIMAL = "OPTIMAL"
FEASIBLE = "FEASIBLE"
HEURISTIC = "HEURISTIC"

INTERRUPTED_NOTE = "exact solver interrupted: the answer is the best found so far"


def gap(value: int, bound: int) -> float:
    """(value - bound) / value, 0 for a value of 0: the fraction by which ``value`` may exceed the optimum."""
    return (value - bound) / value if value else 0.0


def status_of(value: int, bound: int, improved: bool) -> str:
    """OPTIMAL when ``bound`` meets ``value``, else FEASIBLE when the exact solver ``improved`` on the heuristic,
    else HEURISTIC."""
    if bound >= value:
        return OPTIMAL
    return FEASIBLE if improved else HEURISTIC


def solver_note(seconds: float, status: str, *, workers: int | None = None, how: str | None = None) -> str:
    """``exact solver: [W workers, ]T s, [how, ]status S``: the note every exact answer carries."""
    said = ([f"{workers} workers"] if workers is not None else []) + [f"{seconds:.2f} s"]
    said += ([how] if how else []) + [f"status {status}"]
    return "exact solver: " + ", ".join(said)


def secondary_note(names: Sequence[str], slack: float, exceeds: str, proven: str) -> str:
    """The note on secondary objectives: which, with what slack, what the slack lets ``exceeds`` (``the bottleneck
    may exceed the proven optimum``), and ``proven``, whether each minimum was proven."""
    return (f"secondary objectives {', '.join(names)} minimised with slack {slack:g}: {exceeds} by that fraction "
            f"({proven})")
