"""ONE's own circle-partitioner tests (compiler/circle-part-value-test) as ours: each (model, .part) pair whose
files ONE's stored sources give us (tests/one_recipes.py), grouped by ``--algo circle-partitioner`` as ONE's
current code groups it, then split and checked numerically with onert (parts for acl_cl or npu run on cpu)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devices.chain import RunError
from solver.deploy.split import split_model
from solver.deploy.verify import verify_split
from solver.io.tflite import read_model
from tests.one_recipes import PAIRS, RECIPES, build, group_pair
from tests.traces import write_chrome_trace


@pytest.fixture(scope="module")
def one_models(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Every recipe as a .tflite with a flat trace (100 us an op): name -> (model, trace)."""
    root = tmp_path_factory.mktemp("one_recipes")
    built = {}
    for name in RECIPES:
        model = build(name, root / f"{name}.tflite")
        parsed = read_model(model)
        built[name] = (model, write_chrome_trace(root / f"{name}.json", parsed, [[100.0] * parsed.num_ops] * 2))
    return built


def _grouped(pair, one_models, tmp_path):
    model, trace = one_models[pair.recipe]
    return (model, *group_pair(pair, model, trace, tmp_path))


@pytest.mark.parametrize("pair", PAIRS, ids=[p.part for p in PAIRS])
def test_one_pair_is_grouped_as_ones_code_groups_it_and_its_split_computes_the_model(pair, one_models, tmp_path):
    model, problem, result = _grouped(pair, one_models, tmp_path)
    parsed = problem.model
    names = [parsed.tensors[op.outputs[0]].name for op in parsed.operators]
    parts = result.metrics.parts
    ours = {(result.placement[str(k)], frozenset(names[v] for v in range(len(names)) if parts[v] == k))
            for k in set(parts)}  # fmt: skip
    assert ours == {(backend, frozenset(ops)) for backend, ops in pair.parts}
    assert result.metrics.num_parts == len(pair.parts)
    placement = {int(k): backend for k, backend in result.placement.items()}
    split = split_model(model, parts, tmp_path / "split", model=parsed, placement=placement)
    assert [p.device for p in split.parts] == [placement[k] for k in sorted(placement)]
    if pair.recipe == "Part_CumSum_Add_000":  # onert's loader has no CUMSUM: nothing to run the whole model on
        with pytest.raises(RunError, match="Unsupported operation: CUMSUM"):
            verify_split(split)
        return
    verified = verify_split(split)
    assert verified.ok, verified.outputs
    off_cpu = [p for p in split.parts if p.device != "cpu"]
    assert len([n for n in verified.notes if "ran on cpu" in n]) == len(off_cpu)


def test_the_readme_order_of_a_parts_inputs_is_the_order_its_ops_read_them(one_models, tmp_path):
    # circle-partitioner's README: the Div "requires order of Sub,Pow" (Div(Sub, Pow)), whatever the tensor order.
    pair = next(p for p in PAIRS if p.part == "Net_InstanceNorm_003")
    model, problem, result = _grouped(pair, one_models, tmp_path)
    placement = {int(k): backend for k, backend in result.placement.items()}
    split = split_model(model, result.metrics.parts, tmp_path / "split", model=problem.model, placement=placement)
    div = next(p for p in split.parts if p.device == "acl_cl")
    assert div.inputs == ("Sub", "Pow") and div.outputs == ("Div",)
    conn = json.loads((tmp_path / "split" / "Net_InstanceNorm_003.conn.json").read_text())
    assert [p["inputs"] for p in conn["parts"] if p["file"] == div.file] == [["Sub", "Pow"]]


@pytest.mark.parametrize(
    "recipe, rule, parts, subgraphs",
    [
        # ONE's .part files of these two are not in its stored sources: the rules are ours, the models ONE's.
        ("Part_While_000", "MAXIMUM=npu", [("cpu", ["min"]), ("npu", ["max"]), ("cpu", ["ofm"])], 3),
        ("Part_If_Add_Sub_001", "SUB=npu", [("cpu", ["add"]), ("npu", ["sub"]), ("cpu", ["ofm"])], 5),
    ],
)
def test_a_control_flow_part_carries_its_subgraphs_and_the_split_computes_the_model(
    recipe, rule, parts, subgraphs, one_models, tmp_path
):
    from ai_edge_litert import schema_py_generated as schema

    from tests.one_recipes import Pair

    text = f"[partition]\nbackends=cpu,npu\ndefault=cpu\ncomply=opcode\n[OPCODE]\n{rule}\n"
    pair = Pair(recipe, recipe, text, 0, parts)
    model, problem, result = _grouped(pair, one_models, tmp_path)
    names = [problem.model.tensors[op.outputs[0]].name for op in problem.model.operators]
    assert [(result.placement[str(k)], [names[v] for v in range(len(names)) if result.metrics.parts[v] == k])
            for k in range(result.metrics.num_parts)] == parts  # fmt: skip
    placement = {int(k): backend for k, backend in result.placement.items()}
    split = split_model(model, result.metrics.parts, tmp_path / "split", model=problem.model, placement=placement)
    last = schema.ModelT.InitFromPackedBuf((tmp_path / "split" / split.parts[-1].file).read_bytes(), 0)
    assert len(last.subgraphs) == subgraphs  # the WHILE's cond and body; the IF's branches and the nested IF's
    verified = verify_split(split)
    assert verified.ok, verified.outputs


def test_solve_profile_reads_back_its_own_trace_of_minimum_and_maximum(tmp_path):
    # Part_While_000's MINIMUM and MAXIMUM without the WHILE: onert traces them as "Min" and "Max".
    from devices import open_device
    from solver.deploy.profiling import ProfileSettings, profile_model
    from solver.io.trace import attach_weights, read_trace
    from tests.fbmodels import T, write_model

    path = write_model(tmp_path / "minmax.tflite",
                       [T("ifm1", (1, 64)), T("zero", (1, 64), data=bytes(256)), T("min", (1, 64)), T("max", (1, 64))],
                       [("MINIMUM", [0, 1], [2]), ("MAXIMUM", [2, 1], [3])], inputs=[0], outputs=[3])  # fmt: skip
    out = tmp_path / "trace.json"
    profile_model(path, open_device("local", cache_dir=tmp_path), ProfileSettings(runs=2, rounds=1), out=out)
    model = read_model(path)
    attach_weights(model.op_graph(), model, read_trace(out))  # raised "MINIMUM vs Min" before


def test_nan_agrees_with_nan_at_the_same_place_and_nowhere_else():
    import numpy as np

    from solver.deploy.verify import VerifySettings, compare_output

    ref = np.array([np.nan, 1.0, np.inf, -2.0], dtype=np.float32)
    assert compare_output("o", ref.copy(), ref, VerifySettings()).ok
    assert compare_output("o", ref.copy(), ref, VerifySettings()).scale == 2.0  # finite values only
    one_sided = ref.copy()
    one_sided[1] = np.nan
    check = compare_output("o", one_sided, ref, VerifySettings())
    assert not check.ok and check.max_abs == np.inf
    assert not compare_output("o", np.nan_to_num(ref, nan=0.0), ref, VerifySettings()).ok  # a number for a NaN


def test_inputs_outside_sqrts_domain_give_nans_on_both_sides_and_verify(one_models, tmp_path):
    from solver.deploy.verify import VerifySettings

    model, _ = one_models["Part_Add_Sqrt_Rsqrt_000"]
    split = split_model(model, [0, 0, 1, 1, 1], tmp_path / "split")
    default = verify_split(split)  # the model has SQRT and RSQRT: uniform in [0, 1)
    assert default.ok and any("uniform in [0, 1): the model has RSQRT, SQRT" in n for n in default.notes)
    negative = verify_split(split, VerifySettings(input_range=(-1.0, 1.0)))
    assert negative.ok and all(n.scale > 0 for n in negative.outputs)
