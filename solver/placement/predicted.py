"""What a placement predicts for a run of its parts: per device and per link the time per request, the period.

Used by ``solve pipeline --platform`` beside what it measures (``solver.deploy.placed``, which reads these
figures without importing this room).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from solver.io.linkfile import DeviceFit, HostFit
from solver.io.platform import Platform
from solver.placement.engine import CLIENT, DeviceEngine, Message, StageIO, busy_us, flows, hop_us, request_us
from solver.placement.engine import through_us
from solver.placement.engine import stage_io as engine_stage_io
from solver.placement.metrics import evaluate, path_latency
from solver.placement.problem import placement_problem
from solver.placement.replicas import Replicated, engine_share, evaluate_replicated


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
    host_us: float = 0.0  # the scheduler's and the client's CPU per request, taken from any core of the machine
    idle: dict[str, float] = field(default_factory=dict)  # per measured device, the share of its core its worker
    # takes busy or not (s/s), and under "" the scheduler's and client's share of the machine's cores

    @property
    def throughput(self) -> float:
        return 1e6 / self.period_us if self.period_us > 0 else float("inf")

    def to_json(self) -> dict:
        return {
            "label": self.label, "predicted_throughput": self.throughput, "predicted_latency_us": self.latency_us,
            "period_us": self.period_us, "bottleneck": self.bottleneck,
            "devices": {d: us for d, us in self.device_us.items()},
            "overhead_us": dict(self.overhead_us), "host_us": self.host_us, "idle": dict(self.idle),
            "links": [{"from": a, "to": b, "bytes": self.link_bytes[a, b], "us": us} for (a, b), us in self.link_us.items()],
        }  # fmt: skip


def shared_period(device_us: dict[str, float], link_us: dict[tuple[str, str], float], core_of: dict[str, int | None],
                  cores: int, host_us: float = 0.0, idle: dict[str, float] | None = None) -> tuple[float, str]:  # fmt: skip
    """The pipeline's period and what sets it: the largest device or link time, or a group sharing cores.

    Model: a device pinned to CPU c (``core_of[d] == c``) runs only there, so the devices pinned to c need their
    summed time of it per request; every device of this machine (in ``core_of``, pinned or not) and the
    scheduler and client (``host_us`` per request, not pinned: they run wherever a core is free) need their
    summed time of the machine's ``cores`` CPUs, so that sum over ``cores`` bounds the period too (unpinned work
    fills the least loaded cores: with the pinned loads, the bound of water filling); a device not in
    ``core_of`` has a machine of its own, and the scheduler and client then run on none of the devices'.

    ``idle`` (per device, and under "" the scheduler's and client's): the CPU per second a worker takes whatever
    it does (heartbeats, monitors), in cores. A group of time T per request with background b per second needs
    T + b * period <= capacity * period, so its bound is T / (capacity - b). A worker's b is fitted per second
    of its event loop's free time (``devices.placed._loop_s``) and charged here for the whole period: an
    engine holding the loop skips some of it, so this over-charges a little (1-2% of the engine term measured).
    """
    idle = idle or {}

    def bound(us: float, capacity: float, background: float) -> float:
        return us / (capacity - background) if capacity > background else float("inf")

    candidates = [(bound(us, 1, idle.get(d, 0.0)), f"device {d}") for d, us in device_us.items()]
    candidates += [(us, f"link {a} -> {b}") for (a, b), us in link_us.items()]
    pinned: dict[int, list[str]] = {}
    for d, c in core_of.items():
        if c is not None and d in device_us:
            pinned.setdefault(c, []).append(d)
    for c, names in sorted(pinned.items()):
        if len(names) > 1:
            candidates.append((bound(sum(device_us[d] for d in names), 1, sum(idle.get(d, 0.0) for d in names)),
                               f"core {c} ({', '.join(names)})"))  # fmt: skip
    here = [d for d in device_us if d in core_of]
    if len(here) > 1 or (here and host_us > 0):
        names = ", ".join(here) + (", scheduler and client" if host_us > 0 else "")
        background = sum(idle.get(d, 0.0) for d in here) + idle.get("", 0.0)
        candidates.append((bound(sum(device_us[d] for d in here) + host_us, cores, background), f"{cores} core(s) ({names})"))
    return max(candidates, key=lambda c: c[0]) if candidates else (0.0, "nothing")


def idle_shares(engine: dict[str, DeviceFit], host: HostFit | None) -> dict[str, float]:
    """The background CPU of the measured workers (by device) and of the scheduler and client (under ""), in
    cores (:func:`shared_period`)."""
    shares = {d: fit.cpu.idle_us_per_s * 1e-6 for d, fit in engine.items() if fit.cpu is not None}
    if host is not None:
        shares[""] = host.idle_us_per_s * 1e-6
    return shares


def stage_io(problem, stages: Sequence[Sequence[int]]) -> list[StageIO]:
    """Per stage (its ops, in pipeline order) what ``devices.placed`` moves and runs for it per request: the
    placement's own count (solver.placement.engine.stage_io) on the problem's data tensors (a TFLite model's
    inputs and outputs among them)."""
    return engine_stage_io(flows(problem), stages)


def engine_overhead(io: StageIO, fit: DeviceFit | None, sends: Sequence[Message] = (),
                    receives: Sequence[Message] = ()) -> float:  # fmt: skip
    """A device's time per request of a stage beyond its compute (0 for a device not measured), by the formula
    ``solve place`` optimises (solver.placement.engine.busy_us): with its CPU measured (``fit.cpu``), the CPU the
    engine takes from its core for the stage's tasks, the bytes through its session and the messages it ``sends``
    and ``receives``; else its occupancy by the tasks and session bytes."""
    return 0.0 if fit is None else float(busy_us(io, DeviceEngine.of(fit), sends, receives))


def host_busy_us(host: HostFit | None, ios: Sequence[StageIO]) -> float:
    """The scheduler's and the client's CPU per request: the request and each of its tasks (0 unmeasured)."""
    return 0.0 if host is None else host.busy_us(sum(io.tasks for io in ios))


def predict_parts(problem, platform: Platform, parts: Sequence[tuple[str, Sequence[int]]], label: str,
                  core_of: dict[str, int | None], cores: int, engine: dict[str, DeviceFit] | None = None,
                  host: HostFit | None = None) -> PlacedPrediction:  # fmt: skip
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
    placement's formulas, solver.placement.engine). A device whose CPU was measured counts, instead of its
    occupancy, the CPU the engine takes from its core: its tasks, session bytes and the hand-offs it sends and
    receives (one message per pair of parts on two devices). ``host``: the scheduler's and client's CPU per
    request, shared with the devices of this machine (:func:`shared_period`).

    The latency is one request alone in the pipeline: its messages travel on idle links, each at its link's cost
    of a message alone (``solver.io.platform.Link.idle_transfer_us``: a measured link's first bytes pass at
    once); the period's link times are a loaded link's."""
    placed = placement_problem(problem, platform)
    index = {name: d for d, name in enumerate(platform.names)}
    part_of = {v: k for k, (_, ops) in enumerate(parts) for v in ops}
    devices = [device for device, _ in parts]
    assign = [index[devices[part_of[v]]] for v in range(placed.num_ops)]
    metrics = evaluate(placed, assign, memory=False)  # the checker: support, links, acyclic
    engine = engine or {}
    measured = engine or host
    ios = stage_io(problem, [ops for _, ops in parts]) if measured else [StageIO((), frozenset())] * len(parts)
    carried: dict[tuple[int, int], list[int]] = {}  # (part, later part on another device) -> its tensors' bytes
    reads: set[tuple[int, int]] = set()  # (part, later part reading it)
    for tensor in placed.tensors:
        j = part_of[tensor.producer]
        for k in sorted({part_of[c] for c in tensor.consumers}):
            if k != j:
                reads.add((j, k))
            if devices[k] != devices[j]:
                carried.setdefault((j, k), []).append(tensor.nbytes)
    sent = {pair: sum(sizes) for pair, sizes in carried.items()}
    messages = {(j, k): Message(tuple(sizes), platform.link(devices[j], devices[k]).bandwidth)
                for (j, k), sizes in carried.items()}  # fmt: skip
    overhead = [engine_overhead(io, engine.get(d), [m for (j, _), m in messages.items() if j == k],
                                [m for (_, i), m in messages.items() if i == k])
                for k, (io, d) in enumerate(zip(ios, devices))]  # fmt: skip
    device_us = {d: float(metrics.compute[index[d]]) for d in dict.fromkeys(devices)}
    overhead_us = {d: 0.0 for d in device_us if d in engine}
    for d, us in zip(devices, overhead):
        if d in engine:
            overhead_us[d] += us
            device_us[d] += us
    link_us: dict[tuple[str, str], float] = {}
    link_bytes: dict[tuple[str, str], int] = {}
    for (j, k), nbytes in sent.items():  # a message on a loaded link: the period's (the latency's travel alone)
        pair = (devices[j], devices[k])
        link_us[pair] = link_us.get(pair, 0.0) + platform.link(*pair).transfer_us(nbytes)
        link_bytes[pair] = link_bytes.get(pair, 0) + nbytes
    stages = [[(device, sum(placed.times[v][index[device]] for v in ops))] for device, ops in parts]
    done = request_latency(platform, stages, {(j, k): {(devices[j], devices[k]): n} for (j, k), n in sent.items()},
                           reads, ios, engine)  # fmt: skip
    host_us = host_busy_us(host, ios)
    idle = idle_shares({d: f for d, f in engine.items() if d in device_us}, host)
    period, at = shared_period(device_us, link_us, core_of, cores, host_us, idle)
    return PlacedPrediction(label, device_us, link_us, link_bytes, done, period, at, overhead_us, host_us, idle)


def request_latency(platform: Platform, stages: Sequence[Sequence[tuple[str, float]]],
                    sent: dict[tuple[int, int], dict[tuple[str, str], int]], reads: set[tuple[int, int]],
                    ios: Sequence[StageIO], engine: dict[str, DeviceFit]) -> float:  # fmt: skip
    """One request alone through ``stages`` (in pipeline order, each its replicas as (device, its compute us for a
    request); a map's parts one each), by the placement's rule (solver.placement.metrics.path_latency: as Dask
    runs them). Stage k reads the stages j of ``reads`` ``(j, k)``; ``sent[j, k]`` the bytes each pair of their
    replicas on two devices exchange, one message. Each stage takes its slowest replica (compute, and with its
    device measured in ``engine`` a hand-off and its bytes through the session), a picking task its slowest
    replica's hand-off, each hand-off its slowest pair's message alone on an idle link
    (``solver.io.platform.Link.idle_transfer_us``: a measured link's first bytes pass at once), and the request
    the largest ``request_us`` of its devices."""
    engines = {d: DeviceEngine.of(engine[d]) if d in engine else None for stage in stages for d, _ in stage}

    def slowest_hop(stage: Sequence[tuple[str, float]]) -> int:
        return max(hop_us(engines[d]) for d, _ in stage)

    duration = [max(hop_us(engines[d]) + through_us(io, engines[d]) + us for d, us in stage)
                for stage, io in zip(stages, ios)]  # fmt: skip
    inbound = {(j, k): max((platform.link(*pair).idle_transfer_us(n) for pair, n in sent.get((j, k), {}).items()),
                           default=0) for j, k in reads}  # fmt: skip
    pick = {(j, k): slowest_hop(stages[j]) for j, k in reads if k in ios[j].picked}
    out = [slowest_hop(stage) if CLIENT in io.picked else 0 for stage, io in zip(stages, ios)]
    return path_latency(inbound, duration, pick, out, request_us(list(engines.values())))


def predict_replicated(answer: Replicated, platform: Platform, label: str, core_of: dict[str, int | None], cores: int,
                       problem=None, engine: dict[str, DeviceFit] | None = None,
                       host: HostFit | None = None) -> PlacedPrediction:  # fmt: skip
    """The prediction of a replicated placement on ``platform``, the shared cores counted; its latency one request
    alone, as a map's (:func:`request_latency`: each stage on its slowest replica, each hand-off over its slowest
    pair of replicas, alone on its link), so that one replica per stage predicts what its map does.

    ``engine`` (measured devices; ``problem``, the ``solver.problem.PartitionProblem``, is then needed): a replica
    of a stage with r replicas also counts its share of the engine's cost (solver.placement.replicas.engine_share:
    1 / r of the stage's tasks and session bytes, and where its core's CPU was measured the messages over a link
    from a stage of r_j replicas to one of r_k at 1 / (r_j r_k) per request), and the latency its engine terms.
    ``host``: the scheduler's and client's CPU per request (:func:`shared_period`)."""
    engine = engine or {}
    names = answer.devices
    device_us = dict(answer.device_us)
    overhead_us: dict[str, float] = {}
    host_us = 0.0
    ios = [StageIO((), frozenset())] * len(answer.stages)
    if engine or host:
        ios = stage_io(problem, answer.stages)
        host_us = host_busy_us(host, ios)
        for s, io in enumerate(ios):
            replicas = [names[d] for d in answer.replicas(s)]
            for d in replicas:
                if d in engine:
                    overhead_us[d] = engine_share(io, DeviceEngine.of(engine[d]), len(replicas), d, answer.handoffs)
                    device_us[d] += overhead_us[d]
    stage_of = {names[d]: s for d, s in enumerate(answer.serve)}
    sent: dict[tuple[int, int], dict[tuple[str, str], int]] = {}
    for (a, b), (message, _) in answer.handoffs.items():
        sent.setdefault((stage_of[a], stage_of[b]), {})[a, b] = sum(message.sizes)
    stages = [[(names[d], answer.compute_us[names[d]]) for d in answer.replicas(s)] for s in range(len(ios))]
    latency = request_latency(platform, stages, sent, set(sent), ios, engine)
    idle = idle_shares({d: f for d, f in engine.items() if d in device_us}, host)
    period, at = shared_period(device_us, answer.link_us, core_of, cores, host_us, idle)
    link_bytes = {pair: round(b) for pair, b in answer.link_bytes.items()}
    return PlacedPrediction(label, device_us, dict(answer.link_us), link_bytes, latency, period, at, overhead_us,
                            host_us, idle)  # fmt: skip


def predict_split(problem, platform: Platform, split, label: str, core_of: dict[str, int | None], cores: int,
                  engine: dict[str, DeviceFit] | None = None, host: HostFit | None = None) -> PlacedPrediction:  # fmt: skip
    """The prediction of a split's run (``solver.deploy.split.SplitResult``; its parts in pipeline order): of its
    map (:func:`predict_parts`), or with its replicas (``solve place --replicate``) of the replicated placement
    (:func:`predict_replicated`; memory not checked, as for a map)."""
    if not split.replicas:
        return predict_parts(problem, platform, [(p.device, p.ops) for p in split.parts], label, core_of, cores, engine,
                             host)  # fmt: skip
    placed = placement_problem(problem, platform)
    index = {name: d for d, name in enumerate(platform.names)}
    stage, serve = [0] * placed.num_ops, [None] * len(platform.names)
    for k, part in enumerate(split.parts):
        for v in part.ops:
            stage[v] = k
        for device in split.replicas.get(part.part_id, (part.device,)):
            serve[index[device]] = k
    answer = evaluate_replicated(placed, stage, serve, memory=False)
    return predict_replicated(answer, platform, label, core_of, cores, problem, engine, host)
