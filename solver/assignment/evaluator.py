"""One evaluation cache for every search: each point measured at most once, the budget counting unique
measurements, invalid points kept as such (pymoo's ``core/evaluator``, ours)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from devices.base import Device, Measurement, MeasureSettings
from devices.errors import LookupMiss
from solver.assignment.front import rank_order
from solver.assignment.space import SearchSpace
from solver.errors import UsageError
from solver.io.dumps import memory_figure

PROCESS, SESSION = "process", "session"  # the memory figures a point can be ranked by (``memory_of``)


def memory_of(m: Measurement, figure: str = PROCESS) -> float:
    """A valid measurement's memory (KB) as ``figure`` counts it: ``process``, the measuring process's peak RSS
    (interpreter and runtime included; the default), or ``session``, that peak minus the process's RSS before the
    session was made (issue 25's measured memory: what the session added)."""
    if figure == PROCESS:
        return float(m.peak_rss_kb)
    if m.memory is None:
        raise UsageError("this device does not measure the session's own memory; rank by the process's peak RSS")
    return float(m.memory.session_kb)


@dataclass(frozen=True)
class Evaluation:
    """One point measured: once, or in several rounds (``runs`` holds every timed run)."""

    genes: tuple[int, ...]
    point_id: int  # ONE's id of the point
    valid: bool
    time_ms: float  # median of the runs
    memory_kb: float
    reason: str = ""  # why an invalid point is invalid
    runs: tuple[float, ...] = ()  # every timed run (ms), all rounds
    rounds: int = 1
    memories: tuple[float, ...] = ()  # peak memory (KB) of every round; memory_kb is their memory_figure

    def merged(self, m: Measurement, figure: str = PROCESS) -> Evaluation:
        """This point with one more round measured: runs pooled and their median, each round's peak memory
        (as ``figure`` counts it, ``memory_of``) kept and their median (``solver.io.dumps.memory_figure``)."""
        if not (self.valid and m.valid):
            return replace(self, valid=False, reason=self.reason or m.reason, rounds=self.rounds + 1)
        runs, memories = self.runs + tuple(m.times_ms), self.memories + (memory_of(m, figure),)
        return replace(self, time_ms=statistics.median(runs), memory_kb=memory_figure(memories), runs=runs,
                       memories=memories, rounds=self.rounds + 1)  # fmt: skip


def _first_round(genes: tuple[int, ...], point_id: int, m: Measurement, figure: str = PROCESS) -> Evaluation:
    """A point as its first round measured it (its memory as ``figure`` counts it)."""
    memory = memory_of(m, figure) if m.valid else float(m.peak_rss_kb)
    memories = (memory,) if m.valid else ()
    return Evaluation(genes, point_id, m.valid, m.time_ms, memory, m.reason, tuple(m.times_ms), 1, memories)


class BudgetSpent(Exception):
    """The budget of unique measurements is used up (control flow inside the search, never reported)."""


class Evaluator:
    """Measures points of ``space`` on ``device``, each at most once, and counts unique measurements.

    ``measure_id`` answers a point by its id when the space is a dump's own (offline search: no
    configuration is built); otherwise the device measures the point's configuration.
    ``on_measure(evaluator, evaluation)`` is called after every new measurement (progress output).
    ``farm`` (``measure_many(model, configs, settings)`` yielding ``(index, Measurement)`` as they arrive)
    measures batches in parallel; ``journal`` (``record(config, measurement)``) keeps every new
    measurement on disk as it arrives, so a killed run loses none. ``memory_rounds`` gives the peak memory
    of each round of an id answered by ``measure_id`` (a dump's ``memory_rounds``; empty when it has none).
    ``memory`` is the figure each round's memory is (``memory_of``); ``layouts`` measures round r under process
    layout r (``MeasureSettings.layout``), so the rounds' median is not one draw of glibc's allocation history.
    """

    def __init__(
        self,
        space: SearchSpace,
        device: Device,
        model: Path | None,
        measure: MeasureSettings = MeasureSettings(),
        budget: int | None = None,
        on_measure: Callable[[Evaluator, Evaluation], None] | None = None,
        measure_id: Callable[[int], Measurement] | None = None,
        farm=None,
        journal=None,
        memory_rounds: Callable[[int], tuple[float, ...]] | None = None,
        memory: str = PROCESS,
        layouts: bool = False,
    ):
        self.space = space
        self.device = device
        self.model = model
        self.measure = measure
        self.budget = space.size if budget is None else budget
        self.on_measure = on_measure
        self.measure_id = measure_id
        self.farm = farm  # measures a batch on several devices at once (devices.farm.Farm)
        self.journal = journal  # appends every new measurement to disk (solver.assignment.journal.Journal)
        self.memory_rounds = memory_rounds
        self.memory = memory
        self.layouts = layouts
        self.cache: dict[tuple[int, ...], Evaluation] = {}  # insertion order = measurement order

    def __contains__(self, genes) -> bool:
        return tuple(int(g) for g in genes) in self.cache

    @property
    def count(self) -> int:
        """Unique measurements made."""
        return len(self.cache)

    @property
    def remaining(self) -> int:
        """Unique measurements the budget still allows."""
        return max(0, self.budget - len(self.cache))

    @property
    def exhausted(self) -> bool:
        """True when every point of the space has been measured."""
        return len(self.cache) >= self.space.size

    def evaluate(self, genes: Iterable[int]) -> Evaluation:
        """The measurement of ``genes``: from the cache, else measured (BudgetSpent when none is left)."""
        key = self.space.check_genes(genes)
        if key in self.cache:
            return self.cache[key]
        if not self.remaining:
            raise BudgetSpent
        if self.measure_id is not None:
            point_id = self.space.point_id(key)
            try:
                m = self.measure_id(point_id)
            except LookupMiss as err:
                # A dump that lacks a point tells nothing about it: it cannot be on the front.
                return self._record(key, Measurement(False, str(err)), float("nan"))
            return self._record(key, m, memories=self.memory_rounds(point_id) if self.memory_rounds else ())
        return self._record(key, self.device.measure(self.model, self.space.config(key), self.measure))

    def evaluate_batch(self, points: Iterable[Iterable[int]]) -> list[Evaluation]:
        """The measurements of ``points`` the budget pays for: cached ones from the cache, the others
        measured, all at once on the farm when there is one (each recorded as it arrives)."""
        keys = list(dict.fromkeys(self.space.check_genes(g) for g in points))
        new = [k for k in keys if k not in self.cache][: self.remaining]
        if self.farm is not None and self.measure_id is None and len(new) > 1:
            configs = [self.space.config(k) for k in new]
            for i, measurement in self.farm.measure_many(self.model, configs, self.measure):
                self._record(new[i], measurement)
        else:
            for key in new:
                self.evaluate(key)
        return [self.cache[k] for k in keys if k in self.cache]

    def _record(self, key: tuple[int, ...], m: Measurement, memory_kb: float | None = None,
                memories: tuple[float, ...] = ()) -> Evaluation:  # fmt: skip
        """Keep a new measurement: in the cache, in the journal (when there is one), on the progress line.
        ``memories``: each round's peak memory when the answer pools several rounds (a dump's)."""
        evaluation = _first_round(key, self.space.point_id(key), m, self.memory)
        if memory_kb is not None:
            evaluation = replace(evaluation, memory_kb=memory_kb, memories=())
        elif len(memories) > 1:
            evaluation = replace(evaluation, memories=tuple(memories))
        self.cache[key] = evaluation
        if self.journal is not None:
            self.journal.record(self.space.config(key), m, self.measure)
        if self.on_measure is not None:
            self.on_measure(self, evaluation)
        return evaluation

    def remeasure(self, keys: Iterable[tuple[int, ...]], round_number: int) -> None:
        """Measure measured points once more, as round ``round_number`` (a fresh process and cache entry per
        round), and pool the runs; on a farm, all at once. Not counted in the budget of unique points."""
        keys = [k for k in keys if k in self.cache and self.cache[k].rounds <= round_number]  # not resumed ones
        settings = replace(self.measure, round=round_number, layout=round_number if self.layouts else 0)
        configs = [self.space.config(k) for k in keys]
        if self.farm is not None:
            arrived = self.farm.measure_many(self.model, configs, settings)
        else:
            arrived = ((i, self.device.measure(self.model, c, settings)) for i, c in enumerate(configs))
        for i, m in arrived:
            self.cache[keys[i]] = self.cache[keys[i]].merged(m, self.memory)
            if self.journal is not None:
                self.journal.record(configs[i], m, settings)

    def restore(self, measurements: Mapping[tuple[int, ...], Measurement],
                rounds: Mapping[tuple[int, ...], list[Measurement]] = {}) -> None:  # fmt: skip
        """Put measurements made before (a journal's) into the cache, as if measured by this run, with the
        later ``rounds`` of some points."""
        for genes, m in measurements.items():
            key = self.space.check_genes(genes)
            evaluation = _first_round(key, self.space.point_id(key), m, self.memory)
            for later in rounds.get(genes, ()):
                evaluation = evaluation.merged(later, self.memory)
            self.cache[key] = evaluation

    def evaluations(self) -> list[Evaluation]:
        """Every point measured, in measurement order."""
        return list(self.cache.values())


def best_measured(evaluator: Evaluator, count: int) -> list[tuple[int, ...]]:
    """The ``count`` best valid points measured: by non-dominated rank, then time."""
    valid = [e for e in evaluator.evaluations() if e.valid]
    return [valid[i].genes for i in rank_order([(e.time_ms, e.memory_kb) for e in valid])[:count]]
