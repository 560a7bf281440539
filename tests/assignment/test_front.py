"""Fronts, indicators against a fixed reference point, choosing a point, plotting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.errors import InfeasibleError, UsageError
from solver.assignment.front import (
    Pick,
    TruePoint,
    hypervolume,
    igd_plus,
    non_dominated,
    parse_pick,
    pick_measured,
    pick_point,
    plot_front,
    reference_point,
)


def _dominated_by_definition(points: np.ndarray) -> list[int]:
    keep = []
    for i, p in enumerate(points):
        if not any((q <= p).all() and (q < p).any() for q in points):
            keep.append(i)
    return keep


@given(st.lists(st.tuples(st.integers(1, 8), st.integers(1, 8)), min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_non_dominated_matches_the_definition(raw):
    points = np.array(raw, dtype=float)
    assert sorted(non_dominated(points)) == _dominated_by_definition(points)


def test_hypervolume_in_units_of_the_reference_box():
    reference = np.array([10.0, 100.0])
    assert hypervolume(np.array([[5.0, 50.0]]), reference) == pytest.approx(0.25)
    assert hypervolume(np.array([[5.0, 50.0], [2.0, 80.0]]), reference) == pytest.approx(0.25 + 0.3 * 0.2)
    assert hypervolume(np.empty((0, 2)), reference) == 0.0


def test_reference_point_is_ten_percent_beyond_the_worst_valid_point():
    assert reference_point(np.array([[1.0, 9.0], [4.0, 2.0]])).tolist() == pytest.approx([4.4, 9.9])
    with pytest.raises(InfeasibleError, match="no valid configuration"):
        reference_point(np.empty((0, 2)))


def test_igd_plus_is_zero_on_the_true_front_and_grows_with_distance():
    true_front = np.array([[1.0, 4.0], [2.0, 2.0], [4.0, 1.0]])
    reference = np.array([5.0, 5.0])
    assert igd_plus(true_front, true_front, reference) == 0.0
    worse = igd_plus(true_front[[0]], true_front, reference)
    assert worse > igd_plus(true_front[[0, 1]], true_front, reference) > 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("fastest", Pick("time")),
        ("smallest", Pick("memory")),
        ("memory<=80MB", Pick("time", "memory", 80 * 1024)),
        ("memory <= 70000", Pick("time", "memory", 70000)),
        ("time<=50ms", Pick("memory", "time", 50)),
        ("time<0.2s", Pick("memory", "time", 200)),
    ],
)
def test_parse_pick(text, expected):
    assert parse_pick(text) == expected


@pytest.mark.parametrize(
    "text, message", [("quickest", "cannot read --pick 'quickest'"), ("memory<=3lb", "unit 'lb'")]
)
def test_parse_pick_refuses(text, message):
    with pytest.raises(UsageError, match=message):
        parse_pick(text)


def test_pick_point():
    front = np.array([[10.0, 90000.0], [20.0, 70000.0], [40.0, 60000.0]])
    assert pick_point(front, parse_pick("fastest")) == 0
    assert pick_point(front, parse_pick("smallest")) == 2
    assert pick_point(front, parse_pick("memory<=80MB")) == 1
    assert pick_point(front, parse_pick("time<=25ms")) == 1
    with pytest.raises(InfeasibleError, match="no point of the front has time <= 5 ms"):
        pick_point(front, parse_pick("time<=5ms"))


def test_plot_writes_a_png(tmp_path):
    evaluated = np.array([[10.0, 90000.0], [20.0, 70000.0], [30.0, 95000.0]])
    path = plot_front(tmp_path / "front.png", evaluated, evaluated[:2], evaluated[:2], title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Measured:
    point_id: int
    time_ms: float
    memory_kb: float
    runs: tuple[float, ...] = ()
    memories: tuple[float, ...] = ()


def test_pick_measured_names_every_point_the_runs_cannot_tell_apart_and_a_better_point_of_the_dump():
    fast = Measured(0, 10.0, 900.0, runs=(9.8, 10.0, 10.3))
    small = Measured(1, 30.0, 100.0, runs=(29.0, 30.0, 31.0))
    behind = Measured(2, 10.1, 950.0, runs=(9.9, 10.1, 10.4))  # not on the front, but its runs overlap fast's
    apart = Measured(3, 12.0, 800.0, runs=(11.8, 12.0, 12.2))  # told apart from fast
    front, valid = [fast, small, apart], [fast, small, behind, apart]
    picked = pick_measured(front, valid, Pick("time"))
    assert picked.chosen is fast and picked.candidates == [fast, behind] and not picked.decided
    assert picked.better is None
    within = pick_measured(front, valid, parse_pick("memory<=850KB"))  # behind breaks the bound: not a candidate
    assert within.chosen is apart and within.decided
    true = [TruePoint(7, 9.0, 990.0), TruePoint(1, 30.0, 100.0)]
    assert pick_measured(front, valid, Pick("time"), true).better == true[0]
    assert pick_measured(front, valid, Pick("memory"), true).better is None  # the search found the smallest
    single = [Measured(4, 5.0, 5.0), Measured(5, 5.0, 5.0), Measured(6, 5.0, 6.0)]  # single figures: equal ties
    assert [e.point_id for e in pick_measured(single[:1], single, Pick("time")).candidates] == [4, 5]
    with pytest.raises(InfeasibleError, match="no point of the front"):
        pick_measured(front, valid, parse_pick("time<=1ms"))

