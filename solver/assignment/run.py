"""Backend assignment, the library call behind ``solve pareto``: build the space, search, assess the front.

Two sources of measurements: a live device (local onert, ssh, sdb), with the space read from the model's
oplist and the device's backends; or a brute-force dump (``offline``, or a device spec naming a dump),
with the space read from the dump (``solver.assignment.offline``). When a dump holds every point of the
space, the true front is known and the found front is scored against it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from devices.base import BackendConfig, Device
from devices.context import context_now
from solver.assignment.front import Quality, assess
from solver.assignment.offline import check_model, open_dump, open_spec
from solver.assignment.planned import with_planner
from devices.workerdevice import file_digest
from solver.assignment.journal import Journal
from solver.assignment.evaluator import Evaluation, Evaluator
from solver.assignment.search import SearchResult, confirm_front, default_budget, front_of, search
from solver.assignment.settings import ParetoSettings, settings_from_names
from solver.assignment.space import SearchSpace, index_space, name_space
from solver.errors import UsageError
from solver.io.dumps import Solution, estimator_document
from solver.io.oplist import OpList, read_oplist
from solver.io.tflite import uncompressed


@dataclass
class ParetoOutcome:
    """A finished search with its quality figures."""

    result: SearchResult
    quality: Quality
    budget: int
    profiling_time: float  # seconds, ONE's "profiling time"
    notes: list[str] = field(default_factory=list)  # backend names guessed, the journal, the model's fit, rounds
    context: dict | None = None  # a live search: where and how it measured (devices.context), with the load

    def summary(self) -> dict:
        """Our figures of the search (the ``summary`` of the estimator dump and of ``to_json``)."""
        result, quality = self.result, self.quality
        out = {
            "algorithm": result.algorithm,
            "budget": self.budget,
            "space_size": result.space.size,
            "unique_evaluations": len(result.evaluations),
            "invalid": sum(not e.valid for e in result.evaluations),
            "front_size": len(result.front),
            "hypervolume": quality.hypervolume,
            "reference_point": {"time_ms": quality.reference[0], "memory_kb": quality.reference[1],
                                "from": quality.reference_from},  # fmt: skip
            "interrupted": result.interrupted,
            "wall_s": round(result.wall_s, 3),
            "notes": list(self.notes),
        }
        if self.context is not None:
            out["context"] = self.context
        if quality.true_front is not None:
            out.update(
                true_front=[{"id": p.point_id, "exec_time": p.time_ms, "max_rss": p.memory_kb} for p in quality.true_front],
                true_hypervolume=quality.true_hypervolume,
                hypervolume_ratio=quality.ratio,
                igd_plus=quality.igd_plus,
            )
        return out

    def to_json(self) -> dict:
        """The result for ``--json``: mode, backends, the summary and the front with each point's configuration."""
        space = self.result.space
        return {
            "mode": space.mode,
            "backends": list(space.backends),
            "summary": self.summary(),
            "front": [{"id": e.point_id, "time_ms": e.time_ms, "memory_kb": e.memory_kb, "runs": list(e.runs),
                       "memory_rounds_kb": list(e.memories), "configuration": space.config(e.genes).env_string()}
                      for e in self.result.front],  # fmt: skip
        }

    def estimator_dump(self) -> dict:
        """ONE's estimator dump of the search plus our keys (``solver.io.dumps``)."""
        result, space = self.result, self.result.space
        return estimator_document(
            space.mode,
            space.oplist if space.mode == "name" else (space.opmap or ()),
            space.backends,
            [_solution(e) for e in result.front],
            {e.point_id: space.config(e.genes).env_string() for e in result.front},
            self.profiling_time,
            settings={s.name: s.values for s in space.settings},
            summary=self.summary(),
            evaluated=[_solution(e) for e in result.evaluations],
        )


def _solution(e: Evaluation) -> Solution:
    return Solution(e.point_id, e.time_ms, e.memory_kb, e.valid, e.reason, e.runs, e.memories)


def run_pareto(
    settings: ParetoSettings,
    device: Device | None = None,
    on_measure: Callable[[Evaluator, Evaluation], None] | None = None,
) -> ParetoOutcome:
    """Search the Pareto front of (time, memory) over backend assignments as ``settings`` say.

    ``device`` is the opened live device (default: ``open_spec(settings.device)``); a dump, given as
    ``offline`` or as the device spec, is read here.
    """
    started = time.perf_counter()
    dump_path = settings.dump
    complete_points = measure_id = memory_rounds = None
    if dump_path is not None:
        source = open_dump(dump_path, settings.backends)
        if settings.settings:
            raise UsageError(f"{dump_path}: a dump holds no onert settings; --settings needs a live --device")
        if settings.mode is not None and settings.mode != source.dump.mode:
            raise UsageError(f"{dump_path}: the dump is in {source.dump.mode} mode, not {settings.mode}")
        if settings.model is not None:
            check_model(source, read_oplist(settings.model, source.dump.mode), settings.model)
        device, space, complete_points = source.device, source.space, source.complete_points
        measure_id = source.device.measure_id  # the space is the dump's own: points are answered by id
        memory_rounds = source.memory_rounds
    else:
        if settings.model is None:
            raise UsageError("a live search needs the MODEL (only --offline can do without)")
        device = device or open_spec(settings.device)
        space = model_space(read_oplist(settings.model, settings.mode or "name"), device, settings.settings,
                            settings.backends)  # fmt: skip
    space = with_planner(space, settings.model)  # the memory planner's regressors of the model-based search
    farm = journal = context = None
    notes: list[str] = list(source.notes) if dump_path is not None else []
    if dump_path is None:
        context = context_now(device.name, BackendConfig(tuple(space.backends))).to_json()
        if settings.memory == "session":
            notes.append("memory: what each session added to its measuring process (the session figure), not the "
                         "process's peak RSS")  # fmt: skip
        if settings.layouts:
            notes.append("memory: round r measured under process layout r (the rounds' median spans layouts)")
        farm = _open_farm(settings)
        if settings.journal is not None:
            journal = Journal(settings.journal, file_digest(settings.model), settings.measure, device.name)
    stack = contextlib.ExitStack()
    # onert reads no xz or gzip: a live search measures a private plain copy, removed when it ends.
    runnable = stack.enter_context(uncompressed(settings.model)) if dump_path is None else settings.model
    evaluator = Evaluator(space, device, runnable, settings.measure, on_measure=on_measure,
                          measure_id=measure_id, farm=farm, journal=journal, memory_rounds=memory_rounds,
                          memory=settings.memory, layouts=settings.layouts)  # fmt: skip
    try:
        if journal is not None:
            reuse = journal.load(space, {device.name} | (farm.device_names if farm is not None else set()))
            evaluator.restore(reuse.reused, reuse.rounds)
            notes.append(reuse.describe() or f"journal {journal.path}: new")
        result = search(space, evaluator, settings.search, len(farm.devices) if farm is not None else 1)
        if result.model is not None:
            notes.append(result.model.describe())
        if dump_path is None and not result.interrupted:
            confirmed = confirm_front(evaluator, settings.rounds)
            if confirmed:
                notes.append(f"{confirmed} point(s) whose place in the front was unclear measured in "
                             f"{settings.rounds} interleaved rounds")  # fmt: skip
            result.evaluations = evaluator.evaluations()
            result.front = front_of(result.evaluations)
    finally:
        if farm is not None:
            farm.close()
        stack.close()
    found = np.array([(e.time_ms, e.memory_kb) for e in result.front]).reshape(-1, 2)
    evaluated = np.array([(e.time_ms, e.memory_kb) for e in result.valid]).reshape(-1, 2)
    quality = assess(found, evaluated, complete_points() if complete_points is not None else None)
    budget = default_budget(space, settings.search.algorithm) if settings.search.budget is None else settings.search.budget
    return ParetoOutcome(result, quality, budget, time.perf_counter() - started, notes, context)


def model_space(oplist: OpList, device: Device, setting_names: tuple[str, ...] = (),
                backends: tuple[str, ...] | None = None) -> SearchSpace:  # fmt: skip
    """The space of a model's oplist on a device (allowed backends from ``device.backends()``, only
    ``backends`` when given)."""
    settings = settings_from_names(setting_names)
    offered = device.backends()
    if backends is not None:
        missing = [b for b in backends if b not in offered]
        if missing:
            raise UsageError(f"{device.name} has no backend {missing[0]!r} (it offers {', '.join(offered)})")
        offered = {b: offered[b] for b in backends}
    if oplist.mode == "name":
        return name_space(oplist.oplist, offered, settings)
    return index_space(oplist.opmap, oplist.opname_by_indx, offered, settings)


def _open_farm(settings: ParetoSettings):
    """The farm of ``settings.devices``, or None."""
    if settings.devices is None:
        return None
    from devices.farm import Farm, read_devices

    return Farm(read_devices(settings.devices), settings.cluster or "local")
