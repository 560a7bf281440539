"""The op-name table (solver.io.optypes) against the TFLite schema and onert's own names."""

from __future__ import annotations

import pytest
from ai_edge_litert import schema_py_generated as schema

from solver.io.optypes import ONERT_TYPES, TRACE_NAMES, onert_type, types_agree

# The builtins onert's loader turns into IR operations, and the IR type of each: Samsung/ONE
# runtime/onert/core/src/loader/BaseLoader.h, BaseLoader::loadOperation (CUSTOM left out: it becomes the
# custom op's own kind).
LOADED = {
    "ADD_N": "AddN", "CONV_2D": "Conv2D", "AVERAGE_POOL_2D": "Pool2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D",
    "TRANSPOSE_CONV": "TransposeConv", "RESHAPE": "Reshape", "SOFTMAX": "Softmax", "MAX_POOL_2D": "Pool2D",
    "CONCATENATION": "Concat", "FLOOR": "ElementwiseUnary", "FULLY_CONNECTED": "FullyConnected",
    "ADD": "BinaryArithmetic", "SUB": "BinaryArithmetic", "MUL": "BinaryArithmetic", "DIV": "BinaryArithmetic",
    "PACK": "Pack", "ELU": "ElementwiseActivation", "RELU": "ElementwiseActivation",
    "RELU_N1_TO_1": "ElementwiseActivation", "RELU6": "ElementwiseActivation", "RESIZE_BILINEAR": "ResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighbor", "RSQRT": "ElementwiseUnary", "SELECT": "Select",
    "SELECT_V2": "Select", "SQRT": "ElementwiseUnary", "SQUARE": "ElementwiseUnary",
    "SQUARED_DIFFERENCE": "SquaredDifference", "TANH": "ElementwiseActivation", "TRANSPOSE": "Transpose",
    "MEAN": "Reduce", "REDUCE_ANY": "Reduce", "REDUCE_MAX": "Reduce", "REVERSE_V2": "Reverse", "PAD": "Pad",
    "PADV2": "Pad", "LOGISTIC": "ElementwiseActivation", "EXP": "ElementwiseUnary", "EXPAND_DIMS": "ExpandDims",
    "GATHER": "Gather", "SPACE_TO_BATCH_ND": "SpaceToBatchND", "BATCH_TO_SPACE_ND": "BatchToSpaceND",
    "SUM": "Reduce", "SQUEEZE": "Squeeze", "PRELU": "PReLU", "SPLIT": "Split", "SPLIT_V": "SplitV",
    "SLICE": "Slice", "STRIDED_SLICE": "StridedSlice", "UNPACK": "Unpack", "FLOOR_DIV": "ElementwiseBinary",
    "FLOOR_MOD": "ElementwiseBinary", "MINIMUM": "ElementwiseBinary", "MAXIMUM": "ElementwiseBinary",
    "CAST": "ElementwiseUnary", "EQUAL": "Comparison", "NOT_EQUAL": "Comparison", "GREATER_EQUAL": "Comparison",
    "GREATER": "Comparison", "LESS_EQUAL": "Comparison", "LESS": "Comparison", "ONE_HOT": "OneHot",
    "ABS": "ElementwiseUnary", "COS": "ElementwiseUnary", "SIN": "ElementwiseUnary", "SHAPE": "Shape",
    "REDUCE_PROD": "Reduce", "IF": "If", "WHILE": "While", "NEG": "ElementwiseUnary", "ARG_MAX": "ArgMinMax",
    "ARG_MIN": "ArgMinMax", "LOG": "ElementwiseUnary", "ROUND": "ElementwiseUnary", "POW": "Pow",
    "LOGICAL_NOT": "ElementwiseUnary", "LOGICAL_AND": "ElementwiseBinary", "LOGICAL_OR": "ElementwiseBinary",
    "FILL": "Fill", "ZEROS_LIKE": "ElementwiseUnary", "TILE": "Tile", "RANGE": "Range",
    "BATCH_MATMUL": "BatchMatMul", "LOG_SOFTMAX": "LogSoftmax", "QUANTIZE": "ElementwiseUnary",
    "DEQUANTIZE": "ElementwiseUnary", "SPACE_TO_DEPTH": "SpaceToDepth", "L2_NORMALIZATION": "L2Normalization",
    "LEAKY_RELU": "ElementwiseActivation", "RANK": "Rank", "UNIDIRECTIONAL_SEQUENCE_LSTM": "LSTM",
    "DEPTH_TO_SPACE": "DepthToSpace", "EMBEDDING_LOOKUP": "EmbeddingLookup", "HASHTABLE_LOOKUP": "HashtableLookup",
}  # fmt: skip

# onert's operation names (``name()``, what its traces show) where a kind differs from its IR type:
# ElementwiseBinary.cc, ElementwiseUnary.cc, ElementwiseActivation.cc, Pool2D.cc, Reduce.cc, BinaryArithmetic.cc.
TRACED = {
    "MINIMUM": "Min", "MAXIMUM": "Max", "FLOOR_DIV": "FloorDiv", "FLOOR_MOD": "FloorMod", "LOGICAL_AND": "LogicalAnd",
    "LOGICAL_OR": "LogicalOr", "ABS": "Abs", "CAST": "Cast", "COS": "Cos", "DEQUANTIZE": "Dequantize", "EXP": "Exp",
    "FLOOR": "Floor", "LOG": "Log", "LOGICAL_NOT": "LogicalNot", "NEG": "Neg", "QUANTIZE": "Quantize",
    "ROUND": "Round", "RSQRT": "RSqrt", "SIN": "Sin", "SQRT": "Sqrt", "SQUARE": "Square", "ZEROS_LIKE": "ZerosLike",
    "ELU": "ELU", "LOGISTIC": "Logistic", "RELU": "ReLU", "RELU6": "ReLU", "RELU_N1_TO_1": "ReLU", "TANH": "Tanh",
    "LEAKY_RELU": "LeakyRelu", "AVERAGE_POOL_2D": "AvgPool2D", "MAX_POOL_2D": "MaxPool2D", "MEAN": "ReduceMean",
    "SUM": "ReduceSum", "REDUCE_MAX": "ReduceMax", "REDUCE_PROD": "ReduceProd", "REDUCE_ANY": "ReduceAny",
    "ADD": "Add", "SUB": "Sub", "MUL": "Mul", "DIV": "Div",
}  # fmt: skip

BUILTINS = {name for name in vars(schema.BuiltinOperator) if name.isupper()}


def test_every_name_of_the_table_is_a_builtin_operator_of_the_schema():
    assert set(ONERT_TYPES) <= BUILTINS
    assert set(TRACE_NAMES) <= BUILTINS


@pytest.mark.parametrize("builtin", sorted(BUILTINS))
def test_every_builtin_onert_loads_has_its_onert_type(builtin):
    if builtin in LOADED:
        assert onert_type(builtin) == LOADED[builtin]
    else:  # onert's loader refuses it ("Unsupported operation"), or a newer onert than that loader takes it
        assert onert_type(builtin) == ONERT_TYPES.get(builtin, builtin)


@pytest.mark.parametrize("builtin", sorted(TRACED))
def test_onert_trace_names_agree_with_their_builtin(builtin):
    assert types_agree(builtin, TRACED[builtin])
    assert types_agree(builtin, LOADED[builtin])  # oplists speak in IR types


def test_different_kinds_do_not_agree():
    assert not types_agree("MINIMUM", "Max") and not types_agree("CONV_2D", "Softmax")
