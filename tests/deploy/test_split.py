"""Splitting real models into part models: structure of the parts, and refusals of bad maps."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from ai_edge_litert import schema_py_generated as schema
from hypothesis import HealthCheck, given, settings, strategies as st

from solver.errors import ModelError, UsageError
from solver.deploy.split import plan_parts, read_split, split_model
from solver.io.partition_map import read_partition_map
from solver.io.tflite import read_model

MODELS = ("branchy_cnn", "two_output_mlp", "skip_chain")


def halves(n: int) -> list[int]:
    return [0] * (n // 2) + [1] * (n - n // 2)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("kind", ["one", "every_op", "halves"])
def test_parts_hold_exactly_their_ops_and_tensors(tflite_model, tmp_path, name, kind):
    path = tflite_model(name)
    model = read_model(path)
    parts = {"one": [0] * model.num_ops, "every_op": list(range(model.num_ops)), "halves": halves(model.num_ops)}[kind]
    split = split_model(path, parts, tmp_path)
    assert [p.part_id for p in split.parts] == sorted(set(parts))
    names = {t.index: t.name for t in model.tensors}
    for part in split.parts:
        written = read_model(tmp_path / part.file)
        # The ops of the part, in model order, and nothing else.
        assert [op.type for op in written.operators] == [model.operators[v].type for v in part.ops]
        assert part.ops == tuple(v for v in range(model.num_ops) if parts[v] == part.part_id)
        # Only the tensors those ops use (plus the part's inputs/outputs), names kept.
        used = {t for v in part.ops for t in model.operators[v].inputs + model.operators[v].outputs}
        assert sorted(t.name for t in written.tensors) == sorted(names[t] for t in used)
        assert [written.tensors[t].name for t in written.inputs] == list(part.inputs)
        assert [written.tensors[t].name for t in written.outputs] == list(part.outputs)
        assert sum(t.is_constant for t in written.tensors) == sum(model.tensors[t].is_constant for t in used)
    if kind == "one":
        only = split.parts[0]
        assert only.inputs == tuple(names[t] for t in model.inputs)
        assert only.outputs == tuple(names[t] for t in model.outputs)


def test_part_files_are_smaller_than_the_model_and_carry_no_signature(tflite_model, tmp_path):
    path = tflite_model("branchy_cnn")
    split = split_model(path, halves(read_model(path).num_ops), tmp_path)
    for part in split.parts:
        data = (tmp_path / part.file).read_bytes()
        obj = schema.ModelT.InitFromPackedBuf(data, 0)
        assert not obj.signatureDefs and not obj.metadata
        assert len(obj.subgraphs) == 1
        assert obj.buffers[0].data is None or len(obj.buffers[0].data) == 0
    assert sum((tmp_path / p.file).stat().st_size for p in split.parts) < 2 * path.stat().st_size


def test_skip_connection_across_two_boundaries(tflite_model):
    model = read_model(tflite_model("skip_chain"))
    plans = plan_parts(model, [0, 0, 0, 1, 1, 1, 2, 2])
    first = model.operators[0].outputs[0]  # d0's output, read again by the final add
    assert first in plans[0].outputs
    assert first not in plans[1].inputs  # it skips the middle part
    assert first in plans[2].inputs


def test_model_output_produced_mid_graph(tflite_model):
    model = read_model(tflite_model("two_output_mlp"))
    mid = next(t for t in model.outputs if model.producers[t] < model.num_ops - 1)
    parts = [0 if v <= model.producers[mid] else 1 for v in range(model.num_ops)]
    plans = plan_parts(model, parts)
    assert mid in plans[0].outputs and mid in plans[1].inputs  # a model output that a later part also reads
    assert len(plans[1].inputs) == 2 and len(plans[0].inputs) == 2  # two model inputs; two hand-overs


def test_empty_parts_are_skipped_and_said(tflite_model, tmp_path):
    path = tflite_model("skip_chain")
    split = split_model(path, [0, 0, 0, 0, 2, 2, 2, 2], tmp_path)
    assert [p.part_id for p in split.parts] == [0, 2]
    assert [p.number for p in split.parts] == [0, 1]
    assert any("empty parts [1]" in note for note in split.notes)
    assert read_split(tmp_path).notes == split.notes


def test_invalid_partition_names_the_first_bad_edge(tflite_model, tmp_path):
    path = tflite_model("skip_chain")
    with pytest.raises(UsageError, match=r"not topologically valid: op 0 \(part 1\) writes tensor .* op 1 \(part 0\)"):
        split_model(path, [1, 0, 1, 1, 1, 1, 1, 1], tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a JSON partition map"),
        ('{"partition_map": [0, 0]}', "has 2 entries, the model has 8 operators"),
        ('{"maps": []}', "no 'partition_map' list"),
        ('{"partition_map": [0, 0, 0, 0, 1, 1, 1, -1]}', "non-negative integers"),
        ('{"partition_map": [0, 0, 0, 0, 1, 1, 1, 2], "num_partitions": 2}', "'num_partitions' is 2"),
    ],
)
def test_bad_partition_map_files(tmp_path, content, message):
    path = tmp_path / "partition_map.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message) as err:
        read_partition_map(path, 8)
    assert str(path) in str(err.value)


def test_partition_map_round_trip(tmp_path):
    path = tmp_path / "partition_map.json"
    path.write_text(json.dumps({"partition_map": [0, 0, 1], "num_partitions": 2}))
    assert read_partition_map(path, 3) == [0, 0, 1]


def test_control_flow_calling_a_subgraph_the_model_lacks_is_refused(tflite_model, tmp_path):
    path = tflite_model("skip_chain")
    whole = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    op = whole.subgraphs[0].operators[0]
    op.builtinOptionsType = schema.BuiltinOptions.WhileOptions
    op.builtinOptions = schema.WhileOptionsT()
    import flatbuffers

    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(whole.Pack(builder), file_identifier=b"TFL3")
    bad = tmp_path / "while.tflite"
    bad.write_bytes(bytes(builder.Output()))
    with pytest.raises(ModelError, match=r"operator 0 of subgraph 0 calls subgraph 0 \(condSubgraphIndex\); the model "
                                         r"has subgraphs 0 to 0"):  # fmt: skip
        split_model(bad, [0] * 8, tmp_path / "out")


def _valid_partition(graph_order_parts: list[int], preds: list[list[int]]) -> list[int]:
    parts = list(graph_order_parts)
    for v, ps in enumerate(preds):  # operators are stored in a topological order
        parts[v] = max([parts[v]] + [parts[u] for u in ps])
    return parts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_valid_partitions_split_consistently(tflite_model, data):
    """Any valid map gives parts whose connection files pass their checks and cover every op once."""
    path = tflite_model(data.draw(st.sampled_from(MODELS)))
    model = read_model(path)
    graph = model.op_graph()
    preds = [sorted(graph.predecessors(v)) for v in range(model.num_ops)]
    raw = data.draw(st.lists(st.integers(0, 4), min_size=model.num_ops, max_size=model.num_ops))
    parts = _valid_partition(raw, preds)
    with tempfile.TemporaryDirectory() as out:
        split = split_model(path, parts, out)  # validates conn.json and the MANIFEST before writing
        assert sorted(v for p in split.parts for v in p.ops) == list(range(model.num_ops))
        again = read_split(out)
        assert again.parts == split.parts
        assert all((Path(out) / p.file).is_file() for p in split.parts)
