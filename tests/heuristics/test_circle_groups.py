"""heuristics.circle_groups: circle-partitioner's grouping, on ONE's own example and random DAGs."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from heuristics.circle_groups import circle_groups


@st.composite
def labelled_dags(draw, max_ops=9):
    """Ops 0..n-1 in a topological order, each reading earlier ops, a graph input or both, with backends."""
    n = draw(st.integers(1, max_ops))
    preds = [sorted(draw(st.sets(st.integers(0, v - 1), max_size=3))) if v else [] for v in range(n)]
    reads_input = [draw(st.booleans()) or not preds[v] for v in range(n)]
    group = [draw(st.sampled_from("ab")) for _ in range(n)]
    return preds, group, reads_input


@settings(max_examples=200, deadline=None)
@given(labelled_dags())
def test_the_parts_cover_every_op_once_each_of_one_backend(case):
    preds, group, reads_input = case
    parts = circle_groups(preds, group, reads_input, "a")
    assert sorted(v for ops in parts for v in ops) == list(range(len(group)))
    assert all(len({group[v] for v in ops}) == 1 for ops in parts)


@settings(max_examples=200, deadline=None)
@given(labelled_dags())
def test_on_one_backend_every_connected_piece_is_one_part(case):
    preds, _, reads_input = case
    graph = nx.Graph()
    graph.add_nodes_from(range(len(preds)))
    graph.add_edges_from((u, v) for v, ps in enumerate(preds) for u in ps)
    parts = circle_groups(preds, ["a"] * len(preds), reads_input, "a")
    assert sorted(map(sorted, parts)) == sorted(sorted(c) for c in nx.connected_components(graph))


def test_part_sqrt_rsqrt_add_002_with_sqrt_on_acl_cl():
    # ONE's Part_Sqrt_Rsqrt_Add_002: r0 = Rsqrt(ifm), s1 = Sqrt(r0) on acl_cl, r2 = Rsqrt(r0), r3 = Rsqrt(s1),
    # r4 = Rsqrt(r2), a5 = Add(r3, r4). r0 feeds the acl_cl Sqrt, so it absorbs nothing (is_output_same); r2
    # takes r4 and a5 (both of a5's inputs are cpu: is_input_same), then r3 takes that group. Merging a5 into a
    # group with r0 would have closed a cycle through the Sqrt (ONE issue #6230, November 2021).
    preds = [[], [0], [0], [1], [2], [3, 4]]
    group = ["cpu", "acl_cl", "cpu", "cpu", "cpu", "cpu"]
    parts = circle_groups(preds, group, [True] + [False] * 5, "cpu")
    assert parts == [[0], [1], [2, 3, 4, 5]]


@settings(max_examples=300, deadline=None)
@given(labelled_dags())
def test_the_parts_always_form_an_acyclic_session_graph(case):
    preds, group, reads_input = case
    parts = circle_groups(preds, group, reads_input, "a")
    part_of = {v: i for i, ops in enumerate(parts) for v in ops}
    sessions = nx.DiGraph()
    sessions.add_nodes_from(range(len(parts)))
    sessions.add_edges_from((part_of[u], part_of[v]) for v, ps in enumerate(preds) for u in ps
                            if part_of[u] != part_of[v])
    assert nx.is_directed_acyclic_graph(sessions)


def test_a_merge_that_would_close_a_cycle_through_a_same_backend_group_is_skipped():
    # 0 (backend x) feeds 1 and 2; 1 -> 2 -> 3 and 1 -> 3, all three on a. 2 reads x, so it stays alone; both of
    # ONE's tests would let {1} absorb 3 (3's inputs are all a), closing {1, 3} -> {2} -> {1, 3}. 2 takes 3 instead.
    parts = circle_groups([[], [0], [0, 1], [1, 2]], ["x", "a", "a", "a"], [True, False, False, False], "x")
    assert parts == [[0], [1], [2, 3]]
