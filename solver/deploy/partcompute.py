"""Each part's compute measured where a placed run computes it, and a prediction that uses it part by part.

Why: a trace times the ops of the whole model in a profiling harness; a placed run infers each part in a session
process of its device's Dask worker (``devices.placed``). The two differ (onert's CPU per inference in a lab
session ran 8-14% above the trace's op sum for ResNet50 and InceptionV3 parts), and this VM's speed drifts over
minutes. So the calibration times every part on every device the map names, in the run's own harness
(``devices.placed.time_parts``: the same session process, ``NUM_THREADS=1``, the same executor), just before the
run:

- ``busy``: every part inferring at once, as in a throughput run where every device computes (a part's period);
- ``alone``: one part at a time, as in the latency run with one request in flight (a part's latency).

Which figure: **CPU time** per inference (the session process's ``process_time`` around onert's run, every thread
of it), median and IQR. Every thread, because onert's float convolutions run on Eigen's thread pool whatever
``NUM_THREADS`` says (that caps ruy only): the pool has one thread per core the machine has (two here), asleep
between convolutions, and on a wide_activations part they did 3.6-4.0 of the 5.5 ms per inference; so on an
unpinned device CPU can exceed wall. The session keeps the memory it frees (``devices.placed.steady_heap``):
otherwise glibc hands a few-MB tensor buffer back to the kernel and the next inference faults it in again, 2-4
ms of system time in some inferences and not others, which read as the same part costing 5 or 10-12 ms.
The prediction charges a device's core its compute and sums the devices pinned to one core
(``solver.placement.predicted.shared_period``); wall time would already hold the other device's turns on a
shared core (and the scheduler's and client's, counted apart), so it would be counted twice there; both are
kept and shown.

**On a device with a core of its own** (pinned to a core no other device of the map is pinned to: the lab's
devices of (a) and (c)) the period uses the busy **wall** time instead: with nothing else of the run on that core,
the wall of an inference is what the core spends on it, and when both cores compute it runs above the CPU (the
calibration measured busy wall/CPU 1.02-1.07 for split models and 1.17-1.43 for two whole models at once, with
``/proc/stat`` steal flat: time the VM takes that no CPU clock of ours counts), which the run pays too. Not on
a shared core: there the wall also holds the other device's turns, which the prediction adds itself (its
``core`` bound), so CPU.

**The latency** (one request in flight) uses the **wall** time of each part timed **alone**, **right before the
latency run**, its inferences **started one predicted latency apart** (:func:`retime_alone`, through
:class:`LatencyCheck`): what a device of that run pays. Why, measured (two pinned lab devices, MobileNetV2's
exact map on 6.5 Mbit/s, schedstat of the session's threads per inference, load 7-9): the CPU per inference was
the same alone and in the run (42-47 ms either way, back to back or 100 ms apart), but the latency run waits for
the wall, 90-130 ms there: the core is shared with whatever else runs on the machine (the main thread's run-queue
wait was 51-65 ms an inference), and with one request in flight the stages never share it with each other, so
the wall alone holds exactly that. The CPU alone, timed back to back a whole throughput run earlier, left the
compute gap (the parts' predicted compute against onert's time in the latency run) at -152..+44 ms last session.
The calibration's back-to-back ``alone`` timing stays (``alone-cpu``: the former latency's figure, kept to compare).

How the prediction uses it (:func:`measured_problem`): the op weights of each measured part are scaled by
measured / trace for its device, so the part's ops sum to its measured compute (the same correction
``solver.deploy.calibrate`` applies to a partition's ops); a part that was not measured keeps the trace's
weights, and :class:`PartSource` says which compute each part used and why. A replicated part takes the mean of
its replicas' measurements (one op weight serves them all).

Drift (:func:`drift`): right after the timed run every part is timed again, briefly; a part whose compute moved
by more than ``DRIFT_TOLERANCE`` of the calibrated period (at least the largest part's compute) between the two is
a drifting measurement, and a verdict resting on it says so. The period, not the part: on a link-bound pipeline a
part far below the period may move by a third and move no verdict. Every timed inference is followed by the
machine probe on its core (``devices.placed.machine_ms``, a fixed loop whose CPU time only the core's speed moves);
a timing keeps its median, and a drift whose probe moved with it is the machine's speed (``Drift.machine``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devices.placed import PartTimes, PlacedStage, time_parts
from devices.stats import summarize
from solver.errors import UsageError
from solver.io.linkfile import ComputeTiming, LinkFit, PartCompute
from solver.io.platform import Platform

DRIFT_TOLERANCE = 0.05  # half the 10% a calibrated prediction aims at: a larger move eats the verdict's margin
MACHINE_SHARE = 0.5  # a part's drift is the machine's when its core's probe moved the same way by half as much
MACHINE_NOISE = 0.10  # ... and by more than the probe moved with its parts steady (up to +10%, i27v's 23 runs)
MEASURE = (3, 10, 8)  # warm-up inferences, timed ones with every part busy, timed ones alone
RECHECK = (1, 4)  # warm-up and timed inferences of the re-measure after a run
MODES = ("busy", "alone", "alone-cpu")  # measured_problem's figures: the period's, the latency's, the former latency's
RETIME = 8  # timed inferences alone, right before the latency run (after one warm-up each)


def digest(path: Path) -> str:
    """The sha256 of a part model file: a measurement belongs to this content."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def timing(samples: Sequence[tuple[float, ...]]) -> ComputeTiming:
    """Median and IQR of the CPU and the wall time (us) of ``(wall ms, CPU ms[, machine probe ms])`` inferences, and
    the machine probe's median when every inference has one."""
    wall = summarize([s[0] * 1000 for s in samples])
    cpu = summarize([s[1] * 1000 for s in samples])
    probed = bool(samples) and all(len(s) > 2 for s in samples)
    machine = statistics.median(s[2] for s in samples) if probed else None
    return ComputeTiming(cpu.median, cpu.iqr, wall.median, wall.iqr, len(samples), machine)


def measure_parts(client, stages: Sequence[PlacedStage], executor: str, counts: tuple[int, int, int] = MEASURE,
                  seed: int = 0) -> tuple[PartCompute, ...]:  # fmt: skip
    """Every stage's compute on each of its devices, timed in the run's harness (module docstring); ``counts``:
    warm-up inferences, timed ones busy and timed ones alone.

    Raises devices.placed.PlacedError when a part cannot be loaded or run on its worker.
    """
    warmup, busy, alone = counts
    times = time_parts(client, stages, warmup, busy, alone, executor, seed)
    return tuple(PartCompute(s.path.name, digest(s.path), d, timing(times.busy[k][d]),
                             timing(times.alone[k][d]) if times.alone[k].get(d) else None)
                 for k, s in enumerate(stages) for d in s.devices)  # fmt: skip


def remeasure(client, stages: Sequence[PlacedStage], executor: str, seed: int = 0) -> PartTimes:
    """A short busy timing of every stage on its devices (``RECHECK``), for the drift after a run."""
    return time_parts(client, stages, *RECHECK, 0, executor, seed)


def retime_alone(client, stages: Sequence[PlacedStage], sources: Sequence[PartSource], executor: str,
                 every_s: float, seed: int = 0, timeout: float = 600.0) -> list[PartSource]:  # fmt: skip
    """``sources`` with each measured part's ``alone`` timing replaced by a new one (``RETIME`` inferences of every
    stage in turn, started ``every_s`` apart: the latency run's spacing; module docstring); ``stages`` in the
    split's part order."""
    times = time_parts(client, stages, 0, 0, RETIME, executor, seed, timeout, every_s=every_s)
    order = _stage_index(sources)
    retimed = []
    for s in sources:
        samples = times.alone[order[s.part_id]].get(s.device) if s.measured is not None else None
        measured = dataclasses.replace(s.measured, alone=timing(samples)) if samples else s.measured
        retimed.append(dataclasses.replace(s, measured=measured))
    return retimed


@dataclass(frozen=True)
class LatencyCheck:
    """What a placed run needs to time its parts alone again right before its latency run (:func:`retime_alone`):
    the calibrated prediction (``Prediction`` of ``solver.deploy.placed``; its latency spaces the inferences and is
    replaced) and ``repredict``: its latency (us) with the parts' compute of other sources, and with other link
    fits when given (the after-run ones: that prediction's latency is made with the parts timed again too; None:
    the calibration's links). The caller's: deploy does not import placement."""

    prediction: object
    repredict: Callable[[Sequence[PartSource], Sequence[LinkFit] | None], float]


@dataclass(frozen=True)
class PartSource:
    """Which compute a calibrated prediction used for one part on one device: its measurement in the run's harness
    (``measured``) or the trace's op sum (``trace_us``, and ``reason`` why not measured)."""

    part_id: int
    file: str
    device: str
    trace_us: float  # the trace's op sum on the device (the placement problem's)
    trace_alone_us: float | None  # the same with the op times profiled alone, when the latency uses those
    measured: PartCompute | None
    reason: str = ""
    wall: bool = False  # the period uses the busy wall time (a device with a core of its own), not the CPU

    @property
    def used_us(self) -> float:
        """The compute the calibrated period used: the measured busy wall or CPU, else the trace's."""
        if self.measured is None:
            return self.trace_us
        return self.measured.busy.wall_us if self.wall else self.measured.busy.cpu_us

    def to_json(self) -> dict:
        return {"part": self.part_id, "file": self.file, "device": self.device, "trace_us": self.trace_us,
                "trace_alone_us": self.trace_alone_us, "used": "session" if self.measured else "trace",
                "figure": ("wall" if self.wall else "cpu") if self.measured else None,
                "measured": self.measured.to_json() if self.measured else None, "reason": self.reason or None}  # fmt: skip


def own_cores(devices: Sequence[str], core_of: Mapping[str, int | None]) -> frozenset[str]:
    """Those of ``devices`` pinned to a core (``core_of``) that no other of ``devices`` is pinned to."""
    pinned = Counter(core_of[d] for d in set(devices) if core_of.get(d) is not None)
    return frozenset(d for d in devices if core_of.get(d) is not None and pinned[core_of[d]] == 1)


def part_sources(split, platform: Platform, records: Sequence[PartCompute], problem, alone=None,
                 core_of: Mapping[str, int | None] | None = None) -> list[PartSource]:  # fmt: skip
    """Per part of ``split`` and device running it, the measured record of that part file (its name, content and
    device) among ``records``, else why there is none; with the part's trace op sum in ``problem`` (and in
    ``alone``, the problem of op times profiled alone, when given) on that device. ``core_of`` (the run's cores,
    ``solver.deploy.placed.Workers.core_of``): a device of the split with a core of its own uses its busy wall
    time (module docstring); without it, every part its CPU."""
    found = {(r.part, r.device): r for r in records}
    replicas = split.replicas or {}
    alone_on_core = own_cores([d for p in split.parts for d in replicas.get(p.part_id, (p.device,))], core_of or {})
    sources = []
    for p in split.parts:
        sha = digest(split.out_dir / p.file)
        for device in replicas.get(p.part_id, (p.device,)):
            record = found.get((p.file, device))
            reason = ""
            if _spec(platform, device).trace is not None:
                record, reason = None, f"device {device} has a trace of its own (its op times are not scaled)"
            elif record is None:
                reason = "not measured in the session harness"
            elif record.sha256 != sha:
                record, reason = None, "measured for another file of that name (its sha256 differs)"
            sources.append(PartSource(p.part_id, p.file, device, _op_sum(problem, p.ops, platform, device),
                                      _op_sum(alone, p.ops, platform, device) if alone is not None else None,
                                      record, reason, device in alone_on_core))  # fmt: skip
    return sources


def _op_sum(problem, ops: Sequence[int], platform: Platform, device: str) -> float:
    speed = _spec(platform, device).speed
    return float(sum(round(int(problem.graph.nodes[v].get("weight", 0)) / speed) for v in ops))


def _spec(platform: Platform, device: str):
    return platform.devices[platform.names.index(device)]


def measured_problem(problem, split, sources: Sequence[PartSource], mode: str = "busy"):
    """``problem`` (a ``solver.problem.PartitionProblem`` of a TFLite model) with the op weights of each measured
    part scaled so that they sum, on its device, to its measured compute per inference (``mode``: ``busy`` for the
    period: the CPU, or the wall on a device with a core of its own (``PartSource.wall``); ``alone`` for the
    latency: the wall; ``alone-cpu``: the CPU alone, the former latency's figure; a replicated part: the mean over
    its measured replicas); other parts keep the trace's weights. The problem itself is not changed."""
    if mode not in MODES:
        raise UsageError(f"unknown compute figure {mode!r}: one of {', '.join(MODES)}")
    graph = problem.graph.copy()
    for p in split.parts:
        mine = [s for s in sources if s.part_id == p.part_id and s.measured is not None]
        timings = [s.measured.busy if mode == "busy" else s.measured.alone for s in mine]
        if not mine or any(t is None for t in timings):
            continue
        trace = statistics.fmean(s.trace_us if mode == "busy" else s.trace_alone_us or s.trace_us for s in mine)
        target = statistics.fmean(t.wall_us if mode == "alone" or mode == "busy" and s.wall else t.cpu_us
                                  for s, t in zip(mine, timings))  # fmt: skip
        if trace > 0:
            _scale(graph, p.ops, target / trace)
    return dataclasses.replace(problem, graph=graph)


def _scale(graph, ops: Sequence[int], factor: float) -> None:
    """Multiply the ops' integer weights by ``factor``, rounding the running sum so the total is rounded once."""
    prefix = done = 0
    for v in ops:
        prefix += int(graph.nodes[v].get("weight", 0))
        graph.nodes[v]["weight"] = round(prefix * factor) - done
        done = round(prefix * factor)


@dataclass(frozen=True)
class Drift:
    """One part on one device: its busy CPU per inference before the run (the calibration's) and right after.
    ``scale_us``: the calibrated period, at least the largest part's compute before: a part drifts when it moved by
    more than ``DRIFT_TOLERANCE`` of that (a 0.3 ms part moving by 40% moves no period of 240 ms). Each timing
    holds the machine probe's median over its inferences (``devices.placed.machine_ms``, on the part's core right
    after each inference): when it moved with the part, the move is the machine's speed (:attr:`machine`)."""

    part_id: int
    device: str
    before: ComputeTiming
    after: ComputeTiming
    scale_us: float

    @property
    def change(self) -> float:
        return self.after.cpu_us / self.before.cpu_us - 1

    @property
    def moved_us(self) -> float:
        return self.after.cpu_us - self.before.cpu_us

    @property
    def drifted(self) -> bool:
        return abs(self.moved_us) > DRIFT_TOLERANCE * self.scale_us

    @property
    def machine_change(self) -> float | None:
        """The relative move of the machine probe on the part's core between the two timings (None: not probed)."""
        before, after = self.before.machine_ms, self.after.machine_ms
        return after / before - 1 if before and after is not None else None

    @property
    def machine(self) -> bool:
        """The part's move is the machine's speed: the probe on its core moved the same way, by at least
        ``MACHINE_SHARE`` of the part's relative move and by more than its own noise (``MACHINE_NOISE``)."""
        probe = self.machine_change
        return (probe is not None and probe * self.change > 0 and abs(probe) >= MACHINE_SHARE * abs(self.change)
                and abs(probe) > MACHINE_NOISE)

    def to_json(self) -> dict:
        return {"part": self.part_id, "device": self.device, "before_cpu_us": self.before.cpu_us,
                "before_cpu_iqr_us": self.before.cpu_iqr_us, "after_cpu_us": self.after.cpu_us,
                "after_cpu_iqr_us": self.after.cpu_iqr_us, "change": self.change, "moved_us": self.moved_us,
                "drifted": self.drifted, "before_machine_ms": self.before.machine_ms,
                "after_machine_ms": self.after.machine_ms, "machine_change": self.machine_change,
                "machine": self.machine}  # fmt: skip


def _stage_index(sources: Sequence[PartSource]) -> dict[int, int]:
    """Part id -> index of its stage in ``time_parts``' figures: ``sources`` list every part of the split, in its
    part order (``part_sources``), so the n-th part id met is the n-th stage."""
    order: dict[int, int] = {}
    for s in sources:
        order.setdefault(s.part_id, len(order))
    return order


def drift(sources: Sequence[PartSource], after: PartTimes, period_us: float = 0.0) -> list[Drift]:
    """Per measured part and device, its busy CPU before against ``after`` (stages in the split's part order), on
    the scale of the calibrated ``period_us`` (0: unknown; the largest part's compute is the floor either way)."""
    order = _stage_index(sources)
    scale = max((s.measured.busy.cpu_us for s in sources if s.measured is not None), default=0.0)
    scale = max(scale, period_us)
    return [Drift(s.part_id, s.device, s.measured.busy, timing(after.busy[order[s.part_id]][s.device]), scale)
            for s in sources if s.measured is not None and after.busy[order[s.part_id]].get(s.device)]  # fmt: skip
