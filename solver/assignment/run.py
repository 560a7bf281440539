"""Backend assignment, the library call behind ``solve pareto``: build the space, search, assess the front.

Two sources of measurements: a device (local onert, ssh, sdb), with the space read from the model's
oplist and the device's backends; or a brute-force dump (``--offline``, the lookup device), with the space
read from the dump (its oplist or opmap, backends, and the backends its ids put each decision on). When a
dump holds every point of the space, the true front is known and the found front is scored against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devices import open_device
from devices.base import Device, MeasureSettings
from devices.errors import LookupMiss
from solver.errors import DumpError, UsageError
from solver.io.oplist import OpList, read_oplist
from solver.assignment.search import Evaluation, Evaluator, SearchResult, SearchSettings, default_budget, search
from solver.assignment.report import Quality, TruePoint, assess, estimator_dump
from solver.io.oplist import MODES
from solver.assignment.space import SearchSpace, index_space, name_space, restrict_to_ids, settings_from_names


@dataclass(frozen=True)
class ParetoSettings:
    """What to search: the model, where to measure, the space and the search."""

    model: Path | None = None
    offline: Path | None = None  # a brute-force dump to look measurements up in
    device: str | None = None  # "local", "ssh://user@host", "sdb://serial"
    mode: str | None = None  # "name" or "index"; None: the dump's mode, else name
    settings: tuple[str, ...] = ()  # onert variables to search over (EXECUTOR, ...)
    search: SearchSettings = field(default_factory=SearchSettings)
    measure: MeasureSettings = field(default_factory=MeasureSettings)


@dataclass
class ParetoOutcome:
    """A finished search with its quality figures."""

    result: SearchResult
    quality: Quality
    budget: int
    profiling_time: float  # seconds, ONE's "profiling time"

    def to_json(self) -> dict:
        """ONE's estimator dump plus our summary (see solver.assignment.report)."""
        return estimator_dump(self.result, self.quality, self.budget, self.profiling_time)


def run_pareto(
    settings: ParetoSettings,
    device: Device | None = None,
    on_measure: Callable[[Evaluator, Evaluation], None] | None = None,
) -> ParetoOutcome:
    """Search the Pareto front of (time, memory) over backend assignments as ``settings`` say.

    ``device`` is the opened live device (default: ``open_device(settings.device)``).
    """
    started = time.perf_counter()
    if (settings.offline is None) == (settings.device is None):
        raise UsageError("give exactly one of --offline DUMP and --device SPEC")
    if settings.mode is not None and settings.mode not in MODES:
        raise UsageError(f"unknown --mode {settings.mode!r}; choose name or index")
    if settings.offline is not None:
        device = open_device(str(settings.offline))
        space = dump_space(device, settings)
    else:
        if settings.model is None:
            raise UsageError("a live search needs the MODEL (only --offline can do without)")
        device = device or open_device(settings.device)
        oplist = read_oplist(settings.model, settings.mode or "name")
        space = model_space(oplist, device, settings.settings)
    evaluator = Evaluator(space, device, settings.model, settings.measure, on_measure=on_measure)
    result = search(space, evaluator, settings.search)
    points = complete_points(device, space) if settings.offline is not None else None
    quality = assess(result, points)
    budget = default_budget(space, settings.search.algorithm) if settings.search.budget is None else settings.search.budget
    return ParetoOutcome(result, quality, budget, time.perf_counter() - started)


def model_space(oplist: OpList, device: Device, setting_names: tuple[str, ...] = ()) -> SearchSpace:
    """The space of a model's oplist on a device (allowed backends from ``device.backends()``)."""
    settings = settings_from_names(setting_names)
    if oplist.mode == "name":
        return name_space(oplist.oplist, device.backends(), settings)
    return index_space(oplist.opmap, oplist.opname_by_indx, device.backends(), settings)


def dump_space(device, settings: ParetoSettings) -> SearchSpace:
    """The space a dump describes, checked against the model when one is given."""
    path = settings.offline
    if settings.settings:
        raise UsageError(f"{path}: a dump holds no onert settings; --settings needs a live --device")
    if settings.mode is not None and settings.mode != device.mode:
        raise UsageError(f"{path}: the dump is in {device.mode} mode, not {settings.mode}")
    oplist = OpList(device.mode, tuple(device.oplist), tuple(device.opmap) or None,
                    tuple(device.opname_by_indx) or None)  # fmt: skip
    if settings.model is not None:
        _check_oplist(path, oplist, read_oplist(settings.model, device.mode), settings.model)
    if oplist.mode == "index":
        # ONE's index-mode estimator dumps keep the opmap under "oplist"; ours keep the op types there.
        oplist = OpList("index", tuple(dict.fromkeys(oplist.opname_by_indx)), oplist.opmap, oplist.opname_by_indx)
    space = model_space(oplist, device)
    return restrict_to_ids(space, sorted(device.solutions))


def _check_oplist(path: Path, dumped: OpList, model: OpList, model_path: Path) -> None:
    """Refuse a dump whose decisions are not the model's, naming the first difference."""
    if dumped.mode == "name":
        if list(dumped.oplist) != list(model.oplist):
            only_dump = [t for t in dumped.oplist if t not in model.oplist]
            only_model = [t for t in model.oplist if t not in dumped.oplist]
            raise DumpError(
                f"{path}: its oplist does not match {model_path}: only in the dump {only_dump or 'none'}, only in "
                f"the model {only_model or 'none'}" + ("" if only_dump or only_model else " (same types, other order)")
            )
        return
    for name, a, b in (("opname_by_indx", dumped.opname_by_indx, model.opname_by_indx), ("opmap", dumped.opmap, model.opmap)):
        if len(a) != len(b):
            raise DumpError(f"{path}: its {name} has {len(a)} ops but {model_path} has {len(b)}")
        diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        if diff is not None:
            raise DumpError(f"{path}: its {name} differs from {model_path} at op {diff}: {a[diff]!r} vs {b[diff]!r}")


def complete_points(device, space: SearchSpace) -> list[TruePoint] | None:
    """Every valid point of the space from the dump, or None when the dump lacks some point."""
    points = []
    for ordinal in range(space.size):
        point_id = space.point_id(space.point(ordinal))
        try:
            m = device.measure_id(point_id)
        except LookupMiss:
            return None
        if m.valid:
            points.append(TruePoint(point_id, m.time_ms, m.peak_rss_kb))
    return points
