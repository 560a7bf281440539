"""JSON graph and SALBP .IN2 readers, and the JSON writer."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from solver.errors import GraphFormatError
from solver.io.graphs import graph_to_json, read_graph_json, read_in2, write_graph_json

GRAPH = {
    "name": "tiny",
    "unit": "us",
    "ops": [
        {"id": "in", "type": "CONV_2D", "weight": 12, "constants": {"w": 64}},
        {"id": "a", "weight": 5, "constants": {"w": 64}, "constants_bytes": 8},
        {"id": "b", "weight": 7},
    ],
    "edges": [
        {"from": "in", "to": "a", "bytes": 100, "tensor": "x"},
        {"from": "in", "to": "b", "bytes": 100, "tensor": "x"},
        {"from": "a", "to": "b", "bytes": 4},
    ],
}


def write(tmp_path, doc, name="g.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_json_graph(tmp_path):
    g = read_graph_json(write(tmp_path, GRAPH))
    assert g.graph["name"] == "tiny" and g.graph["unit"] == "us"
    assert [g.nodes[v]["weight"] for v in g] == [12, 5, 7]
    assert g.nodes[0]["type"] == "CONV_2D" and g.nodes[2]["type"] == "OP"
    assert g.nodes[1]["constants"] == {"w": 64, "a:constants": 8}
    assert g.edges[0, 1]["tensors"] == {"x": 100} and g.edges[0, 2]["tensors"] == {"x": 100}
    assert g.edges[1, 2]["bytes"] == 4


def test_json_round_trip(tmp_path):
    graph = read_graph_json(write(tmp_path, GRAPH))
    path = write_graph_json(tmp_path / "out.json", graph, name="tiny")
    again = read_graph_json(path)
    assert nx.utils.graphs_equal(graph, again)
    assert graph_to_json(again)["ops"][0]["constants"] == {"w": 64}


JSON_ERRORS = [
    (lambda d: d["ops"][1].pop("weight"), r"ops\[1\]: missing 'weight'"),
    (lambda d: d["ops"][1].update(weight=-3), r"ops\[1\]: 'weight' is negative"),
    (lambda d: d["ops"][1].update(weight=1.5), r"'weight' must be an integer"),
    (lambda d: d["ops"][2].update(id="a"), r"duplicate op id 'a'"),
    (lambda d: d["edges"][2].update(to="zz"), r"edges\[2\]: unknown op id 'zz'"),
    (lambda d: d["edges"].append({"from": "b", "to": "in"}), r"cycle: 'in' -> 'a' -> 'b' -> 'in'|cycle"),
    (lambda d: d["edges"].append({"from": "a", "to": "b", "tensor": "x"}), r"tensor 'x' is written by two ops"),
    (lambda d: d["edges"][1].update(bytes=7), r"edges\[1\]: tensor 'x' has 7 bytes here, 100 on another edge"),
    (lambda d: d.pop("ops"), r"an 'ops' list"),
]


@pytest.mark.parametrize("change, message", JSON_ERRORS)
def test_json_errors(tmp_path, change, message):
    doc = json.loads(json.dumps(GRAPH))
    change(doc)
    with pytest.raises(GraphFormatError, match=message) as err:
        read_graph_json(write(tmp_path, doc))
    assert "g.json" in str(err.value)


def test_json_not_json(tmp_path):
    with pytest.raises(GraphFormatError, match="g.json: not a JSON graph"):
        read_graph_json(write(tmp_path, "{oops"))
    with pytest.raises(GraphFormatError, match="no such file"):
        read_graph_json(tmp_path / "missing.json")


IN2 = "4\n3\n2\n2\n3\n1,2\n1,3\n2,4\n3,4\n-1,-1\n"


def test_in2(tmp_path):
    # Notes after the end marker, in an 8-bit encoding and looking like arcs, are ignored.
    path = tmp_path / "T.IN2"
    path.write_bytes((IN2 + "Pfeile gel").encode() + b"\x94scht\r\n4,1\r\n9,9\r\n")
    g = read_in2(path)
    assert g.graph["name"] == "T" and g.number_of_nodes() == 4
    assert [g.nodes[v]["weight"] for v in g] == [3, 2, 2, 3]
    assert sorted(g.edges) == [(0, 1), (0, 2), (1, 3), (2, 3)]


def test_in2_crlf(tmp_path):
    path = tmp_path / "C.IN2"
    path.write_bytes(IN2.replace("\n", "\r\n").encode())
    assert read_in2(path).number_of_edges() == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "ends before the task count"),
        ("x\n", "line 1: expected the task count"),
        ("3\n1\n2\n", "ends before the time of task 3"),
        ("2\n1\n-2\n-1,-1\n", "task 2 has a negative time"),
        ("2\n1\n2\n1,3\n-1,-1\n", "line 4: task number out of 1..2"),
        ("2\n1\n2\n1;2\n-1,-1\n", "line 4: expected a precedence pair"),
        ("2\n1\n2\n1,2\n", "no '-1,-1' line"),
        ("2\n1\n2\n1,2\n2,1\n-1,-1\n", "cycle: task 1 -> task 2 -> task 1"),
    ],
)
def test_in2_errors(tmp_path, text, message):
    path = tmp_path / "bad.IN2"
    path.write_text(text)
    with pytest.raises(GraphFormatError, match=message) as err:
        read_in2(path)
    assert "bad.IN2" in str(err.value)
