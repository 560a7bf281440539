"""ONE's circle-part-value-test as data: the models of ``res/TensorFlowLiteRecipes`` it names, transcribed from
their ``test.recipe`` files (op types, tensor names, shapes, wiring, options, constants), and its ``.part`` files
(Samsung/ONE ``compiler/circle-part-value-test/parts``; where the stored sources hold a file of the same name
only in ``compiler/circle-partitioner/parts``, ``circle-partitioner-test/parts`` or circle-partitioner's README,
that one), with the part counts of its ``test.lst``.

A recipe's gaussian filler is drawn from a seeded generator (ONE draws its own); explicit fillers are ONE's.
Models are written with the flatbuffer writer of ``tests/fbmodels.py``: operator order, tensor names and
options as the recipe states them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from tests.fbmodels import Graph, T, write_model

S = (1, 3, 3, 2)  # the shape most Part_* recipes use


@dataclass(frozen=True)
class Recipe:
    """A recipe: operands (name, shape, dtype, filler: None, a list of explicit values or "gaussian"),
    operations (TFLite builtin, input names ("" for an absent one), output names, options or None), inputs,
    outputs; ``graphs``: the recipe's further ``graph`` blocks, subgraphs 1, 2, ... in order."""

    operands: list[tuple]
    operations: list[tuple]
    inputs: list[str]
    outputs: list[str]
    graphs: tuple[Recipe, ...] = ()
    name: str = ""


def _options(kind: str, **values):
    options = getattr(schema, kind)()
    for key, value in values.items():
        setattr(options, key, value)
    return options


def _none(kind: str):
    return _options(kind, fusedActivationFunction=schema.ActivationFunctionType.NONE)


def _add_sub(add1: str, add2: str) -> Recipe:
    names = ["ifm1", "ifm2", "ifm3", "ifm4", add1, add2, "ofm"]
    return Recipe(
        [(n, S, "FLOAT32", None) for n in names],
        [("ADD", ["ifm1", "ifm2"], [add1], _none("AddOptionsT")),
         ("ADD", [add1, "ifm3"], [add2], _none("AddOptionsT")),
         ("SUB", [add2, "ifm4"], ["ofm"], _none("SubOptionsT"))],
        ["ifm1", "ifm2", "ifm3", "ifm4"], ["ofm"],
    )  # fmt: skip


def _instance_norm() -> Recipe:
    x, c = (1, 8, 6, 12), (1, 1, 1, 12)
    beta = [1.9714, 1.4517, 1.20315, 0.287979, 0.161815, -0.281398, 2.70276, -0.166962, 0.266389, 0.890943,
            -0.279833, 1.82808]  # fmt: skip
    gamma = [0.574708, 0.387735, 0.8995, 0.484296, 2.35851, 1.06661, 0.343602, 2.27583, 1.14559, 0.690169,
             1.2044, 0.350952]  # fmt: skip
    keep = _options("ReducerOptionsT", keepDims=True)
    return Recipe(
        [("Input", x, "FLOAT32", None), ("Div", x, "FLOAT32", None), ("Beta", (12,), "FLOAT32", beta),
         ("Gamma", (12,), "FLOAT32", gamma), ("Pow", c, "FLOAT32", None), ("Add_as_terminal", x, "FLOAT32", None),
         ("Epsilon", (), "FLOAT32", [0.001]), ("Zero_point_five", (), "FLOAT32", [0.5]),
         ("Mul_gamma", x, "FLOAT32", None), ("Sub", x, "FLOAT32", None), ("SquaredDifference", x, "FLOAT32", None),
         ("Mean_of_ifm", c, "FLOAT32", None), ("Reduction_indices", (2,), "INT32", [1, 2]),
         ("Mean_as_variance", c, "FLOAT32", None), ("Add_as_variance", c, "FLOAT32", None)],
        [("MEAN", ["Input", "Reduction_indices"], ["Mean_of_ifm"], keep),
         ("SQUARED_DIFFERENCE", ["Input", "Mean_of_ifm"], ["SquaredDifference"], None),
         ("MEAN", ["SquaredDifference", "Reduction_indices"], ["Mean_as_variance"], keep),
         ("ADD", ["Mean_as_variance", "Epsilon"], ["Add_as_variance"], _none("AddOptionsT")),
         ("POW", ["Add_as_variance", "Zero_point_five"], ["Pow"], None),
         ("SUB", ["Input", "Mean_of_ifm"], ["Sub"], _none("SubOptionsT")),
         ("DIV", ["Sub", "Pow"], ["Div"], _none("DivOptionsT")),
         ("MUL", ["Div", "Gamma"], ["Mul_gamma"], _none("MulOptionsT")),
         ("ADD", ["Mul_gamma", "Beta"], ["Add_as_terminal"],
          _options("AddOptionsT", fusedActivationFunction=schema.ActivationFunctionType.RELU))],
        ["Input"], ["Add_as_terminal"],
    )  # fmt: skip


def _binary(builtin: str, shape: tuple[int, ...], name: str, options=None, second: str = "ifm2",
            filler=None) -> Recipe:
    """A subgraph ``ofm = builtin(ifm1, second)`` (``second`` a constant when ``filler`` is given)."""
    operands = [("ifm1", shape, "FLOAT32", None), (second, shape, "FLOAT32", filler)]
    result_type = "BOOL" if builtin == "LESS" else "FLOAT32"
    inputs = ["ifm1"] + ([] if filler is not None else [second])
    return Recipe(operands + [("ofm", shape, result_type, None)], [(builtin, ["ifm1", second], ["ofm"], options)],
                  inputs, ["ofm"], name=name)  # fmt: skip


IF_SHAPE = (2, 3)
RECIPES: dict[str, Recipe] = {
    "Part_Add_Sub_000": _add_sub("add1", "add2"),
    "Part_Add_Sub_001": _add_sub("some/node/add1;and/another", "some/node/add2;and/another"),
    "Part_Add_Sub_002": Recipe(
        [("ifm", S, "FLOAT32", None), ("const", S, "FLOAT32", "gaussian")]
        + [(n, S, "FLOAT32", None) for n in ("add1", "add2", "ofm")],
        [("ADD", ["ifm", "const"], ["add1"], _none("AddOptionsT")),
         ("ADD", ["add1", "const"], ["add2"], _none("AddOptionsT")),
         ("SUB", ["add2", "const"], ["ofm"], _none("SubOptionsT"))],
        ["ifm"], ["ofm"],
    ),
    "Part_CumSum_Add_000": Recipe(
        [("ifm1", (1, 1, 10, 10), "FLOAT32", None), ("ifm2", (1, 1, 10, 10), "FLOAT32", None),
         ("axis", (), "INT32", [2]), ("ofm1", (1, 1, 10, 10), "FLOAT32", None),
         ("ofm2", (1, 1, 10, 10), "FLOAT32", None)],
        [("CUMSUM", ["ifm1", "axis"], ["ofm1"], _options("CumsumOptionsT", exclusive=False, reverse=False)),
         ("ADD", ["ofm1", "ifm2"], ["ofm2"], _none("AddOptionsT"))],
        ["ifm1", "ifm2"], ["ofm2"],
    ),
    "Net_InstanceNorm_003": _instance_norm(),
    "Part_Add_Sqrt_Rsqrt_000": Recipe(
        [(n, S, "FLOAT32", None) for n in ("ifm1", "ifm2", "add", "sqrt1", "sqrt2", "ofm1", "ofm2")],
        [("ADD", ["ifm1", "ifm2"], ["add"], _none("AddOptionsT")), ("SQRT", ["add"], ["sqrt1"], None),
         ("SQRT", ["add"], ["sqrt2"], None), ("RSQRT", ["sqrt1"], ["ofm1"], None),
         ("RSQRT", ["sqrt2"], ["ofm2"], None)],
        ["ifm1", "ifm2"], ["ofm1", "ofm2"],
    ),
    "Part_Sqrt_Rsqrt_Add_003": Recipe(
        [(n, S, "FLOAT32", None) for n in ("ifm1", "ifm2", "rsqrt", "sqrt", "ofm")],
        [("RSQRT", ["ifm1"], ["rsqrt"], None), ("SQRT", ["ifm2"], ["sqrt"], None),
         ("ADD", ["rsqrt", "sqrt"], ["ofm"], _none("AddOptionsT"))],
        ["ifm1", "ifm2"], ["ofm"],
    ),
    "Net_UnpackAdd_001": Recipe(
        [("ifm", (2, 2, 3, 4), "FLOAT32", None), ("unp", (2, 3, 4), "FLOAT32", None),
         ("unp:1", (2, 3, 4), "FLOAT32", None), ("ofm", (2, 3, 4), "FLOAT32", None)],
        [("UNPACK", ["ifm"], ["unp", "unp:1"], _options("UnpackOptionsT", num=2, axis=0)),
         ("ADD", ["unp", "unp:1"], ["ofm"], _none("AddOptionsT"))],
        ["ifm"], ["ofm"],
    ),
    "Part_Split_Add_000": Recipe(
        [("ifm", (6, 1, 2), "FLOAT32", None), ("split_dim", (), "INT32", [0]),
         ("split1", (3, 1, 2), "FLOAT32", None), ("split2", (3, 1, 2), "FLOAT32", None),
         ("ofm", (3, 1, 2), "FLOAT32", None)],
        [("SPLIT", ["split_dim", "ifm"], ["split1", "split2"], _options("SplitOptionsT", numSplits=2)),
         ("ADD", ["split1", "split2"], ["ofm"], _none("AddOptionsT"))],
        ["ifm"], ["ofm"],
    ),
    "Part_Tanh_FC_nobias": Recipe(
        [("in", (4, 1536), "FLOAT32", None), ("Tanh", (4, 1536), "FLOAT32", None),
         ("weight", (4362, 1536), "FLOAT32", "gaussian"), ("out", (4, 4362), "FLOAT32", None)],
        [("TANH", ["in"], ["Tanh"], None),
         ("FULLY_CONNECTED", ["Tanh", "weight", ""], ["out"], _none("FullyConnectedOptionsT"))],
        ["in"], ["out"],
    ),
    "Part_Mul_Sqrt_FC_nobias_000": Recipe(
        [("in1", (2, 4), "FLOAT32", None), ("in2", (2, 4), "FLOAT32", None), ("mul", (2, 4), "FLOAT32", None),
         ("weight", (4, 4), "FLOAT32", "gaussian"), ("sqrtout", (2, 4), "FLOAT32", None),
         ("fcout", (2, 4), "FLOAT32", None)],
        [("MUL", ["in1", "in2"], ["mul"], _none("MulOptionsT")), ("SQRT", ["mul"], ["sqrtout"], None),
         ("FULLY_CONNECTED", ["mul", "weight", ""], ["fcout"], _none("FullyConnectedOptionsT"))],
        ["in1", "in2"], ["fcout", "sqrtout"],
    ),
    "Part_While_000": Recipe(
        [("ifm1", (1,), "FLOAT32", None), ("zero", (1,), "FLOAT32", [0.0]), ("min", (1,), "FLOAT32", None),
         ("max", (1,), "FLOAT32", None), ("ofm", (1,), "FLOAT32", None)],
        [("MINIMUM", ["ifm1", "zero"], ["min"], None), ("MAXIMUM", ["min", "zero"], ["max"], None),
         ("WHILE", ["max"], ["ofm"], _options("WhileOptionsT", condSubgraphIndex=1, bodySubgraphIndex=2))],
        ["ifm1"], ["ofm"],
        graphs=(_binary("LESS", (1,), "WHILE_COND", second="ifm2", filler=[10.0]),
                _binary("ADD", (1,), "WHILE_BODY", _none("AddOptionsT"), second="ifm3", filler=[1.0])),
        name="Main",
    ),
    "Part_If_Add_Sub_001": Recipe(
        [("ifm1", IF_SHAPE, "FLOAT32", None), ("ifm2", IF_SHAPE, "FLOAT32", None), ("cond", (1,), "BOOL", [True]),
         ("add", IF_SHAPE, "FLOAT32", None), ("sub", IF_SHAPE, "FLOAT32", None), ("ofm", IF_SHAPE, "FLOAT32", None)],
        [("ADD", ["ifm1", "ifm2"], ["add"], _none("AddOptionsT")),
         ("SUB", ["ifm1", "ifm2"], ["sub"], _none("SubOptionsT")),
         ("IF", ["cond", "add", "sub"], ["ofm"], _options("IfOptionsT", thenSubgraphIndex=4, elseSubgraphIndex=3))],
        ["ifm1", "ifm2"], ["ofm"],
        graphs=(_binary("ADD", IF_SHAPE, "IF_THEN_THEN", _none("AddOptionsT")),
                _binary("MUL", IF_SHAPE, "IF_THEN_ELSE", _none("MulOptionsT")),
                _binary("ADD", IF_SHAPE, "IF_ELSE", _none("AddOptionsT")),
                Recipe([("ifm1", IF_SHAPE, "FLOAT32", None), ("ifm2", IF_SHAPE, "FLOAT32", None),
                        ("cond", (1,), "BOOL", [True]), ("ofm", IF_SHAPE, "FLOAT32", None)],
                       [("IF", ["cond", "ifm1", "ifm2"], ["ofm"],
                         _options("IfOptionsT", thenSubgraphIndex=1, elseSubgraphIndex=2))],
                       ["ifm1", "ifm2"], ["ofm"], name="IF_THEN")),
        name="Main",
    ),
}  # fmt: skip


def build(name: str, path: Path) -> Path:
    """Write recipe ``name`` as a .tflite at ``path``."""
    recipe = RECIPES[name]
    main = _graph(name, recipe)
    return write_model(path, main.tensors, main.ops, main.inputs, main.outputs,
                       subgraphs=[_graph(f"{name}/{g.name}", g) for g in recipe.graphs])  # fmt: skip


def _graph(name: str, recipe: Recipe) -> Graph:
    index = {operand[0]: i for i, operand in enumerate(recipe.operands)}
    tensors = []
    for operand_name, shape, dtype, filler in recipe.operands:
        data = None
        if filler == "gaussian":
            rng = np.random.default_rng(zlib.crc32(f"{name}/{operand_name}".encode()))
            data = rng.standard_normal(shape).astype(np.float32).tobytes()
        elif filler is not None:
            data = np.array(filler, dtype=DTYPES[dtype]).reshape(shape).tobytes()
        tensors.append(T(operand_name, tuple(shape), dtype, data))
    ops = []
    for builtin, inputs, outputs, options in recipe.operations:
        op = (builtin, [index[t] if t else -1 for t in inputs], [index[t] for t in outputs])
        ops.append(op + ((options,) if options is not None else ()))
    return Graph(tensors, ops, [index[t] for t in recipe.inputs], [index[t] for t in recipe.outputs], recipe.name)


DTYPES = {"FLOAT32": np.float32, "INT32": np.int32, "BOOL": np.bool_}


@dataclass(frozen=True)
class Pair:
    """One test of circle-part-value-test: the recipe, the partition file's name and text, test.lst's count
    (0: not checked there), and the parts ONE's current code makes: each as (backend, its ops' first output
    names), in ONE's order of the parts."""

    recipe: str
    part: str
    text: str
    listed: int
    parts: list[tuple[str, list[str]]]
    where: str = "compiler/circle-part-value-test/parts"


def _part(backends: str, default: str, comply: str, section: str, rules: str) -> str:
    return f"[partition]\nbackends={backends}\ndefault={default}\ncomply={comply}\n\n[{section}]\n{rules}\n"


IN3 = ["Mean_of_ifm", "SquaredDifference"]
PAIRS: list[Pair] = [
    Pair("Part_Add_Sub_000", "Part_Add_Sub_000", _part("cpu,acl_cl", "cpu", "opcode", "OPCODE", "SUB=acl_cl"), 2,
         [("cpu", ["add1", "add2"]), ("acl_cl", ["ofm"])]),
    Pair("Part_Add_Sub_001", "Part_Add_Sub_001",
         _part("cpu,acl_cl", "cpu", "opname", "OPNAME", "some/node/add2\\;and/another=acl_cl"), 3,
         [("cpu", ["some/node/add1;and/another"]), ("acl_cl", ["some/node/add2;and/another"]), ("cpu", ["ofm"])]),
    Pair("Part_Add_Sub_002", "Part_Add_Sub_002.001",
         _part("cpu,acl_cl", "cpu", "opname", "OPNAME", "add1=cpu\nadd2=acl_cl\nofm=acl_cl"), 2,
         [("cpu", ["add1"]), ("acl_cl", ["add2", "ofm"])]),
    Pair("Part_Add_Sub_002", "Part_Add_Sub_002.002",
         _part("cpu,acl_cl", "cpu", "opname", "OPNAME", "add1=acl_cl\nadd2=acl_cl\nofm=cpu"), 2,
         [("acl_cl", ["add1", "add2"]), ("cpu", ["ofm"])]),
    Pair("Part_CumSum_Add_000", "Part_CumSum_Add_000", _part("cpu,acl_cl", "cpu", "opcode", "OPCODE", "CUMSUM=acl_cl"),
         1, [("acl_cl", ["ofm1"]), ("cpu", ["ofm2"])]),
    Pair("Net_InstanceNorm_003", "Net_InstanceNorm_003", _part("cpu,acl_cl", "cpu", "opcode", "OPCODE", "DIV=acl_cl"),
         3, [("cpu", IN3 + ["Mean_as_variance", "Add_as_variance", "Pow"]), ("cpu", ["Sub"]), ("acl_cl", ["Div"]),
             ("cpu", ["Mul_gamma", "Add_as_terminal"])], where="compiler/circle-partitioner/README.md"),
    Pair("Net_InstanceNorm_003", "Net_InstanceNorm_003.001",
         _part("cpu,acl_cl", "cpu", "opcode", "OPCODE", "ADD=acl_cl"), 5,
         [("cpu", IN3 + ["Mean_as_variance"]), ("acl_cl", ["Add_as_variance"]), ("cpu", ["Pow", "Div", "Mul_gamma"]),
          ("cpu", ["Sub"]), ("acl_cl", ["Add_as_terminal"])]),
    Pair("Net_InstanceNorm_003", "Net_InstanceNorm_003.003",
         _part("cpu,acl_cl", "cpu", "opname", "OPNAME", "Mean_as_variance=acl_cl\nAdd_as_variance=acl_cl\nPow=acl_cl"),
         3, [("cpu", IN3), ("acl_cl", ["Mean_as_variance", "Add_as_variance", "Pow"]), ("cpu", ["Sub"]),
             ("cpu", ["Div", "Mul_gamma", "Add_as_terminal"])], where="compiler/circle-partitioner-test/parts"),
    Pair("Net_UnpackAdd_001", "Net_UnpackAdd_001.002", _part("cpu,npu", "cpu", "opcode", "OPCODE", "UNPACK=npu"), 2,
         [("npu", ["unp"]), ("cpu", ["ofm"])]),
    Pair("Part_Split_Add_000", "Part_Split_Add_000", _part("cpu,npu", "npu", "opcode", "OPCODE", "SPLIT=cpu"), 2,
         [("cpu", ["split1"]), ("npu", ["ofm"])]),
    Pair("Part_Tanh_FC_nobias", "Part_Tanh_FC_nobias", _part("cpu,acl_cl", "cpu", "opcode", "OPCODE", "DIV=acl_cl"),
         1, [("cpu", ["Tanh", "out"])]),
    Pair("Part_Tanh_FC_nobias", "Part_Tanh_FC_nobias_001", _part("cpu,npu", "npu", "opcode", "OPCODE", "TANH=cpu"),
         2, [("cpu", ["Tanh"]), ("npu", ["out"])], where="compiler/circle-partitioner-test/parts"),
    Pair("Part_Tanh_FC_nobias", "Part_Tanh_FC_nobias_002",
         _part("cpu,npu", "cpu", "opcode", "OPCODE", "FULLY_CONNECTED=npu"), 2, [("cpu", ["Tanh"]), ("npu", ["out"])],
         where="compiler/circle-partitioner-test/parts"),
    Pair("Part_Tanh_FC_nobias", "Part_Tanh_FC_nobias_003",
         _part("cpu,npu", "npu", "opcode", "OPCODE", "FULLY_CONNECTED=cpu"), 2, [("npu", ["Tanh"]), ("cpu", ["out"])]),
    Pair("Part_Mul_Sqrt_FC_nobias_000", "Part_Mul_Sqrt_FC_nobias_000_001",
         _part("cpu,npu", "npu", "opcode", "OPCODE", "SQRT=cpu"), 0,
         [("npu", ["mul"]), ("cpu", ["sqrtout"]), ("npu", ["fcout"])]),
    Pair("Part_Add_Sqrt_Rsqrt_000", "Part_Add_Sqrt_Rsqrt_000",
         _part("cpu,acl_cl", "cpu", "opcode", "OPCODE", "RSQRT=acl_cl"), 3,
         [("cpu", ["add", "sqrt1"]), ("cpu", ["sqrt2"]), ("acl_cl", ["ofm1"]), ("acl_cl", ["ofm2"])],
         where="compiler/circle-partitioner/parts"),
    Pair("Part_Sqrt_Rsqrt_Add_003", "Part_Sqrt_Rsqrt_Add_003",
         _part("cpu,acl_cl", "cpu", "opcode", "OPCODE", "WWW=acl_cl"), 1, [("cpu", ["rsqrt", "sqrt", "ofm"])],
         where="compiler/circle-partitioner/parts"),
]  # fmt: skip


def group_pair(pair: Pair, model: Path, trace: Path, work: Path):
    """``solve place MODEL TRACE --platform P --rules PAIR.part --algo circle-partitioner`` in Python: the
    partition problem and the offload result (one device per backend of the .part file)."""
    import json

    from solver.io.partrules import read_rules
    from solver.io.platform import read_platform
    from solver.offload.offload import offload_model
    from solver.offload.settings import OffloadSettings
    from solver.problem import load_problem

    part_file = work / f"{pair.part}.part"
    part_file.write_text(pair.text)
    rules = read_rules(part_file)
    platform = work / "backends.json"
    platform.write_text(json.dumps({"devices": [{"name": b} for b in rules.backends],
                                    "default_link": {"bandwidth": 1e9, "latency_us": 5}}))  # fmt: skip
    problem = load_problem(model, trace)
    settings = OffloadSettings(algo="circle-partitioner", workers=1)
    return problem, offload_model(problem, read_platform(platform), settings, rules)
