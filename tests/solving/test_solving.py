"""The solving room: budgets, outcomes, the secondary-objective loop (real CP-SAT against brute force), the driver."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from solver.errors import UsageError
from solver.solving.budget import Budget
from solver.solving.cpsat import make_solver, solve_in_thread
from solver.solving.driver import ExactRun, Recipe, Start, drive
from solver.solving.options import ExactOptions
from solver.solving.outcome import FEASIBLE, HEURISTIC, INTERRUPTED_NOTE, OPTIMAL, gap, status_of
from solver.solving.secondary import SECONDARY_SHARE, minimize_in_order, primary

fractions = st.floats(min_value=0.0, max_value=1.0)


@given(seconds=st.floats(min_value=0.0, max_value=1e6), a=fractions, b=fractions, c=st.floats(0.0, 2e6))
def test_budgets_taken_from_a_budget_never_end_after_it(seconds, a, b, c):
    whole = Budget(seconds, start=100.0)
    for part in (whole.part(a), whole.reserve(b), whole.within(c), whole.part(a).reserve(b)):
        assert part.end <= whole.end + 1e-6
        assert part.seconds >= 0
    assert whole.part(a).end == pytest.approx(100.0 + a * whole.seconds)
    assert whole.reserve(b).end == pytest.approx(whole.end - b * whole.seconds)


def test_an_interrupt_marks_every_budget_of_the_solve():
    whole = Budget(10)
    first, later = whole.reserve(0.2), whole.part(0.5)
    inner = first.within(1)
    assert not any(b.interrupted for b in (whole, first, later, inner))
    inner.interrupt()
    assert all(b.interrupted for b in (whole, first, later, inner))


def test_guard_turns_ctrl_c_into_an_interrupt():
    budget = Budget(10)

    def step():
        raise KeyboardInterrupt

    assert budget.guard(step) is None and budget.interrupted
    assert Budget(10).guard(lambda x: x + 1, 1) == 2


def test_a_negative_budget_has_no_time_left():
    budget = Budget(-5)
    assert budget.seconds == 0 and budget.left() <= 0


def test_gap_and_status():
    assert gap(0, 0) == 0.0 and gap(100, 90) == pytest.approx(0.1) and gap(100, 100) == 0.0
    assert status_of(10, 10, improved=False) == OPTIMAL
    assert status_of(10, 9, improved=True) == FEASIBLE
    assert status_of(10, 9, improved=False) == HEURISTIC


def test_primary_keeps_a_share_per_secondary_objective():
    whole = Budget(10, start=0.0)
    assert primary(whole, ()).end == whole.end
    assert primary(whole, ("cut", "bytes")).end == pytest.approx(10 * (1 - 2 * SECONDARY_SHARE))


@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_minimize_in_order_is_lexicographic(data):
    """Three small integers under random linear constraints; two objectives minimised in order, against brute force."""
    coefficients = data.draw(st.lists(st.integers(-3, 3), min_size=6, max_size=6))
    rhs = data.draw(st.integers(0, 9))  # sum(x) <= 9 always holds: every rhs has a solution
    model = cp_model.CpModel()
    xs = [model.new_int_var(0, 3, f"x{i}") for i in range(3)]
    model.add(sum(xs) >= rhs)
    feasible = [p for p in itertools.product(range(4), repeat=3) if sum(p) >= rhs]
    first = lambda p: sum(c * v for c, v in zip(coefficients[:3], p))  # noqa: E731
    second = lambda p: sum(c * v for c, v in zip(coefficients[3:], p))  # noqa: E731
    start = feasible[0]
    objectives = [("first", lambda: sum(c * x for c, x in zip(coefficients[:3], xs))),
                  ("second", lambda: sum(c * x for c, x in zip(coefficients[3:], xs)))]

    def hint(answer):
        model.clear_hints()
        for x, v in zip(xs, answer):
            model.add_hint(x, v)

    budget = Budget(20)
    answer, statuses = minimize_in_order(
        model, objectives, start, hint=hint, read=lambda solver: tuple(solver.value(x) for x in xs),
        solve=lambda m, limit: solve_in_thread(make_solver(limit, 1), m, budget=budget), budget=budget)
    best = min(feasible, key=lambda p: (first(p), second(p)))
    assert (first(answer), second(answer)) == (first(best), second(best))
    assert statuses == {"first": OPTIMAL, "second": OPTIMAL}


def _recipe(run):
    return Recipe(lambda budget: Start("greedy", [0, 1], 7, 5), lambda start, budget: run,
                  "the value may exceed its optimum", lambda statuses: ", ".join(statuses))


def test_the_driver_without_the_exact_solver_keeps_the_heuristic():
    driven = drive(_recipe(None), ExactOptions(), Budget(1))
    assert (driven.answer, driven.status, driven.bound, driven.exact, driven.notes) == ([0, 1], HEURISTIC, 5, None, [])


def test_the_driver_writes_the_standard_notes_in_order():
    run = ExactRun([1, 1], FEASIBLE, 6, 0.5, True, None, {"cut": OPTIMAL}, ["scaled"], workers=2)
    driven = drive(_recipe(run), ExactOptions(exact=True, secondary=("cut",), slack=0.1), Budget(1))
    assert (driven.answer, driven.status, driven.bound) == ([1, 1], FEASIBLE, 6)
    assert driven.notes == ["scaled", "exact solver: 2 workers, 0.50 s, status FEASIBLE",
                            "secondary objectives cut minimised with slack 0.1: the value may exceed its optimum by "
                            "that fraction (cut)", INTERRUPTED_NOTE]
    skipped = drive(_recipe("exact solver not run: no time"), ExactOptions(exact=True), Budget(1))
    assert skipped.status == HEURISTIC and skipped.notes == ["exact solver not run: no time"]


def test_the_driver_says_how_the_solver_ran_and_its_later_notes_after_its_own():
    # Offloading's note: its part slots before the status, what its bound means after the note.
    run = ExactRun([1, 1], FEASIBLE, 6, 0.25, False, None, how="3 part slots", notes_after=["the bound is ..."])
    driven = drive(Recipe(lambda budget: Start("greedy", [0, 1], 7, 0), lambda start, budget: run),
                   ExactOptions(exact=True), Budget(1))  # fmt: skip
    assert driven.notes == ["exact solver: 0.25 s, 3 part slots, status FEASIBLE", "the bound is ..."]


def test_exact_options_refuse_in_the_same_words_for_every_problem():
    class Options(ExactOptions):
        secondary_objectives = ("cut",)

    with pytest.raises(UsageError, match="unknown secondary objective 'bytes'; choose from cut"):
        Options(secondary=("bytes",)).check_exact()
    with pytest.raises(UsageError, match="need the exact solver"):
        Options(secondary=("cut",)).check_needs_exact()
    with pytest.raises(UsageError, match="time limit"):
        Options(time_limit=0).check_exact()
