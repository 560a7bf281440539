"""circle-partitioner's partition files (solver.io.partrules), on its README's examples."""

from __future__ import annotations

import pytest

from solver.errors import PlatformError
from solver.io.partrules import read_rules


def _rules(tmp_path, text, **overrides):
    path = tmp_path / "net.part"
    path.write_text(text)
    return read_rules(path, **overrides)


def test_opcode_rules_of_the_readme_net_instance_norm_003(tmp_path):
    rules = _rules(tmp_path, "[partition]\nbackends=cpu,acl_cl\ndefault=cpu\ncomply=opcode\n\n[OPCODE]\nDIV=acl_cl\n")
    assert rules.backends == ("cpu", "acl_cl") and rules.default == "cpu" and rules.comply == "opcode"
    assert [rules.backend(t, None) for t in ("MEAN", "SUB", "POW", "DIV", "ADD")] == ["cpu"] * 3 + ["acl_cl", "cpu"]


def test_underscore_in_opcode_overrides_the_default_and_the_command_line_overrides_both(tmp_path):
    text = "[partition]\nbackends=cpu,acl_cl\ndefault=acl_cl\ncomply=opcode\n\n[OPCODE]\n_=cpu\nDIV=acl_cl\n"
    assert _rules(tmp_path, text).default == "cpu"
    overridden = _rules(tmp_path, text, backends="cpu,acl_cl,npu", default="npu")
    assert overridden.default == "npu" and overridden.backends == ("cpu", "acl_cl", "npu")
    assert overridden.backend("ADD", None) == "npu" and overridden.backend("DIV", None) == "acl_cl"


def test_opname_rules_match_names_case_sensitively_and_ignore_opcode_rules(tmp_path):
    text = ("[partition]\nbackends=cpu,GPU\ndefault=cpu\ncomply=opname\n\n[OPCODE]\nDIV=GPU\n\n"
            "[OP]\nReduction_indices=GPU\n")  # fmt: skip
    rules = _rules(tmp_path, text)
    assert rules.backend("MEAN", "Reduction_indices") == "GPU"
    assert rules.backend("MEAN", "reduction_indices") == "cpu"
    assert rules.backend("DIV", "Div") == "cpu"  # [OPCODE] does not apply with comply=opname


def test_comply_defaults_to_opcode(tmp_path):
    rules = _rules(tmp_path, "[partition]\nbackends=cpu,acl_cl\ndefault=cpu\n[OPCODE]\nADD=acl_cl\n")
    assert rules.comply == "opcode" and rules.backend("ADD", "x") == "acl_cl"


@pytest.mark.parametrize(
    "text, message",
    [
        ("backends=cpu\n", r"not a partition file in INI format"),
        ("[OPCODE]\nDIV=cpu\n", r"no \[partition\] section"),
        ("[partition]\ndefault=cpu\n", r"'backends' is required in \[partition\]"),
        ("[partition]\nbackends=cpu\n", r"'default' is required in \[partition\]"),
        ("[partition]\nbackends=cpu\ndefault=npu\n", r"default=npu is not one of the backends cpu"),
        ("[partition]\nbackends=cpu\ndefault=cpu\ncomply=opseq\n", r"comply='opseq' is not one of opcode, opname"),
        ("[partition]\nbackends=cpu\ndefault=cpu\n[OPCODE]\nDIV=gpu\n", r"OPCODE DIV=gpu is not one of the backends"),
        ("[partition]\nbackends=cpu\ndefault=cpu\n[partition]\nbackends=cpu\n", r"not a partition file in INI"),
    ],
)
def test_bad_partition_files_are_refused_naming_the_file(tmp_path, text, message):
    with pytest.raises(PlatformError, match=r"net\.part: " + message):
        _rules(tmp_path, text)


def test_a_missing_partition_file_is_named(tmp_path):
    with pytest.raises(PlatformError, match=r"nope\.part: cannot read the partition file"):
        read_rules(tmp_path / "nope.part")
