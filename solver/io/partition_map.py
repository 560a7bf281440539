"""ONE's ``partition_map.json``: ``{"partition_map": [part of op 0, ...], "num_partitions": K}``.

A placement (``solve place``) adds ``"placement": {"0": "npu", ...}``, the device of each part; a replicated
placement (``solve place --replicate``) also ``"replicas": {"1": ["cpu1", "cpu2"], ...}``, every device of a part
that runs on several, requests dealt round robin (its ``placement`` is the first). ONE's readers ignore both keys.
"""

from __future__ import annotations

import re
from pathlib import Path

from solver.errors import UsageError
from solver.io.files import read_json, write_json

_DEVICE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PART_ID = re.compile(r"[0-9]{1,9}")


def write_partition_map(
    path: str | Path, parts: list[int], num_parts: int, placement: dict[str, str] | None = None,
    replicas: dict[str, list[str]] | None = None,
) -> Path:
    """Write ONE's ``{"partition_map": [part of op 0, ...], "num_partitions": K}`` atomically, with the placement
    and the replicas (module docstring)."""
    doc = {"partition_map": list(map(int, parts)), "num_partitions": int(num_parts)}  # map: a C loop (10^7 ops)
    if placement is not None:
        doc["placement"] = dict(placement)
    if replicas:
        doc["replicas"] = {k: list(devices) for k, devices in replicas.items()}
    return write_json(path, doc)


def read_partition_map(path: str | Path, num_ops: int) -> list[int]:
    """Read ONE's ``partition_map.json`` and check it fits a model of ``num_ops`` operators.

    Raises
    ------
    UsageError
        The file is missing, is not JSON, lacks ``partition_map``, has the wrong length, holds a part id
        that is not an integer in ``0..num_ops-1``, or disagrees with its ``num_partitions``.
    """
    path = Path(path)
    data = read_json(path, "partition map", UsageError)
    parts = data.get("partition_map") if isinstance(data, dict) else None
    if not isinstance(parts, list):
        raise UsageError(f"{path}: no 'partition_map' list")
    if len(parts) != num_ops:
        raise UsageError(f"{path}: 'partition_map' has {len(parts)} entries, the model has {num_ops} operators")
    # K parts of n ops number at most n parts: a larger id is refused before anything is sized by it.
    bad = next((i for i, p in enumerate(parts) if not _is_int(p) or not 0 <= p < num_ops), None)
    if bad is not None:
        raise UsageError(f"{path}: 'partition_map' entry {bad} is {parts[bad]!r}; part ids must be non-negative "
                         f"integers below {num_ops}, the number of operators")  # fmt: skip
    declared = data.get("num_partitions")
    if declared is not None and (not _is_int(declared) or not max(parts, default=0) < declared <= max(num_ops, 1)):
        raise UsageError(f"{path}: 'num_partitions' is {declared!r}; the map uses part {max(parts, default=0)} "
                         f"and the model has {num_ops} operators")  # fmt: skip
    return parts


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_placement(path: str | Path, parts: list[int]) -> dict[int, str] | None:
    """The ``placement`` of a partition map (part id -> device name), or None when the map has none.

    Raises
    ------
    UsageError
        The placement is not an object of part ids to device names, misses a part of ``parts``, or names a
        device with characters a file name cannot hold (parts are written to files named after it).
    """
    path = Path(path)
    data = read_json(path, "partition map", UsageError, dict)
    placement = data.get("placement")
    if placement is None:
        return None
    if not isinstance(placement, dict):
        raise UsageError(f"{path}: 'placement' must map part ids to device names")
    devices = {}
    for key, name in placement.items():
        if not _PART_ID.fullmatch(key) or not isinstance(name, str) or not _DEVICE_NAME.fullmatch(name):
            raise UsageError(f"{path}: placement {key!r}: {name!r} is not a part id and a device name "
                             "(1 to 64 letters, digits, '-', '_' and '.')")  # fmt: skip
        devices[int(key)] = name
    missing = sorted(set(parts) - set(devices))
    if missing:
        raise UsageError(f"{path}: the placement names no device for part {missing[0]}")
    return devices


def read_replicas(path: str | Path, parts: list[int], placement: dict[int, str] | None) -> dict[int, tuple[str, ...]]:
    """The ``replicas`` of a partition map (part id -> its devices, the placement's first), empty when it has none.

    Raises
    ------
    UsageError
        Replicas without a placement, not an object of part ids to lists of two or more device names, for a
        part the map does not have, not starting with the placement's device, or a device serving two parts.
    """
    path = Path(path)
    data = read_json(path, "partition map", UsageError, dict)
    replicas = data.get("replicas")
    if replicas is None:
        return {}
    if placement is None or not isinstance(replicas, dict):
        raise UsageError(f"{path}: 'replicas' must map part ids to lists of devices, beside a 'placement'")
    found: dict[int, tuple[str, ...]] = {}
    for key, names in replicas.items():
        if not (_PART_ID.fullmatch(key) and isinstance(names, list) and len(names) >= 2
                and all(isinstance(n, str) and _DEVICE_NAME.fullmatch(n) for n in names)):  # fmt: skip
            raise UsageError(f"{path}: replicas {key!r}: {names!r} is not a part id and a list of two or more device "
                             "names")  # fmt: skip
        part = int(key)
        if part not in set(parts):
            raise UsageError(f"{path}: replicas of part {part}, which the partition map does not have")
        if names[0] != placement[part]:
            raise UsageError(f"{path}: the replicas of part {part} start with {names[0]}, its placement is {placement[part]}")
        found[part] = tuple(names)
    serving: dict[str, int] = {}
    for part in sorted(set(parts)):
        for name in found.get(part, (placement[part],)):
            if serving.setdefault(name, part) != part:
                raise UsageError(f"{path}: device {name} runs parts {serving[name]} and {part}; a device runs one")
    return found
