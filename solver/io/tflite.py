"""Read the operator graph of a .tflite model without TensorFlow.

The flatbuffer is read lazily through the schema that ai-edge-litert ships, so constant buffers are
never copied: a 100 MB model parses in a few tens of milliseconds. Only subgraph 0 is partitioned;
a model with more subgraphs (control flow bodies) says so in ``Model.notes``.

A file compressed with xz or gzip (``model.tflite.xz``) is read the same way; the bundled default
model is stored like that.
"""

from __future__ import annotations

import gzip
import lzma
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import networkx as nx
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from solver.errors import ModelError
from solver.io.circle import circle_op_name, circle_type_name, is_circle
from solver.io.flatbuffer_check import check_tflite

_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_DTYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_CUSTOM = schema.BuiltinOperator.CUSTOM
_XZ_MAGIC, _GZIP_MAGIC = b"\xfd7zXZ\x00", b"\x1f\x8b"

# Bytes per element of each TFLite dtype; sub-byte types are rounded per tensor in _tensor_bytes.
ITEM_BITS = {
    "FLOAT32": 32, "FLOAT16": 16, "BFLOAT16": 16, "FLOAT64": 64, "INT32": 32, "UINT32": 32,
    "INT64": 64, "UINT64": 64, "INT16": 16, "UINT16": 16, "INT8": 8, "UINT8": 8, "BOOL": 8,
    "COMPLEX64": 64, "COMPLEX128": 128, "INT4": 4, "UINT4": 4, "INT2": 2,
    "FLOAT8_E4M3FN": 8, "FLOAT8_E5M2": 8, "STRING": 8, "RESOURCE": 0, "VARIANT": 0,
}
# No real tensor comes near a tebibyte; a larger one is a corrupt shape (and would overflow CP-SAT's integers).
MAX_TENSOR_BYTES = 1 << 40


@dataclass(frozen=True)
class Tensor:
    """One tensor of subgraph 0."""

    index: int
    name: str
    shape: tuple[int, ...]  # dynamic dimensions (-1 in shape_signature) are counted as 1
    dtype: str  # TFLite dtype name, e.g. "FLOAT32", "INT8"
    nbytes: int  # product of shape times the dtype's real item size
    is_constant: bool  # its buffer holds data (weights, biases, constant shapes)
    dynamic: bool = False  # some dimension was -1 in shape_signature


@dataclass(frozen=True)
class Operator:
    """One operator of subgraph 0, numbered by its position in the file (as onert numbers it)."""

    index: int
    type: str  # TFLite builtin name (CONV_2D) or the custom code of a custom op
    inputs: tuple[int, ...]  # tensor indices; absent optional inputs (-1) are left out
    outputs: tuple[int, ...]


@dataclass
class Model:
    """Subgraph 0 of a TFLite model: its operators, tensors, inputs and outputs."""

    path: Path
    operators: list[Operator]
    tensors: list[Tensor]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    num_subgraphs: int = 1
    notes: list[str] = field(default_factory=list)  # facts the report must tell the user

    @property
    def num_ops(self) -> int:
        return len(self.operators)

    @cached_property
    def producers(self) -> dict[int, int]:
        """Tensor index -> index of the operator that writes it."""
        return {t: op.index for op in self.operators for t in op.outputs}

    def op_graph(self) -> nx.DiGraph:
        """The operator DAG.

        Nodes are operator indices 0..n-1 with attributes ``type`` (TFLite op name), ``weight``
        (0 until a trace is attached) and ``constants`` ({tensor index: bytes} of the constant
        tensors the op reads). An edge u -> v exists when v reads a tensor that u writes; it carries
        ``tensors`` ({tensor index: bytes}) and ``bytes`` (their sum). Graph attribute ``name``
        is the model's file name.
        """
        graph = nx.DiGraph(name=self.path.name)
        for op in self.operators:
            constants = {t: self.tensors[t].nbytes for t in op.inputs if self.tensors[t].is_constant}
            graph.add_node(op.index, type=op.type, weight=0, constants=constants)
        producers = self.producers
        for op in self.operators:
            for t in dict.fromkeys(op.inputs):
                src = producers.get(t)
                if src is None or src == op.index:
                    continue
                if graph.has_edge(src, op.index):
                    data = graph.edges[src, op.index]
                else:
                    graph.add_edge(src, op.index, tensors={}, bytes=0)
                    data = graph.edges[src, op.index]
                data["tensors"][t] = self.tensors[t].nbytes
                data["bytes"] += self.tensors[t].nbytes
        return graph


def read_model(path: str | Path) -> Model:
    """Read subgraph 0 of a .tflite or .circle file (circle's op codes and types: solver.io.circle).

    Raises
    ------
    ModelError
        The file is missing, is not a TFLite or circle flatbuffer, or is truncated or corrupt.
    """
    path = Path(path)
    data = read_model_bytes(path)
    circle = is_circle(data)
    if len(data) < 8 or not (circle or schema.Model.ModelBufferHasIdentifier(data, 0)):
        raise ModelError(f"{path}: not a TFLite model (no 'TFL3' file identifier, nor circle's 'CIR0')")
    try:
        check_tflite(data)  # the generated reader trusts every offset: check them all first
        return _parse(path, data, circle)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: truncated or corrupt TFLite flatbuffer ({err})") from err


def read_model_bytes(path: Path) -> bytes:
    """The bytes of a model file, decompressed when it is xz or gzip."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise ModelError(f"{path}: no such file") from err
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror})") from err
    try:
        if raw[:6] == _XZ_MAGIC:
            return lzma.decompress(raw)
        if raw[:2] == _GZIP_MAGIC:
            return gzip.decompress(raw)
    except (lzma.LZMAError, EOFError, OSError) as err:
        raise ModelError(f"{path}: corrupt compressed model ({err})") from err
    return raw


@contextmanager
def uncompressed(path: str | Path) -> Iterator[Path]:
    """``path`` itself, or for an xz/gzip-compressed model a temporary uncompressed copy (for runtimes)."""
    path = Path(path)
    with path.open("rb") as f:
        magic = f.read(6)
    if magic != _XZ_MAGIC and magic[:2] != _GZIP_MAGIC:
        yield path
        return
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / path.name.rsplit(".", 1)[0]
        plain.write_bytes(read_model_bytes(path))
        yield plain


def _parse(path: Path, data: bytes, circle: bool = False) -> Model:
    model = schema.Model.GetRootAs(data, 0)
    num_subgraphs = model.SubgraphsLength()
    if num_subgraphs == 0:
        raise ModelError(f"{path}: the model has no subgraph")
    op_name = circle_op_name if circle else _op_name
    codes = [op_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    buffers_with_data = _buffers_with_data(model, len(data))
    subgraph = model.Subgraphs(0)

    tensors = [_tensor(i, subgraph.Tensors(i), buffers_with_data, circle) for i in range(subgraph.TensorsLength())]
    operators = []
    for i in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(i)
        if op.OpcodeIndex() >= len(codes):
            raise ModelError(f"{path}: operator {i} uses opcode {op.OpcodeIndex()}, the model has {len(codes)}")
        inputs = tuple(int(t) for t in _ints(op.InputsAsNumpy()) if t >= 0)
        outputs = tuple(int(t) for t in _ints(op.OutputsAsNumpy()) if t >= 0)
        for t in inputs + outputs:
            if t >= len(tensors):
                raise ModelError(f"{path}: operator {i} uses tensor {t}, subgraph 0 has {len(tensors)}")
        operators.append(Operator(i, codes[op.OpcodeIndex()], inputs, outputs))

    io = {}
    for kind, array in (("input", subgraph.InputsAsNumpy()), ("output", subgraph.OutputsAsNumpy())):
        io[kind] = tuple(int(t) for t in _ints(array))
        bad = next((t for t in io[kind] if not 0 <= t < len(tensors)), None)
        if bad is not None:
            raise ModelError(f"{path}: subgraph 0 names tensor {bad} as an {kind}; it has {len(tensors)} tensors")
    result = Model(
        path=path,
        operators=operators,
        tensors=tensors,
        inputs=io["input"],
        outputs=io["output"],
        num_subgraphs=num_subgraphs,
    )
    if num_subgraphs > 1:
        result.notes.append(f"the model has {num_subgraphs} subgraphs; only subgraph 0 (the main graph) is partitioned")
    dynamic = sum(t.dynamic for t in tensors)
    if dynamic:
        result.notes.append(
            f"{dynamic} tensors have a dynamic dimension (-1 in shape_signature, usually the batch); "
            "byte sizes count it as 1"
        )
    return result


def _op_name(code: schema.OperatorCode) -> str:
    # Codes above 127 live only in builtin_code; older files only fill deprecated_builtin_code.
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == _CUSTOM:
        custom = code.CustomCode()
        return custom.decode() if custom else "CUSTOM"
    return _BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")


def _buffers_with_data(model: schema.Model, file_size: int) -> set[int]:
    """Indices of buffers that hold data, inline or (large models) at an offset in the file."""
    result = set()
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        length = buffer.DataLength()
        if length:
            # Reading the length alone succeeds on a truncated file; check the data is there too.
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            if start + length > file_size:
                raise ValueError(f"buffer {i} ends past the end of the file")
            result.add(i)
        elif buffer.Offset() > 1 and buffer.Size() > 0:
            if buffer.Offset() + buffer.Size() > file_size:
                raise ValueError(f"buffer {i} (at byte {buffer.Offset()}) ends past the end of the file")
            result.add(i)
    return result


def _tensor(index: int, tensor: schema.Tensor, buffers_with_data: set[int], circle: bool = False) -> Tensor:
    shape = tuple(int(d) for d in _ints(tensor.ShapeAsNumpy()))
    signature = tuple(int(d) for d in _ints(tensor.ShapeSignatureAsNumpy()))
    if any(d < -1 for d in shape + signature):
        raise ValueError(f"tensor {index} has a dimension below -1 in {shape} or {signature}")
    dynamic = any(d < 0 for d in signature) or any(d < 0 for d in shape)
    shape = tuple(max(d, 1) if d < 0 else d for d in shape)
    dtype = circle_type_name(tensor.Type()) if circle else _DTYPE_NAMES.get(tensor.Type(), f"TYPE_{tensor.Type()}")
    name = tensor.Name()
    nbytes = _tensor_bytes(shape, dtype)
    if nbytes > MAX_TENSOR_BYTES:
        raise ValueError(f"tensor {index} of shape {shape} would hold {nbytes} bytes")
    return Tensor(
        index=index,
        name=name.decode() if name else f"tensor_{index}",
        shape=shape,
        dtype=dtype,
        nbytes=nbytes,
        is_constant=tensor.Buffer() in buffers_with_data,
        dynamic=dynamic,
    )


def _tensor_bytes(shape: tuple[int, ...], dtype: str) -> int:
    elements = 1
    for d in shape:
        elements *= d
    return (elements * ITEM_BITS.get(dtype, 32) + 7) // 8


def _ints(array) -> np.ndarray:
    # The schema returns 0 (not an empty array) for an absent vector.
    return array if isinstance(array, np.ndarray) else np.zeros(0, dtype=np.int32)
