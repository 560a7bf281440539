"""The streaming JSON graph reader (issue 29 item 3): the same problem as the reference reader, the same errors."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.big_graphs import layered_doc, transformer_doc
from heuristics.dag import Dag
from solver.errors import GraphFormatError
from solver.io.graph_arrays import EdgeTensors, read_graph_arrays
from solver.io.graphs import read_graph_json
from solver.problem import load_problem
from tests.io.test_graphfile import GRAPH, JSON_ERRORS


def same_problem(path) -> None:
    """The problem loaded through the arrays equals the reference reader's graph and instance, or both refuse
    the file with one message."""
    try:
        reference = read_graph_json(path)
        expected = Dag.from_graph(reference)
    except GraphFormatError as err:
        with pytest.raises(GraphFormatError) as raised:
            load_problem(path).dag
        assert str(raised.value) == str(err)
        return
    problem = load_problem(path)
    dag = problem.dag
    assert dag == expected
    assert dict(dag.tensors.items()) == dict(expected.tensors.items())
    assert all(np.array_equal(a, b) for a, b in zip(dag.tensor_arrays, expected.tensor_arrays))
    assert problem.name == reference.graph["name"] and problem.weight_unit == reference.graph["unit"]
    assert problem.num_ops == reference.number_of_nodes()
    assert all(problem.op_type(v) == reference.nodes[v]["type"] for v in reference)
    graph = problem.graph  # built from the arrays on first use
    assert list(graph.nodes(data=True)) == list(reference.nodes(data=True))
    assert list(graph.edges(data=True)) == list(reference.edges(data=True))
    assert graph.graph == reference.graph


def write(tmp_path, doc, name="g.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.mark.parametrize("make", [transformer_doc, layered_doc])
def test_ten_thousand_ops(tmp_path, make):
    doc = make(10_000, seed=3)
    same_problem(write(tmp_path, doc))
    # The ops out of topological order, ids as strings, tensors named and shared: the general path.
    rng = np.random.default_rng(0)
    moved = rng.permutation(len(doc["ops"]))
    doc["ops"] = [dict(doc["ops"][v], id=f"op{v}") for v in moved.tolist()]
    for e, edge in enumerate(doc["edges"]):
        edge.update({"from": f"op{edge['from']}", "to": f"op{edge['to']}"})
        if e % 3:
            edge["tensor"] = f"out{edge['from']}"
            edge["bytes"] = 4096
    same_problem(write(tmp_path, doc, "moved.json"))


def test_edge_tensors_mapping():
    src, dst, nbytes = (np.asarray(a, dtype=np.int64) for a in ([0, 0, 1], [1, 2, 2], [8, 9, 10]))
    tensors = EdgeTensors(src, dst, nbytes)
    assert tensors == {"0->1": (8, 0, [1]), "0->2": (9, 0, [2]), "1->2": (10, 1, [2])}
    assert tensors["0->2"] == (9, 0, [2]) and "2->1" not in tensors and "00->1" not in tensors and 3 not in tensors


@pytest.mark.parametrize(
    "text",
    [
        '{"ops": [{"id": 0, "weight": 1}], "ops": [{"id": 0, "weight": 2}, {"id": 1, "weight": 3}]}',
        '{"edges": [{"from": 0, "to": 1}], "ops": [{"id": 0, "weight": 1}, {"id": 1, "weight": 3}]}',
        '{"ops": [{"id": 0, "weight": 1}, {"id": 1, "weight": 3}], "edges": [], "edges": [{"from": 0, "to": 1}]}',
        ' \n{ "ops" : [ { "id" : 0 , "weight" : 1.0 } ] , "name" : [1, 2], "unit": "ms" }\n',
        '{"ops": [{"id": 0, "weight": 1}, {"id": 1, "weight": 1}], "edges": [{"from": 0, "to": 1, "tensor": "1->0"},'
        ' {"from": 1, "to": 0, "bytes": 3}]}',
        '{"ops": [{"id": 0, "weight": 1}, {"id": 1, "weight": 1}, {"id": 2, "weight": 1}],'
        ' "edges": [{"from": 0, "to": 1, "tensor": "0->2"}, {"from": 0, "to": 2}]}',
        '{"ops": [{"id": 0, "weight": 1}, {"id": "0", "weight": 1}, {"id": 1, "weight": 1}],'
        ' "edges": [{"from": 0, "to": 1}, {"from": "0", "to": 1}]}',
        '{"ops": [{"id": 0, "weight": 9223372036854775807}, {"id": 1, "weight": 1}]}',
        '{"ops": [{"id": 0, "weight": 1}],}',
        '{"ops": [{"id": 0, "weight": 1},]}',
        '{"ops": [{"id": 0, "weight": 1}]} x',
        '{"ops": [], "unit": 3}',
        '{"ops": {}}',
        '{"ops": [{"id": 0, "weight": 1}], "edges": {}}',
        '[{"id": 0}]',
        '{"ops": [{"id": true, "weight": 1}]}',
        '{"ops": [{"id": 0, "weight": 1}, {"id": 1, "weight": 1}], "edges": [{"from": true, "to": 1}]}',
        '{"ops": [{"id": 0, "weight": NaN}]}',
        '{"ops": [{"id": 0, "weight": 1, "constants": {"c": 2}, "constants_bytes": 5, "input_bytes": 7.0}]}',
        '{"ops": [{"id": 0, "weight": 1, "constants": [1]}]}',
        '{"ops": [{"id": 0, "weight": 1, "name": ""}, {"id": 1, "weight": 1, "name": "1", "type": 5}]}',
        "\ufeff{}",
        "",
    ],
)
def test_edge_cases(tmp_path, text):
    """Documents the streaming path reads otherwise (keys twice or out of order) or refuses: as the reference."""
    same_problem(write(tmp_path, text))


def test_errors_keep_their_messages(tmp_path):
    """Every error of the reference reader's tests, with its words (tests/test_graphfile.py)."""
    for change, _ in JSON_ERRORS:
        doc = json.loads(json.dumps(GRAPH))
        change(doc)
        same_problem(write(tmp_path, doc))
    same_problem(tmp_path / "missing.json")
    same_problem(write(tmp_path, b"\xff\xfe".decode("latin-1")))
    (tmp_path / "dir.json").mkdir()
    same_problem(tmp_path / "dir.json")



@pytest.mark.parametrize("pad", [10, 65_536 - 12, 65_536, 300_000])
def test_top_level_values_past_a_window(tmp_path, pad):
    """An ASCII file's top level is scanned from its bytes a window (64 KB) at a time: values as long as a window
    or longer, before, between and after the bulk-read arrays, read whole; cut short, the reference's error."""
    ops = [{"id": v, "type": "OP", "weight": v + 1} for v in range(3)]
    edges = [{"from": 0, "to": 1, "bytes": 4}, {"from": 1, "to": 2, "bytes": 8}]
    head = json.dumps({"name": "n" * pad, "meta": {"list": list(range(pad // 4))}})[:-1]
    tail = json.dumps({"unit": "u" * pad, "version": 10**12})[1:]
    text = f'{head}, "ops": {json.dumps(ops)}, "between": "{"b" * pad}", "edges": {json.dumps(edges)}, {tail}'
    same_problem(write(tmp_path, text))
    assert load_problem(tmp_path / "g.json").name == "n" * pad
    cut_number = '"e": 1.' + "1" * 65_533 + "e5, "  # the first window ends just after the 'e': 1.11...1 parses
    same_problem(write(tmp_path, text.replace('"ops"', cut_number + '"ops"', 1)))
    same_problem(write(tmp_path, text.replace('"unit": "u', '"unit": "\\u00e9u')))  # an escape: still ASCII
    same_problem(write(tmp_path, text.replace('"nn', '"\u00e9nn')))  # not ASCII: the text is scanned
    for cut in (text[:-1], text[: len(text) - 12], text[: len(head) - 3]):
        same_problem(write(tmp_path, cut))


ids = st.one_of(st.integers(-1, 5), st.sampled_from(["a", "b", "0", True, 1.0, None]))
counts = st.one_of(st.integers(-2, 20), st.sampled_from([2.0, 1.5, "3", 2**63, None]))
ops = st.lists(
    st.fixed_dictionaries(
        {"id": ids, "weight": counts},
        optional={"type": st.sampled_from(["CONV", 3]), "name": st.sampled_from(["x", "1", ""]),
                  "constants": st.dictionaries(st.sampled_from(["c", "d"]), counts, max_size=2),
                  "constants_bytes": counts, "output_bytes": counts},
    ),
    max_size=6,
)  # fmt: skip
edges = st.lists(
    st.fixed_dictionaries(
        {"from": ids, "to": ids}, optional={"bytes": counts, "tensor": st.sampled_from(["t", "u", "0->1", 7])}
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=ops,
    edges=edges,
    plain=st.booleans(),
    data=st.data(),
)
def test_random_documents(tmp_path, ops, edges, plain, data):
    """Random small documents, valid or not: ids 0..n-1 (the packed path) or anything (the general one)."""
    if plain:  # mostly valid: ids are positions, weights counts
        ops = [dict(op, id=v, weight=abs(op["weight"]) if type(op["weight"]) is int else 1) for v, op in enumerate(ops)]
        n = max(1, len(ops))
        edges = [dict(e, **{"from": data.draw(st.integers(0, n - 1)), "to": data.draw(st.integers(0, n))})
                 for e in edges]  # fmt: skip
    same_problem(write(tmp_path, {"name": "r", "ops": ops, "edges": edges}))


def test_round_trip_is_networkx(tmp_path):
    """The built graph is a networkx graph the writers and drawings take as they are."""
    graph = read_graph_arrays(write(tmp_path, GRAPH)).to_networkx()
    assert isinstance(graph, nx.DiGraph) and nx.utils.graphs_equal(graph, read_graph_json(write(tmp_path, GRAPH)))


def test_time_limit_counts_from_reading(tmp_path):
    """solve partition passes when it began reading: a graph read past the limit gets the heuristics' answer."""
    import time

    from solver.partitioning.partition import PartitionSettings, partition

    problem = load_problem(write(tmp_path, transformer_doc(2_000)))
    settings = PartitionSettings(num_parts=4, exact=True, time_limit=60)
    result = partition(problem, settings, started=time.monotonic() - 100)  # as if reading took 100 s
    assert result.time >= 100 and result.status == "HEURISTIC"
    assert any("exact solver not run" in note for note in result.notes)


def test_graph_file_memory_is_modelled_without_networkx(tmp_path, monkeypatch, capsys):
    """A graph file's per-part memory is modelled from the dag's tensor arrays (a million ops end to end, issue
    29): the networkx graph is never built, and the figures are those of the graph read by the full reader."""
    from solver.cli import main
    from solver.io.graph_arrays import GraphArrays
    from solver.memory.calibration import MemoryModel
    from solver.memory.parts import parts_memory, problem_graph

    path = write(tmp_path, transformer_doc(300))
    argv = ["partition", str(path), "--num-parts", "3", "--json", "--out", str(tmp_path / "map.json"),
            "--memory-model", "planner"]  # fmt: skip
    with monkeypatch.context() as patched:
        patched.setattr(GraphArrays, "to_networkx", lambda self: pytest.fail("networkx graph built"))
        assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    expected = parts_memory(problem_graph(None, read_graph_json(path)), report["partition_map"], 3,
                            MemoryModel("planner", ""))  # fmt: skip
    assert [p["predicted_bytes"] for p in report["memory"]["parts"]] == expected.predicted
    assert min(expected.predicted) > 0
