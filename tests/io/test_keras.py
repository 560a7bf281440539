"""Keras models as input: the layer graph, layer times measured with TensorFlow, and the commands on them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from solver.deploy.keras_timing import time_layers, write_layer_times
from solver.errors import ModelError, TraceError
from solver.io.keras import read_keras, read_layer_times
from solver.problem import load_problem
from tests import tfmodels


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keras") / "branchy.keras"
    return tfmodels.write_keras("branchy_cnn", path)


def test_layer_graph_has_one_op_per_layer_with_its_tensors_and_weights(keras_file):
    graph = read_keras(keras_file)
    names = [graph.nodes[v]["name"] for v in graph]
    assert sorted(names) == sorted(["stem", "branch_a", "branch_b_dw", "branch_b_pw", "join", "reduce", "residual",
                                    "pool", "gap", "logits", "probs"])  # fmt: skip
    assert nx.is_directed_acyclic_graph(graph) and graph.number_of_edges() == 12
    v = {name: i for i, name in enumerate(names)}
    assert graph.nodes[v["stem"]]["type"] == "Conv2D"
    # stem: 3x3x3x8 kernel and 8 biases, float32; its 16x16x8 output goes to three layers.
    assert sorted(graph.nodes[v["stem"]]["constants"].values()) == [8 * 4, 3 * 3 * 3 * 8 * 4]
    for reader in ("branch_a", "branch_b_dw", "residual"):
        assert graph.edges[v["stem"], v[reader]]["tensors"] == {"stem:0": 16 * 16 * 8 * 4}


def test_layer_times_are_measured_for_every_layer_and_read_back(keras_file, tmp_path):
    times, failed = time_layers(keras_file, runs=3)
    assert failed == [] and len(times) == 11 and all(t > 0 for t in times.values())
    path = write_layer_times(tmp_path / "times.json", times, runs=3)
    problem = load_problem(keras_file, path)
    assert problem.num_ops == 11 and problem.total_weight == sum(round(t) for t in times.values())


def test_a_layer_without_a_time_is_named(keras_file, tmp_path):
    path = tmp_path / "times.json"
    path.write_text(json.dumps({"times": {name: 5 for name in ("stem", "branch_a", "branch_b_dw", "join")}}))
    with pytest.raises(TraceError, match="times.json: no time for layer 'branch_b_pw'"):
        read_layer_times(path, read_keras(keras_file))


def test_a_file_keras_cannot_load_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_text("not a zip")
    with pytest.raises(ModelError, match=r"bad.keras: Keras failed \(.+\)"):
        read_keras(bad)


def test_solve_place_on_a_keras_model_measures_its_layers(keras_file, tmp_path):
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "npu", "speed": 4, "supports": ["CONV_2D"]}, {"name": "cpu"}],
                                    "default_link": {"bandwidth": 1e9}}))  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "solver", "place", str(keras_file), "--platform", str(platform),
                           "--exact", "--json", "--out", str(tmp_path / "map.json")],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "OPTIMAL" and len(report["partition_map"]) == 11
    assert "measured now, timing its layers with TensorFlow" in report["notes"][0]
