""".circle models in and out: read with circle's op codes, split into .circle parts that verify on onert."""

from __future__ import annotations

import json

import flatbuffers
import pytest
from circle_schema.v0_10.circle import BuiltinOperator, Model

from solver.deploy.split import split_model
from solver.deploy.verify import verify_split
from solver.io.circle import CIRCLE_IDENTIFIER
from solver.io.tflite import read_model


def as_circle(tflite_path, out, edit=None):
    """The TFLite model as a circle file: circle's schema reads TFLite's tables, circle's writer packs them."""
    whole = Model.ModelT.InitFromPackedBuf(tflite_path.read_bytes(), 0)
    if edit is not None:
        edit(whole)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(whole.Pack(builder), file_identifier=CIRCLE_IDENTIFIER)
    out.write_bytes(bytes(builder.Output()))
    return out


@pytest.fixture(scope="module")
def branchy_circle(branchy_cnn, tmp_path_factory):
    return as_circle(branchy_cnn, tmp_path_factory.mktemp("circle") / "branchy.circle")


def test_a_circle_model_reads_as_its_tflite_source(branchy_circle, branchy_cnn):
    circle, tflite = read_model(branchy_circle), read_model(branchy_cnn)
    assert branchy_circle.read_bytes()[4:8] == b"CIR0"
    assert [op.type for op in circle.operators] == [op.type for op in tflite.operators]
    assert circle.tensors == [t for t in tflite.tensors] and circle.inputs == tflite.inputs


def test_circle_only_op_codes_are_named_from_circle_schema(branchy_cnn, tmp_path):
    def to_instance_norm(whole):
        code = whole.operatorCodes[0]
        code.deprecatedBuiltinCode = code.builtinCode = BuiltinOperator.BuiltinOperator.INSTANCE_NORM

    path = as_circle(branchy_cnn, tmp_path / "odd.circle", to_instance_norm)
    model = read_model(path)
    changed = [op.index for op in read_model(branchy_cnn).operators if op.type != model.operators[op.index].type]
    assert changed and all(model.operators[v].type == "INSTANCE_NORM" for v in changed)


def test_a_circle_model_splits_into_circle_parts_that_verify_on_onert(branchy_circle, tmp_path):
    model = read_model(branchy_circle)
    half = model.num_ops // 2
    parts = [0 if v < half else 1 for v in range(model.num_ops)]
    split = split_model(branchy_circle, parts, tmp_path / "parts")
    assert [p.file for p in split.parts] == ["branchy.00001_cpu.circle", "branchy.00002_cpu.circle"]
    for p in split.parts:
        data = (tmp_path / "parts" / p.file).read_bytes()
        assert data[4:8] == b"CIR0" and [op.type for op in read_model(tmp_path / "parts" / p.file).operators] == [
            model.operators[v].type for v in p.ops]  # fmt: skip
    conn = json.loads(split.conn_json.read_text())
    assert conn["source"]["file"] == "branchy.circle"
    assert verify_split(split).ok
