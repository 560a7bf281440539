"""The lookup device: answers from a brute-force dump instead of running anything (offline evaluation).

A dump (ONE's brute_force_profiler format, or ours, which adds ``backends``, ``mode``, ``model_sha256``
and per-solution ``valid``/``reason``) maps ONE's solution ids to a time (ms) and a memory (KB). A
configuration is turned into its id with ONE's encoding (``devices.oneids``): in name mode digit k is
the backend of ``oplist[k]``; in index mode digit k is the backend shared by the ops of group k
(``opmap[i] == k``). A configuration the dump cannot answer raises :class:`LookupMiss`.

ONE's estimator dumps (``exec_time``/``max_rss``) are read too; they hold only their Pareto set.
"""

from __future__ import annotations

import json
from pathlib import Path

from devices.base import BackendConfig, Measurement, MeasureSettings
from devices.errors import DeviceSpecError, LookupMiss
from devices.oneids import digits_to_id
from devices.workerdevice import file_digest

# ONE numbered its backends in this order when a dump does not say (0 = cpu, 1 = acl_cl, 2 = acl_neon).
ONE_BACKENDS = ("cpu", "acl_cl", "acl_neon")


class LookupDevice:
    """A brute-force dump seen as a device (see the module docstring)."""

    def __init__(self, path: str | Path, backends: tuple[str, ...] | None = None):
        self.path = Path(path)
        self.name = f"lookup:{self.path.name}"
        dump = _load(self.path)
        self.mode = dump.get("mode") or ("index" if "opmap" in dump else "name")
        self.oplist: list[str] = list(dump.get("oplist", []))
        self.opmap: list[int] = list(dump.get("opmap", []))
        self.opname_by_indx: list[str] = list(dump.get("opname_by_indx", []))
        self.model_sha256: str | None = dump.get("model_sha256")
        self.solutions = _solutions(self.path, dump)
        if self.mode == "index" and (not self.opmap or len(self.opmap) != len(self.opname_by_indx)):
            raise DeviceSpecError(f"{self.path}: an index-mode dump needs 'opmap' and 'opname_by_indx' of equal length")
        self.num_digits = max(self.opmap) + 1 if self.mode == "index" else len(self.oplist)
        self.backend_names = tuple(backends or dump.get("backends") or self._infer_backends())

    def _infer_backends(self) -> tuple[str, ...]:
        # Without a list, only a complete dump tells the base: it holds b**digits ids.
        for base in range(1, len(ONE_BACKENDS) + 1):
            if base**self.num_digits == len(self.solutions):
                return ONE_BACKENDS[:base]
        raise DeviceSpecError(
            f"{self.path}: the dump has no 'backends' list and is not complete; name its backends "
            f"(e.g. cpu,acl_cl) in the order its ids number them"
        )

    def backends(self) -> dict[str, frozenset[str] | None]:
        """The dump's backends, in the order its ids number them; what each can run is unknown (None)."""
        return {b: None for b in self.backend_names}

    def id_of(self, config: BackendConfig) -> int:
        """ONE's solution id of ``config``; LookupMiss when the dump's encoding cannot express it."""
        if config.settings:
            raise LookupMiss(f"{self.path}: the dump holds no onert settings ({config.env_string()})")
        per_type = dict(config.op_types)
        if self.mode == "name":
            if config.op_indices:
                raise LookupMiss(f"{self.path}: a name-mode dump cannot answer a per-op-index configuration")
            names = [per_type.get(op_type, config.backends[0]) for op_type in self.oplist]
        else:
            names = self._group_backends(config, per_type)
        return digits_to_id([self._number(b) for b in names], len(self.backend_names))

    def _group_backends(self, config: BackendConfig, per_type: dict[str, str]) -> list[str]:
        per_index = dict(config.op_indices)
        groups: dict[int, str] = {}
        for i, group in enumerate(self.opmap):
            backend = per_index.get(i) or per_type.get(self.opname_by_indx[i]) or config.backends[0]
            if groups.setdefault(group, backend) != backend:
                raise LookupMiss(f"{self.path}: the configuration splits op group {group} across backends")
        return [groups[k] for k in range(self.num_digits)]

    def _number(self, backend: str) -> int:
        try:
            return self.backend_names.index(backend)
        except ValueError:
            raise LookupMiss(f"{self.path}: the dump has no backend {backend!r} ({', '.join(self.backend_names)})") from None

    def measure_id(self, solution_id: int) -> Measurement:
        """The dump's measurement of ``solution_id``; LookupMiss when the dump lacks it."""
        entry = self.solutions.get(int(solution_id))
        if entry is None:
            raise LookupMiss(f"{self.path}: the dump has no solution with id {solution_id}")
        return Measurement(
            valid=bool(entry.get("valid", True)),
            reason=str(entry.get("reason", "")),
            times_ms=[float(entry["time"])] if entry.get("time") is not None else [],
            peak_rss_kb=int(entry.get("memory") or 0),
        )

    def measure(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
        """The dump's answer for ``config``; the model (None: not checked) must be the one dumped when the
        dump says which."""
        if self.model_sha256 and model is not None and file_digest(model) != self.model_sha256:
            raise DeviceSpecError(f"{self.path}: the dump was measured on another model than {model}")
        return self.measure_id(self.id_of(config))


def _load(path: Path) -> dict:
    try:
        dump = json.loads(path.read_text())
    except FileNotFoundError:
        raise DeviceSpecError(f"{path}: no such dump file") from None
    except (OSError, ValueError) as err:
        raise DeviceSpecError(f"{path}: not a JSON brute-force dump ({err})") from err
    if not isinstance(dump, dict) or not isinstance(dump.get("solutions"), list):
        raise DeviceSpecError(f"{path}: not a brute-force dump (no 'solutions' list)")
    return dump


def _solutions(path: Path, dump: dict) -> dict[int, dict]:
    """id -> {time, memory, valid, reason}; ONE's estimator keys exec_time/max_rss are accepted."""
    table = {}
    for k, entry in enumerate(dump["solutions"]):
        try:
            time = entry["time"] if "time" in entry else entry["exec_time"]
            memory = entry["memory"] if "memory" in entry else entry["max_rss"]
            table[int(entry["id"])] = {**entry, "time": time, "memory": memory}
        except (KeyError, TypeError, ValueError) as err:
            raise DeviceSpecError(f"{path}: solution {k} lacks an id, a time or a memory ({err})") from err
    return table
