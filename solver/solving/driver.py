"""The order every problem is solved in: heuristics, then the exact solver with the heuristic's answer as its hint
and bound (its secondary objectives after it), then the answer's standard notes.

A problem gives its own steps in a :class:`Recipe`: its heuristics (what they hand over, :class:`Start`), its
exact solve (:class:`ExactRun`, or a note saying why it did not run) and how it words its notes. The checker
runs in the problem's own code on the answer this returns, as the problem's result needs its metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from solver.solving.budget import Budget
from solver.solving.options import ExactOptions
from solver.solving.outcome import HEURISTIC, INTERRUPTED_NOTE, secondary_note, solver_note

Answer = TypeVar("Answer")


@dataclass
class Start(Generic[Answer]):
    """What the heuristics hand over: the heuristic that found it, its answer and value (None: none found) and a
    proven lower bound."""

    name: str
    answer: Answer | None
    value: int | None
    bound: int


@dataclass
class ExactRun(Generic[Answer]):
    """An exact solve as the driver reports it; ``result`` is the problem's own record of it."""

    answer: Answer
    status: str
    bound: int
    seconds: float
    interrupted: bool
    result: object
    secondary_status: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the solver's own (scaled weights, a probe left unbuilt, ...)
    workers: int | None = None  # said in the note when given
    how: str | None = None  # said in the note before the status when given (offload: its part slots)
    notes_after: list[str] = field(default_factory=list)  # said after the note (offload: what its bound means)


@dataclass
class Recipe(Generic[Answer]):
    """A problem's steps. ``heuristics(budget)`` runs its heuristics; ``exact(start, budget)`` its exact solver
    hinted and bounded by ``start``, or says in a note why it did not run; ``exceeds`` and ``proven`` word the
    secondary objectives' note (what the slack lets exceed its optimum; the statuses of
    ``ExactRun.secondary_status``; a problem without secondary objectives leaves them)."""

    heuristics: Callable[[Budget], Start[Answer]]
    exact: Callable[[Start[Answer], Budget], ExactRun[Answer] | str]
    exceeds: str = ""
    proven: Callable[[dict[str, str]], str] = str


@dataclass
class Driven(Generic[Answer]):
    """The answer (None only when the heuristics found none and the exact solver did not run), its status and
    proven bound, the exact solve (None when it did not run) and the notes."""

    answer: Answer | None
    status: str
    bound: int
    start: Start[Answer]
    exact: ExactRun[Answer] | None
    notes: list[str]


def drive(recipe: Recipe[Answer], options: ExactOptions, budget: Budget) -> Driven[Answer]:
    """Heuristics, then (with ``options.exact``) the exact solver from their answer, with the standard notes."""
    start = recipe.heuristics(budget)
    run = recipe.exact(start, budget) if options.exact else None
    if not isinstance(run, ExactRun):
        return Driven(start.answer, HEURISTIC, start.bound, start, None, [run] if run else [])
    notes = run.notes + [solver_note(run.seconds, run.status, workers=run.workers, how=run.how)] + run.notes_after
    if options.secondary:
        proven = recipe.proven(run.secondary_status)
        notes.append(secondary_note(options.secondary, options.slack, recipe.exceeds, proven))
    if run.interrupted:
        notes.append(INTERRUPTED_NOTE)
    return Driven(run.answer, run.status, run.bound, start, run, notes)
