"""ONE's ``gen_oplist``: the decisions of a backend assignment, read from a TFLite model.

- name mode: ``{"oplist": [...]}``, the unique onert op types in order of first appearance.
- index mode adds ``"opmap"`` (the group of every op) and ``"opname_by_indx"`` (the onert op type of
  every op). A group is a unique pair (TFLite op name, data size); groups are numbered in order of
  first appearance (ONE numbered them in Python set order, which changes between runs).

Data size, as in ONE: the bytes of all the op's input tensors (constants such as weights included)
plus its output tensors. Unlike ONE, whose code took the item size of the *shape* array (4 bytes for
every dtype), sizes use the tensor's real dtype, so an int8 model groups by its true sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from solver.errors import UsageError
from solver.io.optypes import onert_type

if TYPE_CHECKING:  # the TFLite reader (numpy, networkx) loads only when a model is read
    from solver.io.tflite import Model

MODES = ("name", "index")


@dataclass(frozen=True)
class OpList:
    """ONE's oplist of a model (see the module docstring)."""

    mode: str
    oplist: tuple[str, ...]
    opmap: tuple[int, ...] | None = None  # index mode: group of op i
    opname_by_indx: tuple[str, ...] | None = None  # index mode: onert op type of op i

    def to_json(self) -> dict:
        """ONE's oplist.json."""
        data: dict = {"oplist": list(self.oplist)}
        if self.mode == "index":
            data["opmap"] = list(self.opmap)
            data["opname_by_indx"] = list(self.opname_by_indx)
        return data

    @property
    def num_decisions(self) -> int:
        """Digits of a solution id: op types (name mode) or groups (index mode)."""
        return len(self.oplist) if self.mode == "name" else len(set(self.opmap))


def data_size(model: Model, op_index: int) -> int:
    """Bytes of an op's input tensors (constants included) and output tensors, real dtype sizes."""
    op = model.operators[op_index]
    return sum(model.tensors[t].nbytes for t in op.inputs + op.outputs)


def make_oplist(model: Model, mode: str = "name") -> OpList:
    """ONE's oplist of ``model`` in ``mode`` (``name`` or ``index``)."""
    if mode not in MODES:
        raise UsageError(f"unknown oplist mode {mode!r}; choose name or index")
    types = [onert_type(op.type) for op in model.operators]
    oplist = tuple(dict.fromkeys(types))
    if mode == "name":
        return OpList(mode, oplist)
    groups: dict[tuple[str, int], int] = {}
    opmap = tuple(groups.setdefault((op.type, data_size(model, op.index)), len(groups)) for op in model.operators)
    return OpList(mode, oplist, opmap, tuple(types))


def read_oplist(model_path: str | Path, mode: str = "name") -> OpList:
    """:func:`make_oplist` of the model file ``model_path``."""
    from solver.io.tflite import read_model

    return make_oplist(read_model(model_path), mode)
