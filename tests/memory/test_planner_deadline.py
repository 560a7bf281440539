"""The planners' deadline: past it a simulation stops, and the memory terms and reports show the live-tensor peak
as the arena, a lower bound of every planner's, saying so (the memory report of a million-op graph within the
time limit)."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.memory import model
from solver.memory.calibration import MemoryModel
from solver.memory.lifetimes import backend_lifetimes, onert_order
from solver.memory.parts import parts_memory
from solver.memory.planner import PLANNERS, Lifetimes, PlanningStopped, arena_bytes, live_peak
from solver.memory.report import parts_text
from tests.memory.test_memory_arrays import graphs

PAST = 0.0  # a time.monotonic() reading long gone


def test_a_simulation_past_its_deadline_stops():
    lives = Lifetimes([0, 1], np.array([5, 7]), np.array([0, 1]), np.array([2, 3]))
    for planner in PLANNERS:
        with pytest.raises(PlanningStopped):
            arena_bytes(lives, planner, deadline=PAST)
        assert arena_bytes(lives, planner, deadline=time.monotonic() + 60) == arena_bytes(lives, planner)


@settings(max_examples=150, deadline=None)
@given(graphs(), st.sampled_from(PLANNERS), st.data())
def test_terms_past_the_deadline_bound_the_arena_from_below(graph, planner, data):
    n = len(graph.ops)
    backend_of = data.draw(st.lists(st.sampled_from(["cpu", "ruy"]), min_size=n, max_size=n))
    full = model.memory_terms(graph, backend_of, planner)
    assert model.memory_terms(graph, backend_of, planner, deadline=time.monotonic() + 60) == full
    bounded = model.memory_terms(graph, backend_of, planner, deadline=PAST)
    order = onert_order(graph)
    peaks = {b: live_peak(backend_lifetimes(graph, order, backend_of, b)) for b in full.arena}
    assert bounded.arena == peaks
    if planner != "FirstFit" or all(graph.sizes.values()):  # FirstFit's zero-size replacement overlaps tensors
        assert all(bounded.arena[b] <= full.arena[b] for b in full.arena)  # a lower bound of the planner's arena
    assert bounded.arena_lower_bound == any(len(backend_lifetimes(graph, order, backend_of, b)) for b in full.arena)
    # every other term is the simulation's
    assert replace(bounded, arena=full.arena, arena_lower_bound=False) == full


@settings(max_examples=60, deadline=None)
@given(graphs(), st.data())
def test_a_report_past_its_deadline_says_which_parts_are_bounds(graph, data):
    n = len(graph.ops)
    split = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    planned = MemoryModel("planner", "test")
    full = parts_memory(graph, split, 3, planned)
    late = parts_memory(graph, split, 3, planned, deadline=PAST)
    assert full.bounded == [] and full.notes == [] and "note:" not in parts_text(full)
    assert parts_memory(graph, split, 3, planned, deadline=time.monotonic() + 60).terms == full.terms
    assert late.bounded == [k for k, t in enumerate(late.terms) if t.arena_lower_bound]
    assert all(p <= q for p, q in zip(late.predicted, full.predicted))  # WIC's arena: live tensors kept apart
    text, as_json = parts_text(late), late.to_json()
    for k in range(3):
        line = next(x for x in text.splitlines() if x.startswith(f"  part {k}:"))
        assert line.startswith(f"  part {k}: >= ") == (k in late.bounded)
        assert as_json["parts"][k]["terms"]["arena_lower_bound"] == (k in late.bounded)
    if late.bounded:
        assert len(late.notes) == 1 and f"for {3 - len(late.bounded)} of 3 parts" in late.notes[0]
        assert as_json["notes"] == late.notes and f"note: {late.notes[0]}" in text
    # the upper model has no arena term: nothing it shows is a bound
    assert parts_memory(graph, split, 3, MemoryModel("upper", "test"), deadline=PAST).bounded == []


@settings(max_examples=40, deadline=None)
@given(graphs(), st.data())
def test_parts_are_simulated_largest_lower_bound_first(graph, data):
    """Before its deadline the report simulates the parts whose lower bound is largest first (the largest part's
    memory is what a cap caps): the bounds of the parts in the order they are simulated never increase."""
    n = len(graph.ops)
    split = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    simulated = []
    original = model.memory_terms

    def recording(part, *args, deadline=None):
        if deadline is not None and deadline > PAST:
            simulated.append(sum(original(part, *args, deadline=PAST).arena.values()))
        return original(part, *args, deadline=deadline)

    model.memory_terms = recording
    try:
        terms = model.parts_terms(graph, split, 4, deadline=time.monotonic() + 60)
    finally:
        model.memory_terms = original
    assert simulated == sorted(simulated, reverse=True)
    assert terms == model.parts_terms(graph, split, 4)


@settings(max_examples=30, deadline=None)
@given(graphs(), st.data())
def test_the_parts_lower_bounds_stop_when_they_would_end_past_their_time(graph, data):
    """The parts' lower bounds (the pass before any simulation, seconds at 10^7 ops) are bounded too: past
    ``bounds_by`` the report stops (the command then leaves it out and says so); with time the terms are the same."""
    n = len(graph.ops)
    split = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    with pytest.raises(PlanningStopped):
        model.parts_terms(graph, split, 3, deadline=PAST, bounds_by=PAST)
    later = time.monotonic() + 60
    assert model.parts_terms(graph, split, 3, deadline=later, bounds_by=later) == model.parts_terms(graph, split, 3)


def test_the_lower_bounds_stop_at_the_pace_of_the_parts_done():
    """Work whose pace so far ends it after its end time is stopped before it gets there."""
    began = time.monotonic() - 1.0  # a second for the first tenth: nine more to go
    assert model._ends_after(began, 10, 100, time.monotonic() + 5)
    assert not model._ends_after(began, 10, 100, time.monotonic() + 30)
    assert not model._ends_after(time.monotonic(), 0, 100, time.monotonic() + 1)  # no pace yet: go on
    assert model._ends_after(time.monotonic(), 0, 100, PAST)
