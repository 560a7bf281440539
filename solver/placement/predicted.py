"""What a placement predicts for a run of its parts: per device and per link the time per request, the period.

Used by ``solve pipeline --platform`` beside what it measures (``solver.deploy.placed``, which reads these
figures without importing this room).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from solver.io.linkfile import DeviceFit
from solver.io.platform import Platform
from solver.placement.engine import DeviceEngine, StageIO, busy_us, flows, hop_us, request_us, through_us
from solver.placement.engine import stage_io as engine_stage_io
from solver.placement.metrics import evaluate, path_latency
from solver.placement.problem import placement_problem
from solver.placement.replicas import Replicated, evaluate_replicated


@dataclass(frozen=True)
class PlacedPrediction:
    """What a placement model predicts for a run: per device compute and per link bytes and time (us)."""

    label: str  # which link model: "platform" (the platform file's links), "calibrated" (measured links)
    device_us: dict[str, float]  # compute and, with measured devices, the engine's overhead
    link_us: dict[tuple[str, str], float]
    link_bytes: dict[tuple[str, str], int]
    latency_us: float
    period_us: float  # with the cores the devices share
    bottleneck: str  # "device NAME", "link A -> B" or "cores C (A, B)"
    overhead_us: dict[str, float] = field(default_factory=dict)  # per measured device, its part of device_us

    @property
    def throughput(self) -> float:
        return 1e6 / self.period_us if self.period_us > 0 else float("inf")

    def to_json(self) -> dict:
        return {
            "label": self.label, "predicted_throughput": self.throughput, "predicted_latency_us": self.latency_us,
            "period_us": self.period_us, "bottleneck": self.bottleneck,
            "devices": {d: us for d, us in self.device_us.items()},
            "overhead_us": dict(self.overhead_us),
            "links": [{"from": a, "to": b, "bytes": self.link_bytes[a, b], "us": us} for (a, b), us in self.link_us.items()],
        }  # fmt: skip


def shared_period(device_us: dict[str, float], link_us: dict[tuple[str, str], float],
                  core_of: dict[str, int | None], cores: int) -> tuple[float, str]:  # fmt: skip
    """The pipeline's period and what sets it: the largest device or link time, or a group sharing cores.

    Model: a device pinned to CPU c (``core_of[d] == c``) runs only there, so the devices pinned to c need their
    summed compute of it per request; unpinned devices of this machine (``core_of[d] is None``) share all
    ``cores`` CPUs, so they need their summed compute over ``cores`` (and over every CPU the pinned ones leave
    them, which this does not credit: a bound from below); a device not in ``core_of`` has a machine of its own.
    """
    candidates = [(us, f"device {d}") for d, us in device_us.items()]
    candidates += [(us, f"link {a} -> {b}") for (a, b), us in link_us.items()]
    pinned: dict[int, list[str]] = {}
    for d, c in core_of.items():
        if c is not None and d in device_us:
            pinned.setdefault(c, []).append(d)
    for c, names in sorted(pinned.items()):
        if len(names) > 1:
            candidates.append((sum(device_us[d] for d in names), f"core {c} ({', '.join(names)})"))
    free = [d for d in device_us if d in core_of and core_of[d] is None]
    if len(free) > 1:
        candidates.append((sum(device_us[d] for d in free) / cores, f"{cores} core(s) ({', '.join(free)})"))
    return max(candidates, key=lambda c: c[0]) if candidates else (0.0, "nothing")


def stage_io(problem, stages: Sequence[Sequence[int]]) -> list[StageIO]:
    """Per stage (its ops, in pipeline order) what ``devices.placed`` moves and runs for it per request: the
    placement's own count (solver.placement.engine.stage_io) on the problem's data tensors (a TFLite model's
    inputs and outputs among them)."""
    return engine_stage_io(flows(problem), stages)


def engine_overhead(io: StageIO, fit: DeviceFit | None) -> float:
    """A device's occupancy per request of a stage beyond its compute (0 for a device not measured): the
    placement's formula (solver.placement.engine.busy_us)."""
    return float(busy_us(io, None if fit is None else DeviceEngine.of(fit)))


def predict_parts(problem, platform: Platform, parts: Sequence[tuple[str, Sequence[int]]], label: str,
                  core_of: dict[str, int | None], cores: int,
                  engine: dict[str, DeviceFit] | None = None) -> PlacedPrediction:  # fmt: skip
    """``solve place``'s model of a map (``parts``: per part in pipeline order its device and its ops; ``problem``
    a ``solver.problem.PartitionProblem``) on ``platform``, with the hand-offs as ``devices.placed`` sends them:
    the tensors a part sends a later part on another device travel as one message, paying the link's overhead
    (``latency_us``) once, then their bytes over its bandwidth. Per device its compute, per link the sum of its
    messages; the latency is the longest path through the parts, as Dask runs them: a part starts once every
    part it reads has finished, then its messages travel together (the longest of them), then it computes; the
    period counts
    the cores the devices share (:func:`shared_period`). CheckError when the map is not a valid placement.

    ``engine`` (measured devices, ``solver.io.linkfile.DeviceFit``): a device's time per request also counts
    the engine's overhead of its part (:func:`engine_overhead`), and a part adds its device's ``hop_us`` and its
    bytes through the session to the latency, and the request the largest ``request_us`` of its devices (the
    placement's formulas, solver.placement.engine)."""
    placed = placement_problem(problem, platform)
    index = {name: d for d, name in enumerate(platform.names)}
    part_of = {v: k for k, (_, ops) in enumerate(parts) for v in ops}
    devices = [device for device, _ in parts]
    assign = [index[devices[part_of[v]]] for v in range(placed.num_ops)]
    metrics = evaluate(placed, assign, memory=False)  # the checker: support, links, acyclic
    engine = engine or {}
    ios = stage_io(problem, [ops for _, ops in parts]) if engine else [StageIO((), frozenset())] * len(parts)
    overhead = [engine_overhead(io, engine.get(d)) for io, d in zip(ios, devices)]
    device_us = {d: float(metrics.compute[index[d]]) for d in dict.fromkeys(devices)}
    overhead_us = {d: 0.0 for d in device_us if d in engine}
    for d, us in zip(devices, overhead):
        if d in engine:
            overhead_us[d] += us
            device_us[d] += us
    sent: dict[tuple[int, int], int] = {}  # (part, later part on another device) -> bytes of one request
    reads: set[tuple[int, int]] = set()  # (part, later part reading it)
    for tensor in placed.tensors:
        j = part_of[tensor.producer]
        for k in sorted({part_of[c] for c in tensor.consumers}):
            if k != j:
                reads.add((j, k))
            if devices[k] != devices[j]:
                sent[j, k] = sent.get((j, k), 0) + tensor.nbytes
    link_us: dict[tuple[str, str], float] = {}
    link_bytes: dict[tuple[str, str], int] = {}
    message_us = {}
    for (j, k), nbytes in sent.items():
        pair = (devices[j], devices[k])
        message_us[j, k] = platform.link(*pair).transfer_us(nbytes)
        link_us[pair] = link_us.get(pair, 0.0) + message_us[j, k]
        link_bytes[pair] = link_bytes.get(pair, 0) + nbytes
    engines = [DeviceEngine.of(engine[d]) if d in engine else None for d in devices]
    duration = [hop_us(e) + through_us(io, e) + sum(placed.times[v][index[device]] for v in ops)
                for e, io, (device, ops) in zip(engines, ios, parts)]  # fmt: skip
    inbound = {(j, k): message_us.get((j, k), 0.0) for j, k in reads}
    pick = {(j, k): hop_us(engines[j]) for j, k in reads if k in ios[j].picked}
    out = [hop_us(e) if -1 in io.picked else 0 for e, io in zip(engines, ios)]
    # The placement's rule (solver.placement.metrics.path_latency): as Dask runs the parts.
    done = path_latency(inbound, duration, pick, out, request_us(engines))
    period, at = shared_period(device_us, link_us, core_of, cores)
    return PlacedPrediction(label, device_us, link_us, link_bytes, done, period, at, overhead_us)


def _hops(fit: DeviceFit | None) -> float:
    """A task's latency on a device beyond its compute and bytes: the hand-off to it (timed with a 1 kB tensor,
    so it holds the task's own fixed cost); 0 for a device not measured."""
    return 0.0 if fit is None else fit.hop_us


def predict_replicated(answer: Replicated, label: str, core_of: dict[str, int | None], cores: int, problem=None,
                       engine: dict[str, DeviceFit] | None = None) -> PlacedPrediction:  # fmt: skip
    """The prediction of a replicated placement, the shared cores counted.

    ``engine`` (measured devices; ``problem``, the ``solver.problem.PartitionProblem``, is then needed): a replica
    of a stage with r replicas also counts 1 / r of the stage's engine overhead (:func:`engine_overhead`), and the
    latency adds the request's ``request_us`` and, per stage taken as a chain, its slowest replica's hand-off and
    bytes through the session (and a hand-off more for a picking task)."""
    device_us = dict(answer.device_us)
    overhead_us: dict[str, float] = {}
    latency = answer.latency_us
    if engine:
        names = answer.devices
        ios = stage_io(problem, answer.stages)
        first = answer.replicas(0)
        latency += max((engine[names[d]].request_us for d in first if names[d] in engine), default=0.0)
        for s, io in enumerate(ios):
            replicas = [names[d] for d in answer.replicas(s)]
            for d in replicas:
                if d in engine:
                    overhead_us[d] = engine_overhead(io, engine[d]) / len(replicas)
                    device_us[d] += overhead_us[d]
            latency += max((_hops(engine.get(d)) * (1 + bool(io.picked))
                            + (io.nbytes * 1e6 / engine[d].pipe_bandwidth if d in engine else 0.0)
                            for d in replicas), default=0.0)  # fmt: skip
    period, at = shared_period(device_us, answer.link_us, core_of, cores)
    link_bytes = {pair: round(b) for pair, b in answer.link_bytes.items()}
    return PlacedPrediction(label, device_us, dict(answer.link_us), link_bytes, latency, period, at, overhead_us)


def predict_split(problem, platform: Platform, split, label: str, core_of: dict[str, int | None], cores: int,
                  engine: dict[str, DeviceFit] | None = None) -> PlacedPrediction:  # fmt: skip
    """The prediction of a split's run (``solver.deploy.split.SplitResult``; its parts in pipeline order): of its
    map (:func:`predict_parts`), or with its replicas (``solve place --replicate``) of the replicated placement
    (:func:`predict_replicated`; memory not checked, as for a map)."""
    if not split.replicas:
        return predict_parts(problem, platform, [(p.device, p.ops) for p in split.parts], label, core_of, cores, engine)
    placed = placement_problem(problem, platform)
    index = {name: d for d, name in enumerate(platform.names)}
    stage, serve = [0] * placed.num_ops, [None] * len(platform.names)
    for k, part in enumerate(split.parts):
        for v in part.ops:
            stage[v] = k
        for device in split.replicas.get(part.part_id, (part.device,)):
            serve[index[device]] = k
    answer = evaluate_replicated(placed, stage, serve, memory=False)
    return predict_replicated(answer, label, core_of, cores, problem, engine)
