"""Offline evaluation: a parsed brute-force dump as a search space and a lookup device; opening a device spec.

A dump (``solver.io.dumps``) names its decisions (oplist, or opmap and opname_by_indx), its backends and
the measured ids. The space is built from those decisions (``solver.assignment.space``), each decision
restricted to the backends some id puts it on (a device's dump lists only what the device can run); the
lookup device answers ids straight from the parsed solutions and configurations through the space's id
encoding. When the dump holds every point of the space, its valid points give the true front.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devices import open_device
from devices.base import Device, Measurement
from devices.errors import LookupMiss
from devices.lookup import LookupDevice
from devices.workerdevice import file_digest
from solver.assignment.front import TruePoint
from solver.assignment.planned import dump_model, with_planner
from solver.assignment.space import SearchSpace, index_space, name_space, restrict_to_ids
from solver.errors import DumpError, UsageError
from solver.io.dumps import Dump, backends_from_configs, is_dump_spec, read_dump
from solver.io.oplist import OpList

# ONE numbered its backends in this order when a dump does not say (0 = cpu, 1 = acl_cl, 2 = acl_neon).
ONE_BACKENDS = ("cpu", "acl_cl", "acl_neon")


def open_spec(spec: str, *, cache: bool = True, backends: tuple[str, ...] | None = None, **options) -> Device:
    """The device a spec names: a dump (``is_dump_spec``) as a lookup device, else ``devices.open_device``.

    ``backends`` names a dump's backends when the dump does not list them; ``cache`` and the other
    options are for measuring devices.
    """
    if not is_dump_spec(spec):
        if backends is not None:
            raise UsageError(f"{spec}: only a dump takes a list of backend names")
        return open_device(spec, cache=cache, **options)
    if options:
        raise UsageError(f"{spec}: a dump takes no device option(s) {', '.join(sorted(options))}")
    return open_dump(spec, backends).device


@dataclass(frozen=True)
class OfflineSource:
    """A dump ready to search: the parsed dump, its space and the lookup device that answers it."""

    dump: Dump
    space: SearchSpace
    device: LookupDevice
    notes: tuple[str, ...] = ()  # how the backend names were found, when the dump does not list them

    def memory_rounds(self, point_id: int) -> tuple[float, ...]:
        """Each round's peak memory of a point (KB), when the dump keeps them, else ()."""
        solution = self.dump.solutions.get(point_id)
        return solution.memories if solution is not None else ()

    def complete_points(self) -> list[TruePoint] | None:
        """Every valid point of the space, or None when the dump lacks some point."""
        points = []
        for genes in self.space.points():
            point_id = self.space.point_id(genes)
            try:
                m = self.device.measure_id(point_id)  # the figures the search sees
            except LookupMiss:
                return None
            if m.valid:
                points.append(TruePoint(point_id, m.time_ms, m.peak_rss_kb))
        return points


def open_dump(path: str | Path, backends: tuple[str, ...] | None = None) -> OfflineSource:
    """Read the dump in ``path`` and build its space and lookup device (DumpError naming the file)."""
    return offline_source(read_dump(path), backends)


def offline_source(dump: Dump, backends: tuple[str, ...] | None = None) -> OfflineSource:
    """The space and lookup device of a parsed dump; ``backends`` overrides the dump's backend names."""
    where = dump.path or "the dump"
    names, notes = _backend_names(dump, backends)
    capabilities = {b: None for b in names}
    try:
        if dump.mode == "name":
            space = name_space(dump.oplist, capabilities)
        else:
            space = index_space(dump.opmap, dump.opname_by_indx, capabilities)
        outside = [i for i in dump.solutions if i >= len(names) ** len(space.decisions)]
        if outside:
            raise DumpError(f"id {outside[0]} is outside the space of {len(names)}**{len(space.decisions)} ids")
        space = restrict_to_ids(space, sorted(dump.solutions))
    except DumpError as err:
        raise DumpError(f"{where}: {err}") from None
    measurements = {
        i: Measurement(s.valid, s.reason, list(s.runs) or ([] if s.time_ms is None else [float(s.time_ms)]),
                       int(s.memory_kb or 0))  # fmt: skip
        for i, s in dump.solutions.items()
    }
    space = with_planner(space, dump_model(dump))
    name = f"lookup:{Path(dump.path).name}" if dump.path is not None else "lookup"
    device = LookupDevice(name, names, measurements, space.id_of_config, dump.model_sha256)
    return OfflineSource(dump, space, device, notes)


def _backend_names(dump: Dump, backends: tuple[str, ...] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of the dump's digits and a note saying where they came from when the dump does not list them:
    ``backends`` given, the estimator dump's configs, or ONE's numbering (guessed)."""
    where = dump.path or "the dump"
    if backends:
        return tuple(backends), ()
    if dump.backends is not None:
        return dump.backends, ()
    read = backends_from_configs(dump)
    if read is not None:
        guessed = [d for d, name in enumerate(read) if name is None]
        names = tuple(name or f"backend{d}" for d, name in enumerate(read))
        note = f"{where}: backend names read from its configs: {', '.join(names)}"
        if guessed:
            note += f" (no config uses digit(s) {', '.join(map(str, guessed))}: named by number)"
        return names, (note,)
    names = _infer_backends(dump)
    return names, (f"{where}: the dump names no backends; GUESSED ONE's numbering {', '.join(names)} (name them "
                   f"with --backends)",)  # fmt: skip


def _infer_backends(dump: Dump) -> tuple[str, ...]:
    # Without a list, only a complete dump tells the base: it holds b**digits ids.
    for base in range(1, len(ONE_BACKENDS) + 1):
        if base**dump.num_digits == len(dump.solutions):
            return ONE_BACKENDS[:base]
    raise DumpError(
        f"{dump.path or 'the dump'}: the dump has no 'backends' list and is not complete; name its backends "
        f"(e.g. cpu,acl_cl) in the order its ids number them"
    )


def check_model(source: OfflineSource, model: OpList, model_path: Path) -> None:
    """Refuse a dump measured on another model than ``model_path``, naming the first difference."""
    dump, path = source.dump, source.dump.path
    if dump.model_sha256 and file_digest(model_path) != dump.model_sha256:
        raise DumpError(f"{path}: the dump was measured on another model than {model_path}")
    if dump.mode == "name":
        if list(dump.oplist) != list(model.oplist):
            only_dump = [t for t in dump.oplist if t not in model.oplist]
            only_model = [t for t in model.oplist if t not in dump.oplist]
            raise DumpError(
                f"{path}: its oplist does not match {model_path}: only in the dump {only_dump or 'none'}, only in "
                f"the model {only_model or 'none'}" + ("" if only_dump or only_model else " (same types, other order)")
            )
        return
    for name, a, b in (("opname_by_indx", dump.opname_by_indx, model.opname_by_indx), ("opmap", dump.opmap, model.opmap)):
        if len(a) != len(b):
            raise DumpError(f"{path}: its {name} has {len(a)} ops but {model_path} has {len(b)}")
        diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        if diff is not None:
            raise DumpError(f"{path}: its {name} differs from {model_path} at op {diff}: {a[diff]!r} vs {b[diff]!r}")
