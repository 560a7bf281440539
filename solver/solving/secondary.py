"""Secondary objectives, minimised lexicographically after the objective on one CP-SAT model.

The caller builds the model with its objective capped (at the best found, raised by the slack). Each secondary
objective in turn is then minimised, the re-solve hinted with the answer so far; its best value found is added
as a constraint before the next one, so that a later objective never undoes an earlier one. Each objective gets
an equal share of what is left of the budget; ``SECONDARY_SHARE`` of the whole time limit per objective is
kept for them (:func:`primary`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ortools.sat.python import cp_model

from solver.solving.budget import Budget
from solver.solving.cpsat import Solve
from solver.solving.outcome import FEASIBLE, OPTIMAL

SECONDARY_SHARE = 0.2  # of the time limit, kept for each secondary objective

Answer = TypeVar("Answer")


def primary(budget: Budget, secondary: Sequence[str]) -> Budget:
    """The part of ``budget`` for the objective itself: all but ``SECONDARY_SHARE`` per secondary objective."""
    return budget.reserve(SECONDARY_SHARE * len(secondary))


def minimize_in_order(
    model: cp_model.CpModel,
    objectives: Sequence[tuple[str, Callable[[], object]]],
    answer: Answer,
    *,
    hint: Callable[[Answer], None],
    read: Callable[[cp_model.CpSolver], Answer],
    solve: Callable[[cp_model.CpModel, float], Solve],
    budget: Budget,
) -> tuple[Answer, dict[str, str]]:
    """Minimise ``objectives`` (name, builder of its linear expression on ``model``) in order, from ``answer``.

    ``hint(answer)`` replaces the model's hints with an answer, ``read(solver)`` reads one from a solution,
    ``solve(model, seconds)`` runs CP-SAT (interrupting ``budget`` on Ctrl-C). Returns the last answer and, per
    objective name, ``OPTIMAL`` (its minimum proven) or ``FEASIBLE``; an interrupt (Ctrl-C, anywhere in the loop)
    ends it with what it has.
    """
    statuses: dict[str, str] = {}
    try:
        for i, (name, build) in enumerate(objectives):
            expression = build()
            model.minimize(expression)
            hint(answer)
            done = solve(model, budget.left() / (len(objectives) - i))
            if done.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                answer = read(done.solver)
                model.add(expression <= round(done.solver.objective_value))
            statuses[name] = OPTIMAL if done.status == cp_model.OPTIMAL else FEASIBLE
            if budget.interrupted:
                break
    except KeyboardInterrupt:  # outside a solve, say while an objective is modelled: keep what was found
        budget.interrupt()
    return answer, statuses
