"""The TFLite reader: operators, tensors, bytes, the op graph and bad files."""

from __future__ import annotations

import gzip
import lzma

import pytest

from solver.errors import ModelError
from solver.io.tflite import read_model
from tests.fbmodels import T, write_large_model, write_model


@pytest.fixture
def odd_model(tmp_path):
    """int8 activations, an absent optional bias (-1), a dynamic batch and a second subgraph."""
    tensors = [
        T("x", (1, 8), "INT8", signature=(-1, 8)),
        T("w", (4, 8), "INT8", data=bytes(32)),
        T("fc", (1, 4), "INT8", signature=(-1, 4)),
        T("y", (1, 4), "INT8", signature=(-1, 4)),
        T("z", (1, 4), "INT64"),
    ]
    ops = [
        ("FULLY_CONNECTED", [0, 1, -1], [2]),
        ("RELU", [2], [3]),
        ("ADD", [2, 3], [4]),
    ]
    return write_model(tmp_path / "odd.tflite", tensors, ops, inputs=[0], outputs=[4], extra_subgraphs=1)


def test_odd_model_tensors_and_ops(odd_model):
    model = read_model(odd_model)
    assert [op.type for op in model.operators] == ["FULLY_CONNECTED", "RELU", "ADD"]
    assert model.operators[0].inputs == (0, 1)  # the absent bias (-1) is left out
    assert [t.nbytes for t in model.tensors] == [8, 32, 4, 4, 32]  # real item sizes, not 4 bytes each
    assert [t.is_constant for t in model.tensors] == [False, True, False, False, False]
    assert model.tensors[0].dynamic and model.tensors[0].shape == (1, 8)
    assert model.num_subgraphs == 2
    assert any("only subgraph 0" in note for note in model.notes)
    assert any("dynamic" in note for note in model.notes)


def test_op_graph_edges_carry_tensor_bytes(odd_model):
    graph = read_model(odd_model).op_graph()
    assert sorted(graph.edges) == [(0, 1), (0, 2), (1, 2)]
    assert graph.edges[0, 2]["tensors"] == {2: 4}
    assert graph.edges[0, 1]["bytes"] == 4
    assert graph.nodes[0]["constants"] == {1: 32}
    assert graph.nodes[0]["type"] == "FULLY_CONNECTED"


def test_keras_model_graph_is_a_dag(branchy_cnn):
    import networkx as nx

    model = read_model(branchy_cnn)
    graph = model.op_graph()
    assert graph.number_of_nodes() == model.num_ops == 11
    assert nx.is_directed_acyclic_graph(graph)
    # The residual add reads the stem's output: a skip edge.
    assert graph.has_edge(0, 6)


@pytest.mark.parametrize("compress", [lzma.compress, gzip.compress])
def test_compressed_model_reads_the_same(odd_model, tmp_path, compress):
    packed = tmp_path / "odd.tflite.z"
    packed.write_bytes(compress(odd_model.read_bytes()))
    assert read_model(packed).operators == read_model(odd_model).operators


def test_not_a_model(tmp_path):
    path = tmp_path / "notes.tflite"
    path.write_text("hello, I am not a flatbuffer")
    with pytest.raises(ModelError, match=r"notes.tflite: not a TFLite model"):
        read_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"nope.tflite: no such file"):
        read_model(tmp_path / "nope.tflite")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_model(branchy_cnn, tmp_path, keep):
    data = branchy_cnn.read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelError, match=r"cut.tflite: truncated or corrupt"):
        read_model(path)


def test_large_model(tmp_path):
    """Constants of a 100 MB model are recognised without being copied (speed: benchmarks/reader.py)."""
    path = write_large_model(tmp_path / "big.tflite")
    assert path.stat().st_size > 100_000_000
    model = read_model(path)
    assert model.num_ops == 24 and sum(t.is_constant for t in model.tensors) == 24
    assert model.op_graph().number_of_edges() == 23
