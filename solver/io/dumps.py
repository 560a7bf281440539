"""Brute-force and estimator dumps: ONE's profiling files (and our additions), read and written.

A **brute-force dump** (ONE's brute_force_profiler, and ``solve brute-force``) maps ONE's solution ids to
a measurement: ``oplist`` (name mode: the onert op types, digit k of an id being the backend of
``oplist[k]``), in index mode also ``opmap`` (the group of every op, digit k being the backend of group k)
and ``opname_by_indx`` (the onert op type of every op), and ``solutions``
``[{"id", "time" (ms), "memory" (KB)}]``. Ours adds ``mode``, ``backends`` (digit value -> backend name),
``model_sha256`` and, per solution, ``"valid": false`` with a ``reason`` for a configuration that ran but
failed (its time and memory null), ``runs`` (every timed run, ms, so the spread is kept) and, for a point
measured in several rounds, ``memory_rounds`` (the peak RSS of each round, KB; ``memory`` is then their
median, see :func:`memory_figure`), plus descriptive keys kept as they are (``model``, ``device``,
``measure``, ``space_size``, ``generator``). A dump without ``memory_rounds`` (ONE's, or ours before they
were kept) reads as one memory figure per point.

An **estimator dump** (ONE's random_sampler.py, hlps_sampler.py, and ``solve pareto --out``) holds only a
Pareto set: ``mode``; ``oplist`` (the op types in name mode, the opmap in index mode); ``solutions``
``[{"id", "exec_time" (ms), "max_rss" (KB)}]``; ``configs``, id -> onert environment string;
``"profiling time"`` in seconds. Ours adds ``backends``, ``settings`` (the searched onert variables),
``summary`` and ``evaluated`` (every point measured), and per solution ``runs`` and ``memory_rounds`` when
measured so. It is read as a dump of its Pareto set.

:func:`read_dump` validates everything it reads and raises :class:`DumpError` naming the file: ids are
distinct non-negative integers, times and memories finite non-negative numbers or null, ``valid`` a real
boolean, a valid solution has a time and a memory, ``runs`` and ``memory_rounds`` hold finite non-negative
numbers, lists have the right types and an index-mode opmap
numbers its groups 0..max with as many entries as ``opname_by_indx``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solver.errors import DumpError
from solver.io.files import read_json
from solver.io.oplist import MODES
# Keys read into Dump fields; every other top-level key is kept in Dump.about.
_READ_KEYS = ("mode", "oplist", "opmap", "opname_by_indx", "backends", "model_sha256", "solutions")


@dataclass(frozen=True)
class Solution:
    """One solution id of a dump and its measurement (time and memory None: not measured)."""

    id: int
    time_ms: float | None
    memory_kb: float | None
    valid: bool = True
    reason: str = ""  # why an invalid configuration is invalid
    runs: tuple[float, ...] = ()  # every timed run (ms), when the dump keeps them (ours, measured in rounds)
    memories: tuple[float, ...] = ()  # peak RSS (KB) of each round, when measured in several (ours)

    def brute_force_entry(self) -> dict:
        """The solution as a brute-force dump lists it (an invalid one with null time and memory)."""
        if not self.valid:
            return {"id": self.id, "time": None, "memory": None, "valid": False, "reason": self.reason}
        return {"id": self.id, "time": _rounded(self.time_ms), "memory": self.memory_kb} | self._spread()

    def estimator_entry(self) -> dict:
        """The solution as an estimator dump lists it (``valid``/``reason`` only for an invalid one)."""
        entry = {"id": self.id, "exec_time": _rounded(self.time_ms), "max_rss": _rounded(self.memory_kb)}
        return entry | self._spread() if self.valid else entry | {"valid": False, "reason": self.reason}

    def _spread(self) -> dict:
        """Our keys that keep the spread: every timed run, and each round's peak RSS (when more than one)."""
        entry = {"runs": [_rounded(r) for r in self.runs]} if self.runs else {}
        return entry | {"memory_rounds": [_rounded(m) for m in self.memories]} if len(self.memories) > 1 else entry


def memory_figure(rounds: Sequence[float]) -> float:
    """The memory of a point measured in ``rounds`` (each round's peak RSS, KB): their median.

    The median, not the largest: a process's peak RSS wanders by a few hundred KB from run to run, and
    one round caught low or high (id 1027 of the real CNN dump read 38520 KB once, 38680-38830 KB on
    three re-measures) must not set the figure a search ranks by; the largest, the figure to provision
    for, stays in ``memory_rounds`` and is printed beside the median.
    """
    return statistics.median(rounds)


@dataclass(frozen=True)
class Dump:
    """A dump's decisions, backends and solutions (see the module docstring)."""

    mode: str  # "name" or "index"
    oplist: tuple[str, ...]  # name mode: one decision per op type; index mode: the op types, in order
    solutions: Mapping[int, Solution]  # id -> solution
    opmap: tuple[int, ...] | None = None  # index mode: group of op i (one decision per group)
    opname_by_indx: tuple[str, ...] | None = None  # index mode: onert op type of op i
    backends: tuple[str, ...] | None = None  # digit value -> backend; None when the file does not say
    model_sha256: str | None = None  # the model measured, when the file says
    about: dict[str, Any] = field(default_factory=dict)  # other keys of ours (model, device, measure, ...)
    path: Path | None = None  # the file read, for messages

    @property
    def num_digits(self) -> int:
        """Digits of an id: op types (name mode) or op groups (index mode)."""
        return len(self.oplist) if self.mode == "name" else max(self.opmap) + 1


def is_dump_spec(spec: str) -> bool:
    """True when a device spec names a dump file: a path (not a URL) ending in ``.json``.

    The one rule of what a device spec is: a dump is read here and answered by a lookup device
    (``solver.assignment.offline.open_spec``); anything else is a device for ``devices.open_device``.
    """
    return "://" not in spec and Path(spec).suffix == ".json"


def read_dump(path: str | Path) -> Dump:
    """The brute-force or estimator dump in ``path``, validated; DumpError naming the file otherwise."""
    path = Path(path)
    return parse_dump(read_json(path, "brute-force dump", DumpError, dict), path)


def parse_dump(document: Mapping[str, Any], path: Path | None = None) -> Dump:
    """A dump from its parsed JSON ``document`` (``path`` names it in errors)."""
    where = f"{path}: " if path is not None else ""
    if not isinstance(document.get("solutions"), list):
        raise DumpError(f"{where}not a brute-force dump (no 'solutions' list)")
    mode = document.get("mode") or ("index" if "opmap" in document else "name")
    if mode not in MODES:
        raise DumpError(f"{where}unknown mode {mode!r} (name or index)")
    backends = document.get("backends")
    if backends is not None:
        backends = tuple(_list_of(document, "backends", str, where))
        if not backends or len(set(backends)) != len(backends):
            raise DumpError(f"{where}'backends' must list distinct backend names")
    model_sha256 = document.get("model_sha256")
    if model_sha256 is not None and not isinstance(model_sha256, str):
        raise DumpError(f"{where}'model_sha256' is not a string")
    if mode == "name":
        oplist, opmap, opname_by_indx = tuple(_list_of(document, "oplist", str, where)), None, None
    else:
        opmap, opname_by_indx = _index_decisions(document, where)
        # ONE's index-mode estimator dumps keep the opmap under "oplist": the op types come from opname_by_indx.
        oplist = tuple(dict.fromkeys(opname_by_indx))
    about = {k: v for k, v in document.items() if k not in _READ_KEYS}
    solutions = parse_solutions(document["solutions"], where)
    return Dump(mode, oplist, solutions, opmap, opname_by_indx, backends, model_sha256, about, path)


def parse_solutions(entries: Sequence[Any], where: str = "") -> dict[int, Solution]:
    """id -> Solution of a ``solutions`` list (brute-force keys time/memory or estimator keys exec_time/max_rss)."""
    table: dict[int, Solution] = {}
    for k, entry in enumerate(entries):
        solution = _solution(entry, f"{where}solution {k}")
        if solution.id in table:
            raise DumpError(f"{where}solution {k}: id {solution.id} appears twice")
        table[solution.id] = solution
    return table


def dump_document(dump: Dump) -> dict:
    """The brute-force dump file of ``dump``: ONE's keys first, then ours."""
    document: dict[str, Any] = {"oplist": list(dump.oplist)}
    if dump.mode == "index":
        document.update(opmap=list(dump.opmap), opname_by_indx=list(dump.opname_by_indx))
    document["solutions"] = [dump.solutions[k].brute_force_entry() for k in sorted(dump.solutions)]
    document["mode"] = dump.mode
    if dump.backends is not None:
        document["backends"] = list(dump.backends)
    if dump.model_sha256 is not None:
        document["model_sha256"] = dump.model_sha256
    return document | dump.about


def estimator_document(
    mode: str,
    decisions: Sequence[str] | Sequence[int],
    backends: Sequence[str],
    front: Sequence[Solution],
    configs: Mapping[int, str],
    profiling_time: float,
    *,
    settings: Mapping[str, Sequence[str]],
    summary: Mapping[str, Any],
    evaluated: Sequence[Solution],
) -> dict:
    """ONE's estimator dump of a search plus our keys (see the module docstring).

    ``decisions`` is what ONE keeps under ``oplist``: the op types in name mode, the opmap in index mode;
    ``configs`` maps the id of every ``front`` solution to its onert environment string.
    """
    return {
        "mode": mode,
        "oplist": list(decisions),
        "solutions": [s.estimator_entry() for s in front],
        "configs": {str(s.id): configs[s.id] for s in front},
        "profiling time": round(profiling_time, 3),
        "backends": list(backends),
        "settings": {name: list(values) for name, values in settings.items()},
        "summary": dict(summary),
        "evaluated": [s.estimator_entry() for s in evaluated],
    }


def _rounded(value: float | None) -> float | None:
    # NaN (no measurement) is written as null; figures keep microsecond (or byte) resolution.
    return None if value is None or value != value else round(float(value), 3)


def _list_of(document: Mapping[str, Any], key: str, kind: type, where: str) -> list:
    values = document.get(key)
    if not isinstance(values, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise DumpError(f"{where}{key!r} must be a list of {'strings' if kind is str else 'integers'}")
    return values


def _index_decisions(document: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``opmap`` and ``opname_by_indx`` of an index-mode dump, checked against each other."""
    if "opmap" not in document or "opname_by_indx" not in document:
        raise DumpError(f"{where}an index-mode dump needs 'opmap' and 'opname_by_indx'")
    opmap = tuple(_list_of(document, "opmap", int, where))
    names = tuple(_list_of(document, "opname_by_indx", str, where))
    if not opmap or len(opmap) != len(names):
        raise DumpError(f"{where}'opmap' ({len(opmap)} ops) and 'opname_by_indx' ({len(names)}) must have one "
                        f"entry per op")  # fmt: skip
    if min(opmap) < 0:
        raise DumpError(f"{where}'opmap' numbers a group {min(opmap)}; groups are numbered from 0")
    missing = sorted(set(range(max(opmap) + 1)) - set(opmap))
    if missing:
        raise DumpError(f"{where}'opmap' must number its groups 0..{max(opmap)} (group {missing[0]} has no op)")
    return opmap, names


def _solution(entry: Any, where: str) -> Solution:
    if not isinstance(entry, dict):
        raise DumpError(f"{where} is not an object")
    solution_id = entry.get("id")
    if not isinstance(solution_id, int) or isinstance(solution_id, bool) or solution_id < 0:
        raise DumpError(f"{where}: the id {solution_id!r} is not a non-negative integer")
    time = _figure(entry, ("time", "exec_time"), where)
    memory = _figure(entry, ("memory", "max_rss"), where)
    valid = entry.get("valid", True)
    if not isinstance(valid, bool):
        raise DumpError(f"{where} (id {solution_id}): 'valid' is {valid!r}, not true or false")
    reason = entry.get("reason", "")
    if not isinstance(reason, str):
        raise DumpError(f"{where} (id {solution_id}): 'reason' is not a string")
    if valid and (time is None or memory is None):
        raise DumpError(f"{where} (id {solution_id}): a valid solution needs a time and a memory")
    runs = _samples(entry, "runs", where)
    memories = _samples(entry, "memory_rounds", where)
    return Solution(solution_id, time, memory, valid, reason, runs, memories)


def _samples(entry: dict, key: str, where: str) -> tuple[float, ...]:
    """The list ``entry[key]`` (empty when absent): finite non-negative numbers."""
    values = entry.get(key, [])
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in values
    ):
        raise DumpError(f"{where} (id {entry['id']}): {key!r} is not a list of finite non-negative numbers")
    return tuple(float(v) for v in values)


def _figure(entry: dict, keys: tuple[str, str], where: str) -> float | None:
    """The first of ``keys`` present: a finite non-negative number or null."""
    key = next((k for k in keys if k in entry), None)
    if key is None:
        raise DumpError(f"{where} (id {entry['id']}): no {keys[0]!r} (nor {keys[1]!r})")
    value = entry[key]
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise DumpError(f"{where} (id {entry['id']}): {key!r} is {value!r}, not a finite non-negative number or null")
    return value


def backends_from_configs(dump: Dump) -> tuple[str, ...] | None:
    """The backend names of an estimator dump's digits, read from its ``configs`` (id -> onert environment), or
    None when the configs do not settle them.

    A config names the backend of every decision (``OP_BACKEND_<type>``, ``OP_BACKEND_MAP``, else
    ``OP_BACKEND_ALLOPS``, else the first of ``BACKENDS``); the id's base-b digits say which digit each
    decision has. The smallest base b that decodes every config with one name per digit wins; digits no
    config uses are None (the caller says they are unknown).
    """
    configs = dump.about.get("configs")
    if not isinstance(configs, dict) or not configs:
        return None
    chosen = {}
    for key, text in configs.items():
        try:
            chosen[int(key)] = _decision_backends(dump, _environment(text))
        except (ValueError, KeyError, IndexError):
            return None
    names = {n for per_decision in chosen.values() for n in per_decision}
    for base in range(max(len(names), 1), len(names) + 3):
        table: dict[int, str] = {}
        consistent = True
        for point_id, per_decision in chosen.items():
            rest = point_id
            for name in per_decision:
                rest, digit = divmod(rest, base)
                consistent &= table.setdefault(digit, name) == name
            consistent &= rest == 0
        if consistent and len(set(table.values())) == len(table):
            return tuple(table.get(d) for d in range(base))
    return None


def _environment(text: str) -> dict[str, str]:
    import shlex

    return dict(word.split("=", 1) for word in shlex.split(text))


def _decision_backends(dump: Dump, env: dict[str, str]) -> list[str]:
    """The backend of every decision (digit) of ``dump`` under one onert environment."""
    default = env.get("OP_BACKEND_ALLOPS") or env["BACKENDS"].split(";")[0]
    if dump.mode == "name":
        return [env.get(f"OP_BACKEND_{op_type}", default) for op_type in dump.oplist]
    per_op = dict(entry.split("=", 1) for entry in env.get("OP_BACKEND_MAP", "").split(";") if entry)
    first_op = {}
    for op, group in enumerate(dump.opmap):
        first_op.setdefault(group, op)
    return [per_op.get(str(first_op[k]), env.get(f"OP_BACKEND_{dump.opname_by_indx[first_op[k]]}", default))
            for k in range(dump.num_digits)]  # fmt: skip
