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
            "[OPNAME]\nReduction_indices=GPU\n")  # fmt: skip
    rules = _rules(tmp_path, text)
    assert rules.backend("MEAN", "Reduction_indices") == "GPU"
    assert rules.backend("MEAN", "reduction_indices") == "cpu"
    assert rules.backend("DIV", "Div") == "cpu"  # [OPCODE] does not apply with comply=opname


def test_ones_dialect_splits_at_the_first_equals_unescapes_semicolons_and_keeps_the_first_key(tmp_path):
    # ONE's Part_Add_Sub_001.part names an op with ';' escaped; tf names such as 'StatefulPartitionedCall:0'
    # hold ':' (configparser's other delimiter); a comment is a line of its own, never after a value.
    text = ("[partition]\nbackends=cpu,acl_cl\ndefault=cpu\ncomply=opname\n\n[OPNAME]\n"
            "some/node/add2\\;and/another=acl_cl\nStatefulPartitionedCall:0=acl_cl\n"
            "; a comment\n# another\nx=acl_cl\nx=cpu\n")  # fmt: skip
    rules = _rules(tmp_path, text)
    assert rules.by_opname == {"some/node/add2;and/another": "acl_cl", "StatefulPartitionedCall:0": "acl_cl",
                               "x": "acl_cl"}  # fmt: skip


def test_the_underscore_default_counts_only_in_the_section_comply_selects(tmp_path):
    head = "[partition]\nbackends=cpu,npu\ndefault=cpu\ncomply={}\n[OPCODE]\n_=npu\n[OPNAME]\n_=cpu\n"
    assert _rules(tmp_path, head.format("opcode")).default == "npu"
    assert _rules(tmp_path, head.replace("_=cpu", "_=npu").format("opname")).default == "npu"
    only_opcode = "[partition]\nbackends=cpu,npu\ndefault=cpu\ncomply=opname\n[OPCODE]\n_=npu\n"
    assert _rules(tmp_path, only_opcode).default == "cpu"


def test_repeated_sections_a_later_partition_replaces_an_earlier_and_the_first_rule_wins(tmp_path):
    text = ("[partition]\nbackends=cpu\ndefault=cpu\ncomply=opcode\n[OPCODE]\nDIV=npu\n"
            "[partition]\nbackends=cpu,npu\ndefault=npu\ncomply=opcode\n[OPCODE]\nDIV=cpu\n")  # fmt: skip
    rules = _rules(tmp_path, text)
    assert rules.backends == ("cpu", "npu") and rules.default == "npu" and rules.by_opcode == {"DIV": "npu"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("backends=cpu\n", r"line 1: an item before any section"),
        ("[partition\nbackends=cpu\n", r"line 1: a section line without '\]'"),
        ("[partition]\nbackends\n", r"line 2: no '=' in 'backends'"),
        ("[OPCODE]\nDIV=cpu\n", r"no \[partition\] section"),
        ("[partition]\ndefault=cpu\ncomply=opcode\n", r"'backends' is required in \[partition\]"),
        ("[partition]\nbackends=cpu\ncomply=opcode\n", r"'default' is required in \[partition\]"),
        ("[partition]\nbackends=cpu\ndefault=cpu\n", r"'comply' is required in \[partition\]"),
        ("[partition]\nbackends=cpu\ndefault=npu\ncomply=opcode\n", r"default=npu is not one of the backends cpu"),
        ("[partition]\nbackends=cpu\ndefault=cpu\ncomply=opseq\n", r"comply='opseq' is not one of opcode, opname"),
        ("[partition]\nbackends=cpu\ndefault=cpu\ncomply=opcode \n", r"comply='opcode ' is not one of"),
        ("[partition]\nbackends=cpu\ndefault=cpu\ncomply=opcode\n[OPCODE]\nDIV=gpu\n", r"OPCODE DIV=gpu is not one"),
        ("[partition]\nbackends=cpu\ndefault=cpu\ncomply=opname\n[OPNAME]\nx=gpu\n", r"OPNAME x=gpu is not one"),
    ],
)
def test_bad_partition_files_are_refused_naming_the_file(tmp_path, text, message):
    with pytest.raises(PlatformError, match=r"net\.part: " + message):
        _rules(tmp_path, text)


def test_a_missing_partition_file_is_named(tmp_path):
    with pytest.raises(PlatformError, match=r"nope\.part: cannot read the partition file"):
        read_rules(tmp_path / "nope.part")
