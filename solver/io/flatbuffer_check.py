"""A bounds-checked walk over the parts of a TFLite flatbuffer that nnpart reads, before anything reads them.

The schema's generated Python code trusts every offset: on a truncated or corrupted file it raises whatever
the bad offset provokes (``struct.error``, ``TypeError: bad number``, numpy's ``ValueError``) or reads garbage,
and the Python flatbuffers package has no verifier. :func:`check_tflite` follows every offset, vtable, vector
and string of the tables the reader uses (Model, OperatorCode, SubGraph, Tensor, Operator, Buffer) and raises
:class:`CorruptFlatbuffer` saying which one leaves the file. Offsets only point forward (unsigned), so the walk
ends; vector lengths are checked against the bytes left, so it costs no more than the file's size.
"""

from __future__ import annotations

import struct

# Table name -> field number (its slot in the vtable) -> what the field holds: a scalar's byte size, "string",
# ("vector", element size) or ("tables", table name). Field numbers follow the TFLite schema; fields the reader
# does not use are not checked.
_LAYOUT: dict[str, dict[int, int | str | tuple[str, int | str]]] = {
    "Model": {1: ("tables", "OperatorCode"), 2: ("tables", "SubGraph"), 4: ("tables", "Buffer")},
    "OperatorCode": {0: 1, 1: "string", 3: 4},
    "SubGraph": {0: ("tables", "Tensor"), 1: ("vector", 4), 2: ("vector", 4), 3: ("tables", "Operator")},
    "Tensor": {0: ("vector", 4), 1: 1, 2: 4, 3: "string", 7: ("vector", 4)},
    "Operator": {0: 4, 1: ("vector", 4), 2: ("vector", 4)},
    "Buffer": {0: ("vector", 1), 1: 8, 2: 8},
}


class CorruptFlatbuffer(ValueError):
    """An offset, vtable, vector or string of the flatbuffer points outside the file or its table."""


def check_tflite(data: bytes) -> None:
    """Raise :class:`CorruptFlatbuffer` unless every table, vector and string the reader uses lies inside ``data``."""
    walk = _Walk(data)
    walk.table(walk.offset(0, "the root offset"), "Model")


class _Walk:
    def __init__(self, data: bytes):
        self.data = data

    def need(self, pos: int, size: int, what: str) -> None:
        if pos < 0 or pos + size > len(self.data):
            raise CorruptFlatbuffer(f"{what} (bytes {pos}..{pos + size}) lies outside the file of {len(self.data)} bytes")

    def u32(self, pos: int, what: str) -> int:
        self.need(pos, 4, what)
        return struct.unpack_from("<I", self.data, pos)[0]

    def offset(self, pos: int, what: str) -> int:
        """The position an unsigned offset stored at ``pos`` points to."""
        return pos + self.u32(pos, what)

    def vector(self, pos: int, element: int, what: str) -> int:
        """Check the vector at ``pos`` and return its length."""
        length = self.u32(pos, f"the length of {what}")
        self.need(pos + 4, length * element, f"{what} of {length} elements")
        return length

    def table(self, pos: int, name: str) -> None:
        self.need(pos, 4, f"a {name} table")
        vtable = pos - struct.unpack_from("<i", self.data, pos)[0]
        self.need(vtable, 4, f"the vtable of a {name} table")
        vtable_size, table_size = struct.unpack_from("<HH", self.data, vtable)
        if vtable_size < 4 or vtable_size % 2:
            raise CorruptFlatbuffer(f"a {name} table at byte {pos} has a vtable of {vtable_size} bytes")
        self.need(vtable, vtable_size, f"the vtable of a {name} table")
        self.need(pos, table_size, f"a {name} table")
        for field, kind in _LAYOUT[name].items():
            slot = 4 + 2 * field
            if slot >= vtable_size:
                continue  # an older writer: the field is absent
            where = struct.unpack_from("<H", self.data, vtable + slot)[0]
            if where == 0:
                continue
            if where + (kind if isinstance(kind, int) else 4) > table_size:
                raise CorruptFlatbuffer(f"field {field} of a {name} table at byte {pos} lies outside the table")
            if isinstance(kind, int):
                continue
            what = f"field {field} of a {name} table"
            target = self.offset(pos + where, what)
            if kind == "string":
                self.vector(target, 1, what)
            elif kind[0] == "vector":
                self.vector(target, kind[1], what)
            else:
                for i in range(self.vector(target, 4, what)):
                    element = target + 4 + 4 * i
                    self.table(self.offset(element, what), kind[1])
