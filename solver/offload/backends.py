"""``partition_for``: offloading as a Python call in the spirit of MXNet's ``optimize_for``.

    from solver.offload.backends import Backend, partition_for

    result = partition_for("mobilenet.tflite", [
        Backend("cpu", trace="cpu.chrome.json"),
        Backend("ruy", trace="ruy.chrome.json", supports=["CONV_2D", "FULLY_CONNECTED"], min_ops=2,
                reject=lambda ops: len(ops) < 3),
    ], objective="latency")
    result.metrics.parts, result.placement   # ONE's partition map and each part's backend

The backends become a platform (one device each, hand-offs over ``handoff``) and the same engine as
``solve place --offload`` plans them (solver.offload): ``supports`` claims op types, ``min_ops`` and
``reject`` refuse parts as optimize_for's subgraph property does (a refused part is forbidden and the exact model
solved again), ``exclude_ops`` stay on the first backend (the default), ``rules`` is a circle-partitioner
partition file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from solver.errors import UsageError
from solver.io.partrules import PartitionRules, read_rules
from solver.io.platform import DeviceSpec, Link, Platform
from solver.offload.objectives import OBJECTIVES
from solver.offload.offload import OffloadResult, offload_model
from solver.offload.settings import OffloadSettings
from solver.problem import PartitionProblem, load_problem

MEMORY_COPY = Link(bandwidth=1e9)  # the default hand-off: a copy in memory at 1 GB/s, no fixed cost


@dataclass(frozen=True)
class Backend:
    """A backend: its op times (its own ``trace``, else the model's trace divided by ``speed``), the op types
    it runs (None: all), the fewest ops of a part it accepts, and ``reject(ops) -> bool`` to refuse a part."""

    name: str
    supports: Iterable[str] | None = None
    trace: str | Path | None = None
    speed: float = 1.0
    min_ops: int = 1
    reject: Callable[[list[int]], bool] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.min_ops, bool) or not isinstance(self.min_ops, int) or self.min_ops < 1:
            raise UsageError(f"backend {self.name!r}: min_ops must be an integer >= 1, not {self.min_ops!r}")
        if self.reject is not None and not callable(self.reject):
            raise UsageError(f"backend {self.name!r}: reject must be callable")


def partition_for(
    model: str | Path | PartitionProblem,
    backends: Sequence[Backend],
    *,
    objective: str = "latency",
    trace: str | Path | None = None,
    handoff: Link = MEMORY_COPY,
    rules: str | Path | PartitionRules | None = None,
    exclude_ops: Sequence[str] = (),
    min_part_ops: int = 1,
    max_parts: int | None = None,
    algo: str = "exact",
    time_limit: float = 60.0,
    workers: int | None = None,
) -> OffloadResult:
    """Plan ``model`` (a .tflite or .circle path with ``trace``, or a loaded problem) on ``backends``.

    ``trace`` gives the op times of backends without their own (default: the first backend's trace).

    Raises
    ------
    UsageError
        No backends, duplicate names, an objective other than latency, or bad limits.
    InfeasibleError
        No plan meets the limits.
    """
    if objective not in OBJECTIVES:
        raise UsageError(f"partition_for minimises the end-to-end latency; objective {objective!r} is not offered")
    if not backends:
        raise UsageError("partition_for needs at least one backend")
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        raise UsageError(f"backend names must be unique, got {names}")
    settings = OffloadSettings(algo=algo, min_part_ops=min_part_ops, max_parts=max_parts, exclude_ops=tuple(exclude_ops),
                               time_limit=time_limit, workers=workers)  # fmt: skip
    if not isinstance(model, PartitionProblem):
        model = load_problem(model, trace if trace is not None else next((b.trace for b in backends if b.trace), None))
    devices = tuple(DeviceSpec(b.name, speed=b.speed, supports=None if b.supports is None else frozenset(b.supports),
                               trace=None if b.trace is None else Path(b.trace)) for b in backends)  # fmt: skip
    platform = Platform(Path("partition_for"), devices, {}, handoff)
    if rules is not None and not isinstance(rules, PartitionRules):
        rules = read_rules(rules)
    return offload_model(model, platform, settings, rules, backend_min_ops=[b.min_ops for b in backends],
                         reject=[b.reject for b in backends])  # fmt: skip
