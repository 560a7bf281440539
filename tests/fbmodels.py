"""Hand-made .tflite files for cases Keras does not produce: int8 tensors, absent optional inputs,
dynamic batch, several subgraphs. Written with the flatbuffer object API of the TFLite schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema


@dataclass
class T:
    """A tensor: name, shape, dtype name, constant data (or None), shape signature (or None)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "FLOAT32"
    data: bytes | None = None
    signature: tuple[int, ...] | None = None


@dataclass
class Graph:
    """A further subgraph (the body of a WHILE or a branch of an IF): its tensors, ops, inputs and outputs."""

    tensors: list[T]
    ops: list[tuple]
    inputs: list[int]
    outputs: list[int]
    name: str = ""


def write_model(
    path: Path,
    tensors: list[T],
    ops: list[tuple],
    inputs: list[int],
    outputs: list[int],
    extra_subgraphs: int = 0,
    subgraphs: list[Graph] = (),
) -> Path:
    """Write a model whose subgraph 0 has ``tensors`` and ``ops`` ((builtin name, inputs, outputs) or
    (builtin name, inputs, outputs, options): an options object of the schema, such as ``AddOptionsT()``; an
    input -1 is an absent optional input), then ``subgraphs`` in order."""
    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]  # buffer 0: the empty sentinel
    names = sorted({op[0] for graph_ops in [ops] + [g.ops for g in subgraphs] for op in graph_ops})
    model.operatorCodes = []
    for name in names:
        code = schema.OperatorCodeT()
        code.builtinCode = getattr(schema.BuiltinOperator, name)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        code.version = 1
        model.operatorCodes.append(code)
    model.subgraphs = [_subgraph(model, tensors, ops, names, inputs, outputs)]
    for graph in subgraphs:
        model.subgraphs.append(_subgraph(model, graph.tensors, graph.ops, names, graph.inputs, graph.outputs))
        model.subgraphs[-1].name = graph.name
    for _ in range(extra_subgraphs):
        model.subgraphs.append(_subgraph(model, tensors[:1], [], names, [0], [0]))
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def write_large_model(path):
    """24 fully connected layers with 4 MB of weights each: a ~100 MB file."""
    tensors = [T("x", (1, 1024))]
    ops = []
    for i in range(24):
        tensors.append(T(f"w{i}", (1024, 1024), data=bytes(4 * 1024 * 1024)))
        tensors.append(T(f"h{i}", (1, 1024)))
        ops.append(("FULLY_CONNECTED", [len(tensors) - 3 if i else 0, len(tensors) - 2], [len(tensors) - 1]))
    return write_model(path, tensors, ops, inputs=[0], outputs=[len(tensors) - 1])


def _subgraph(model, tensors, ops, names, inputs, outputs):
    subgraph = schema.SubGraphT()
    subgraph.tensors = []
    for t in tensors:
        tensor = schema.TensorT()
        tensor.name = t.name
        tensor.shape = np.array(t.shape, dtype=np.int32)
        if t.signature is not None:
            tensor.shapeSignature = np.array(t.signature, dtype=np.int32)
        tensor.type = getattr(schema.TensorType, t.dtype)
        tensor.buffer = 0
        if t.data is not None:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(t.data, dtype=np.uint8)
            model.buffers.append(buffer)
            tensor.buffer = len(model.buffers) - 1
        subgraph.tensors.append(tensor)
    subgraph.operators = []
    for name, op_inputs, op_outputs, *options in ops:
        op = schema.OperatorT()
        op.opcodeIndex = names.index(name)
        op.inputs = np.array(op_inputs, dtype=np.int32)
        op.outputs = np.array(op_outputs, dtype=np.int32)
        if options:
            op.builtinOptionsType = getattr(schema.BuiltinOptions, type(options[0]).__name__[:-1])
            op.builtinOptions = options[0]
        subgraph.operators.append(op)
    subgraph.inputs = np.array(inputs, dtype=np.int32)
    subgraph.outputs = np.array(outputs, dtype=np.int32)
    return subgraph
