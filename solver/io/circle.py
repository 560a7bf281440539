"""ONE's .circle models: what differs from TFLite, with the schema of the ``circle-schema`` package (ONE's own).

A circle file is a TFLite flatbuffer extended at the end of its tables (same field slots, file identifier
``CIR0``), so the TFLite reader walks it unchanged; what differs is read here:

- op codes: circle's own ops have negative builtin codes (INSTANCE_NORM -2, BCQ_FULLY_CONNECTED -3, ...) kept in
  ``deprecated_builtin_code``; codes of 127 and above live in ``builtin_code`` (luci's ``builtin_code_neutral``);
- tensor types: circle adds negative ones (UINT4 -1, ...), named from circle's enum;
- writing: part models are packed with circle's object API (``circle_schema``), so the fields TFLite does not
  have are kept, and finished with the ``CIR0`` identifier.
"""

from __future__ import annotations

from types import SimpleNamespace

CIRCLE_IDENTIFIER = b"CIR0"
_PLACEHOLDER_FOR_GREATER_OP_CODES = 127


def is_circle(data: bytes) -> bool:
    """Whether ``data`` is a circle flatbuffer (its file identifier is ``CIR0``)."""
    return len(data) >= 8 and data[4:8] == CIRCLE_IDENTIFIER


def _enum_names(enum) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_")}


def _schema():
    from circle_schema.v0_10.circle import Buffer, BuiltinOperator, Model, SubGraph, TensorType

    return SimpleNamespace(
        ModelT=Model.ModelT, SubGraphT=SubGraph.SubGraphT, BufferT=Buffer.BufferT,
        op_names=_enum_names(BuiltinOperator.BuiltinOperator), type_names=_enum_names(TensorType.TensorType),
        custom=BuiltinOperator.BuiltinOperator.CUSTOM,
    )  # fmt: skip


def circle_op_name(code) -> str:
    """The name of a circle operator code (its ``OperatorCode`` table, read with either schema's reader)."""
    names = _schema()
    deprecated = code.DeprecatedBuiltinCode()
    builtin = code.BuiltinCode() if deprecated == _PLACEHOLDER_FOR_GREATER_OP_CODES else deprecated
    if builtin == names.custom:
        custom = code.CustomCode()
        return custom.decode() if custom else "CUSTOM"
    return names.op_names.get(builtin, f"BUILTIN_{builtin}")


def circle_type_name(code: int) -> str:
    return _schema().type_names.get(code, f"TYPE_{code}")


def circle_object_schema() -> SimpleNamespace:
    """circle's object API classes for packing part models: ``ModelT``, ``SubGraphT``, ``BufferT``."""
    return _schema()
