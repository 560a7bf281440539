"""The spine's relays for one hop, its two ends taken together (solver.placement.spine._paired, _paired_least,
Laying._fewer), against an exhaustive search of relay assignments: which free devices receive from the hop's
device d, which send to its next device e, and which device each of a cut's readers (or an entry's writers) sits on.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.placement import spine as spine_module
from solver.placement.spine import READERS, Laying, _paired, _paired_least, _ways, spine
from solver.solving.budget import Budget
from tests.placement.test_spine import _solved, branchy_networks, residual_networks

Figures = tuple[int, ...]  # a cut's bytes, then the union its readers read for each set of them (Cut.figures)


@st.composite
def fronts(draw) -> list[Figures]:
    """A hop's front of one or two cuts, each of a few tensors: w (reader 0) and READERS other readers each read
    some of them; the cut's bytes are all its tensors."""
    points = []
    for _ in range(draw(st.integers(1, 2))):
        sizes = draw(st.lists(st.sampled_from([0, 1, 2, 3, 5, 8]), min_size=1, max_size=4))
        reads = [draw(st.integers(0, 2 ** len(sizes) - 1)) for _ in range(READERS + 1)]
        union = [sum(size for i, size in enumerate(sizes) if any(reads[r] >> i & 1 for r in range(READERS + 1)
                                                                 if S >> r & 1))
                 for S in range(1, 2 ** (READERS + 1))]  # fmt: skip
        points.append((sum(sizes), *union))
    return points


def _points(front: list[Figures]):
    return [_ways(figures) for figures in front]


def _union(figures: Figures, readers: int) -> int:
    return figures[readers] if readers else 0  # figures[S] is union[S] for S >= 1


def _side_time(front: list[Figures], link: float, carries: list[float]) -> float:
    """The least time (seconds; or bytes-per-byte for capacities) at which the relays with links ``carries``
    (bandwidths) serve a side: every placement of the readers 1.. on e (with w) or on one of the relays, each
    device receiving its readers' union over its own link, every cut byte over the hop's link or a relay's."""
    best = math.inf
    spread = link + sum(carries)
    for figures in front:
        nbytes = figures[0]
        best = min(best, _time(nbytes, link))
        if not carries:
            continue
        for places in itertools.product(range(len(carries) + 1), repeat=READERS):  # 0: on e, r: on relay r - 1
            groups = [0] * (len(carries) + 1)
            groups[0] = 1
            for i, place in enumerate(places):
                groups[place] |= 1 << i + 1
            times = [_time(nbytes, spread), _time(_union(figures, groups[0]), link)]
            times += [_time(_union(figures, g), bw) for g, bw in zip(groups[1:], carries)]
            best = min(best, max(times))
    return best


def _time(nbytes: float, rate: float) -> float:
    return 0.0 if nbytes == 0 else nbytes / rate if rate > 0 else math.inf


def _exhaustive(leaving, entering, link, devices, placed) -> dict[int, float]:
    """Per number n of free devices among the relays (R_out | R_in over every pair of sets of the ``placed`` relays
    and free ``devices``, R_out linked from d, R_in into e), the least time at which some such pair serves both
    sides."""
    every = [*placed, *devices]
    outs = [r for r, (a, _) in enumerate(every) if a > 0]
    ins = [r for r, (_, b) in enumerate(every) if b > 0]
    least: dict[int, float] = {}
    for k in range(len(outs) + 1):
        for R_out in itertools.combinations(outs, k):
            t_out = _side_time(leaving, link, [every[r][0] for r in R_out])
            for j in range(len(ins) + 1):
                for R_in in itertools.combinations(ins, j):
                    n = len({r for r in (*R_out, *R_in) if r >= len(placed)})
                    t = max(t_out, _side_time(entering, link, [every[r][1] for r in R_in]))
                    least[n] = min(least.get(n, math.inf), t)
    return least


_LINKS = st.tuples(st.sampled_from([0, 1, 2, 4, 7]), st.sampled_from([0, 1, 2, 4, 7]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fronts(), fronts(), st.sampled_from([1, 2, 3, 5]), st.lists(_LINKS, max_size=5),
       st.one_of(st.just([]), st.lists(_LINKS, max_size=2)), st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]))  # fmt: skip
def test_a_hop_s_relays_serving_both_ends_are_the_fewest_of_an_exhaustive_search(leaving, entering, link, devices,
                                                                                   placed, seconds):
    # Bandwidths per device (its link from d, its link into e) and the hop's own, relays already placed (at no
    # cost); a bound of `seconds`: each link carries bandwidth x seconds bytes. The count equals the exhaustive
    # search's fewest free devices in a relay set serving both ends.
    least = _exhaustive(leaving, entering, link, devices, placed)
    serving = [n for n, t in least.items() if t <= seconds]
    none = len(devices) + 1
    expected = min(serving, default=none)
    carried = [(a * seconds, b * seconds) for a, b in devices]
    kept = [(a * seconds, b * seconds) for a, b in placed]
    assert _paired(_points(leaving), _points(entering), link * seconds, carried, none, kept) == expected
    # The least time at which at most r free relays serve: the exhaustive search's, over sets of at most r.
    for relays in range(len(devices) + 1):
        best = min((t for n, t in least.items() if n <= relays), default=math.inf)
        found = _paired_least(_points(leaving), _points(entering), link, devices, relays, placed)
        assert found == pytest.approx(best, rel=1e-12) or found == best == math.inf


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fronts(), fronts(), st.sampled_from([1, 2, 3, 5]), st.lists(_LINKS, min_size=1, max_size=5),
       st.one_of(st.just([]), st.lists(_LINKS, max_size=2)), st.sampled_from([0.5, 1.0, 2.0, 3.0]),
       st.integers(0, 5))  # fmt: skip
def test_past_max_pairings_the_count_and_the_time_stay_lower_bounds(leaving, entering, link, devices, placed, seconds,
                                                                      cap):
    # With few sets of relays allowed, _paired gives up at a count none smaller serves, and _paired_least takes the
    # two ends apart: never more relays, never a later time than the exhaustive search's (the documented bound).
    least = _exhaustive(leaving, entering, link, devices, placed)
    none = len(devices) + 1
    expected = min((n for n, t in least.items() if t <= seconds), default=none)
    carried = [(a * seconds, b * seconds) for a, b in devices]
    kept = [(a * seconds, b * seconds) for a, b in placed]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spine_module, "MAX_PAIRINGS", cap)
        count = _paired(_points(leaving), _points(entering), link * seconds, carried, none, kept)
        times = [_paired_least(_points(leaving), _points(entering), link, devices, relays, placed)
                 for relays in range(len(devices) + 1)]  # fmt: skip
    assert count <= expected
    for relays, found in enumerate(times):
        best = min((t for n, t in least.items() if n <= relays), default=math.inf)
        assert found <= best * (1 + 1e-12)


@pytest.mark.parametrize("cap", [0, 1, 2])
def test_past_max_pairings_one_relay_fast_both_ways_still_counts_as_one(cap):
    # Reader 1 of each end reads 4 bytes: the fastest link out of d (relay 0) and into e (relay 2) are two devices,
    # but relay 1 carries 4 bytes both ways. Past the cap the count must stay a lower bound (the count it gave up
    # at), not the fastest links' two devices; the time must stay no later than the exhaustive search's.
    front = [(4, *[4 if S & 0b10 else 0 for S in range(1, 2 ** (READERS + 1))])]
    devices = [(5.0, 1.0), (4.0, 4.0), (1.0, 5.0)]
    least = _exhaustive(front, front, 0.0, devices, [])
    expected = min(n for n, t in least.items() if t <= 1.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spine_module, "MAX_PAIRINGS", cap)
        assert _paired(_points(front), _points(front), 0.0, devices, 4) <= expected
        for relays in range(len(devices) + 1):
            best = min((t for n, t in least.items() if n <= relays), default=math.inf)
            assert _paired_least(_points(front), _points(front), 0.0, devices, relays) <= best * (1 + 1e-12)


def test_two_relays_cannot_serve_a_hop_whose_fast_links_out_and_in_share_one_device():
    # IRV2 10/256 transfer net 3's 2 -> 5 hop in small: d sends two readers 4 bytes each (fast links reach relays
    # 0 and 1), e receives from two writers 4 bytes each (fast links come from relays 1 and 2). Each end alone
    # needs 2 relays; together 3, since only relay 1 is fast both ways.
    leaving = [(8, 0, 4, 4, 4, 4, 8, 8, 4, 4, 8, 8, 4, 4, 8, 8)]  # readers 1 and 2 read 4 bytes each, w nothing
    entering = leaving
    devices = [(4.0, 1.0), (4.0, 4.0), (1.0, 4.0)]
    assert _paired(_points(leaving), _points(entering), 0.0, devices, 4) == 3
    assert _paired(_points(leaving), _points(entering), 0.0, [(4.0, 4.0)] * 3, 4) == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(residual_networks(ops=(4, 7), devices=(4, 6)), residual_networks(devices=(4, 6), tight=True),
                 branchy_networks(devices=(4, 4))),
       st.floats(0.05, 1.0), st.data())  # fmt: skip
def test_the_bound_at_which_a_hop_needs_a_relay_fewer_is_exact(drawn, share, data):
    # Laying._fewer: the largest bound at which the hop still needs more than r relays; one above needs at most r.
    # Some devices used may hold relays already placed (at no cost), as a completion's first hop has them.
    solved = _solved(drawn)
    if solved is None or len(spine(solved[0]).ops) < 2:
        return
    built, expected = solved
    laying = Laying(built, spine(built), Budget(60))
    upper = max(int(expected * share), 2)
    laying.prepare(upper)
    D, last = len(built.devices), len(spine(built).ops) - 1
    b = data.draw(st.integers(0, last - 1))
    a = data.draw(st.integers(0, b))
    d, e = data.draw(st.permutations(range(D)))[:2]
    used = data.draw(st.integers(0, 2**D - 1)) & ~(1 << e) | 1 << d
    placed = data.draw(st.integers(0, 2**D - 1)) & used & ~(1 << d)
    k, taken = min(b - a, 3), used | 1 << e
    needed = laying._needed_at(k, b, d, e, taken, upper, placed)
    for relays in range(needed):
        failed = laying._fewer(a, b, d, e, relays, used, placed)
        if failed == math.inf:
            assert laying._needed_at(k, b, d, e, taken, 10**12, placed) > relays
            continue
        assert failed >= upper and failed == int(failed)
        at, above = (laying._needed_at(k, b, d, e, taken, bound, placed) for bound in (int(failed), int(failed) + 1))
        assert at > relays >= above
