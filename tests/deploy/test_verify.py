"""Numerical verification of splits with the real onert runtime, and the split/verify commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from solver.errors import CheckError, USER_ERRORS, UsageError
from solver.deploy.report import verify_text
from solver.deploy.split import split_model
from solver.io.tflite import read_model
from solver.deploy.verify import VerifySettings, check_verified, split_and_verify, verify_split
from tests.commands import parse_command


def _partitions(name: str, n: int) -> dict[str, list[int]]:
    cases = {"K=1": [0] * n, "K=ops": list(range(n)), "halves": [0] * (n // 2) + [1] * (n - n // 2)}
    if name == "skip_chain":
        cases["skip across two boundaries"] = [0, 0, 0, 1, 1, 1, 2, 2]
    if name == "two_output_mlp":
        cases["mid-graph output handed on"] = [0, 0, 0, 0, 0, 1, 1, 1]
    return cases


CASES = [
    (name, label)
    for name, n in (("branchy_cnn", 11), ("two_output_mlp", 8), ("skip_chain", 8))
    for label in _partitions(name, n)
]


@pytest.mark.parametrize("name, label", CASES)
def test_parts_compute_the_model(tflite_model, tmp_path, name, label):
    path = tflite_model(name)
    parts = _partitions(name, read_model(path).num_ops)[label]
    split, result = split_and_verify(path, parts, tmp_path)
    assert result.ok
    assert len(result.outputs) == len(split.model_outputs)
    for check in result.outputs:
        assert check.max_abs <= 1e-6 + 1e-4 * check.scale and check.scale > 0


def _corrupt_weights(path):
    """Zero the largest constant buffer of a part model, in place."""
    obj = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    biggest = max((b for b in obj.buffers if b.data is not None), key=lambda b: len(b.data))
    biggest.data = np.zeros_like(biggest.data)
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(obj.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))


def test_a_wrong_part_is_a_mismatch(tflite_model, tmp_path):
    split = split_model(tflite_model("skip_chain"), [0, 0, 0, 1, 1, 1, 2, 2], tmp_path)
    _corrupt_weights(tmp_path / split.parts[1].file)
    result = verify_split(tmp_path)
    assert not result.ok
    assert "MISMATCH" in verify_text(result)
    with pytest.raises(CheckError, match=r"do not compute model output .*max abs diff"):
        check_verified(result)


def test_seed_changes_inputs_not_the_verdict(tflite_model, tmp_path):
    split = split_model(tflite_model("branchy_cnn"), [0] * 5 + [1] * 6, tmp_path)
    a = verify_split(split, VerifySettings(seed=1))
    b = verify_split(split, VerifySettings(seed=2))
    assert a.ok and b.ok and a.outputs[0].scale != b.outputs[0].scale


def test_multi_model_package_load_is_probed_in_a_child(tflite_model, tmp_path):
    split = split_model(tflite_model("skip_chain"), [0, 0, 0, 0, 1, 1, 1, 1], tmp_path)
    result = verify_split(split, VerifySettings(probe_package=True))
    worked, what = result.package
    assert result.ok  # whatever onert does with the package, our process survived it
    assert what and "nnpackage" in verify_text(result)


def test_split_command_end_to_end(tflite_model, tmp_path, capsys):
    path = tflite_model("two_output_mlp")
    pmap = tmp_path / "partition_map.json"
    pmap.write_text(json.dumps({"partition_map": [0, 0, 1, 1, 1, 2, 2, 2], "num_partitions": 3}))
    args = parse_command(["split", str(path), str(pmap), "--out", str(tmp_path / "parts")])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "wrote 3 part models" in out and "verdict: the parts compute the model's outputs" in out
    args = parse_command(["verify", str(tmp_path / "parts"), "--seed", "3"])
    assert args.run(args) == 0


def test_split_command_bad_map_is_one_line_error(tflite_model, tmp_path):
    pmap = tmp_path / "partition_map.json"
    pmap.write_text('{"partition_map": [0, 1]}')
    args = parse_command(["split", str(tflite_model("skip_chain")), str(pmap), "--out", str(tmp_path / "o")])
    with pytest.raises(UsageError, match="has 2 entries") as err:
        args.run(args)
    assert isinstance(err.value, USER_ERRORS) and "\n" not in str(err.value) and str(pmap) in str(err.value)
    assert not (tmp_path / "o").exists()


def test_verify_command_on_a_directory_without_a_split(tmp_path):
    args = parse_command(["verify", str(tmp_path)])
    with pytest.raises(UsageError, match="split.json: no such file"):
        args.run(args)


def test_split_and_verify_json(tflite_model, tmp_path, capsys):
    path = tflite_model("skip_chain")
    pmap = tmp_path / "partition_map.json"
    pmap.write_text(json.dumps({"partition_map": [0, 0, 0, 1, 1, 1, 2, 2], "num_partitions": 3}))
    args = parse_command(["split", str(path), str(pmap), "--out", str(tmp_path / "parts"), "--json"])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    document = json.loads(out)
    assert next(iter(document)) == "schema" and document["schema"] == "nnpart.split/1"
    assert [p["file"] for p in document["split"]["parts"]] == [f"skip_chain.{k:05d}_cpu.tflite" for k in (1, 2, 3)]
    assert document["verify"]["ok"] is True and document["verify"]["num_parts"] == 3
    assert document["verify"]["settings"]["executor"] == "Dataflow"
    args = parse_command(["verify", str(tmp_path / "parts"), "--json"])
    assert args.run(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document)[:2] == ["schema", "out_dir"] and document["schema"] == "nnpart.verify/1"
    assert all(o["max_abs"] is not None and o["ok"] for o in document["outputs"])
    _assert_snake_case(document)


def _assert_snake_case(value):
    if isinstance(value, dict):
        for key, item in value.items():
            assert key == "schema" or re.fullmatch(r"[a-z][a-z0-9_]*", key), key
            _assert_snake_case(item)
    elif isinstance(value, list):
        for item in value:
            _assert_snake_case(item)


def test_a_mismatch_in_json_still_exits_4(tflite_model, tmp_path, capsys):
    split = split_model(tflite_model("skip_chain"), [0, 0, 0, 1, 1, 1, 2, 2], tmp_path)
    _corrupt_weights(tmp_path / split.parts[1].file)
    args = parse_command(["verify", str(tmp_path), "--json"])
    with pytest.raises(CheckError):
        args.run(args)
    assert json.loads(capsys.readouterr().out)["ok"] is False


@pytest.mark.parametrize(
    "options, message",
    [
        (["--rtol", "-1"], r"^tolerances must be >= 0, got rtol -1 and atol 1e-06$"),
        (["--atol", "nan"], r"^tolerances must be >= 0, got rtol 0.0001 and atol nan$"),
    ],
)
def test_verify_settings_refuse_the_same_via_api_and_cli(tmp_path, options, message):
    args = parse_command(["verify", str(tmp_path), *options])
    with pytest.raises(UsageError, match=message) as cli:
        args.run(args)
    with pytest.raises(UsageError) as api:
        VerifySettings(rtol=args.rtol, atol=args.atol)
    assert str(api.value) == str(cli.value)
    with pytest.raises(UsageError, match=r"^unknown onert executor 'Fast' \(use Linear, Dataflow, Parallel\)$"):
        VerifySettings(executor="Fast")


def test_a_bad_input_range_is_one_line_and_exit_2(tmp_path):
    for value, message in (("1", "--input-range takes LO,HI"), ("1,0", "--input-range needs finite LO < HI")):
        done = subprocess.run([sys.executable, "-m", "solver", "verify", str(tmp_path), "--input-range", value],
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
