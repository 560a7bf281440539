"""The spine bound (solver.placement.spine) against brute force: never above the optimum, and the prefix search it
prunes still finds the optimum, on small random graphs and on seed 002-like networks (identical devices, links
by distance, memory caps)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.errors import CheckError, PlatformError
from solver.io.platform import DeviceSpec, Link, Platform, seed002_bandwidth
from solver.placement.bounds import contraction_bound, lower_bound
from solver.placement.greedy import greedy_placement
from solver.placement.metrics import evaluate
from solver.placement.prefixes import prefix_search
from solver.placement.problem import placement_problem
from solver.placement.spine import Laying, spine, spine_bound
from solver.problem import PartitionProblem
from solver.solving.budget import Budget
from tests.placement.test_placement import brute_force, instances, placeable


@st.composite
def residual_networks(draw, ops=(3, 7), devices=(3, 5), tight=False):
    """A chain of ops with skip edges (residual blocks), tensors of a few sizes, and identical devices with
    positions, seed 002's bandwidth law and one memory cap: what makes seed 002's placements hard, in small.
    ``tight``: tensors of two near sizes and constants that fill a device, so memory forces many parts and the
    fastest links cannot carry all the hops."""
    n = draw(st.integers(*ops))
    graph = nx.DiGraph(name="res")
    for v in range(n):
        constants = {f"c{v}": draw(st.sampled_from([3000, 5000]) if tight else st.integers(0, 3000))}
        graph.add_node(v, weight=draw(st.sampled_from([0, 0, 5, 40])), type="ADD", constants=constants)
    size = [draw(st.sampled_from([2000, 2500] if tight else [100, 2000, 6000, 20000])) for _ in range(n)]
    for v in range(n - 1):
        graph.add_edge(v, v + 1, tensors={f"t{v}": size[v]}, bytes=size[v])
        skip = draw(st.integers(0, 3))
        if skip >= 2 and v + skip < n:
            graph.add_edge(v, v + skip, tensors={f"t{v}": size[v]}, bytes=size[v])
    caps = [10000, 14000] if tight else [None, 8000, 12000, 20000, 40000]
    return _on_a_seed002_network(draw, graph, "res", devices, caps)


@st.composite
def branchy_networks(draw, devices=(3, 4)):
    """An inception-like block: an op whose output fans out to two or three branches of one or two ops, joined by
    one op, maybe with an op before and after; tensors of a few sizes, seed 002's devices (as residual_networks).
    A hop's cut here is several tensors with readers apart, which relays may take (solver.placement.spine.Cut)."""
    graph = nx.DiGraph(name="branchy")
    size: dict[int, int] = {}

    def op(v: int) -> None:
        graph.add_node(v, weight=draw(st.sampled_from([0, 0, 5, 40])), type="ADD",
                       constants={f"c{v}": draw(st.integers(0, 3000))})  # fmt: skip
        size[v] = draw(st.sampled_from([100, 2000, 6000, 20000]))

    def edge(u: int, v: int) -> None:
        graph.add_edge(u, v, tensors={f"t{u}": size[u]}, bytes=size[u])

    before = draw(st.booleans())
    op(0)
    if before:
        op(1)
        edge(0, 1)
    head = len(graph) - 1
    lengths = draw(st.sampled_from([(1, 1), (1, 2), (2, 2), (1, 1, 1)]))
    ends = []
    for length in lengths:
        prev = head
        for _ in range(length):
            v = len(graph)
            op(v)
            edge(prev, v)
            prev = v
        ends.append(prev)
    join = len(graph)
    op(join)
    for end in ends:
        edge(end, join)
    if not before and draw(st.booleans()):
        op(join + 1)
        edge(join, join + 1)
    return _on_a_seed002_network(draw, graph, "branchy", devices, [None, 8000, 12000, 20000, 40000])


def _on_a_seed002_network(draw, graph: nx.DiGraph, name: str, devices: tuple[int, int], caps: list):
    """``graph``'s placement problem on a drawn seed 002 network: identical nodes (one drawn memory cap) at drawn
    positions, each link's bandwidth falling with distance by seed 002's law."""
    D = draw(st.integers(*devices))
    cap = draw(st.sampled_from(caps))
    positions = [(draw(st.integers(1, 150)), draw(st.integers(1, 150))) for _ in range(D)]
    specs = tuple(DeviceSpec(f"d{d}", memory=cap) for d in range(D))
    links = {(f"d{a}", f"d{b}"): Link(seed002_bandwidth(max(math.dist(positions[a], positions[b]), 1.0)), 0)
             for a, b in itertools.permutations(range(D), 2)}  # fmt: skip
    platform = Platform(Path("p.json"), specs, links, None)
    return placement_problem(PartitionProblem(graph=graph, name=name, source=Path(f"{name}.json")), platform)


def _either(draw_instance):
    return draw_instance if not isinstance(draw_instance, tuple) else placeable(draw_instance)


def _solved(drawn):
    """(built instance, brute force's least throughput) of a drawn instance, or None when it is unplaceable."""
    built = _either(drawn)
    expected = None if built is None else brute_force(built, "throughput")
    return None if expected is None else (built, expected)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(instances(), instances(ops=(4, 6), devices=(4, 5)), residual_networks(),
                 residual_networks(tight=True), branchy_networks()))
def test_the_spine_is_laid_below_every_placement_and_its_bound_never_passes_the_optimum(drawn):
    solved = _solved(drawn)
    if solved is None:
        return
    built, expected = solved
    # The optimum lays the spine (module docstring), so the laying's search must find one below optimum + 1.
    assert Laying(built, spine(built), Budget(60)).fits(expected + 1)
    big = expected * 4 + 100
    assert spine_bound(built, 0, big) <= expected
    assert lower_bound(built, "throughput", big) <= expected
    assert lower_bound(built, "latency", big) <= brute_force(built, "latency")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(instances(ops=(4, 6), devices=(4, 5)), residual_networks(devices=(3, 6)),
                 residual_networks(devices=(4, 6), tight=True), branchy_networks()),
       st.lists(st.floats(0.5, 1.2), min_size=1, max_size=6))  # fmt: skip
def test_a_failed_laying_s_threshold_never_passes_the_optimum_even_with_failures_kept_across_bounds(drawn, shares):
    # One laying asked at several bounds in any order (its failures kept from one to the next): each failure's
    # threshold claims that no laying has every value below it, so a fresh laying (no failures kept) finds none
    # there either, and it is at most the optimum.
    solved = _solved(drawn)
    if solved is None:
        return
    built, expected = solved
    def laid(upper: int) -> bool:  # a fresh laying: no failures kept, no thresholds used
        return Laying(built, spine(built), Budget(60)).fits(upper)

    least = least_true(1, expected + 1, laid)
    laying = Laying(built, spine(built), Budget(60))
    for share in shares:
        upper = max(int(least * share), 1)
        failed = laying.threshold(upper)
        assert (failed is None) == laid(upper)
        assert failed is None or upper <= failed < least <= expected + 1
    assert laying.threshold(expected + 1) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(instances(ops=(4, 6), devices=(4, 5)), residual_networks(devices=(3, 6)),
                 residual_networks(devices=(4, 6), tight=True), branchy_networks()),
       st.lists(st.floats(0.5, 1.2), min_size=1, max_size=6), st.data())  # fmt: skip
def test_a_failed_completion_s_threshold_never_passes_the_least_bound_at_which_it_completes(drawn, shares, data):
    # The prefix search asks whether the spine completes after a placed spine op (on a drawn device, other
    # devices taken); a failure's threshold claims that no completion has every value below it, so a fresh laying
    # (no failures kept) completes at no bound up to it. One laying is asked at several bounds in any order.
    solved = _solved(drawn)
    if solved is None:
        return
    built = solved[0]
    D, last = len(built.devices), len(spine(built).ops) - 1
    position = data.draw(st.integers(-1, max(last - 1, -1)))
    source = data.draw(st.integers(0, D - 1)) if position >= 0 else -1
    used = data.draw(st.integers(0, 2**D - 1)) | (1 << source if source >= 0 else 0)

    def completes(upper: int) -> bool:  # a fresh laying: no failures kept, no thresholds used
        laying = Laying(built, spine(built), Budget(60))
        laying.prepare(upper)
        return laying.completes(position, source, used) is None

    # The taken devices may leave no completion at any bound (then every threshold holds).
    big = 10**9
    least = least_true(1, big, completes) if completes(big) else math.inf
    laying = Laying(built, spine(built), Budget(60))
    for share in shares:
        upper = max(int(min(least, 10**5) * share), 1)
        laying.prepare(upper)
        failed = laying.completes(position, source, used)
        assert (failed is None) == completes(upper)
        assert failed is None or upper <= failed < least or failed == least == math.inf


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(instances(ops=(4, 6), devices=(4, 5)), residual_networks(devices=(3, 5)),
                 residual_networks(ops=(4, 6), devices=(4, 5), tight=True), branchy_networks()))  # fmt: skip
def test_the_segments_fit_below_every_placement_and_bound_it_on_their_own(drawn):
    # The optimum lays the spine, so each segment's hops lie on a simple path below optimum + 1: the segments'
    # bound alone (a laying whose search is never asked) never passes the optimum.
    solved = _solved(drawn)
    if solved is None:
        return
    built, expected = solved
    laying = Laying(built, spine(built), Budget(60))
    assert laying.segments_fit(expected + 1)
    assert least_true(0, expected * 4 + 100, lambda upper: laying.segments_fit(upper + 1)) <= expected


def test_a_segment_of_large_tensors_needs_a_simple_path_of_fast_links():
    # Four ops that each fill a device; hops of 1 MB, 1 MB and 0.1 MB. Fast links (100 MB/s) join a-b and b-c,
    # every other link is slow (1 MB/s). The first two hops need a simple path of three devices over links that
    # carry 1 MB below the bound: a-b-c, 10 ms each; the last hop then leaves c for d at 1 MB/s, 0.1 s. The
    # segments alone prove that 0.1 s, with no search of the laying, and fit just above it.
    graph = nx.DiGraph(name="four")
    sizes = [10**6, 10**6, 10**5]
    for v in range(4):
        graph.add_node(v, weight=0, type="ADD", constants={f"w{v}": 10**6})
    for v, nbytes in enumerate(sizes):
        graph.add_edge(v, v + 1, tensors={f"t{v}": nbytes}, bytes=nbytes)
    specs = tuple(DeviceSpec(name, memory=3 * 10**6 + 1000) for name in "abcd")  # one op each, not two
    links = {pair: Link(1e6, 0) for pair in itertools.permutations("abcd", 2)}
    for u, w in ["ab", "bc"]:
        links[u, w] = links[w, u] = Link(1e8, 0)
    platform = Platform(Path("p.json"), specs, links, None)
    built = placement_problem(PartitionProblem(graph=graph, name="four", source=Path("f.json")), platform)
    optimum = brute_force(built, "throughput")
    assert optimum == 10**5
    laying = Laying(built, spine(built), Budget(60))
    assert laying.segments_fit(optimum + 1) and not laying.segments_fit(optimum)
    assert laying.threshold(optimum) == optimum  # failed at once, before any state is searched
    assert laying.visits == 0
    assert spine_bound(built, 0, 10**6) == optimum


def least_true(low: int, high: int, holds) -> int:
    """The least value in ``low..high`` at which the monotone ``holds`` is true (it holds at ``high``)."""
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if holds(mid) else (mid + 1, high)
    return low


def _values(built) -> dict[tuple[int, ...], int]:
    """The throughput of every valid placement."""
    values = {}
    for assign in itertools.product(range(len(built.devices)), repeat=built.num_ops):
        try:
            values[assign] = evaluate(built, list(assign)).throughput
        except CheckError:
            continue
    return values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(residual_networks(ops=(3, 6), devices=(3, 5)), residual_networks(ops=(3, 6), devices=(3, 5), tight=True),
                 branchy_networks(devices=(3, 3))),
       st.sampled_from(["none", "greedy", "next best"]))  # fmt: skip
def test_the_prefix_search_pruned_by_the_spine_equals_brute_force_on_seed002_like_networks(built, start):
    # From the next best placement, every find(U) below it must keep the optimum: a wrong prune shows there.
    values = _values(built)
    expected = min(values.values(), default=None)
    worse = [(value, assign) for assign, value in values.items() if value > expected]
    if start == "next best" and worse:
        begin = list(min(worse)[1])
    else:
        begin = greedy_placement(built, "throughput") if start == "greedy" else None
    searched = prefix_search(built, begin, Budget(60))
    assert searched is not None and searched.complete
    if expected is None:
        assert searched.assign is None
    else:
        assert searched.value == expected == evaluate(built, searched.assign).throughput


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(residual_networks(ops=(3, 6)), residual_networks(ops=(3, 6), tight=True), branchy_networks()))
def test_out_of_time_the_greedy_still_places_and_the_contraction_bound_still_bounds(built):
    # A budget already over: the greedy keeps its first placement (valid, never below the optimum) and the
    # contraction bound answers what it proved, at most the bound it proves with time, at most the optimum.
    expected = brute_force(built, "throughput")
    full = greedy_placement(built, "throughput")
    hurried = greedy_placement(built, "throughput", until=Budget(0))
    assert (hurried is None) == (full is None)
    if hurried is not None:
        assert expected <= evaluate(built, full).throughput <= evaluate(built, hurried).throughput
    if expected is not None:
        big = expected * 4 + 100
        assert contraction_bound(built, big, Budget(0)) <= contraction_bound(built, big) <= expected


def test_a_chain_of_three_parts_cannot_use_the_one_fast_link_twice():
    # Three ops that each fill a device, one tensor of 1e6 bytes between consecutive ops; devices a-b joined by
    # a fast link, every other link slow. The contraction bound sends both tensors over the fast link; any
    # placement uses a slow one, and the spine bound knows it.
    graph = nx.DiGraph(name="three")
    for v in range(3):
        graph.add_node(v, weight=0, type="ADD", constants={f"w{v}": 1000})
    for v in range(2):
        graph.add_edge(v, v + 1, tensors={f"t{v}": 10**6}, bytes=10**6)
    specs = tuple(DeviceSpec(name, memory=1000 + 2 * 10**6) for name in "abc")
    links = {pair: Link(1e6, 0) for pair in itertools.permutations("abc", 2)}
    links["a", "b"] = links["b", "a"] = Link(1e8, 0)
    platform = Platform(Path("p.json"), specs, links, None)
    built = placement_problem(PartitionProblem(graph=graph, name="three", source=Path("t.json")), platform)
    optimum = brute_force(built, "throughput")
    assert optimum == 10**6  # one tensor over a slow link: 1 s
    assert contraction_bound(built, optimum) == 10**4  # over the fast link: 10 ms
    assert spine_bound(built, 0, optimum) == optimum


def test_a_relay_placed_before_the_next_spine_run_is_not_counted_again():
    # Op 0 writes x (to op 2, the spine's hop) and y (to op 1), op 1 writes z (to op 2); each op fills a device.
    # The least cut after op 0 (x with y or z, 1.4 s on the optimum's link) needs a relay below that: op 1 on the
    # third device. The prefix search meets that relay already placed when it asks whether the spine can still
    # be laid, and must not spend a fourth device on it.
    graph = nx.DiGraph(name="relay")
    for v in range(3):
        graph.add_node(v, weight=0, type="ADD", constants={f"w{v}": 1000})
    for u, w, name, nbytes in [(0, 2, "x", 10**6), (0, 1, "y", 4 * 10**5), (1, 2, "z", 16 * 10**5)]:
        graph.add_edge(u, w, tensors={name: nbytes}, bytes=nbytes)
    specs = tuple(DeviceSpec(name, memory=1000 + 26 * 10**5) for name in "abc")
    bandwidth = {"ab": 2e6, "ac": 1e6, "bc": 0.8e6}
    links = {(u, w): Link(bandwidth["".join(sorted(u + w))], 0) for u, w in itertools.permutations("abc", 2)}
    platform = Platform(Path("p.json"), specs, links, None)
    built = placement_problem(PartitionProblem(graph=graph, name="relay", source=Path("r.json")), platform)
    values = {tuple(p): evaluate(built, list(p)).throughput for p in itertools.permutations(range(3))}
    best = min(values.values())
    # Searched from the next best placement (1.25 s): below it, the optimum's hop after op 0 needs its relay.
    start = min((value, p) for p, value in values.items() if value > best)[1]
    assert brute_force(built, "throughput") == best == 10**6 and values[start] == 1_250_000
    assert spine(built).ops == [0, 2] and spine_bound(built, 0, values[start]) <= best
    searched = prefix_search(built, list(start), Budget(60))
    assert searched.complete and searched.value == best


def test_a_fan_of_tensors_cannot_be_split_over_relays():
    # Op 0 (filling a device with op 4's constant beside it: they cannot share one) writes x, 5 MB, read by three
    # branch ops, each writing 1 MB for op 4. The one fast link (a-b) carries the three branch tensors in 0.3 s;
    # taking the branches to other devices costs x over a slow link, and the branches' tensors, read by one op,
    # all cross to its device. A relaxation that splits a cut's bytes over relay links (or the cheapest tensor
    # on the fastest link: the contraction bound) says 0.1 s; the cut front, whose readers get whole tensors, knows.
    graph = nx.DiGraph(name="fan")
    weights = {0: 10**7, 1: 10, 2: 10, 3: 10, 4: 10**7}
    for v, constant in weights.items():
        graph.add_node(v, weight=0, type="ADD", constants={f"w{v}": constant})
    for branch in (1, 2, 3):
        graph.add_edge(0, branch, tensors={"x": 5 * 10**6}, bytes=5 * 10**6)
        graph.add_edge(branch, 4, tensors={f"t{branch}": 10**6}, bytes=10**6)
    specs = tuple(DeviceSpec(name, memory=19 * 10**6) for name in "abcd")
    links = {pair: Link(1e6, 0) for pair in itertools.permutations("abcd", 2)}
    links["a", "b"] = links["b", "a"] = Link(1e7, 0)
    platform = Platform(Path("p.json"), specs, links, None)
    built = placement_problem(PartitionProblem(graph=graph, name="fan", source=Path("f.json")), platform)
    optimum = brute_force(built, "throughput")
    assert optimum == 300_000  # ops 0-3 on a, op 4 on b: three tensors over the fast link
    assert contraction_bound(built, optimum) == 100_000
    assert spine_bound(built, 0, optimum) == optimum


class _Ticks(Budget):
    """A budget that ends at every ``every``-th look at the clock, as a busy machine may end a build anywhere."""

    def __init__(self, every: int):
        super().__init__(math.inf)
        self.every, self.looks = every, 0

    def passed(self) -> bool:
        self.looks += 1
        return self.looks % self.every == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(residual_networks(ops=(3, 9)), branchy_networks()), st.integers(2, 4))
def test_a_spine_built_in_steps_is_the_spine_built_at_once(built, every):
    # The build stops at its budget's end and the next call goes on from there: stopped anywhere, as often as
    # may be, it must make the same spine as a build in one go (on a fresh copy of the problem).
    ticks, tries = _Ticks(every), 0
    while (stepped := spine(built, ticks)) is None:
        tries += 1
        assert tries <= len(built.graph)  # each call builds a hop at least, at most one per spine op
    _assert_same_spine(stepped, spine(_afresh(built, built.platform)))
    assert spine(built, Budget(0)) is stepped  # once built, it is there whatever the budget


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(residual_networks(ops=(3, 9)), branchy_networks()), st.sampled_from([None, 9000, 30000]))
def test_problems_on_one_graph_share_its_spine_s_build_and_get_their_own_figures(built, memory):
    # The spine's path and fronts come from the graph alone and are built once for it; each problem on another
    # platform (other caps, a device fewer) must get the spine a build of its own would make.
    spine(built)
    specs = tuple(dataclasses.replace(d, memory=memory) for d in built.platform.devices[:-1] or built.platform.devices)
    other = dataclasses.replace(built.platform, devices=specs)
    try:
        shared = placement_problem(PartitionProblem(graph=built.graph, name="again", source=Path("a.json")), other)
    except PlatformError:
        return
    _assert_same_spine(spine(shared), spine(_afresh(built, other)))


def _afresh(built, platform):
    """``built``'s graph (a copy: a build of its own) on ``platform``."""
    return placement_problem(PartitionProblem(graph=built.graph.copy(), name="copy", source=Path("c.json")), platform)


def _assert_same_spine(ours, theirs) -> None:
    assert (ours.ops, ours.hop_tensor, ours.hop_cut, ours.hop_entry) == \
        (theirs.ops, theirs.hop_tensor, theirs.hop_cut, theirs.hop_entry)  # fmt: skip
    for mine, other in [(ours.memory, theirs.memory), (ours.compute, theirs.compute),
                        (ours.supported, theirs.supported)]:  # fmt: skip
        assert len(mine) == len(other) and all(np.array_equal(x, y) for x, y in zip(mine, other))
