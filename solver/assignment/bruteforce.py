"""ONE's brute-force profiler: measure every runnable backend assignment and write ONE's dump.

The space is the one ``solve pareto`` searches, enumerated by the search's ``exhaustive`` algorithm through
its evaluator (one enumeration, each point measured once) (``solver.assignment.space``): one decision per onert op type
(name mode) or per (TFLite op name, data size) group (index mode), each over the backends the device
can run for it, so no configuration that cannot prepare is ever run. Ids are ONE's: base-b digits,
least significant first. Ids that put an op on a backend that cannot run it are not in the dump (a
lookup device answers them with LookupMiss); configurations that ran but failed or computed wrong
outputs are, with ``"valid": false`` and the reason, and ``time``/``memory`` null.

Dump (``solver.io.dumps``, ONE's keys first): ``oplist``, ``opmap`` and ``opname_by_indx`` (index mode), ``solutions``
[{"id", "time" (ms, median of the timed runs), "memory" (KB, peak RSS; measured in rounds, the median of
the rounds' peaks, each kept in ``memory_rounds``; opt-in: the session's own peak, rounds under different
process layouts, ``BruteForceSettings.memory``/``layouts``, recorded in ``measure``)}], plus ours: ``mode``,
``backends`` (digit value -> name), ``model``, ``model_sha256``, ``device``, ``measure`` (warm-up,
repeats, seed) and ``space_size`` (b ** digits, ONE's whole id space).

Every measurement is appended to a journal next to the output (``<out>.journal.jsonl``,
``solver.assignment.journal``) as it arrives, so a run stopped in any way (Ctrl-C, a crash, SIGKILL)
resumes when the same command runs again and measures nothing twice; the journal is removed once the
dump is written. A farm (``devices.farm``) measures the points on several devices at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devices.base import BackendConfig, Device
from devices.context import context_now
from devices.workerdevice import file_digest
from solver.assignment.algorithms.exhaustive import exhaustive
from solver.assignment.evaluator import Evaluation, Evaluator
from solver.assignment.settings import BruteForceSettings
from solver.assignment.space import SearchSpace, index_space, name_space
from solver.assignment.journal import Journal, journal_path
from solver.errors import UsageError
from solver.io.dumps import Dump, Solution, dump_document
from solver.io.files import write_json
from solver.io.oplist import OpList, read_oplist
from solver.io.tflite import uncompressed


@dataclass
class BruteForceResult:
    """The dump written and how it was obtained."""

    out: Path
    dump: Dump
    space: SearchSpace
    measured: int  # points measured in this run
    resumed: int  # points taken from the checkpoint
    invalid: int  # points that ran but failed or mismatched
    journal: str = ""  # what the journal of an earlier run gave

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
            "journal": self.journal,
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


def brute_force(
    model_path: str | Path,
    device: Device,
    out: str | Path,
    settings: BruteForceSettings = BruteForceSettings(),
    on_progress: Progress | None = None,
    farm=None,
) -> BruteForceResult:
    """Measure every point of the space and write ONE's dump to ``out`` (see the module docstring).

    ``farm`` (a ``devices.farm.Farm``) measures on its devices in parallel; ``device`` then only tells the
    space (its backends) and names the dump's device.

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
    journal = Journal(journal_path(out), header["model_sha256"], settings.measure, device.name)

    def measured(evaluator: Evaluator, evaluation: Evaluation) -> None:
        if on_progress is not None:
            on_progress(evaluator.count, space.size, _solution(evaluation).brute_force_entry())

    with uncompressed(model_path) as runnable:  # onert reads no xz or gzip: a private plain copy while measuring
        evaluator = Evaluator(space, device, runnable, settings.measure, on_measure=measured, farm=farm,
                              journal=journal, memory=settings.memory, layouts=settings.layouts)  # fmt: skip
        reuse = journal.load(space, {device.name} | (farm.device_names if farm is not None else set()))
        evaluator.restore(reuse.reused, reuse.rounds)
        exhaustive(space, evaluator)
        for round_number in range(1, settings.rounds):  # interleaved: every point once per round
            evaluator.remeasure(list(evaluator.cache), round_number)
    solutions = {e.point_id: _solution(e) for e in evaluator.evaluations()}
    dump = Dump(**{**header, "solutions": solutions}, path=out)
    write_json(out, dump_document(dump))
    journal_path(out).unlink(missing_ok=True)
    invalid = sum(1 for s in solutions.values() if not s.valid)
    resumed = len(reuse.reused)
    return BruteForceResult(out, dump, space, len(solutions) - resumed, resumed, invalid, reuse.describe())


def _solution(e: Evaluation) -> Solution:
    """A measured point as the dump keeps it (an invalid point with no time or memory)."""
    if not e.valid:
        return Solution(e.point_id, None, None, False, e.reason)
    return Solution(e.point_id, round(e.time_ms, 3), e.memory_kb, runs=e.runs, memories=e.memories)


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
            "measure": {"warmup": settings.warmup, "repeats": settings.repeats, "seed": settings.seed,
                        "rounds": settings.rounds,
                        **({"memory": settings.memory, "layouts": settings.layouts}
                           if (settings.memory, settings.layouts) != ("process", False) else {})},
            "space_size": len(space.backends) ** len(space.decisions),
            # Where and how it ran: host, runtime, the cores and their load before the first point.
            "context": context_now(device.name, BackendConfig(tuple(space.backends))).to_json(),
        },
    )
