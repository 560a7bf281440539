"""How the part models of a split connect, in the two forms users meet.

- circle-partitioner's ``<name>.conn.json``: the source model and each part with the *names* of its
  input and output tensors; an output feeds every later part input of the same name.
- an nnpackage ``metadata/MANIFEST`` (version 1.3): ``models``, ``model-types``, ``pkg-inputs``,
  ``pkg-outputs`` and ``model-connect``, whose ``model:subgraph:io`` triples are *positions* in a
  part's input or output list, not tensor ids.

Both name each part's device (a placement's, else ``cpu``): in its file name as circle-partitioner does
(``<stem>.<NNNNN>_<device>``), and in a ``device`` key per conn.json part and a ``devices`` list beside the
MANIFEST's ``models`` (keys ONE's readers do not know and skip).

circle-partitioner's ``<name>.conn.ini`` holds what conn.json holds, in its INI form (``[source]`` with ``file``,
``iN``, ``oN``; ``[models]`` with ``mN``; a section per part). The MANIFEST's ``configs`` names
``metadata/backends.cfg``, the configuration onert reads when it loads a package (the first file of
``configs``, ``KEY=VALUE`` lines applied to the package's session): ``BACKENDS`` lists the onert backends the
parts use, cpu first (the only one that runs every op, and onert takes the first as every op's default).
Which part runs where is the ``devices`` list; docs/backends.md says how each part's session is configured.

Both are built from the same parts (:class:`PartFile`, in pipeline order) and checked against them: the names on
the two ends of every connection agree, every triple has three fields and points at a real
input/output, and no ``to`` is also a package input. A model input read by several parts appears in
``pkg-inputs`` once per reading part (a ``to`` may not be a package input, so it cannot be connected).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from solver.errors import CheckError, UsageError

MANIFEST_VERSION = ("1", "3", "0")
BACKENDS_CONFIG = "backends.cfg"  # in metadata/, named by the MANIFEST's configs
# Backends of the onert runtime (the PyPI wheel ships cpu and ruy); other device names are not onert's.
ONERT_BACKENDS = ("cpu", "ruy", "xnnpack", "acl_cl", "acl_neon", "gpu_cl", "trix")


def onert_backends(device: str) -> str:
    """The onert ``backends`` string that runs a part of ``device``: the device when it is an onert backend
    (alone: a part holds only ops its backend runs, and onert has no fallback), else cpu."""
    return device if device in ONERT_BACKENDS else "cpu"


def backends_config(parts: Sequence[PartFile]) -> str:
    """``metadata/backends.cfg``: ``BACKENDS`` with every onert backend the parts use, cpu first."""
    used = sorted({onert_backends(p.device) for p in parts} | {"cpu"}, key=lambda b: (b != "cpu", b))
    return f"BACKENDS={';'.join(used)}\n"


def conn_ini(parts: Sequence[PartFile], model_inputs: Sequence[str], model_outputs: Sequence[str],
             source_file: str) -> str:
    """circle-partitioner's ``<name>.conn.ini``: the same connections as :func:`conn_dict`, as INI text."""

    def io(inputs: Sequence[str], outputs: Sequence[str]) -> list[str]:
        return [f"i{k + 1}={name}" for k, name in enumerate(inputs)] + [f"o{k + 1}={name}" for k, name in enumerate(outputs)]

    lines = ["[source]", f"file={source_file}", *io(model_inputs, model_outputs), "", "[models]"]
    lines += [f"m{k + 1}={p.file}" for k, p in enumerate(parts)]
    for p in parts:
        lines += ["", f"[{p.file}]", f"file={p.file}", *io(p.inputs, p.outputs)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PartFile:
    """One written part: its file (relative to the split directory), its I/O tensor names and its device."""

    number: int
    part_id: int
    file: str
    ops: tuple[int, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    device: str = "cpu"  # where the part runs: a placement's device, else circle-partitioner's default


def conn_dict(parts: Sequence[PartFile], model_inputs: Sequence[str], model_outputs: Sequence[str],
              source_file: str) -> dict:
    """circle-partitioner's connection file of ``parts``; ``source_file`` is relative to the split directory."""
    return {
        "source": {"file": source_file, "inputs": list(model_inputs), "outputs": list(model_outputs)},
        "parts": [{"file": p.file, "inputs": list(p.inputs), "outputs": list(p.outputs), "device": p.device}
                  for p in parts],
    }


def manifest_dict(parts: Sequence[PartFile], model_inputs: Sequence[str], model_outputs: Sequence[str]) -> dict:
    """The nnpackage 1.3 MANIFEST whose models are ``parts``, in pipeline order."""
    producer = {name: (p.number, i) for p in parts for i, name in enumerate(p.outputs)}
    pkg_inputs = [
        _triple(p.number, i)
        for name in model_inputs
        for p in parts
        for i, n in enumerate(p.inputs)
        if n == name
    ]
    pkg_outputs = [_triple(*producer[name]) for name in model_outputs]
    connect: dict[str, list[str]] = {}
    for p in parts:
        for i, name in enumerate(p.inputs):
            if name not in set(model_inputs):
                connect.setdefault(_triple(*producer[name]), []).append(_triple(p.number, i))
    major, minor, patch = MANIFEST_VERSION
    return {
        "major-version": major,
        "minor-version": minor,
        "patch-version": patch,
        "configs": [BACKENDS_CONFIG],
        "models": [p.file for p in parts],
        "model-types": ["tflite"] * len(parts),
        "devices": [p.device for p in parts],
        "pkg-inputs": pkg_inputs,
        "pkg-outputs": pkg_outputs,
        "model-connect": [{"from": src, "to": dsts} for src, dsts in connect.items()],
    }


def _triple(model: int, io: int) -> str:
    # Only subgraph 0 is split, so every part model has one subgraph.
    return f"{model}:0:{io}"


def validate_conn(conn: dict, where: str | Path) -> None:
    """Check a conn.json: every part input is a source input or an earlier part's output, and every
    source output is written by some part.

    Raises
    ------
    CheckError
        The connections do not close (the message names the file, the part and the tensor).
    """
    available = set(conn["source"]["inputs"])
    for part in conn["parts"]:
        missing = [name for name in part["inputs"] if name not in available]
        if missing:
            raise CheckError(f"{where}: part {part['file']} reads {missing}, which no earlier part writes")
        available.update(part["outputs"])
    lost = [name for name in conn["source"]["outputs"] if name not in available]
    if lost:
        raise CheckError(f"{where}: source outputs {lost} are not written by any part")


def check_manifest_types(manifest: dict, where: str | Path) -> None:
    """Refuse a MANIFEST whose connection fields are not what the format says (before :func:`validate_manifest`).

    Raises
    ------
    UsageError
        ``models``, ``pkg-inputs`` or ``pkg-outputs`` is not a list of strings, or ``model-connect`` is not a
        list of ``{"from": triple, "to": [triple, ...]}``.
    """
    for key in ("models", "pkg-inputs", "pkg-outputs"):
        if not _strings(manifest.get(key, [])):
            raise UsageError(f"{where}: '{key}' must be a list of strings")
    connect = manifest.get("model-connect", [])
    if not isinstance(connect, list) or not all(
        isinstance(e, dict) and isinstance(e.get("from"), str) and _strings(e.get("to")) for e in connect
    ):
        raise UsageError(f"{where}: 'model-connect' must be a list of {{\"from\": triple, \"to\": [triples]}}")


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def validate_manifest(manifest: dict, parts: list[PartFile], model_inputs, model_outputs, where: str | Path) -> None:
    """Check a MANIFEST against the parts it packages (the package rules and the names).

    - every triple is ``model:subgraph:io`` with three integer fields, subgraph 0, and an io
      position inside that part's input (``to``, ``pkg-inputs``) or output (``from``,
      ``pkg-outputs``) list;
    - a ``from`` feeds only later parts, and the tensor names at both ends agree;
    - no ``to`` is a package input, and every part input is exactly one of the two;
    - ``pkg-inputs`` are the model inputs and ``pkg-outputs`` the model outputs, by name.

    Raises
    ------
    CheckError
        The first rule broken, naming the file and the triple.
    """
    if manifest.get("models") != [p.file for p in parts]:
        raise CheckError(f"{where}: 'models' does not list the parts in pipeline order")

    def parse(triple: str, kind: str) -> tuple[int, str]:
        fields = triple.split(":") if isinstance(triple, str) else []
        if len(fields) != 3 or not all(f.isdigit() for f in fields):
            raise CheckError(f"{where}: '{triple}' is not a model:subgraph:io triple")
        model, subgraph, io = (int(f) for f in fields)
        names = parts[model].inputs if model < len(parts) and kind == "in" else None
        names = parts[model].outputs if model < len(parts) and kind == "out" else names
        if names is None or subgraph != 0 or io >= len(names):
            raise CheckError(f"{where}: '{triple}' points at no {kind}put of a part model")
        return model, names[io]

    pkg_inputs = manifest.get("pkg-inputs", [])
    fed: list[str] = list(pkg_inputs)
    for triple in pkg_inputs:
        _, name = parse(triple, "in")
        if name not in model_inputs:
            raise CheckError(f"{where}: package input '{triple}' is tensor '{name}', not a model input")
    if [parse(t, "out")[1] for t in manifest.get("pkg-outputs", [])] != list(model_outputs):
        raise CheckError(f"{where}: 'pkg-outputs' do not name the model outputs {list(model_outputs)} in order")
    for edge in manifest.get("model-connect", []):
        src_model, src_name = parse(edge["from"], "out")
        for to in edge["to"]:
            if to in pkg_inputs:
                raise CheckError(f"{where}: '{to}' is both a package input and the target of '{edge['from']}'")
            dst_model, dst_name = parse(to, "in")
            if dst_model <= src_model:
                raise CheckError(f"{where}: '{edge['from']}' -> '{to}' does not go to a later part")
            if dst_name != src_name:
                raise CheckError(f"{where}: '{edge['from']}' is '{src_name}' but '{to}' is '{dst_name}'")
            fed.append(to)
    counts = Counter(fed)
    for triple in (_triple(p.number, i) for p in parts for i in range(len(p.inputs))):
        if counts.pop(triple, 0) != 1:
            raise CheckError(f"{where}: part input '{triple}' is not fed exactly once")
