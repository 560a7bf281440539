"""ONE's brute-force profiler: measure every runnable backend assignment and write ONE's dump.

The space is the one ``solve pareto`` searches (``solver.assignment.space``): one decision per onert op type
(name mode) or per (TFLite op name, data size) group (index mode), each over the backends the device
can run for it, so no configuration that cannot prepare is ever run. Ids are ONE's: base-b digits,
least significant first. Ids that put an op on a backend that cannot run it are not in the dump (a
lookup device answers them with LookupMiss); configurations that ran but failed or computed wrong
outputs are, with ``"valid": false`` and the reason, and ``time``/``memory`` null.

Dump (ONE's keys first): ``oplist``, ``opmap`` and ``opname_by_indx`` (index mode), ``solutions``
[{"id", "time" (ms, median of the timed runs), "memory" (KB, peak RSS)}], plus ours: ``mode``,
``backends`` (digit value -> name), ``model``, ``model_sha256``, ``device``, ``measure`` (warm-up,
repeats, seed) and ``space_size`` (b ** digits, ONE's whole id space).

Long runs keep a checkpoint next to the output (``<out>.partial.json``, rewritten atomically every few
seconds and on Ctrl-C); running the same command again resumes from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devices.base import Device, MeasureSettings
from devices.workerdevice import file_digest
from solver.errors import UsageError
from solver.io.files import write_json
from solver.io.oplist import OpList, read_oplist
from solver.assignment.space import SearchSpace, index_space, name_space

DEFAULT_MAX_POINTS = 4096
CHECKPOINT_SECONDS = 10.0


@dataclass(frozen=True)
class BruteForceSettings:
    """What to enumerate and how to measure each point."""

    mode: str = "name"
    backends: tuple[str, ...] = ("cpu", "ruy")  # digit value -> backend; the first is the default
    warmup: int = 1
    repeats: int = 3
    seed: int = 0
    timeout: float = 300.0  # seconds per measurement
    max_points: int = DEFAULT_MAX_POINTS  # refuse larger spaces...
    force: bool = False  # ...unless forced


@dataclass
class BruteForceResult:
    """The dump written and how it was obtained."""

    out: Path
    dump: dict
    space: SearchSpace
    measured: int  # points measured in this run
    resumed: int  # points taken from the checkpoint
    invalid: int  # points that ran but failed or mismatched


Progress = Callable[[int, int, dict], None]  # (points done, points in all, the solution entry)


def build_space(model_path: Path, device: Device, mode: str, backends: tuple[str, ...]) -> tuple[OpList, SearchSpace]:
    """ONE's oplist of the model and the space of assignments the device can run."""
    oplist = read_oplist(model_path, mode)
    offered = device.backends()
    missing = [b for b in backends if b not in offered]
    if missing:
        raise UsageError(f"{device.name} has no backend {missing[0]!r} (it offers {', '.join(offered)})")
    capabilities = {b: offered[b] for b in dict.fromkeys(backends)}
    if mode == "name":
        return oplist, name_space(oplist.oplist, capabilities)
    return oplist, index_space(oplist.opmap, oplist.opname_by_indx, capabilities)


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.json")


def brute_force(
    model_path: str | Path,
    device: Device,
    out: str | Path,
    settings: BruteForceSettings = BruteForceSettings(),
    on_progress: Progress | None = None,
) -> BruteForceResult:
    """Measure every point of the space and write ONE's dump to ``out`` (see the module docstring).

    Raises
    ------
    UsageError
        The space has more than ``settings.max_points`` points and ``settings.force`` is not set, or
        the device lacks a requested backend.
    """
    model_path, out = Path(model_path), Path(out)
    oplist, space = build_space(model_path, device, settings.mode, settings.backends)
    if space.size > settings.max_points and not settings.force:
        raise UsageError(
            f"{model_path}: the {settings.mode}-mode space has {space.size} runnable points "
            f"({space.describe()}), more than the limit {settings.max_points}; use --force to enumerate it anyway, "
            f"or name mode / fewer backends"
        )
    header = _header(model_path, device, oplist, space, settings)
    done = _resume(checkpoint_path(out), header)
    resumed = len(done)
    measure = MeasureSettings(settings.warmup, settings.repeats, False, settings.timeout, settings.seed)
    last_save = time.monotonic()
    try:
        for ordinal in range(space.size):
            genes = space.point(ordinal)
            point_id = space.point_id(genes)
            if point_id in done:
                continue
            m = device.measure(model_path, space.config(genes), measure)
            entry = {"id": point_id, "time": round(m.time_ms, 3), "memory": m.peak_rss_kb}
            if not m.valid:
                entry = {"id": point_id, "time": None, "memory": None, "valid": False, "reason": m.reason}
            done[point_id] = entry
            if on_progress is not None:
                on_progress(len(done), space.size, entry)
            if time.monotonic() - last_save > CHECKPOINT_SECONDS:
                _save_checkpoint(checkpoint_path(out), header, done)
                last_save = time.monotonic()
    except BaseException:
        _save_checkpoint(checkpoint_path(out), header, done)
        raise
    dump = {**{k: header[k] for k in ("oplist", "opmap", "opname_by_indx") if k in header},
            "solutions": [done[k] for k in sorted(done)],
            **{k: v for k, v in header.items() if k not in ("oplist", "opmap", "opname_by_indx")}}  # fmt: skip
    write_json(out, dump)
    checkpoint_path(out).unlink(missing_ok=True)
    invalid = sum(1 for e in done.values() if e.get("valid") is False)
    return BruteForceResult(out, dump, space, len(done) - resumed, resumed, invalid)


def _header(model_path: Path, device: Device, oplist: OpList, space: SearchSpace, settings: BruteForceSettings) -> dict:
    """Everything but the solutions; a checkpoint resumes only under the same header."""
    header = oplist.to_json()
    header.update(
        mode=settings.mode,
        backends=list(space.backends),
        model=model_path.name,
        model_sha256=file_digest(model_path),
        device=device.name,
        measure={"warmup": settings.warmup, "repeats": settings.repeats, "seed": settings.seed},
        space_size=len(space.backends) ** len(space.decisions),
    )
    return header


def _resume(path: Path, header: dict) -> dict[int, dict]:
    """Solutions of a checkpoint written under the same header, else none."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or saved.get("header") != header:
        return {}
    return {int(e["id"]): e for e in saved.get("solutions", [])}


def _save_checkpoint(path: Path, header: dict, done: dict[int, dict]) -> None:
    write_json(path, {"header": header, "solutions": list(done.values()), "saved_at": time.time()})
