"""The memory model: onert's planners simulated, tensor lifetimes in onert's order, the terms of a part."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.errors import UsageError
from solver.memory.lifetimes import Graph, OpTensors, backend_events, onert_order
from solver.memory.model import memory_terms, part_graph, parts_terms
from solver.memory.planner import CLAIM, PLANNERS, RELEASE, Event, live_peak, plan_memory, planner_for


def events(*steps) -> list[Event]:
    """("+", tensor, size) claims, ("-", tensor) releases."""
    return [Event(CLAIM, s[1], s[2]) if s[0] == "+" else Event(RELEASE, s[1]) for s in steps]


# a 100 and b 50 live together, then b and c 100, then c and d 30 (worked by hand in each test).
CHAIN = events(("+", 0, 100), ("+", 1, 50), ("-", 0), ("+", 2, 100), ("-", 1), ("+", 3, 30))
# a 50 and b 100, then b and c 60: first fit cannot reuse a's 50 bytes for c; WIC places by size first.
REUSE = events(("+", 0, 50), ("+", 1, 100), ("-", 0), ("+", 2, 60))


def test_bump_never_reuses():
    plan = plan_memory(CHAIN, "Bump")
    assert plan.capacity == 280 and plan.offsets == {0: 0, 1: 100, 2: 150, 3: 250}


def test_first_fit_by_hand():
    # a@0, b@100; a released; c fits before b at 0; b released; d: 30 does not fit before c@0, goes after it.
    plan = plan_memory(CHAIN, "FirstFit")
    assert plan.offsets == {0: 0, 1: 100, 2: 0, 3: 100} and plan.capacity == 150
    # a@0, b@50; a released; c (60) does not fit in [0, 50): after b, at 150.
    plan = plan_memory(REUSE, "FirstFit")
    assert plan.offsets == {0: 0, 1: 50, 2: 150} and plan.capacity == 210


def test_wic_by_hand():
    # Interference: a-b, b-c, c-d. By size: a 100, c 100 (claim order), b 50, d 30.
    # a@0; c@0 (b not placed yet); b after a and c: 100; d after c: 100.
    plan = plan_memory(CHAIN, "WIC")
    assert plan.offsets == {0: 0, 2: 0, 1: 100, 3: 100} and plan.capacity == 150
    # Interference a-b, b-c. b 100 @0; c 60 after b @100; a 50 after b @100: 160, the live peak.
    plan = plan_memory(REUSE, "WIC")
    assert plan.offsets == {1: 0, 2: 100, 0: 100} and plan.capacity == 160 == live_peak(REUSE)


def test_onert_falls_back_to_first_fit_for_unknown_names():
    assert planner_for(None) == "WIC" and planner_for("Bump") == "Bump" and planner_for("best") == "FirstFit"
    with pytest.raises(UsageError, match="unknown memory planner 'best'"):
        plan_memory(CHAIN, "best")


@st.composite
def lifetimes(draw) -> list[Event]:
    """Claims and releases of up to 8 tensors, each released at most once after its claim."""
    n = draw(st.integers(1, 8))
    sizes = draw(st.lists(st.integers(1, 64), min_size=n, max_size=n))
    pending = [("+", t) for t in range(n)]
    out, live = [], []
    while pending or live:
        options = ["claim"] * bool(pending) + ["release"] * bool(live) + ["stop"] * (not pending)
        choice = draw(st.sampled_from(options))
        if choice == "claim":
            t = pending.pop(0)[1]
            out.append(Event(CLAIM, t, sizes[t]))
            live.append(t)
        elif choice == "release":
            out.append(Event(RELEASE, live.pop(draw(st.integers(0, len(live) - 1)))))
        else:
            break
    return out


@settings(max_examples=150, deadline=None)
@given(lifetimes(), st.sampled_from(PLANNERS))
def test_arena_is_between_the_live_peak_and_the_sum_and_live_tensors_never_overlap(evs, planner):
    plan = plan_memory(evs, planner)
    total = sum(e.size for e in evs if e.kind == CLAIM)
    assert live_peak(evs) <= plan.capacity <= total
    live: set[int] = set()
    for e in evs:
        if e.kind == CLAIM:
            start, end = plan.offsets[e.tensor], plan.offsets[e.tensor] + e.size
            for o in live:
                assert end <= plan.offsets[o] or plan.offsets[o] + plan.sizes[o] <= start, (e, o, plan)
            live.add(e.tensor)
        else:
            live.discard(e.tensor)


def diamond() -> Graph:
    """x -> op0 -> t1 (8) -> op1 -> t2 (4) \\, t1 -> op2 -> t3 (2), (t2, t3) -> op3 -> y; w a constant of op0."""
    ops = (OpTensors(0, (10, 20), (1,)), OpTensors(1, (1,), (2,)), OpTensors(2, (1,), (3,)), OpTensors(3, (2, 3), (11,)))
    sizes = {10: 16, 20: 100, 1: 8, 2: 4, 3: 2, 11: 1}
    return Graph(ops, sizes, {}, frozenset({20}), (10,), (11,))


def test_onert_order_is_the_reverse_post_order_of_a_depth_first_search_from_the_last_op():
    # Started from op3, op2, op1, op0 in turn: post-order 3 2 1 0, reversed the file's order.
    assert onert_order(diamond()) == [0, 1, 2, 3]
    # Ops listed out of topological order (op0 reads what op1 writes): still a topological order.
    swapped = Graph((OpTensors(0, (1,), (2,)), OpTensors(1, (10,), (1,))), {10: 1, 1: 1, 2: 1}, {}, frozenset(), (10,), (2,))
    assert onert_order(swapped) == [1, 0]


def test_lifetimes_follow_plan_tensors():
    g = diamond()
    order = [0, 2, 1, 3]  # another topological order, so that t1's last reader is op1
    # Model input and output are external, the constant is not planned; t1 released after its last reader.
    assert backend_events(g, order, ["cpu"] * 4, "cpu") == events(
        ("+", 1, 8), ("+", 3, 2), ("+", 2, 4), ("-", 1), ("-", 2), ("-", 3))
    # Dataflow: every tensor claimed at the start, never released.
    assert backend_events(g, order, ["cpu"] * 4, "cpu", "Dataflow") == events(("+", 1, 8), ("+", 2, 4), ("+", 3, 2))
    # op1 on ruy: t1 (cpu's) is read by op2 still; t2 belongs to ruy, which never reads it: it lives to the end.
    mixed = ["cpu", "ruy", "cpu", "cpu"]
    assert backend_events(g, order, mixed, "ruy") == events(("+", 2, 4), ("-", 2))
    assert backend_events(g, order, mixed, "cpu") == events(("+", 1, 8), ("+", 3, 2), ("-", 1), ("-", 3))


def test_terms_of_the_whole_and_of_parts():
    g = diamond()
    whole = memory_terms(g)
    # In the file's order t1, t2 and t3 are all live when op2 runs (WIC: t1@0, t2@8, t3@12): 14; I/O 17;
    # constants 100; no convolution, so no workspace.
    assert whole.arena == {"cpu": 14} and whole.io == 17 and whole.constants == 100 and whole.planned == 131
    assert whole.upper == 100 + 14 + 17
    first, second = parts_terms(g, [0, 0, 1, 1], 2)
    # Part 0 = op0, op1: input x, outputs t1 (read by op2) and t2 (read by op3); nothing left in its arena.
    assert part_graph(g, [0, 1]).outputs == (1, 2) and first.arena == {"cpu": 0} and first.io == 16 + 8 + 4
    assert second.constants == 0 and second.io == 8 + 4 + 1 and second.arena == {"cpu": 2}


def test_im2col_workspace_of_convolutions():
    def conv(kernel: int, out: int) -> Graph:
        shapes = {0: (1, 8, 8, 3), 1: (4, kernel, kernel, 3), 2: (1, out, out, 4)}
        sizes = {t: 4 * s[0] * s[1] * s[2] * s[3] for t, s in shapes.items()}
        return Graph((OpTensors(0, (0, 1), (2,), "CONV_2D"),), sizes, shapes, frozenset({1}), (0,), (2,))

    assert memory_terms(conv(3, 8)).workspace == 8 * 8 * 3 * 9 * 4  # 3x3: im2col of every output pixel
    assert memory_terms(conv(1, 8)).workspace == 0  # 1x1, stride 1: the input is the matrix
    assert memory_terms(conv(1, 4)).workspace == 4 * 4 * 3 * 4  # 1x1, stride 2
    assert memory_terms(conv(3, 8)).planned == 4 * (192 + 108 + 256) + 8 * 8 * 3 * 9 * 4


def test_a_fit_recovers_the_terms_it_was_made_with():
    from solver.memory.calibration import MemoryCalibration, MemorySample, choose_model, fit_memory
    from solver.memory.model import MemoryTerms

    def sample(constants, arena, workspace, constant_scale=1.25) -> MemorySample:
        terms = MemoryTerms(constants, {"cpu": arena}, 10, workspace, arena)
        return MemorySample("s", terms, 5_000 + constant_scale * constants + arena + 10 + 2.5 * workspace)

    fitted = fit_memory("dev", [sample(100, 50, 0), sample(300, 20, 400), sample(10, 70, 1000), sample(50, 5, 7)])
    assert fitted.fixed == pytest.approx(5_000) and fitted.workspace_scale == pytest.approx(2.5)
    assert fitted.constant_scale == pytest.approx(1.25) and max(abs(r) for r in fitted.residuals) < 1e-6
    assert MemoryCalibration.from_json(fitted.to_json()) == fitted
    # A term that would come out negative is held at 0 and the others refitted (here constants cost nothing).
    free = fit_memory("dev", [sample(100, 50, 0, -0.5), sample(300, 20, 400, -0.5), sample(10, 70, 1000, -0.5)])
    assert free.constant_scale == 0 and free.fixed >= 0 and free.workspace_scale >= 0
    # Fewer sessions than terms: constants and workspace count once and the fixed cost takes the rest.
    alone = fit_memory("dev", [sample(100, 50, 40)])
    assert alone.workspace_scale == alone.constant_scale == 1 and alone.fixed == pytest.approx(5_000 + 25 + 1.5 * 40)
    assert choose_model(None, None, "dev").name == "planner" and choose_model("upper", fitted, "dev").name == "upper"
    with pytest.raises(UsageError, match="no memory calibration of dev yet"):
        choose_model("calibrated", None, "dev")
    with pytest.raises(UsageError, match="unknown memory model 'best'"):
        choose_model("best", None, "dev")


@st.composite
def part_graphs(draw) -> Graph:
    """A random DAG of up to 7 ops, each writing one tensor of its own size that later ops may read."""
    n = draw(st.integers(1, 7))
    sizes = {100: 4}  # the model input
    ops = []
    for k in range(n):
        reads = [t for t in range(k) if draw(st.booleans())] or [100]
        sizes[k] = draw(st.integers(1, 50))
        ops.append(OpTensors(k, tuple(reads), (k,)))
    read = {t for op in ops for t in op.inputs}
    outputs = tuple(k for k in range(n) if k not in read)
    return Graph(tuple(ops), sizes, {}, frozenset(), (100,), outputs)


def topological_orders(graph: Graph) -> list[list[int]]:
    import itertools

    producer = {t: k for k, op in enumerate(graph.ops) for t in op.outputs}
    def valid(order):
        at = {v: i for i, v in enumerate(order)}
        return all(at[producer[t]] < at[k] for k, op in enumerate(graph.ops) for t in op.inputs if t in producer)
    return [list(p) for p in itertools.permutations(range(len(graph.ops))) if valid(p)]


@settings(max_examples=60, deadline=None)
@given(part_graphs())
def test_the_least_peak_order_is_the_best_of_all_topological_orders(graph):
    from solver.memory.order import least_peak_order, order_peak

    found = least_peak_order(graph)
    best = min(order_peak(graph, order) for order in topological_orders(graph))
    assert found.method in ("exact", "file") and found.peak == best <= found.file_peak
    assert order_peak(graph, found.order) == found.peak and sorted(found.order) == list(range(len(graph.ops)))
    greedy = least_peak_order(graph, max_states=0)  # past the state budget: the greedy order, never worse than the file's
    assert greedy.method in ("greedy", "file") and best <= greedy.peak <= greedy.file_peak
