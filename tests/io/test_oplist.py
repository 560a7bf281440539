"""ONE's oplist from real models: op types, groups by (op name, real data size)."""

from __future__ import annotations

import json

import pytest

from solver.errors import UsageError
from solver.io.oplist import data_size, make_oplist, read_oplist
from solver.io.optypes import onert_type
from solver.io.tflite import read_model


def test_name_mode_is_unique_onert_types_in_order(branchy_cnn):
    ol = read_oplist(branchy_cnn, "name")
    assert ol.oplist == ("Conv2D", "DepthwiseConv2D", "Concat", "BinaryArithmetic", "Pool2D", "Reduce",
                         "FullyConnected", "Softmax")  # fmt: skip
    assert ol.to_json() == {"oplist": list(ol.oplist)}


def test_index_mode_groups_by_op_name_and_data_size(branchy_cnn):
    model = read_model(branchy_cnn)
    ol = make_oplist(model, "index")
    assert len(ol.opmap) == len(ol.opname_by_indx) == model.num_ops
    assert list(ol.opname_by_indx) == [onert_type(op.type) for op in model.operators]
    # Groups are numbered 0.. in order of first appearance, and two ops share one exactly when
    # their TFLite name and data size agree.
    assert sorted(set(ol.opmap)) == list(range(ol.num_decisions))
    assert [g for i, g in enumerate(ol.opmap) if g not in ol.opmap[:i]] == list(range(ol.num_decisions))
    for a in model.operators:
        for b in model.operators:
            same = (a.type, data_size(model, a.index)) == (b.type, data_size(model, b.index))
            assert (ol.opmap[a.index] == ol.opmap[b.index]) == same
    # branchy_cnn's two 1x1 convs 8->8 channels (ops 1 and 3) have the same sizes.
    assert ol.opmap[1] == ol.opmap[3]


def test_data_size_uses_real_dtype_sizes(branchy_cnn):
    model = read_model(branchy_cnn)
    stem = model.operators[0]  # 16x16x3 input, 3x3x3x8 weights, 8 bias, 16x16x8 output, all float32
    assert data_size(model, 0) == 4 * (16 * 16 * 3 + 8 * 3 * 3 * 3 + 8 + 16 * 16 * 8)
    assert stem.type == "CONV_2D"


def test_unknown_mode(branchy_cnn):
    with pytest.raises(UsageError, match="unknown oplist mode"):
        read_oplist(branchy_cnn, "size")


def test_command_writes_ones_file(branchy_cnn, tmp_path, capsys, monkeypatch):
    from solver import cli

    main = cli.main
    out = tmp_path / "oplist.json"
    assert main(["oplist", str(branchy_cnn), "--mode", "index", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"oplist", "opmap", "opname_by_indx"}
    capsys.readouterr()
    assert main(["oplist", str(branchy_cnn), "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["schema"] == "nnpart.oplist/1" and printed["mode"] == "name" and printed["out"] == str(out)
    assert printed["oplist"] == json.loads(out.read_text())["oplist"] and printed["num_decisions"] == 8
    assert main(["oplist", str(tmp_path / "missing.tflite"), "--out", str(tmp_path / "x.json")]) == 2
    assert "ModelError" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
