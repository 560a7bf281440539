"""A memory cap on the memory model refuses exactly the partitions over it: the exact solver against brute force."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heuristics.dag import Dag
from solver.errors import CheckError, InfeasibleError
from solver.memory.model import memory_terms, part_graph
from solver.memory.parts import problem_graph
from solver.partitioning.exact import solve_exact
from solver.partitioning.metrics import check_partition, evaluate, part_ops
from tests.partitioning.test_exact import brute_force, dags


def planner_memory(graph):
    """The planner model of a part of ``graph``: its ops -> bytes."""
    memory = problem_graph(None, graph)
    return lambda ops: memory_terms(part_graph(memory, ops)).planned


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=dags(max_ops=7), data=st.data())
def test_the_cap_refuses_exactly_the_partitions_over_it(graph, data):
    for v in graph:  # some ops read a constant of their own
        if data.draw(st.booleans()):
            graph.nodes[v]["constants"] = {f"c{v}": data.draw(st.integers(1, 40))}
    k = data.draw(st.integers(1, min(3, graph.number_of_nodes())))
    memory = planner_memory(graph)
    dag = Dag.from_graph(graph)
    # Caps between the smallest part's memory and the whole: some partitions fit, some do not.
    cap = data.draw(st.integers(0, memory(list(graph)) + 1))

    def capped(parts):  # (over the cap, bottleneck): the least is under the cap whenever any partition is
        over = any(memory(ops) > cap for ops in part_ops(parts, k))
        return (over, evaluate(dag, parts, k).bottleneck)

    over, optimum = brute_force(graph, k, capped)
    if over:
        with pytest.raises(InfeasibleError, match=f"memory cap of {cap} bytes"):
            solve_exact(graph, k, time_limit=20, workers=2, memory_cap=cap, part_memory=memory)
        return
    result = solve_exact(graph, k, time_limit=20, workers=2, memory_cap=cap, part_memory=memory)
    assert result.status == "OPTIMAL" and result.bottleneck == optimum
    assert all(memory(ops) <= cap for ops in part_ops(result.parts, k))
    check_partition(graph, result.parts, k, memory_cap=cap, part_memory=memory)


def test_the_checker_names_the_parts_over_the_model_cap():
    import networkx as nx

    graph = nx.DiGraph(name="pair")
    graph.add_node(0, weight=1, type="OP", constants={})
    graph.add_node(1, weight=1, type="OP", constants={})
    graph.add_edge(0, 1, tensors={"t": 100}, bytes=100)
    memory = planner_memory(graph)
    assert [memory([0]), memory([1])] == [100, 100]  # each part holds the hand-off as its I/O buffer
    check_partition(graph, [0, 1], 2, memory_cap=100, part_memory=memory)
    with pytest.raises(CheckError, match=r"pair: parts \[0, 1\] need \[100, 100\] bytes \(memory model\), over the cap of 99"):
        check_partition(graph, [0, 1], 2, memory_cap=99, part_memory=memory)


def test_partition_caps_each_part_under_the_memory_model(tflite_model, tmp_path):
    import json
    import subprocess
    import sys

    from solver.io.tflite import read_model
    from tests.traces import write_chrome_trace

    model = tflite_model("wide_activations")
    ops = read_model(model).num_ops
    trace = write_chrome_trace(tmp_path / "t.json", read_model(model), [[100] * ops] * 2)

    def solve(*extra):
        done = subprocess.run([sys.executable, "-m", "solver", "partition", str(model), str(trace), "-k", "2",
                               "--exact", "--time-limit", "20", "--memory-model", "planner", "--out",
                               str(tmp_path / "map.json"), "--json", *extra], capture_output=True, text=True)  # fmt: skip
        return done.returncode, json.loads(done.stdout) if done.returncode == 0 else done.stderr

    code, free = solve()
    assert code == 0 and free["memory"]["model"] == "planner"
    needs = [p["predicted_bytes"] for p in free["memory"]["parts"]]
    # Constants are a few KB: only the planned arena and buffers can bind a cap a little under the free answer's.
    code, capped = solve("--memory-cap", str(max(needs) - 1))
    if code == 0:
        assert max(p["predicted_bytes"] for p in capped["memory"]["parts"]) < max(needs)
        assert capped["bottleneck"] >= free["bottleneck"]
    else:
        assert code == 3 and "memory cap" in capped
    code, message = solve("--memory-cap", "1000")
    assert code == 3 and "no heuristic partition meets" not in message and "memory cap of 1000 bytes" in message
