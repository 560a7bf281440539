"""Names of operator types: TFLite builtin names, onert IR op types and onert trace names.

onert configures backends per IR op type (``OP_BACKEND_Conv2D``, ``OP_BACKEND_BinaryArithmetic``),
so ONE's oplist and every backend assignment speak in IR types. onert's traces name an op by its
kind, which is finer for some types (``Add`` for BinaryArithmetic, ``AvgPool2D`` for Pool2D,
``ReduceMean`` for Reduce).
"""

from __future__ import annotations

import re

# TFLite builtin name -> onert IR op type (the names OP_BACKEND_<type> accepts).
ONERT_TYPES: dict[str, str] = {
    "ABS": "ElementwiseUnary", "ADD": "BinaryArithmetic", "ADD_N": "AddN", "ARG_MAX": "ArgMinMax",
    "ARG_MIN": "ArgMinMax", "AVERAGE_POOL_2D": "Pool2D", "BATCH_MATMUL": "BatchMatMul",
    "BATCH_TO_SPACE_ND": "BatchToSpaceND", "BROADCAST_ARGS": "BroadcastArgs", "BROADCAST_TO": "BroadcastTo",
    "CAST": "ElementwiseUnary", "CEIL": "ElementwiseUnary", "CONCATENATION": "Concat", "CONV_2D": "Conv2D",
    "COS": "ElementwiseUnary", "DEPTH_TO_SPACE": "DepthToSpace", "DEPTHWISE_CONV_2D": "DepthwiseConv2D",
    "DEQUANTIZE": "ElementwiseUnary", "DIV": "BinaryArithmetic", "ELU": "ElementwiseActivation",
    "EMBEDDING_LOOKUP": "EmbeddingLookup", "EQUAL": "Comparison", "HASHTABLE_LOOKUP": "HashtableLookup",
    "EXP": "ElementwiseUnary", "EXPAND_DIMS": "ExpandDims", "FILL": "Fill",
    "FLOOR": "ElementwiseUnary", "FLOOR_DIV": "ElementwiseBinary", "FLOOR_MOD": "ElementwiseBinary",
    "FULLY_CONNECTED": "FullyConnected", "GATHER": "Gather", "GELU": "ElementwiseActivation",
    "GREATER": "Comparison", "GREATER_EQUAL": "Comparison", "HARD_SWISH": "ElementwiseUnary",
    "L2_NORMALIZATION": "L2Normalization", "LEAKY_RELU": "ElementwiseActivation", "LESS": "Comparison",
    "LESS_EQUAL": "Comparison", "LOCAL_RESPONSE_NORMALIZATION": "LocalResponseNormalization",
    "LOG": "ElementwiseUnary", "LOG_SOFTMAX": "LogSoftmax", "LOGICAL_AND": "ElementwiseBinary",
    "LOGICAL_NOT": "ElementwiseUnary", "LOGICAL_OR": "ElementwiseBinary", "LOGISTIC": "ElementwiseActivation",
    "MAX_POOL_2D": "Pool2D", "MAXIMUM": "ElementwiseBinary", "MEAN": "Reduce", "MINIMUM": "ElementwiseBinary",
    "MIRROR_PAD": "Pad", "MUL": "BinaryArithmetic", "NEG": "ElementwiseUnary", "NOT_EQUAL": "Comparison",
    "ONE_HOT": "OneHot", "PACK": "Pack", "PAD": "Pad", "PADV2": "Pad", "POW": "Pow", "PRELU": "PReLU",
    "QUANTIZE": "ElementwiseUnary", "RANGE": "Range", "RANK": "Rank", "REDUCE_ANY": "Reduce",
    "REDUCE_MAX": "Reduce", "REDUCE_MIN": "Reduce", "REDUCE_PROD": "Reduce", "RELU": "ElementwiseActivation",
    "RELU6": "ElementwiseActivation", "RELU_N1_TO_1": "ElementwiseActivation", "RESHAPE": "Reshape",
    "RESIZE_BILINEAR": "ResizeBilinear", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighbor",
    "REVERSE_V2": "Reverse", "ROUND": "ElementwiseUnary", "RSQRT": "ElementwiseUnary", "SELECT": "Select",
    "SELECT_V2": "Select", "SHAPE": "Shape", "SIN": "ElementwiseUnary", "SLICE": "Slice", "SOFTMAX": "Softmax",
    "SPACE_TO_BATCH_ND": "SpaceToBatchND", "SPACE_TO_DEPTH": "SpaceToDepth", "SPLIT": "Split",
    "SPLIT_V": "SplitV", "SQRT": "ElementwiseUnary", "SQUARE": "ElementwiseUnary",
    "SQUARED_DIFFERENCE": "SquaredDifference", "SQUEEZE": "Squeeze", "STRIDED_SLICE": "StridedSlice",
    "SUB": "BinaryArithmetic", "SUM": "Reduce", "TANH": "ElementwiseActivation", "TILE": "Tile",
    "TOPK_V2": "TopKV2", "TRANSPOSE": "Transpose", "TRANSPOSE_CONV": "TransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "LSTM", "UNPACK": "Unpack",
    "WHILE": "While", "IF": "If", "ZEROS_LIKE": "ElementwiseUnary",
}

# Names onert's trace uses (an operation's ``name()``: the kind within its IR type) where they differ from both
# the TFLite name and the IR type beyond case and underscores (``RSqrt`` ~ ``RSQRT`` need no entry).
TRACE_NAMES: dict[str, str] = {
    "ADD": "Add", "SUB": "Sub", "MUL": "Mul", "DIV": "Div", "AVERAGE_POOL_2D": "AvgPool2D",
    "MAX_POOL_2D": "MaxPool2D", "MEAN": "ReduceMean", "SUM": "ReduceSum", "REDUCE_MAX": "ReduceMax",
    "REDUCE_MIN": "ReduceMin", "REDUCE_PROD": "ReduceProd", "REDUCE_ANY": "ReduceAny",
    "LOGISTIC": "Logistic", "RELU": "ReLU", "RELU6": "ReLU6", "RELU_N1_TO_1": "ReLU", "TANH": "Tanh",
    "MAXIMUM": "Max", "MINIMUM": "Min",
}
# Further trace names of one TFLite type: onert names every RELU kind of ElementwiseActivation "ReLU".
ALSO_TRACED: dict[str, tuple[str, ...]] = {"RELU6": ("ReLU",)}


def onert_type(tflite_name: str) -> str:
    """The onert IR op type of a TFLite op; unknown and custom ops keep their own name."""
    return ONERT_TYPES.get(tflite_name, tflite_name)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def types_agree(tflite_name: str, other: str) -> bool:
    """Whether ``other`` (a trace or oplist name) names the same kind of op as ``tflite_name``.

    ``Conv2D`` and ``CONV_2D`` agree; ``AvgPool2D``, ``Pool2D`` and ``AVERAGE_POOL_2D`` agree;
    ``Conv2D`` and ``Softmax`` do not.
    """
    candidates = {tflite_name, onert_type(tflite_name), TRACE_NAMES.get(tflite_name, tflite_name),
                  *ALSO_TRACED.get(tflite_name, ())}  # fmt: skip
    return _norm(other) in {_norm(c) for c in candidates}
