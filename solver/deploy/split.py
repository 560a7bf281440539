"""Split a TFLite model into one runnable model per part of a partition.

A part keeps the operators of that part (in model order), the tensors and buffers they use and
nothing else. Its inputs are the non-constant tensors it reads that are model inputs or are written
by another part; its outputs are the tensors it writes that later parts read or that are model
outputs. As circle-partitioner orders them (its README: the Div "requires order of Sub,Pow"), inputs come
in the order the part's ops read them (ops in model order, each op's inputs in its order), outputs in the
order its ops write them; a part holding every op keeps the model's signature. Parts are numbered in partition order,
which is a valid pipeline order because a valid map has ``parts[u] <= parts[v]`` on every edge.

A part holding a control-flow op (WHILE, IF: an op whose options name other subgraphs) carries those
subgraphs and the ones they call in turn, renumbered after its own subgraph 0, as circle-partitioner copies
them into the part: the other subgraphs follow the op that owns them and are never split.

The model is read once with the schema's object API; each part is a new ``ModelT`` that shares the
constant arrays and is packed with ``flatbuffers`` (no TensorFlow). Metadata and signature defs are
left out: they would name tensors the part does not have.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from solver.io import connections
from solver.io.circle import CIRCLE_IDENTIFIER, circle_object_schema, is_circle
from solver.io.connections import PartFile
from solver.errors import CheckError, ModelError, UsageError
from solver.io.files import check_output, drop_page_cache, read_json, write_atomic, write_json
from solver.io.tflite import Model, read_model, read_model_bytes

# Buffer data is aligned like the TFLite converter aligns it, so kernels may read it in place.
_BUFFER_ALIGNMENT = 16


@dataclass(frozen=True)
class PartPlan:
    """What one part model holds.

    ``number`` is the position in pipeline order (0-based); ``part_id`` the id in the partition map.
    ``inputs``/``outputs`` are tensor indices of the original model, in the part's I/O order.
    """

    number: int
    part_id: int
    ops: tuple[int, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass
class SplitResult:
    """The part models of one split, where they are, and what the user should know."""

    model: Path
    out_dir: Path
    parts: list[PartFile]
    model_inputs: tuple[str, ...]
    model_outputs: tuple[str, ...]
    conn_json: Path
    manifest: Path
    conn_ini: Path | None = None
    loads_us: list[float] | None = None  # predicted time of each part, when op weights were given
    notes: list[str] = field(default_factory=list)
    context: dict | None = None  # the measurement context of the trace the loads came from (devices.context)
    replicas: dict[int, tuple[str, ...]] | None = None  # part id -> every device running it, of a replicated placement

    def to_json(self) -> dict:
        """The split as a JSON document (paths as strings, snake_case keys)."""
        return {
            "model": str(self.model),
            "out_dir": str(self.out_dir),
            "parts": [asdict(p) for p in self.parts],
            "model_inputs": list(self.model_inputs),
            "model_outputs": list(self.model_outputs),
            "conn_json": str(self.conn_json),
            "manifest": str(self.manifest),
            "conn_ini": None if self.conn_ini is None else str(self.conn_ini),
            "loads_us": self.loads_us,
            "notes": list(self.notes),
            "context": self.context,
            **_replicas_json(self.replicas),
        }


def _replicas_json(replicas: dict[int, tuple[str, ...]] | None) -> dict:
    """The ``replicas`` key of a replicated split (none otherwise: older readers see the record they know)."""
    return {"replicas": {str(k): list(v) for k, v in replicas.items()}} if replicas else {}


def plan_parts(model: Model, parts: list[int], source: str | Path = "the partition",
               op_order: Sequence[int] | None = None) -> list[PartPlan]:  # fmt: skip
    """The part models a partition asks for, in pipeline order; empty parts are left out. Each part's ops are
    listed in ``op_order`` (a topological order of all ops; default the model's), the order onert runs them in.

    Raises
    ------
    UsageError
        ``parts`` has the wrong length, or some edge goes from a later part to an earlier one
        (the message names ``source``, where the partition came from, the first such edge and its tensor).
    """
    if len(parts) != model.num_ops:
        raise UsageError(f"{source}: the partition has {len(parts)} entries, {model.path} has {model.num_ops} operators")
    if any(isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < max(model.num_ops, 1) for p in parts):
        raise UsageError(f"{source}: part ids must be integers from 0 to {model.num_ops - 1}, one part per op at most")
    producers = model.producers
    for op in model.operators:
        for t in op.inputs:
            src = producers.get(t)
            if src is not None and parts[src] > parts[op.index]:
                raise UsageError(
                    f"{source}: the partition is not topologically valid: op {src} (part {parts[src]}) writes tensor "
                    f"{t} '{model.tensors[t].name}' that op {op.index} (part {parts[op.index]}) reads"
                )
    consumers: dict[int, set[int]] = {}
    for op in model.operators:
        for t in op.inputs:
            consumers.setdefault(t, set()).add(parts[op.index])
    model_inputs, model_outputs = set(model.inputs), set(model.outputs)
    plans = []
    order = list(range(model.num_ops)) if op_order is None else list(op_order)
    _check_order(model, order, producers, source)
    for part_id in sorted(set(parts)):
        ops = tuple(v for v in order if parts[v] == part_id)
        whole = len(ops) == model.num_ops
        read = {t for v in ops for t in model.operators[v].inputs}
        written = {t for v in ops for t in model.operators[v].outputs}
        inputs = [t for t in read if t in model_inputs or (t in producers and parts[producers[t]] != part_id)]
        outputs = [t for t in written if t in model_outputs or consumers.get(t, set()) - {part_id}]
        plans.append(
            PartPlan(
                number=len(plans),
                part_id=part_id,
                ops=ops,
                inputs=_use_order(inputs, [model.inputs] if whole else [model.operators[v].inputs for v in ops]),
                outputs=_use_order(outputs, [model.outputs] if whole else [model.operators[v].outputs for v in ops]),
            )
        )
    return plans


def _check_order(model: Model, order: list[int], producers: dict[int, int], source: str | Path) -> None:
    """``order`` holds every op once and runs every op after the ops writing what it reads (UsageError)."""
    if sorted(order) != list(range(model.num_ops)):
        raise UsageError(f"{source}: the op order does not hold each of the {model.num_ops} operators once")
    at = {v: i for i, v in enumerate(order)}
    for op in model.operators:
        late = next((t for t in op.inputs if t in producers and at[producers[t]] > at[op.index]), None)
        if late is not None:
            raise UsageError(f"{source}: the op order runs op {op.index} before op {producers[late]}, which writes "
                             f"tensor {late} it reads")  # fmt: skip


def _use_order(tensors: list[int], uses: list[tuple[int, ...]]) -> tuple[int, ...]:
    """``tensors`` in the order of their first place in ``uses`` (the ops' input or output lists)."""
    wanted, order = set(tensors), {}
    for listed in uses:
        for t in listed:
            if t in wanted:
                order.setdefault(t, len(order))
    return tuple(sorted(wanted, key=order.__getitem__))


SPLIT_JSON = "split.json"
MANIFEST = Path("metadata") / "MANIFEST"


def split_model(
    model_path: str | Path,
    parts: list[int],
    out_dir: str | Path,
    *,
    model: Model | None = None,
    op_weights: list[float] | None = None,
    placement: dict[int, str] | None = None,
    parts_source: str | Path = "the partition",
    op_order: Sequence[int] | None = None,
    context: dict | None = None,
    replicas: dict[int, tuple[str, ...]] | None = None,
) -> SplitResult:
    """Write the part models of ``parts`` and their connection files into ``out_dir``.

    ``out_dir`` becomes an nnpackage: one .tflite per non-empty part, named like circle-partitioner's
    ``<stem>.<5-digit number from 1>_<device>.tflite`` (``.circle`` parts of a circle model; the device of the part in ``placement``, part id ->
    device name, else ``cpu``); ``metadata/MANIFEST`` (1.3) and the ``metadata/backends.cfg`` it names;
    ``<stem>.conn.json`` and ``<stem>.conn.ini``, whose source is a copy of the model in ``out_dir`` (as
    circle-partitioner keeps its input in its work folder, so the directory moves to a device whole);
    and ``split.json`` (nnpart's record: source model, partition map, ops of each part and, when
    ``op_weights`` (per-op time in us) is given, each part's predicted load, and ``context``, where and how
    the trace behind them was measured, so that ``run`` and ``pipeline`` measure the same way, and ``replicas``,
    part id -> every device running it, of a replicated placement, the part's file named after the first).
    Nothing is written
    until every part is encoded and both connection files are checked.
    ``parts_source`` names where ``parts`` came from (the map file) in error messages. ``op_order`` (a
    topological order of all ops) is the order each part's ops are written in, which onert runs them in
    (``solver.memory.order`` finds one that needs less memory); default the model's.

    Raises
    ------
    ModelError
        The model cannot be read, an operator calls a subgraph the model does not have, a model output is
        not written by any operator, or boundary tensor names clash.
    UsageError
        The partition does not fit the model or is not topologically valid.
    CheckError
        The connection files fail their own checks (a bug, not bad input).
    """
    model_path, out_dir = Path(model_path), Path(out_dir)
    model = model or read_model(model_path)
    plans = plan_parts(model, parts, parts_source, op_order)
    whole = _load_object_model(model_path)
    _check_splittable(model, whole)
    names = _boundary_names(model, plans)
    stem = model_path.name.split(".")[0]
    suffix = ".circle" if _is_circle_object(whole) else ".tflite"
    devices = {plan.part_id: placement[plan.part_id] if placement else "cpu" for plan in plans}
    files = [
        PartFile(
            number=plan.number,
            part_id=plan.part_id,
            file=f"{stem}.{plan.number + 1:05d}_{devices[plan.part_id]}{suffix}",
            ops=plan.ops,
            inputs=tuple(names[t] for t in plan.inputs),
            outputs=tuple(names[t] for t in plan.outputs),
            device=devices[plan.part_id],
        )
        for plan in plans
    ]
    result = SplitResult(
        model=model_path,
        out_dir=out_dir,
        parts=files,
        model_inputs=tuple(names[t] for t in model.inputs),
        model_outputs=tuple(names[t] for t in model.outputs),
        conn_json=out_dir / f"{stem}.conn.json",
        manifest=out_dir / MANIFEST,
        conn_ini=out_dir / f"{stem}.conn.ini",
        loads_us=[sum(op_weights[v] for v in p.ops) for p in plans] if op_weights is not None else None,
        context=context,
        replicas=dict(replicas) if replicas else None,
    )
    empty = sorted(set(range(max(parts, default=-1) + 1)) - set(parts))
    if empty:
        result.notes.append(f"empty parts {empty} were skipped; {len(files)} part models were written")
    encoded = {p.file: _part_bytes(whole, plan, names) for p, plan in zip(files, plans)}
    source = model_path.name
    conn = connections.conn_dict(result.parts, result.model_inputs, result.model_outputs, source)
    manifest = connections.manifest_dict(result.parts, result.model_inputs, result.model_outputs)
    connections.validate_conn(conn, result.conn_json)
    connections.validate_manifest(manifest, files, result.model_inputs, result.model_outputs, result.manifest)
    for name in encoded:  # a model named like a part (m.00001_cpu.tflite) must not be replaced by one
        check_output(out_dir / name, inputs=(model_path,), option="the split directory")
    for name, data in encoded.items():
        drop_page_cache(write_atomic(out_dir / name, data))  # measured cold (solver.io.files.drop_page_cache)
    if (out_dir / source).resolve() != model_path.resolve():
        drop_page_cache(write_atomic(out_dir / source, model_path.read_bytes()))
    write_json(result.conn_json, conn, indent=2)
    write_atomic(result.conn_ini, connections.conn_ini(result.parts, result.model_inputs, result.model_outputs, source).encode())
    write_json(result.manifest, manifest, indent=2)
    write_atomic(result.manifest.parent / connections.BACKENDS_CONFIG, connections.backends_config(files).encode())
    write_json(out_dir / SPLIT_JSON, _record(result, source, parts), indent=2)
    return result


def _record(result: SplitResult, source: str, parts: list[int]) -> dict:
    return {
        "source": source,
        "conn": result.conn_json.name,
        "conn_ini": result.conn_ini.name if result.conn_ini else None,
        "partition_map": list(parts),
        "model_inputs": list(result.model_inputs),
        "model_outputs": list(result.model_outputs),
        "parts": [asdict(p) for p in result.parts],
        "loads_us": result.loads_us,
        "notes": result.notes,
        "context": result.context,
        **_replicas_json(result.replicas),
    }


def read_split(out_dir: str | Path) -> SplitResult:
    """Read a split directory written by :func:`split_model`, checking its conn.json and MANIFEST.

    Raises
    ------
    UsageError
        ``split.json`` or a connection file is missing or malformed, or a part model is missing.
    CheckError
        conn.json or the MANIFEST no longer matches the parts.
    """
    out_dir = Path(out_dir)
    record = read_json(out_dir / SPLIT_JSON, "split record (written by 'solve split')", UsageError, dict)
    _check_record(record, out_dir / SPLIT_JSON)
    try:
        files = [
            PartFile(
                number=p["number"], part_id=p["part_id"], file=p["file"], ops=tuple(p["ops"]),
                inputs=tuple(p["inputs"]), outputs=tuple(p["outputs"]), device=p.get("device", "cpu"),
            )
            for p in record["parts"]
        ]
        result = SplitResult(
            model=out_dir / record["source"],
            out_dir=out_dir,
            parts=files,
            model_inputs=tuple(record["model_inputs"]),
            model_outputs=tuple(record["model_outputs"]),
            conn_json=out_dir / record["conn"],
            manifest=out_dir / MANIFEST,
            conn_ini=out_dir / record["conn_ini"] if record.get("conn_ini") else None,
            loads_us=record.get("loads_us"),
            notes=list(record.get("notes", [])),
            context=record.get("context"),
            replicas={int(k): tuple(v) for k, v in record["replicas"].items()} if record.get("replicas") else None,
        )
    except (KeyError, TypeError) as err:
        raise UsageError(f"{out_dir / SPLIT_JSON}: malformed split record ({err!r})") from err
    for p in files:
        if not (out_dir / p.file).is_file():
            raise UsageError(f"{out_dir / p.file}: part model is missing")
    conn = read_json(result.conn_json, "conn.json", UsageError, dict)
    if conn != connections.conn_dict(result.parts, result.model_inputs, result.model_outputs, record["source"]):
        raise CheckError(f"{result.conn_json}: does not match the parts in {out_dir / SPLIT_JSON}")
    connections.validate_conn(conn, result.conn_json)
    manifest = read_json(result.manifest, "nnpackage MANIFEST", UsageError, dict)
    connections.check_manifest_types(manifest, result.manifest)
    connections.validate_manifest(manifest, files, result.model_inputs, result.model_outputs, result.manifest)
    return result


def _check_record(record: dict, where: Path) -> None:
    """Refuse a split record whose fields do not have the types :func:`split_model` writes (a hand-edited or
    corrupted split.json): file names are relative paths inside the split directory, part files plain names."""

    def malformed(what: str) -> UsageError:
        return UsageError(f"{where}: malformed split record: {what}")

    for key in ("source", "conn") + (("conn_ini",) if record.get("conn_ini") is not None else ()):
        if not _relative_name(record.get(key)):
            raise malformed(f"'{key}' must be a relative file name")
    for key in ("model_inputs", "model_outputs"):
        if not _list_of(record.get(key), str):
            raise malformed(f"'{key}' must be a list of tensor names")
    parts = record.get("parts")
    if not isinstance(parts, list) or not parts:
        raise malformed("'parts' must be a non-empty list")
    for k, part in enumerate(parts):
        if not isinstance(part, dict):
            raise malformed(f"part {k} is not an object")
        file = part.get("file")
        if not (_relative_name(file) and Path(file).name == file and _list_of(part.get("ops"), int)
                and all(_list_of([part.get(key)], int) for key in ("number", "part_id"))
                and _list_of(part.get("inputs"), str) and _list_of(part.get("outputs"), str)
                and isinstance(part.get("device", "cpu"), str)):  # fmt: skip
            raise malformed(f"part {k} needs 'number', 'part_id', a plain 'file' name, 'ops' (integers), "
                            "'inputs' and 'outputs' (tensor names) and a 'device' name")  # fmt: skip
    loads = record.get("loads_us")
    if loads is not None and not (_list_of(loads, (int, float)) and all(math.isfinite(x) and x >= 0 for x in loads)):
        raise malformed("'loads_us' must be null or a list of finite non-negative numbers")
    if not _list_of(record.get("notes", []), str):
        raise malformed("'notes' must be a list of strings")
    if not isinstance(record.get("context", {}), (dict, type(None))):
        raise malformed("'context' must be null or an object")
    replicas = record.get("replicas", {})
    if not (isinstance(replicas, dict) and all(k.isdigit() and _list_of(v, str) and v for k, v in replicas.items())):
        raise malformed("'replicas' must map part ids to lists of device names")


def _relative_name(value: object) -> bool:
    return isinstance(value, str) and bool(value) and "\0" not in value and not Path(value).is_absolute()


def _list_of(value: object, kind: type | tuple[type, ...]) -> bool:
    return isinstance(value, list) and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)


def _load_object_model(path: Path) -> schema.ModelT:
    """The whole model as schema objects, read once; buffers stored past the flatbuffer are pulled in."""
    data = read_model_bytes(path)
    try:
        model_class = circle_object_schema().ModelT if is_circle(data) else schema.ModelT
        whole = model_class.InitFromPackedBuf(data, 0)
    except Exception as err:  # the generated code raises whatever a corrupt offset provokes
        raise ModelError(f"{path}: cannot unpack the TFLite flatbuffer ({err})") from err
    for buffer in whole.buffers or []:
        if buffer.data is None and buffer.offset > 1 and buffer.size > 0:
            buffer.data = np.frombuffer(data, dtype=np.uint8, count=buffer.size, offset=buffer.offset)
            buffer.offset = buffer.size = 0
    return whole


def _check_splittable(model: Model, whole: schema.ModelT) -> None:
    """Refuse what a part model could not carry: calls into subgraphs the model lacks, outputs no op writes."""
    count = len(whole.subgraphs or [])
    for g, subgraph in enumerate(whole.subgraphs or []):
        for i, op in enumerate(subgraph.operators or []):
            for options, key in _subgraph_refs(op):
                called = getattr(options, key)
                if not 0 < called < count:
                    raise ModelError(f"{model.path}: operator {i} of subgraph {g} calls subgraph {called} ({key}); "
                                     f"the model has subgraphs 0 to {count - 1} and 0 is the main graph")  # fmt: skip
    producers = model.producers
    for t in model.outputs:
        if t not in producers:
            raise ModelError(
                f"{model.path}: model output '{model.tensors[t].name}' is not written by any operator; "
                "it cannot be assigned to a part"
            )


def _subgraph_refs(op) -> list[tuple[object, str]]:
    """(options, attribute) of every subgraph index an operator's options hold (WHILE's cond and body, IF's
    branches, CALL_ONCE's init, StableHLO's regions)."""
    refs = []
    for options in (op.builtinOptions, op.builtinOptions2):
        if options is not None:
            refs += [(options, k) for k, v in vars(options).items() if "subgraph" in k.lower() and isinstance(v, int)]
    return refs


def _called_subgraphs(whole, operators) -> list[int]:
    """The subgraphs ``operators`` call, and the ones those call in turn, in order of first call."""
    order: list[int] = []
    pending = [getattr(o, k) for op in operators for o, k in _subgraph_refs(op)]
    while pending:
        called = pending.pop(0)
        if called not in order:
            order.append(called)
            pending += [getattr(o, k) for op in whole.subgraphs[called].operators or [] for o, k in _subgraph_refs(op)]
    return order


def _boundary_names(model: Model, plans: list[PartPlan]) -> dict[int, str]:
    """Tensor index -> name for every tensor that crosses a part boundary; names must be unique."""
    boundary = {t for plan in plans for t in plan.inputs + plan.outputs} | set(model.inputs) | set(model.outputs)
    names = {t: model.tensors[t].name for t in sorted(boundary)}
    seen: dict[str, int] = {}
    for t, name in names.items():
        if name in seen:
            raise ModelError(
                f"{model.path}: tensors {seen[name]} and {t} are both named '{name}'; connections are made by name"
            )
        seen[name] = t
    return names


def _part_bytes(whole: schema.ModelT, plan: PartPlan, names: dict[int, str]) -> bytes:
    """Pack the part model of ``plan`` as a flatbuffer of the whole model's schema (TFLite or circle), with the
    subgraphs its control-flow ops call."""
    flavour = circle_object_schema() if _is_circle_object(whole) else schema
    subgraph = whole.subgraphs[0]
    operators = [subgraph.operators[v] for v in plan.ops]
    used = sorted(
        {t for op in operators for t in _op_tensors(op)} | set(plan.inputs) | set(plan.outputs)
    )
    tensor_map = {old: new for new, old in enumerate(used)}
    called = _called_subgraphs(whole, operators)
    subgraph_map = {old: new for new, old in enumerate(called, start=1)}
    part = flavour.ModelT()
    part.buffers = [flavour.BufferT()]  # buffer 0 is the empty sentinel every schema reader expects
    buffer_map: dict[int, int] = {}
    code_map: dict[int, int] = {}

    def copy_tensor(tensor):
        tensor = copy.copy(tensor)
        data = whole.buffers[tensor.buffer].data if tensor.buffer < len(whole.buffers) else None
        if data is None or len(data) == 0:
            tensor.buffer = 0
        else:
            if tensor.buffer not in buffer_map:
                buffer_map[tensor.buffer] = len(part.buffers)
                part.buffers.append(_AlignedBufferT(data))
            tensor.buffer = buffer_map[tensor.buffer]
        return tensor

    def copy_op(op, tensors: dict[int, int] | None):
        op = copy.copy(op)
        code_map.setdefault(op.opcodeIndex, len(code_map))
        op.opcodeIndex = code_map[op.opcodeIndex]
        if tensors is not None:
            op.inputs = _remap(op.inputs, tensors)
            op.outputs = _remap(op.outputs, tensors)
            op.intermediates = _remap(op.intermediates, tensors)
        op.debugMetadataIndex = -1
        for field_name in ("builtinOptions", "builtinOptions2"):
            if getattr(op, field_name) is not None:
                setattr(op, field_name, copy.copy(getattr(op, field_name)))
        for options, key in _subgraph_refs(op):
            setattr(options, key, subgraph_map[getattr(options, key)])
        return op

    tensors = []
    for old in used:
        tensor = copy_tensor(subgraph.tensors[old])
        if old in names:
            tensor.name = names[old].encode()
        tensors.append(tensor)
    sub = flavour.SubGraphT()
    sub.tensors = tensors
    sub.operators = [copy_op(op, tensor_map) for op in operators]
    sub.inputs = [tensor_map[t] for t in plan.inputs]
    sub.outputs = [tensor_map[t] for t in plan.outputs]
    sub.name = subgraph.name
    part.subgraphs = [sub]
    for old in called:  # whole, with its own tensors: only the indices into the model's tables change
        body = copy.copy(whole.subgraphs[old])
        body.tensors = [copy_tensor(t) for t in body.tensors or []]
        body.operators = [copy_op(op, None) for op in body.operators or []]
        part.subgraphs.append(body)

    part.version = whole.version
    part.description = b"nnpart split: part %d of %s" % (plan.number + 1, whole.description or b"model")
    part.operatorCodes = [whole.operatorCodes[old] for old in sorted(code_map, key=code_map.get)]

    size = sum(len(b.data) + _BUFFER_ALIGNMENT for b in part.buffers if b.data is not None) + (1 << 16)
    builder = flatbuffers.Builder(size)
    builder.Finish(part.Pack(builder), file_identifier=CIRCLE_IDENTIFIER if flavour is not schema else b"TFL3")
    return bytes(builder.Output())


def _is_circle_object(whole) -> bool:
    return isinstance(whole, circle_object_schema().ModelT)


def _op_tensors(op: schema.OperatorT) -> list[int]:
    return [int(t) for seq in (op.inputs, op.outputs, op.intermediates) if seq is not None for t in seq if t >= 0]


def _remap(indices, tensor_map: dict[int, int]) -> list[int] | None:
    # -1 marks an absent optional input and stays -1.
    if indices is None:
        return None
    return [tensor_map[int(t)] if t >= 0 else -1 for t in indices]


class _AlignedBufferT(schema.BufferT):
    """A buffer whose data starts on a 16-byte boundary of the file (the schema's packer aligns to 1).

    Circle's Buffer table has TFLite's layout (data is field 0), so circle parts use it too."""

    def __init__(self, data: np.ndarray):
        super().__init__()
        self.data = np.asarray(data, dtype=np.uint8)

    def Pack(self, builder: flatbuffers.Builder) -> int:
        payload = self.data.tobytes()
        builder.StartVector(1, len(payload), _BUFFER_ALIGNMENT)
        builder.head -= len(payload)
        builder.Bytes[builder.head : builder.head + len(payload)] = payload
        data = builder.EndVector()
        schema.BufferStart(builder)
        schema.BufferAddData(builder, data)
        return schema.BufferEnd(builder)
