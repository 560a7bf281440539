"""ONE's brute-force profiler: measure every runnable backend assignment and write ONE's dump.

The space is the one ``solve pareto`` searches, enumerated by the search's ``exhaustive`` algorithm through
its evaluator (one enumeration, each point measured once) (``solver.assignment.space``): one decision per onert op type
(name mode) or per (TFLite op name, data size) group (index mode), each over the backends the device
can run for it, so no configuration that cannot prepare is ever run. Ids are ONE's: base-b digits,
least significant first. Ids that put an op on a backend that cannot run it are not in the dump (a
lookup device answers them with LookupMiss); configurations that ran but failed or computed wrong
outputs are, with ``"valid": false`` and the reason, and ``time``/``memory`` null.

Dump (``solver.io.dumps``, ONE's keys first): ``oplist``, ``opmap`` and ``opname_by_indx`` (index mode), ``solutions``
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

from devices.base import Device
from devices.workerdevice import file_digest
from solver.assignment.search import Evaluation, Evaluator, exhaustive
from solver.assignment.settings import BruteForceSettings
from solver.assignment.space import SearchSpace, index_space, name_space
from solver.errors import DumpError, UsageError
from solver.io.dumps import Dump, Solution, dump_document, parse_solutions
from solver.io.files import write_json
from solver.io.oplist import OpList, read_oplist

CHECKPOINT_SECONDS = 10.0


@dataclass
class BruteForceResult:
    """The dump written and how it was obtained."""

    out: Path
    dump: Dump
    space: SearchSpace
    measured: int  # points measured in this run
    resumed: int  # points taken from the checkpoint
    invalid: int  # points that ran but failed or mismatched

    def to_json(self) -> dict:
        """The run for ``--json``: the file written, the space and the counts."""
        return {
            "out": str(self.out),
            "mode": self.dump.mode,
            "backends": list(self.space.backends),
            "space": self.space.describe(),
            "points": len(self.dump.solutions),
            "measured": self.measured,
            "resumed": self.resumed,
            "invalid": self.invalid,
        }


Progress = Callable[[int, int, dict], None]  # (points done, points in all, the solution's dump entry)


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
    evaluator = Evaluator(space, device, model_path, settings.measure)
    resumed = _resume(checkpoint_path(out), header, evaluator)
    last_save = time.monotonic()

    def measured(evaluator: Evaluator, evaluation: Evaluation) -> None:
        nonlocal last_save
        if on_progress is not None:
            on_progress(evaluator.count, space.size, _solution(evaluation).brute_force_entry())
        if time.monotonic() - last_save > CHECKPOINT_SECONDS:
            _save_checkpoint(checkpoint_path(out), header, evaluator)
            last_save = time.monotonic()

    evaluator.on_measure = measured
    try:
        exhaustive(space, evaluator)
    except BaseException:
        _save_checkpoint(checkpoint_path(out), header, evaluator)
        raise
    solutions = {e.point_id: _solution(e) for e in evaluator.evaluations()}
    dump = Dump(**{**header, "solutions": solutions}, path=out)
    write_json(out, dump_document(dump))
    checkpoint_path(out).unlink(missing_ok=True)
    invalid = sum(1 for s in solutions.values() if not s.valid)
    return BruteForceResult(out, dump, space, len(solutions) - resumed, resumed, invalid)


def _solution(e: Evaluation) -> Solution:
    """A measured point as the dump keeps it (an invalid point with no time or memory)."""
    if not e.valid:
        return Solution(e.point_id, None, None, False, e.reason)
    return Solution(e.point_id, round(e.time_ms, 3), e.memory_kb)


def _header(model_path: Path, device: Device, oplist: OpList, space: SearchSpace, settings: BruteForceSettings) -> dict:
    """Every field of the dump but the solutions; a checkpoint resumes only under the same header."""
    return dict(
        mode=settings.mode,
        oplist=oplist.oplist,
        opmap=oplist.opmap,
        opname_by_indx=oplist.opname_by_indx,
        backends=space.backends,
        model_sha256=file_digest(model_path),
        about={
            "model": model_path.name,
            "device": device.name,
            "measure": {"warmup": settings.warmup, "repeats": settings.repeats, "seed": settings.seed},
            "space_size": len(space.backends) ** len(space.decisions),
        },
    )


def _header_json(header: dict) -> dict:
    document = dump_document(Dump(**{**header, "solutions": {}}))
    del document["solutions"]
    return document


def _resume(path: Path, header: dict, evaluator: Evaluator) -> int:
    """Put the solutions of a checkpoint written under the same header into the evaluator's cache; how many."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    if not isinstance(saved, dict) or saved.get("header") != _header_json(header):
        return 0
    space = evaluator.space
    try:
        solutions = parse_solutions(saved.get("solutions", []), f"{path}: ")
        for s in solutions.values():
            genes = space.genes_of_id(s.id)
            time_ms = float("nan") if s.time_ms is None else s.time_ms
            memory_kb = float("nan") if s.memory_kb is None else s.memory_kb
            evaluator.cache[genes] = Evaluation(genes, s.id, s.valid, time_ms, memory_kb, s.reason)
    except (DumpError, ValueError):
        evaluator.cache.clear()  # a damaged checkpoint is measured again, not trusted
        return 0
    return len(evaluator.cache)


def _save_checkpoint(path: Path, header: dict, evaluator: Evaluator) -> None:
    entries = [_solution(e).brute_force_entry() for e in evaluator.evaluations()]
    write_json(path, {"header": _header_json(header), "solutions": entries, "saved_at": time.time()})
