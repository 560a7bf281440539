"""A placement run as placed: each part on its device's Dask worker, measured beside the placement's prediction.

Workers (:func:`placed_workers`): ``netlab`` builds the devices the split uses as workers in network
namespaces joined by veths shaped to the platform's link bandwidths (``devices.netlab``; device i pinned to
CPU ``i mod cores``); ``local`` starts one unpinned worker process per device on this machine, joined by
loopback (no link is shaped); ``tcp://host:port`` uses a running scheduler whose workers are named after the
devices (boards started with ``dask worker --name DEVICE``).

Prediction (:class:`Prediction`, computed by the caller with ``solver.placement.predicted`` from ``solve
place``'s model of the same map: per device its compute, per used link its bytes and time, the longest path
as latency, the period counting the cores the devices share). ``core_of`` of :class:`Workers` says which
cores those are.

Measured (``devices.placed``): throughput with ``in_flight`` requests in flight (default: one per replica of
every stage plus one, so every device can be busy), end-to-end latency (median and IQR over requests) in a second, shorter run with one
request in flight (with more, a request also waits behind the others: a full pipeline's latency is about
its window times its period), per device
the onert time per request, per link the bytes per request (median) and the time it was busy per request
(the union of Dask's transfers over it, over the timed requests: on a saturated link a request's transfer
waits behind another's, and summed durations would count that twice; JSON ``transfer_us`` is the median
time of one request's transfer); the measured bottleneck is the device or link with the longest time. The last request's
outputs are compared with the whole model's on the same inputs (run alone in a child process), with
``solve verify``'s tolerance.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devices.base import DEFAULT_EXECUTOR
from devices.chain import ModelRunner
from devices.inputs import seeded_inputs
from devices.isolated import run_isolated
from devices.placed import PlacedRun, PlacedSettings, PlacedStage, run_placed
from devices.stats import Summary, summarize
from solver.deploy.linkdrift import AFTER_RUN, LINK_DRIFT_TOLERANCE, LinkCheck, LinkDrift, link_drifts, replaced
from solver.deploy.partcompute import (DRIFT_TOLERANCE, MACHINE_NOISE, MACHINE_SHARE, Drift, LatencyCheck, PartSource,
                                       drift, remeasure, retime_alone)  # fmt: skip
from solver.deploy.split import SplitResult, read_split
from solver.deploy.verify import OutputCheck, VerifySettings, check_executor, compare_output
from solver.errors import CheckError, UsageError
from solver.extras import require
from solver.io.platform import Platform
from solver.io.tflite import uncompressed

CLUSTERS = ("netlab", "local")  # besides tcp://host:port
STEADY_TOLERANCE = 0.10  # the timed requests' second half against their first half: more is no steady state
BYTES_TOLERANCE = 0.10  # a link's bytes per request against the prediction's


class Prediction(Protocol):
    """What a model predicts for a placed run (``solver.placement.predicted.PlacedPrediction``; deploy does not
    import placement): per device and per link its time per request (us), per link its bytes."""

    label: str
    device_us: dict[str, float]
    link_us: dict[tuple[str, str], float]
    link_bytes: dict[tuple[str, str], int]
    latency_us: float
    period_us: float
    bottleneck: str
    overhead_us: dict[str, float]  # per measured device, the engine's part of device_us
    host_us: float  # the scheduler's and client's CPU per request, on the machine's cores

    @property
    def throughput(self) -> float: ...

    def to_json(self) -> dict: ...


@dataclass
class PlacedComparison:
    """A placed run's measured figures beside the predictions (see the module docstring)."""

    out_dir: Path
    cluster: str
    run: PlacedRun  # the throughput run
    single: PlacedRun  # the latency run, one request in flight
    predictions: list[Prediction]
    outputs: list[OutputCheck]
    core_of: dict[str, int | None]
    load_average: tuple[float, float]
    compute: list[PartSource] = field(default_factory=list)  # which compute the calibrated prediction used per part
    drifts: list[Drift] = field(default_factory=list)  # the measured parts timed again after the timed run
    notes: list[str] = field(default_factory=list)
    link_drifts: list[LinkDrift] = field(default_factory=list)  # the run's links fitted again after the timed run
    alone: list[PartSource] = field(default_factory=list)  # the parts timed alone again right before the latency run
    calibration_latency_us: float | None = None  # the calibrated latency before that (the calibration's timing)

    @property
    def relinked(self) -> Prediction | None:
        """The calibrated prediction made again with the links re-fitted after the run (``solver.deploy.linkdrift``)."""
        return next((p for p in self.predictions if p.label == AFTER_RUN), None)

    @property
    def link_drifted(self) -> bool:
        """Some link's time per request moved by more than ``LINK_DRIFT_TOLERANCE`` of the calibrated period between
        the calibration and the run's end: the link changed speed."""
        return any(d.drifted for d in self.link_drifts)

    @property
    def worst_link_drift(self) -> LinkDrift | None:
        """The link whose time per request moved most (in us) over the run, among the links the prediction sends
        bytes over (a link it sends none over has no relative move)."""
        predicted = [d for d in self.link_drifts if d.before_us > 0]
        return max(predicted, key=lambda d: abs(d.moved_us)) if predicted else None

    @property
    def max_link_drift(self) -> float | None:
        """The relative move of :attr:`worst_link_drift`."""
        worst = self.worst_link_drift
        return worst.change if worst is not None else None

    @property
    def worst_drift(self) -> Drift | None:
        """The part whose compute moved most (in us) between the calibration and the run's end."""
        return max(self.drifts, key=lambda d: abs(d.moved_us)) if self.drifts else None

    @property
    def max_drift(self) -> float | None:
        """The relative move of :attr:`worst_drift`."""
        worst = self.worst_drift
        return worst.change if worst is not None else None

    @property
    def drifted(self) -> bool:
        """Some part's compute moved by more than ``DRIFT_TOLERANCE`` of the calibrated period (at least the largest
        part's) during the run: the machine changed speed."""
        return any(d.drifted for d in self.drifts)

    @property
    def machine_drifted(self) -> bool:
        """The run drifted and the machine probe on the worst drifting part's core moved with it (``Drift.machine``:
        the same way, by half its relative move and beyond the probe's noise): the machine's speed changed."""
        return self.drifted and self.worst_drift.machine

    @property
    def unsteady(self) -> bool:
        """The timed requests' second half ran more than ``STEADY_TOLERANCE`` off their first (too few requests to
        tell: not unsteady): the measured throughput is no steady state's."""
        return abs(self.run.steadiness()) > STEADY_TOLERANCE  # NaN compares False

    def bytes_ratio(self) -> dict[tuple[str, str], float]:
        """Per link both measured and predicted to carry something, its bytes per timed request (all it carried over
        their number: a link between replicas carries a share of the requests) over the predicted."""
        predicted = self.predictions[0].link_bytes
        return {pair: sum(t.nbytes) / self.run.requests / predicted[pair] for pair, t in self.run.links.items()
                if predicted.get(pair)}  # fmt: skip

    def measurement_notes(self) -> list[str]:
        """What weakens the verdict: drifting compute, an unsteady stream, bytes per request off the prediction."""
        notes = []
        if self.drifted:
            worst = self.worst_drift
            notes.append(f"DRIFT: part {worst.part_id} on {worst.device} computed in {worst.before.cpu_us / 1000:.1f} "
                         f"ms of CPU before the run and {worst.after.cpu_us / 1000:.1f} ms after it ({worst.change:+.1%}, "
                         f"tolerance {DRIFT_TOLERANCE:.0%} of {worst.scale_us / 1000:.1f} ms, the calibrated period or "
                         "the largest part's): the compute changed speed under the run, and the verdict is only "
                         "as strong as that")  # fmt: skip
            if worst.machine_change is not None:
                notes[-1] += (f"; the machine probe on its core took {worst.before.machine_ms:.2f} ms then and "
                              f"{worst.after.machine_ms:.2f} ms after ({worst.machine_change:+.1%}): "
                              + ("MACHINE, the core's speed moved with the part" if worst.machine else
                                 "the core's speed did not move with the part (not the same way by "
                                 f"{MACHINE_SHARE:.0%} of its move and beyond the probe's {MACHINE_NOISE:.0%} "
                                 "noise): the part's compute moved"))  # fmt: skip
        if self.link_drifted:  # a drifted link moved by 5% of the period: the prediction sends bytes over it
            worst = self.worst_link_drift
            notes.append(f"LINK DRIFT: link {worst.source} -> {worst.target} took {worst.before_us / 1000:.1f} ms per request "
                         f"with the calibration's fit ({worst.before.bandwidth * 8e-6:.2f} Mbit/s) and "
                         f"{worst.after_us / 1000:.1f} ms with the fit made again right after the run "
                         f"({worst.after.bandwidth * 8e-6:.2f} Mbit/s, {worst.change:+.1%}; tolerance "
                         f"{LINK_DRIFT_TOLERANCE:.0%} of the calibrated period): the link changed speed; the "
                         f"{AFTER_RUN} prediction, {self.relinked.throughput:.2f} inf/s, uses the links as they were "
                         "after the run")  # fmt: skip
        if self.unsteady:
            notes.append(f"UNSTEADY: the second half of the timed requests ran {self.run.steadiness():+.1%} against "
                         f"the first (tolerance {STEADY_TOLERANCE:.0%})")  # fmt: skip
        for (a, b), ratio in sorted(self.bytes_ratio().items()):
            if abs(ratio - 1) > BYTES_TOLERANCE:
                notes.append(f"link {a} -> {b} carried {ratio:.2f} times the predicted bytes per request")
        if self.run.batched:
            notes.append(f"{self.run.batched} transfer(s) carried tensors of several requests at once (Dask fetches "
                         "what is ready together); their bytes are counted per request")  # fmt: skip
        return notes

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    @property
    def latency(self) -> Summary:
        """End-to-end latency (us) of the requests of the latency run."""
        return summarize([ms * 1000 for ms in self.single.latencies_ms])

    def measured_links(self) -> dict[tuple[str, str], tuple[float, float]]:
        """Per link, the median bytes per request and the microseconds it was busy per request (overlapping
        transfers counted once: the load the prediction's link time stands for)."""
        return {pair: (statistics.median(t.nbytes), t.busy_s * 1e6 / self.run.requests)
                for pair, t in self.run.links.items()}  # fmt: skip

    def transfer_us(self, pair: tuple[str, str]) -> float:
        """The median time of one request's transfers over ``pair`` (what a request waits for it)."""
        return statistics.median(self.run.links[pair].seconds) * 1e6

    def measured_bottleneck(self) -> tuple[str, float]:
        """The device or link with the longest median time per request, and that time (us)."""
        candidates = [(ms * 1000, f"device {d}") for d, ms in self.run.device_ms().items()]
        candidates += [(us, f"link {a} -> {b}") for (a, b), (_, us) in self.measured_links().items()]
        us, what = max(candidates)
        return what, us

    def to_json(self) -> dict:
        first = self.predictions[0]
        measured = self.run.device_ms()
        intervals = self.run.interval_ms()
        cpu, compute = self.run.cpu_ms(), self.run.compute_cpu_ms()
        links = self.measured_links()
        pairs = sorted(set(first.link_us) | set(links))
        what, us = self.measured_bottleneck()
        latency = self.latency
        ratios = self.bytes_ratio()
        stage_of = {d: (k, len(replicas)) for k, replicas in enumerate(self.run.devices) for d in replicas}
        return {
            "out_dir": str(self.out_dir),
            "cluster": self.cluster,
            "requests": self.run.requests,
            "predicted_throughput": first.throughput,
            "measured_throughput": self.run.throughput,
            "predicted_latency_us": first.latency_us,
            "measured_latency_us": latency.median,
            "measured_latency_iqr_us": latency.iqr,
            "measured_latency_min_us": latency.min,
            "measured_latency_max_us": latency.max,
            "predicted_bottleneck": first.bottleneck,
            "measured_bottleneck": what,
            "measured_bottleneck_us": us,
            "devices": [
                {"name": d, "core": self.core_of.get(d), "stage": stage_of.get(d, (None, 0))[0],
                 "replicas": stage_of.get(d, (None, 0))[1],
                 "predicted_us": {p.label: p.device_us.get(d) for p in self.predictions},
                 "predicted_overhead_us": {p.label: p.overhead_us[d] for p in self.predictions if d in p.overhead_us},
                 "measured_us": measured[d] * 1000 if d in measured else None,
                 "measured_interval_us": intervals[d] * 1000 if d in intervals else None,
                 "measured_cpu_us": cpu[d] * 1000 if d in cpu else None,
                 "measured_compute_cpu_us": compute[d] * 1000 if d in compute else None}
                for d in first.device_us
            ],
            "links": [
                {"from": a, "to": b, "predicted_bytes": first.link_bytes.get((a, b)),
                 "measured_bytes": links[a, b][0] if (a, b) in links else None,
                 "bytes_ratio": ratios.get((a, b)),
                 "predicted_us": {p.label: p.link_us.get((a, b)) for p in self.predictions},
                 "measured_us": links[a, b][1] if (a, b) in links else None,
                 "transfer_us": self.transfer_us((a, b)) if (a, b) in links else None}
                for a, b in pairs
            ],
            "measured_host_cpu_us": self.run.host.per_request_ms * 1000 if self.run.host else None,
            "warmup_requests": self.run.warmup,
            "in_flight": self.run.window,
            "steadiness": _finite(self.run.steadiness()),
            "batched_transfers": self.run.batched,
            "compute": [s.to_json() for s in self.compute],
            "drift": [d.to_json() for d in self.drifts],
            "max_drift": self.max_drift,
            "drifted": self.drifted,
            "drift_tolerance": DRIFT_TOLERANCE,
            "machine_drifted": self.machine_drifted,
            "link_drift": [d.to_json() for d in self.link_drifts],
            "max_link_drift": self.max_link_drift,
            "link_drifted": self.link_drifted,
            "link_drift_tolerance": LINK_DRIFT_TOLERANCE,
            "after_run_throughput": self.relinked.throughput if self.relinked is not None else None,
            "predictions": [p.to_json() for p in self.predictions],
            "alone_before_latency_run": [a.to_json() for a in self.alone],
            "calibration_latency_us": self.calibration_latency_us,
            "outputs_ok": self.ok,
            "outputs": [{"name": o.name, "max_abs": o.max_abs, "ok": o.ok} for o in self.outputs],
            "load_average": list(self.load_average),
            "notes": list(self.notes),
        }  # fmt: skip


@dataclass(frozen=True)
class Workers:
    """A Dask client and the worker of each device; ``core_of`` the CPU of this machine each device is pinned to
    (None: not pinned; absent: a machine of its own, see ``solver.placement.predicted.shared_period``); ``lab``, the
    ``devices.netlab.NetLab`` that holds them (netlab workers only)."""

    client: object
    address: dict[str, str]
    core_of: dict[str, int | None]
    cluster: str
    lab: object | None = None


def check_cluster(cluster: str) -> None:
    """Refuse a cluster that is neither ``netlab``, ``local`` nor ``tcp://host:port`` (UsageError)."""
    if cluster not in CLUSTERS and not cluster.startswith("tcp://"):
        raise UsageError(f"--cluster {cluster!r}: use netlab, local or tcp://host:port")


@contextmanager
def placed_workers(cluster: str, devices: list[str], platform: Platform) -> Iterator[Workers]:
    """One Dask worker per device of ``devices`` (see the module docstring), removed again on leaving."""
    check_cluster(cluster)
    distributed = require("distributed", "farm", "running a placement on Dask workers")
    if cluster == "netlab":
        from devices.netlab import LabDevice, LabLink, NetLab

        cores = sorted(os.sched_getaffinity(0))
        lab_devices = [LabDevice(d, cores[i % len(cores)]) for i, d in enumerate(devices)]
        links = [LabLink(a, b, link.bandwidth) for a in devices for b in devices
                 if (link := platform.link(a, b)) is not None]  # fmt: skip
        with NetLab(lab_devices, links) as lab, distributed.Client(lab.address, timeout=60) as client:
            yield Workers(client, dict(lab.workers), {d.name: d.cpu for d in lab_devices}, cluster, lab)
    elif cluster == "local":
        import dask

        specs = {d: {"cls": distributed.Nanny, "options": {"nthreads": 1, "name": d, "silence_logs": 40}} for d in devices}
        scheduler = {"cls": distributed.Scheduler, "options": {"dashboard_address": None}}
        with tempfile.TemporaryDirectory(prefix="nnpart-workers-") as scratch, dask.config.set({
            "distributed.nanny.pre-spawn-environ": {},  # as the farm: no OMP_NUM_THREADS=1 and the like for onert
            "distributed.worker.profile.enabled": False,  # as the lab's (devices.netlab.DASK_ENV): CPU for nothing
            "temporary-directory": scratch,  # Dask's scratch space, not the shared /tmp/dask-scratch-space
        }), distributed.SpecCluster(workers=specs, scheduler=scheduler, silence_logs=40) as local, \
                distributed.Client(local) as client:  # fmt: skip
            client.wait_for_workers(len(devices), timeout=60)
            yield Workers(client, _by_name(client, devices), {d: None for d in devices}, cluster)
    else:
        try:
            client = distributed.Client(cluster, timeout=30)
        except OSError as err:
            raise UsageError(f"--cluster {cluster}: cannot reach the Dask scheduler ({err})") from None
        with client:  # the devices are machines of their own: no core is shared
            yield Workers(client, _by_name(client, devices), {}, cluster)


def _by_name(client, devices: list[str]) -> dict[str, str]:
    info = client.sync(client.scheduler.identity, n_workers=-1)["workers"]
    found = {w["name"]: address for address, w in info.items()}
    missing = [d for d in devices if d not in found]
    if missing:
        raise UsageError(f"the Dask cluster has no worker named {', '.join(missing)} (one worker per device, named after it)")
    return {d: found[d] for d in devices}


def placed_devices(split: SplitResult) -> list[str]:
    """The devices a split's parts run on (every replica of a replicated part), in pipeline order, each once."""
    replicas = split.replicas or {}
    return list(dict.fromkeys(d for p in split.parts for d in replicas.get(p.part_id, (p.device,))))


def placed_stages(split: SplitResult, workers: Workers,
                  replicas: dict[int, tuple[str, ...]] | None = None) -> list[PlacedStage]:  # fmt: skip
    """The split's parts as ``devices.placed`` runs them, each on its devices' workers: ``replicas`` (part id ->
    devices), by default the split's own (``solve place --replicate``), else the device its file names."""
    replicas = replicas or split.replicas or {}
    stages = []
    for p in split.parts:
        devices = tuple(replicas.get(p.part_id, (p.device,)))
        stages.append(PlacedStage(split.out_dir / p.file, p.inputs, p.outputs, devices,
                                  tuple(workers.address[d] for d in devices)))  # fmt: skip
    return stages


def compare_placed(split: SplitResult | str | Path, workers: Workers, predictions: list[Prediction],
                   settings: PlacedSettings = PlacedSettings(), verify: VerifySettings = VerifySettings(),
                   replicas: dict[int, tuple[str, ...]] | None = None, compute: Sequence[PartSource] = (),
                   links: LinkCheck | None = None,
                   latency: LatencyCheck | None = None) -> PlacedComparison:  # fmt: skip
    """Run ``split`` on ``workers`` and compare with ``predictions`` (module docstring). ``replicas`` (part id
    -> devices) runs a part on several devices, requests dealt round robin; by default the split's own
    replicas (``solve place --replicate``), else a part runs on the device its file names. ``compute``: which
    compute the calibrated prediction used per part (``solver.deploy.partcompute``); the measured parts are
    timed again right after the timed run, and their drift reported, with the machine probe on each part's core
    in both timings (``devices.placed.machine_ms``): whether a drift is the machine's speed (``Drift.machine``).
    ``links``: the calibration's link fits (``solver.deploy.linkdrift``); then every calibrated link the run used
    is fitted again right after the timed run (and the parts' re-timing), its drift reported, and the calibrated
    prediction made again with the re-fitted links is added to the predictions (label ``after-run``; none when no
    link could be fitted again).
    ``latency``: then the measured parts of ``compute`` are timed alone again right before the latency run, their
    inferences spaced by the calibrated latency (``solver.deploy.partcompute.retime_alone``), and the calibrated
    prediction's latency is the one made with them (the calibration's kept as ``calibration_latency_us``), and the
    after-run prediction's with them and its re-fitted links.

    Raises
    ------
    UsageError
        Bad settings (fewer than two timed requests, a negative warm-up, a bad executor or time-out).
    devices.placed.PlacedError
        A part cannot run on its worker, a worker is missing or the run times out.
    """
    split = split if isinstance(split, SplitResult) else read_split(split)
    check_placed_settings(settings)
    stages = placed_stages(split, workers, replicas)
    load_before = os.getloadavg()[0]
    measured = any(s.measured for s in compute)
    run = run_placed(workers.client, stages, split.model_inputs, split.model_outputs, settings)
    drifts = []
    if measured:  # right after the timed run, before the latency run
        period = links.prediction.period_us if links is not None else 0.0
        drifts = drift(compute, remeasure(workers.client, stages, settings.executor, settings.seed), period)
    relinked, moved, link_notes, after_fits = [], [], [], None
    if links is not None:
        refits, link_notes = refit_links(workers, links, used_links(run, links.prediction))
        if refits:  # no link fitted again: no after-run figure (it would be the calibrated one, relabelled)
            after_fits = replaced(links.fits, refits)
            relinked = [links.repredict(after_fits)]
            moved = link_drifts(links, refits, relinked[0])
    retimed, before_us = [], None
    if latency is not None and measured:  # the latency run's compute, as it will pay it
        retimed = retime_alone(workers.client, stages, compute, settings.executor,
                               latency.prediction.latency_us / 1e6, settings.seed, settings.timeout)  # fmt: skip
        before_us = latency.prediction.latency_us
        predictions = [dataclasses.replace(p, latency_us=latency.repredict(retimed, None)) if p is latency.prediction
                       else p for p in predictions]  # fmt: skip
        if relinked:  # the after-run prediction: its links and the parts as the latency run will pay them
            after_us = latency.repredict(retimed, after_fits)
            relinked = [dataclasses.replace(relinked[0], latency_us=after_us)]
    alone = dataclasses.replace(settings, in_flight=1, requests=max(5, settings.requests // 3), warmup=1)
    single = run_placed(workers.client, stages, split.model_inputs, split.model_outputs, alone)
    load = (load_before, os.getloadavg()[0])
    with uncompressed(split.model) as plain:
        reference = run_isolated(whole_outputs, plain, settings.seed, settings.executor, what="onert")
    checks = [compare_output(n, run.outputs[n], ref, verify) for n, ref in zip(split.model_outputs, reference)]
    comparison = PlacedComparison(split.out_dir, workers.cluster, run, single, [*predictions, *relinked], checks,
                                  workers.core_of, load, list(compute), drifts, link_notes, moved, retimed,
                                  before_us)  # fmt: skip
    comparison.notes += comparison.measurement_notes()
    cores = len(os.sched_getaffinity(0))
    if max(load) > cores:
        comparison.notes.append(f"the machine was busy: load average {load[0]:.1f} before and {load[1]:.1f} after, on "
                                f"{cores} cores; every figure is slowed and spread by other work")  # fmt: skip
    if workers.cluster == "local":
        comparison.notes.append("local workers: no link is shaped, hand-offs cross loopback")
    return comparison


def check_placed_settings(settings: PlacedSettings) -> None:
    """The checks of ``solve pipeline``'s run settings, the same words through the API and the CLI (UsageError)."""
    check_executor(settings.executor)
    if settings.requests < 2:
        raise UsageError(f"timed requests must be at least 2, got {settings.requests}")
    if settings.warmup < 0:
        raise UsageError(f"warm-up requests must be at least 0, got {settings.warmup}")
    if not settings.timeout > 0:
        raise UsageError(f"the time-out must be positive, got {settings.timeout:g} s")


def check_outputs(comparison: PlacedComparison) -> None:
    """Raise CheckError naming the first output the placed parts got wrong."""
    for o in comparison.outputs:
        if not o.ok:
            raise CheckError(f"{comparison.out_dir}: the placed parts do not compute model output '{o.name}' "
                             f"(max abs diff {o.max_abs:.3g})")  # fmt: skip


def whole_outputs(step, model: Path, seed: int, executor: str) -> list:
    """The whole model's outputs on the seeded inputs (run in a child process)."""
    step(f"{model} (the whole model)")
    runner = ModelRunner(model, env={"EXECUTOR": executor})
    return runner.run(seeded_inputs(runner.input_specs(), seed))


def probe_sizes(bandwidth: float) -> list[int]:
    """Tensor sizes for a link's ping-pong: 1 kB (the overhead) and four sizes up to a quarter second of the
    platform's bandwidth, between 64 kB and 16 MB (the slope)."""
    top = int(min(max(bandwidth / 4, 1 << 16), 1 << 24))
    return [1 << 10, top // 8, top // 4, top // 2, top]


def calibrate_links(workers: Workers, platform: Platform, devices: list[str], repeats: int = 3) -> list:
    """The fitted cost (``solver.io.linkfile.LinkFit``) of every platform link between ``devices``, from a ping-pong
    of tensor sizes through Dask on their workers (``devices.placed.pingpong``)."""
    return [fit_pair(workers, platform, a, b, repeats) for a in devices for b in devices
            if platform.link(a, b) is not None]  # fmt: skip


def fit_pair(workers: Workers, platform: Platform, a: str, b: str, repeats: int = 3):
    """The fitted cost of platform link ``a -> b`` from a ping-pong of :func:`probe_sizes` of its bandwidth."""
    from devices.placed import pingpong
    from solver.deploy.linkfit import fit_link

    sizes = probe_sizes(platform.link(a, b).bandwidth)
    return fit_link(a, b, pingpong(workers.client, workers.address[a], workers.address[b], sizes, repeats))


def used_links(run: PlacedRun, prediction: Prediction) -> list[tuple[str, str]]:
    """The links a run used: those it measured transfers on and those the prediction sends bytes over."""
    return sorted(set(run.links) | {pair for pair, nbytes in prediction.link_bytes.items() if nbytes})


def refit_links(workers: Workers, check: LinkCheck, pairs: Sequence[tuple[str, str]]) -> tuple[list, list[str]]:
    """Each of ``pairs`` that the calibration fitted (``check.fits``) fitted again as it was (:func:`fit_pair`), and
    notes on those that were not calibrated (their prediction keeps the platform's figures) or whose times no
    longer fit a line."""
    calibrated = {(f.source, f.target) for f in check.fits}
    refits, notes = [], []
    for a, b in pairs:
        if (a, b) not in calibrated:
            notes.append(f"link {a} -> {b} was not calibrated: not fitted again after the run")
            continue
        try:
            refits.append(fit_pair(workers, check.platform, a, b))
        except CheckError as err:
            notes.append(f"link {a} -> {b} could not be fitted again after the run: {err}")
    return refits, notes


DEVICE_PROBE_SIZES = (1 << 10, 1 << 18, 1 << 20, 1 << 22)  # bytes a probe task reads and returns: 1 kB to 4 MB


def pair_sizes(bandwidth: float) -> list[int]:
    """Tensor sizes for a hand-off's CPU probe over a link: 1 kB and two up to an eighth of a second of the
    platform's bandwidth, between 64 kB and 4 MB (a slow link moves few bytes a second: their CPU matters little)."""
    top = int(min(max(bandwidth / 8, 1 << 16), 1 << 22))
    return [1 << 10, top // 2, top]


SLOWER = 8.0  # a link into a device this many times slower than its fastest is probed too (:func:`probe_links`)


def probe_links(platform: Platform, devices: list[str]) -> list[tuple[str, str]]:
    """The platform links between ``devices`` whose hand-offs a calibration probes: fastest first, a link when its
    source has not yet sent in a probe or its target not yet received, so every device that can send and every
    one that can receive is probed doing so (a slow link costs seconds per probe); then into each device its
    slowest link when ``SLOWER`` times slower than the fastest probed: receiving costs CPU per second on the link
    too, which one rate cannot tell from CPU per byte (solver.deploy.linkfit.fit_core)."""
    links = sorted(((a, b) for a in devices for b in devices if a != b and platform.link(a, b) is not None),
                   key=lambda pair: -platform.link(*pair).bandwidth)  # fmt: skip
    sent, received, chosen = set(), set(), []
    for a, b in links:
        if a not in sent or b not in received:
            chosen.append((a, b))
            sent.add(a)
            received.add(b)
    for b in devices:
        into = [pair for pair in links if pair[1] == b]  # fastest first
        if into and into[-1] not in chosen \
                and platform.link(*into[-1]).bandwidth * SLOWER <= platform.link(*into[0]).bandwidth:  # fmt: skip
            chosen.append(into[-1])
    return chosen


def calibrate_engine(workers: Workers, platform: Platform, devices: list[str],
                     executor: str = DEFAULT_EXECUTOR) -> tuple[list, object]:  # fmt: skip
    """The fitted per-request cost of each of ``devices`` (``solver.io.linkfile.DeviceFit``: stage tasks of an echo
    session timed on its worker, ``devices.placed.probe_device``; with the CPU its core spends, from those tasks
    and from hand-offs of tensor sizes over its links, ``devices.placed.probe_pair`` over :func:`probe_links`) and the
    scheduler's and client's CPU per request (``solver.io.linkfile.HostFit``) over the same streams."""
    from devices.placed import idle_cpu, probe_device, probe_pair
    from solver.deploy.linkfit import fit_device, fit_host

    idle = idle_cpu(workers.client, [workers.address[d] for d in devices])
    probes = {d: probe_device(workers.client, workers.address[d], DEVICE_PROBE_SIZES, executor=executor) for d in devices}
    cpu = {d: list(p.cpu) for d, p in probes.items()}
    on_link = {d: [0.0] * len(p.cpu) for d, p in probes.items()}  # per CPU sample, what it received, in s on a link
    host = [h for p in probes.values() for h in p.host]
    for a, b in probe_links(platform, devices):
        bandwidth = platform.link(a, b).bandwidth
        pair = probe_pair(workers.client, workers.address[a], workers.address[b], pair_sizes(bandwidth),
                          executor=executor)  # fmt: skip
        cpu[a] += pair.source
        on_link[a] += [0.0] * len(pair.source)
        cpu[b] += pair.target
        on_link[b] += [s.received / bandwidth for s in pair.target]
        host += pair.host
    fits = [fit_device(d, p.occupancy, p.hops, p.chains, cpu[d], idle.workers[workers.address[d]], on_link[d])
            for d, p in probes.items()]  # fmt: skip
    return fits, fit_host(host, idle.host)


def _finite(value: float) -> float | None:
    return value if value == value else None
