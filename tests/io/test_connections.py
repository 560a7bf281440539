"""conn.json and the nnpackage MANIFEST: the package rules, agreeing names, and their checks."""

from __future__ import annotations

import copy
import json

import pytest

from solver.io.connections import conn_dict, manifest_dict, validate_conn, validate_manifest
from solver.errors import CheckError
from solver.deploy.split import read_split, split_model
from solver.io.tflite import read_model


@pytest.fixture
def skip_split(tflite_model, tmp_path):
    """skip_chain in 3 parts: d0's output skips the middle part."""
    return split_model(tflite_model("skip_chain"), [0, 0, 0, 1, 1, 1, 2, 2], tmp_path)


@pytest.fixture
def mlp_split(tflite_model, tmp_path):
    """two_output_mlp in one part per op: two inputs, an output produced mid-graph, a tensor read by two parts."""
    path = tflite_model("two_output_mlp")
    return split_model(path, list(range(read_model(path).num_ops)), tmp_path)


def _check(manifest, split):
    validate_manifest(manifest, split.parts, split.model_inputs, split.model_outputs, "MANIFEST")


def test_manifest_follows_the_package_rules(mlp_split):
    manifest = json.loads(mlp_split.manifest.read_text())
    assert (manifest["major-version"], manifest["minor-version"]) == ("1", "3")
    assert manifest["models"] == [p.file for p in mlp_split.parts]
    assert manifest["model-types"] == ["tflite"] * len(mlp_split.parts)
    triples = manifest["pkg-inputs"] + manifest["pkg-outputs"]
    triples += [t for edge in manifest["model-connect"] for t in [edge["from"], *edge["to"]]]
    assert all(len(t.split(":")) == 3 and t.split(":")[1] == "0" for t in triples)
    tos = [t for edge in manifest["model-connect"] for t in edge["to"]]
    assert not set(tos) & set(manifest["pkg-inputs"])
    # The names at both ends of every connection agree.
    parts = mlp_split.parts
    for edge in manifest["model-connect"]:
        m, _, i = map(int, edge["from"].split(":"))
        for to in edge["to"]:
            n, _, j = map(int, to.split(":"))
            assert parts[m].outputs[i] == parts[n].inputs[j] and n > m
    # A tensor read by two later parts is one connection with two targets.
    assert any(len(edge["to"]) == 2 for edge in manifest["model-connect"])
    # Package outputs are the model outputs, in order, wherever they are produced.
    named = [parts[int(t.split(":")[0])].outputs[int(t.split(":")[2])] for t in manifest["pkg-outputs"]]
    assert named == list(mlp_split.model_outputs)


def test_conn_json_is_circle_partitioners_format(skip_split):
    conn = json.loads(skip_split.conn_json.read_text())
    assert skip_split.conn_json.name == "skip_chain.conn.json"
    assert set(conn) == {"source", "parts"}
    assert "/" not in conn["source"]["file"]  # a file of the split directory, as circle-partitioner's work folder
    assert (skip_split.out_dir / conn["source"]["file"]).read_bytes() == skip_split.model.read_bytes()
    assert conn["source"]["inputs"] == list(skip_split.model_inputs)
    assert [p["file"] for p in conn["parts"]] == [p.file for p in skip_split.parts]
    skipped = conn["parts"][0]["outputs"]
    assert set(skipped) & set(conn["parts"][2]["inputs"])  # the skip tensor, by name
    validate_conn(conn, "conn.json")


def _edit(manifest, how):
    bad = copy.deepcopy(manifest)
    how(bad)
    return bad


@pytest.mark.parametrize(
    "how, message",
    [
        (lambda m: m["model-connect"][0].update({"from": "0:0"}), "not a model:subgraph:io triple"),
        (lambda m: m["model-connect"][0]["to"].append(m["pkg-inputs"][0]), "both a package input and the target"),
        (lambda m: m["model-connect"][0].update({"to": ["1:0:5"]}), "points at no input"),
        (lambda m: m["pkg-outputs"].reverse(), "do not name the model outputs"),
        (lambda m: m["models"].reverse(), "pipeline order"),
        (lambda m: m["model-connect"].pop(), "is not fed exactly once"),
        (lambda m: m["pkg-inputs"].append(m["model-connect"][0]["to"][0]), "not a model input"),
    ],
)
def test_manifest_check_catches(mlp_split, how, message):
    manifest = manifest_dict(mlp_split.parts, mlp_split.model_inputs, mlp_split.model_outputs)
    _check(manifest, mlp_split)
    with pytest.raises(CheckError, match=message):
        _check(_edit(manifest, how), mlp_split)


def test_manifest_check_catches_names_that_disagree(skip_split):
    manifest = manifest_dict(skip_split.parts, skip_split.model_inputs, skip_split.model_outputs)
    edge = next(e for e in manifest["model-connect"] if e["to"] == ["2:0:1"] or e["to"] == ["2:0:0"])
    edge["to"] = ["2:0:1" if edge["to"] == ["2:0:0"] else "2:0:0"]
    with pytest.raises(CheckError, match="but '2:0:"):
        _check(manifest, skip_split)


def test_conn_check_catches_a_missing_producer(skip_split):
    conn = conn_dict(skip_split.parts, skip_split.model_inputs, skip_split.model_outputs, "m.tflite")
    conn["parts"][0]["outputs"] = conn["parts"][0]["outputs"][:1]
    with pytest.raises(CheckError, match="which no earlier part writes"):
        validate_conn(conn, "x.conn.json")


def test_reading_a_tampered_split_fails(skip_split):
    conn = json.loads(skip_split.conn_json.read_text())
    conn["parts"][1]["inputs"] = ["nothing"]
    skip_split.conn_json.write_text(json.dumps(conn))
    with pytest.raises(CheckError, match="does not match the parts"):
        read_split(skip_split.out_dir)
