"""Run the parts of a placement on Dask workers, one worker per device, tensors moved by Dask between them.

Model
-----
Stage k (a part model) runs on the worker of its device (``workers=[address]``, never elsewhere; the worker
has one thread), in an onert session held by a child process of the worker (:class:`_Session`: onert holds
the GIL while it infers, and would stop the worker's transfers meanwhile). Its model file travels once,
scattered to that worker. For request r, stage k's task takes the tensors it reads: the model's inputs (scattered to its
worker once; every request uses the same seeded inputs) and the outputs of the stages before it. Stage j's
task returns a dict of its output tensors; a consumer that reads all of them depends on that task itself,
one that reads some depends on a small task on j's worker that picks them, so a link carries exactly the
tensors crossing it. Dask moves each dependency from worker to worker over their link (the lab's shaped
veths), one tensor per message (:func:`one_tensor_per_message`: each hand-off travels alone, as the link model
counts it, and a chain of slow links streams); the client and the scheduler only submit, and see when the last
stage is done. No transport or scheduling of our own: ordering is Dask's priorities (request r before r + 1), the
window of requests in flight is the client's.

Measured, in the steady state: the timed requests follow a warm-up of at least the window (the pipeline is
full before the clock starts) and are followed by ``window - 1`` untimed ones (it is still full when the clock
stops: a draining pipeline frees the cores its stages share); throughput = (timed requests - 1) / (time between
the first and the last timed completion); latency = submission to completion at the client; per stage, the onert run of each request (on the
worker); per link, the bytes and duration of the worker's incoming transfers of each request (Dask's own
transfer log: a request and the data it returns, serialisation included; Dask may fetch tensors of several
requests in one transfer, each key's bytes count for its own request) and the time the link was busy (the union
of those transfers: a request's data may wait behind another's on a saturated link). The last request's model
outputs come back for checking.

Link ping-pong (:func:`pingpong`): arrays of given sizes made on one worker, read by a task on the other,
timed by the receiver's transfer log; the same engine and messages as a pipeline's hand-offs.

Device probe (:func:`probe_device`): what a stage costs its device beyond onert, through the same engine. A
session process that returns its inputs (``ECHO``) stands for the part: (1) a stream of stage tasks
(``_stage`` itself) reading a scattered tensor of each size, many in flight so the worker always has the next
one ready: the time between the starts of consecutive tasks on the worker is the device's occupancy per
request (Dask's task hand-over on the worker, the pipe to the session both ways, the bookkeeping); (2) chains
of 1, 2, ... such tasks, each reading the one before, one chain in flight: on the worker, the time from the
start of a chain's task to the next one's is a hand-off's latency (the task, then the scheduler hears it
finished and sends the next), and at the client the chain's latency, timed as a run times a request (:func:`_drive`:
from the end of the submission to the completion notice, nothing gathered), which less its hand-offs is the
request's own latency (submission, the completion notice).

Part timing (:func:`time_parts`): each part's inferences timed in a session of the same harness on its
device's worker, every part at once and each alone: its compute as a run sees it (CPU and wall).

CPU: every stage task records, at its end, its worker's CPU time (every thread) and its sessions' (each reports
its own, and the part spent inferring), so a run gives each device's CPU per request (over the requests while
the window is full: a worker fetches inputs ahead) and the scheduler's and client's over the stream. The probes
give the same figures for echo tasks burning CPU as a part's compute (:func:`probe_device`'s stream, and
:func:`probe_pair`: requests flowing from one worker to another over their link), read on each worker before and
after the whole stream so that every request's hand-offs count once (:func:`_stream`), and :func:`idle_cpu` each
process's background with nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import os
import pickle
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from devices.base import DEFAULT_EXECUTOR
from devices.errors import DeviceError, require
from devices.inputs import InputSpec, seeded_inputs

PROBE_TIMEOUT = 600.0  # seconds for one stream of a probe
BURN_MS = "NNPART_ECHO_BURN_MS"  # environment of an echo session: the CPU ms it spends per request (default 0)
BURN_BYTES = 4 << 20  # the buffer a burning echo sweeps
ECHO = "-"  # the model path of a session that returns its inputs (no onert): the probe's stand-in for a part


class PlacedError(DeviceError):
    """A part could not be loaded or run on its worker, a worker was missing or lost, or the run timed out."""


@dataclass(frozen=True)
class PlacedStage:
    """A part model, the tensors it reads and writes (names, in its I/O order), and its replicas: the devices
    running it and their workers' addresses; request r goes to replica ``r mod len(devices)`` (round robin)."""

    path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    devices: tuple[str, ...]
    workers: tuple[str, ...]

    def replica(self, r: int) -> int:
        return r % len(self.workers)


@dataclass(frozen=True)
class PlacedSettings:
    """How to run a placed pipeline."""

    requests: int = 30  # timed requests
    warmup: int = 3  # requests run before timing starts (at least the window: the pipeline fills first)
    in_flight: int | None = None  # requests submitted and not finished; None: every replica of every stage + 1
    executor: str = DEFAULT_EXECUTOR
    seed: int = 0
    timeout: float = 600.0  # seconds for the whole run


@dataclass
class LinkTimes:
    """What one directed link carried per timed request (bytes, seconds of Dask's transfers) and ``busy_s``, the
    time some transfer of a timed request was under way on it (overlapping transfers counted once)."""

    nbytes: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    busy_s: float = 0.0


@dataclass
class PlacedRun:
    """Measured figures of one placed run."""

    devices: list[tuple[str, ...]]  # per stage, its replicas
    requests: int
    wall_s: float
    latencies_ms: list[float]
    compute_ms: dict[str, list[float]]  # per device, per inference of a timed request
    links: dict[tuple[str, str], LinkTimes]
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # model outputs of the last request
    starts: dict[str, list[float]] = field(default_factory=dict)  # per device, when its timed tasks started (s)
    cpu_s: dict[str, list[float]] = field(default_factory=dict)  # per device, its CPU time at its timed tasks' ends
    compute_cpu_s: dict[str, list[float]] = field(default_factory=dict)  # the part of it the inferences took
    cpu_requests: int = 0  # the requests those readings cover (the timed ones)
    host: HostCpu | None = None  # the scheduler's and the client's CPU over the run
    finished_s: list[float] = field(default_factory=list)  # when each timed request finished (perf_counter s)
    warmup: int = 0  # the requests run before the timed ones (at least the window)
    window: int = 1  # the requests in flight
    batched: int = 0  # transfers that carried tensors of more than one request

    def steadiness(self) -> float:
        """The rate of the second half of the timed requests against the first half's, less one (nan with fewer than
        four): a pipeline still filling or emptying, or a machine changing speed, moves it from zero."""
        f = self.finished_s
        half = len(f) // 2
        if half < 2:
            return float("nan")
        first, second = (half - 1) / (f[half - 1] - f[0]), (len(f) - half - 1) / (f[-1] - f[half])
        return second / first - 1

    @property
    def throughput(self) -> float:
        """Completed requests per second in the steady state."""
        return (self.requests - 1) / self.wall_s if self.wall_s > 0 else float("nan")

    def device_ms(self) -> dict[str, float]:
        """Per device, its onert time per request: the median of its inferences times the share of the requests
        it ran (1 without replicas)."""
        return {d: statistics.median(ts) * len(ts) / self.requests for d, ts in self.compute_ms.items() if ts}

    def interval_ms(self) -> dict[str, float]:
        """Per device, the median time from the start of one of its stage tasks to the next's, per request (over
        its share of the requests): when the device sets the pace, what one request costs it, onert and the
        engine's overhead together; otherwise also the time it waited."""
        return {d: statistics.median(b - a for a, b in zip(ts, ts[1:])) * 1000 * (len(ts) / self.requests)
                for d, ts in self.starts.items() if len(ts) > 1}  # fmt: skip

    def cpu_ms(self) -> dict[str, float]:
        """Per device, the CPU time its worker and session processes took per request (the mean from the end of
        its first steady task to the end of its last, over its share of the requests): what the run cost its core."""
        return self._per_request(self.cpu_s)

    def compute_cpu_ms(self) -> dict[str, float]:
        """Per device, the part of :meth:`cpu_ms` its inferences took (onert's CPU time)."""
        return self._per_request(self.compute_cpu_s)

    def _per_request(self, readings: dict[str, list[float]]) -> dict[str, float]:
        return {d: (cs[-1] - cs[0]) / (len(cs) - 1) * 1000 * (len(cs) / (self.cpu_requests or self.requests))
                for d, cs in readings.items() if len(cs) > 1}  # fmt: skip


@dataclass(frozen=True)
class HostCpu:
    """The CPU time (s) the Dask scheduler and the client took over ``requests`` requests of a stream; the
    scheduler's is None when it runs in the client's process (counted there) or on another machine (not ours)."""

    requests: int
    client_s: float
    scheduler_s: float | None

    @property
    def per_request_ms(self) -> float:
        return (self.client_s + (self.scheduler_s or 0.0)) / self.requests * 1000


# --- on the workers ----------------------------------------------------------------------------------

_SESSIONS: dict[str, dict[int, _Session]] = {}  # run -> stage -> its session process, per worker process
_FOLDERS: dict[str, Path] = {}  # run -> where this worker wrote the run's part models
# run -> stage -> (request, onert ms, start s, (the worker's CPU s, its sessions', their inferences') at the task's end)
_TIMES: dict[str, dict[int, list[tuple[int, float, float, tuple[float, float, float]]]]] = {}


class _Session:
    """A part's onert session in a child process of the worker (``python -m devices.placed MODEL``).

    onert's Python binding holds the GIL while it infers, so a session inside the worker would stop the worker's
    event loop for the whole inference: a device could not send or receive a hand-off while it computes, and
    every link would look as slow as the device before it. The child computes; the worker's task thread
    waits on a pipe (without the GIL). Arrays travel pickled over the pipe, a local copy.
    """

    def __init__(self, path: Path, env: dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, "-m", "devices.placed", str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env={**os.environ, **env})  # fmt: skip
        self.specs, self.cpu_s = self._answer()  # cpu_s: the process's CPU time when it last answered
        self.compute_s = 0.0  # the part of it spent in inferences

    def run(self, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """The outputs and the onert time (ms) of one inference."""
        pickle.dump(inputs, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()
        outputs, ms, self.cpu_s, self.compute_s = self._answer()
        return outputs, ms

    def _answer(self):
        try:
            status, value = pickle.load(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError):
            raise PlacedError(f"the session process ended (exit {self.proc.wait()})") from None
        if status == "error":
            raise PlacedError(value)
        return value

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
HEAP_KEEP = 1 << 25  # bytes: the largest mmap threshold glibc accepts on 64 bits (32 MB)


def steady_heap() -> bool:
    """Make this process keep the memory it frees for its next allocations (glibc; False elsewhere).

    Why: by default glibc gives a freed buffer of a few MB back to the kernel (a buffer above the mmap threshold
    is unmapped, the top of the heap is trimmed), so the next inference that allocates it again faults every
    page back in, zeroed by the kernel: on a part of 2 MB activations 1000-3000 page faults and 2-4 ms of
    system time, in some inferences and not others (the threshold adapts as buffers come and go). That is the
    allocator's bookkeeping, not the part's compute, and it made the same part's CPU per inference read 5 or
    10-12 ms from one process to the next. With both thresholds fixed high, the buffers of one inference serve
    the next, and a part's CPU is what its inference costs (onert's kernels on all its threads, and our copies).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this interpreter runs on
    except (OSError, AttributeError):  # not glibc: no mallopt, and no such thresholds to fix
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, HEAP_KEEP) and mallopt(M_MMAP_THRESHOLD, HEAP_KEEP))


def _serve(path: str) -> None:
    """The session process: load ``path``, answer its input specs, then one inference per pickled input list
    (on a steady heap: :func:`steady_heap`)."""
    from devices.chain import ModelRunner

    steady_heap()
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what onert prints goes to stderr, never into the answers
    requests = sys.stdin.buffer

    def answer(status: str, value) -> None:
        pickle.dump((status, value), answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()

    try:
        runner = _Echo(float(os.environ.get(BURN_MS, 0))) if path == ECHO else ModelRunner(path, env={k: os.environ[k] for k in ("NUM_THREADS", "EXECUTOR")
                                                                      if k in os.environ})  # fmt: skip
        specs = runner.input_specs()
        runner.run(seeded_inputs(specs, 0))  # prepares the session
    except Exception as exc:
        answer("error", f"{Path(path).name}: {exc}")
        return
    answer("ok", (specs, time.process_time()))  # its CPU from the start: a probe reads it before the first request
    computed = 0.0  # CPU time in the inferences so far
    while True:
        try:
            inputs = pickle.load(requests)
        except EOFError:
            return
        try:
            start, cpu = time.perf_counter(), time.process_time()
            outputs = runner.run(inputs)
            computed += time.process_time() - cpu
            answer("ok", (outputs, (time.perf_counter() - start) * 1000, time.process_time(), computed))
        except Exception as exc:
            answer("error", f"{Path(path).name}: {exc}")


class _Echo:
    """A session without a model: its outputs are its inputs, after ``burn_ms`` of CPU time spent as a part's
    compute spends it, sweeping a buffer larger than the caches (so the engine beside it meets cold caches, as
    beside onert)."""

    def __init__(self, burn_ms: float = 0.0):
        self.burn_s = burn_ms / 1000
        self.buffer = np.ones(BURN_BYTES // 8) if burn_ms > 0 else None

    def input_specs(self) -> list[InputSpec]:
        return []

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        end = time.process_time() + self.burn_s
        while self.buffer is not None and time.process_time() < end:
            self.buffer *= 1.0000001
        return inputs


def _load(run: str, k: int, model: bytes | None, name: str, env: dict[str, str]) -> list[InputSpec]:
    """Write part k's model into the run's folder and start its session (``model`` None: an echo session); its
    input specs."""
    path = Path(ECHO)
    if model is not None:
        if run not in _FOLDERS:  # not setdefault: it would make a folder on every call and keep only the first
            _FOLDERS[run] = Path(tempfile.mkdtemp(prefix=f"nnpart-{run}-"))
        path = _FOLDERS[run] / f"{k}-{name}"
        path.write_bytes(model)
    session = _SESSIONS.setdefault(run, {})[k] = _Session(path, env)
    return session.specs


def _stage(run: str, k: int, r: int, inputs: tuple[str, ...], outputs: tuple[str, ...], *feeds: dict) -> dict:
    """Run part k on request r's tensors; its outputs by name (the onert time is kept on the worker)."""
    tensors: dict = {}
    for feed in feeds:
        tensors.update(feed)
    start = time.perf_counter()
    values, ms = _SESSIONS[run][k].run([tensors[n] for n in inputs])
    _TIMES.setdefault(run, {}).setdefault(k, []).append((r, ms, start, _cpu(run)))
    return dict(zip(outputs, values))


def _time_session(run: str, k: int, warmup: int, repeats: int, seed: int,
                  every_s: float = 0.0) -> list[tuple[float, float, float]]:  # fmt: skip
    """Infer ``warmup`` then ``repeats`` times in this worker's session of stage k on its seeded inputs (made here:
    nothing crosses a link); per timed inference its wall time, its session's CPU time in onert and the machine
    probe timed right after it in this worker (:func:`machine_ms`, on the device's core), in ms. With
    ``every_s`` > 0 the timed inferences start ``every_s`` apart (the session idles between them), as a latency
    run starts one inference a request; else back to back."""
    session = _SESSIONS[run][k]
    inputs = seeded_inputs(session.specs, seed)
    for _ in range(warmup):
        session.run(inputs)
    timed = []
    start = time.perf_counter()
    for _ in range(repeats):
        if every_s > 0:  # the first too: the warm-up's inference ran just before, a run's idle device waits
            time.sleep(max(start + every_s - time.perf_counter(), 0.0))
        start = time.perf_counter()
        before = session.compute_s
        _, ms = session.run(inputs)
        timed.append((ms, (session.compute_s - before) * 1000, machine_ms()))  # the probe on this core, right after
    return timed


def _cpu(run: str) -> tuple[float, float, float]:
    """The CPU time so far of this worker's process (every thread: the task's, the event loop's, the comms'), of its
    sessions of ``run`` and of their inferences (as each session last reported)."""
    sessions = _SESSIONS[run].values()
    return time.process_time(), sum(s.cpu_s for s in sessions), sum(s.compute_s for s in sessions)


def _pick(tensors: dict, names: tuple[str, ...]) -> dict:
    return {n: tensors[n] for n in names}


def _forget(run: str) -> None:
    """Close this worker's sessions of ``run`` and remove its model files and records."""
    for session in _SESSIONS.pop(run, {}).values():
        session.close()
    _TIMES.pop(run, None)
    folder = _FOLDERS.pop(run, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _process_cpu() -> tuple[str, int, float]:
    """This machine's name, this process's id and its CPU time (s): for the scheduler's share of a run."""
    return socket.gethostname(), os.getpid(), time.process_time()


def _collect(run: str, dask_worker=None) -> dict:
    """This worker's stage times and incoming transfers of ``run``."""
    transfers = [(t["who"], dict(t["keys"]), t["duration"], t["start"], t["stop"]) for t in dask_worker.transfer_incoming_log
                 if any(str(key).startswith(run) for key in t["keys"])]  # fmt: skip
    return {"times": _TIMES.get(run, {}), "transfers": transfers}


ONE_TENSOR = 1  # bytes: a worker's message limit under which every fetch carries one key alone (a hand-off: a stage's
# outputs, or the pick of them one reader takes)


def _message_limit(limit: float | None, dask_worker=None) -> float:
    """Set this worker's limit on the bytes of one fetch message to ``limit`` (None: leave it); the limit before."""
    state = dask_worker.state
    before = state.transfer_message_bytes_limit
    if limit is not None:
        state.transfer_message_bytes_limit = limit
    return before


@contextlib.contextmanager
def one_tensor_per_message(client, workers: Sequence[str]) -> Iterator[None]:
    """Make ``workers`` fetch one tensor per message while the block runs, then restore their limits.

    Why: a worker fetches every key it needs from one peer in a single message, up to
    ``distributed.worker.transfer.message-bytes-limit`` (50 MB). In a chain of slow links (a -> b -> c) b fetches
    the tensors of all the requests a finished meanwhile as one message, and none of them reaches c before the
    last; with a bounded window the requests then travel in lumps: while c fetches a lump, a has no request to
    send and the first link stands idle. Measured (3 echo stages, 200 kB per request over two 500 kB/s links, 8
    in flight): a period of 487 ms against the links' 419 ms per transfer, and 420 ms one tensor per message.
    One tensor per message is also what the link model counts: a message, with its overhead, per hand-off."""
    before = client.run(_message_limit, None, workers=list(workers))  # read only: a failure here changes nothing
    try:
        client.run(_message_limit, ONE_TENSOR, workers=list(workers))
        yield
    finally:  # one call per old limit (workers sharing it together); a failed restore must not hide the error
        for limit in set(before.values()):
            with contextlib.suppress(Exception):
                client.run(_message_limit, limit, on_error="ignore",
                           workers=[w for w, old in before.items() if old == limit])  # fmt: skip


def _make(nbytes: int) -> np.ndarray:
    return np.ones(nbytes, dtype=np.uint8)


def _touch(data: np.ndarray) -> int:
    return int(data.nbytes)


# --- the client --------------------------------------------------------------------------------------


def run_placed(client, stages: Sequence[PlacedStage], model_inputs: Sequence[str], model_outputs: Sequence[str],
               settings: PlacedSettings = PlacedSettings()) -> PlacedRun:  # fmt: skip
    """Run ``stages`` on their workers for a stream of requests and measure it (see the module docstring).

    Raises
    ------
    PlacedError
        A worker is missing, a part cannot be loaded or run, or the run exceeds ``settings.timeout``.
    """
    require("distributed", "farm", "running a placement on Dask workers")
    present = set(client.sync(client.scheduler.identity, n_workers=-1)["workers"])
    missing = sorted({d for s in stages for d, w in zip(s.devices, s.workers) if w not in present})
    if missing:
        raise PlacedError(f"no worker for device(s) {', '.join(missing)} at {client.scheduler.address}")
    run = f"placed-{uuid.uuid4().hex[:12]}"
    env = {"NUM_THREADS": "1", "EXECUTOR": settings.executor}
    deadline = time.monotonic() + settings.timeout
    hosts = sorted({w for s in stages for w in s.workers})
    try:
        with one_tensor_per_message(client, hosts):
            return _run(client, run, env, deadline, stages, model_inputs, model_outputs, settings)
    finally:  # the workers' sessions, model files and records of this run, also after a failure
        client.run(_forget, run, workers=hosts, on_error="ignore")


def _load_stages(client, run: str, stages: Sequence[PlacedStage], env: dict[str, str], deadline: float) -> list:
    """Send every stage's model to each of its replicas' workers and start its session there; per stage its
    input specs."""
    loads = []
    for k, s in enumerate(stages):
        model = s.path.read_bytes()
        for i, worker in enumerate(s.workers):
            data = client.scatter(model, workers=[worker], hash=False)
            loads.append((k, s, client.submit(_load, run, k, data, s.path.name, env, key=f"{run}-load-{k}-{i}",
                                              workers=[worker], allow_other_workers=False, pure=False)))  # fmt: skip
    specs = {k: _result(f, f"{s.path.name} on {', '.join(s.devices)}", "load", deadline) for k, s, f in loads}
    return [specs[k] for k in range(len(stages))]


def _run(client, run, env, deadline, stages, model_inputs, model_outputs, settings) -> PlacedRun:
    specs = _load_stages(client, run, stages, env, deadline)
    feeds = _feeds(client, stages, specs, model_inputs, settings.seed)
    readers = _readers(stages, model_outputs)
    window = settings.in_flight or sum(len(s.workers) for s in stages) + 1
    # Steady state: the clock starts once the window has been full for a while (at least ``window`` requests done,
    # so no request timed was submitted into an empty pipeline) and stops while it is still full (``window - 1``
    # requests follow the timed ones: a draining pipeline frees the cores its stages share and runs faster).
    w = max(settings.warmup, window)
    timed = range(w, w + settings.requests)
    total = timed.stop + window - 1
    stream = _drive(client, lambda r: _submit_request(client, run, r, stages, feeds, readers), range(total), window,
                    deadline)  # fmt: skip
    outputs: dict[str, np.ndarray] = {}
    for part in client.gather(stream.last):
        outputs.update(part)
    reports = client.run(_collect, run, workers=sorted({w for s in stages for w in s.workers}))
    device_of = {worker: d for s in stages for d, worker in zip(s.devices, s.workers)}
    compute = {device_of[worker]: [ms for times in report["times"].values() for req, ms, _, _ in times if req in timed]
               for worker, report in reports.items()}  # fmt: skip
    starts = {device_of[worker]: sorted(start for times in report["times"].values() for req, _, start, _ in times
                                        if req in timed) for worker, report in reports.items()}  # fmt: skip
    # CPU readings of the timed requests: the window is full throughout them (a worker fetches a request's inputs
    # while it runs an earlier one; the cool-down's requests give the last timed ones something after them).
    cpu = {device_of[worker]: [c for _, c in sorted((start, c) for times in report["times"].values()
                                                     for req, _, start, c in times if req in timed)]
           for worker, report in reports.items()}  # fmt: skip
    links, batched = _link_times(reports, device_of, timed)
    submitted, finished = stream.submitted, stream.finished
    return PlacedRun(
        devices=[s.devices for s in stages],
        requests=settings.requests,
        wall_s=finished[timed.stop - 1] - finished[w],
        latencies_ms=[(finished[r] - submitted[r]) * 1000 for r in timed],
        compute_ms=compute,
        links=links,
        outputs=outputs,
        starts=starts,
        cpu_s={d: [c[0] + c[1] for c in cs] for d, cs in cpu.items()},
        compute_cpu_s={d: [c[2] for c in cs] for d, cs in cpu.items()},
        cpu_requests=len(timed),
        host=stream.host,
        finished_s=[finished[r] for r in timed],
        warmup=w,
        window=window,
        batched=batched,
    )


def _link_times(reports: dict, device_of: dict[str, str], timed: range) -> tuple[dict[tuple[str, str], LinkTimes], int]:
    """Per link what it carried per timed request (each key's bytes to its own request, a transfer's duration
    shared by its bytes: Dask may fetch several requests' tensors in one transfer), the time it was busy with
    them, and how many transfers carried tensors of more than one request."""
    per_request: dict[tuple[str, str, int], list[float]] = {}
    spans: dict[tuple[str, str], list[tuple[float, float]]] = {}
    batched = 0
    for receiver, report in reports.items():
        for who, keys, duration, start, stop in report["transfers"]:
            if who not in device_of:
                continue
            requests: dict[int, int] = {}
            for key, nbytes in keys.items():
                request = int(str(key).rsplit("-", 1)[1])
                requests[request] = requests.get(request, 0) + nbytes
            batched += len(requests) > 1
            if not any(r in timed for r in requests):
                continue
            pair = (device_of[who], device_of[receiver])
            total = sum(requests.values()) or 1
            for request, nbytes in requests.items():
                if request in timed:
                    entry = per_request.setdefault((*pair, request), [0, 0.0])
                    entry[0] += nbytes
                    entry[1] += duration * nbytes / total
            spans.setdefault(pair, []).append((start, stop))
    links: dict[tuple[str, str], LinkTimes] = {}
    for (a, b, _), (nbytes, seconds) in sorted(per_request.items()):
        link = links.setdefault((a, b), LinkTimes())
        link.nbytes.append(nbytes)
        link.seconds.append(seconds)
    for pair, intervals in spans.items():
        links[pair].busy_s = _union(intervals)
    return links, batched


# per stage, per replica's device: (wall ms, CPU ms, the machine probe's ms right after it) per inference
Timings = list[dict[str, list[tuple[float, float, float]]]]


@dataclass(frozen=True)
class PartTimes:
    """Each part's inferences timed in its session on its devices' workers: ``busy`` with every part inferring at
    once (as in a throughput run, where every device computes), ``alone`` one part at a time (as in a latency
    run, one request in flight); per stage, per device, (wall ms, CPU ms, machine probe ms) of each timed
    inference."""

    busy: Timings
    alone: Timings


def time_parts(client, stages: Sequence[PlacedStage], warmup: int = 3, repeats: int = 10, alone: int = 0,
               executor: str = DEFAULT_EXECUTOR, seed: int = 0, timeout: float = 600.0,
               every_s: float = 0.0) -> PartTimes:  # fmt: skip
    """Time each stage's inference where a run computes it: in a session of the run's harness (a child process
    of the device's worker, one thread, ``executor``) on every replica's worker, on seeded inputs made there.
    First every session infers ``warmup`` times and then ``repeats`` timed times, all sessions at once (none
    when both are 0); then, if ``alone`` > 0, each session in turn ``alone`` timed times (after one more warm-up
    inference) while the others wait, started ``every_s`` apart when given (as a latency run's device infers
    once a request and idles between), else back to back. Wall and CPU per inference are both kept: on a device
    of one core wall = CPU when nothing else runs there; where devices share a core, wall also counts the
    other's turns, CPU does not.

    Raises PlacedError when a worker is missing, a part cannot be loaded or run, or ``timeout`` passes.
    """
    require("distributed", "farm", "timing parts on Dask workers")
    run = f"time-{uuid.uuid4().hex[:12]}"
    env = {"NUM_THREADS": "1", "EXECUTOR": executor}
    deadline = time.monotonic() + timeout
    hosts = sorted({w for s in stages for w in s.workers})
    try:
        _load_stages(client, run, stages, env, deadline)

        def timing(k: int, i: int, warm: int, n: int, tag: str, every: float = 0.0):
            return _submit(client, _time_session, run, k, warm, n, seed, every, worker=stages[k].workers[i],
                           key=f"{run}-{tag}-{k}-{i}")  # fmt: skip

        jobs = [(k, i, timing(k, i, warmup, repeats, "busy")) for k, s in enumerate(stages)
                for i in range(len(s.workers)) if warmup + repeats > 0]  # fmt: skip
        busy: Timings = [{} for _ in stages]
        for k, i, job in jobs:
            busy[k][stages[k].devices[i]] = _result(job, f"{stages[k].path.name} on {stages[k].devices[i]}", "infer",
                                                    deadline)  # fmt: skip
        lone: Timings = [{} for _ in stages]
        for k, s in enumerate(stages):
            for i, device in enumerate(s.devices if alone > 0 else ()):
                lone[k][device] = _result(timing(k, i, 1, alone, "alone", every_s), f"{s.path.name} on {device}",
                                          "infer", deadline)  # fmt: skip
        return PartTimes(busy, lone)
    finally:
        client.run(_forget, run, workers=hosts, on_error="ignore")


MACHINE_LOOP = 50_000  # iterations of the machine probe's loop: about 1.2 ms of CPU on this VM


def _count(n: int) -> int:
    """The machine probe's kernel: a pure-Python integer loop (no memory traffic, no library, no other thread)."""
    total = 0
    for i in range(n):
        total += i
    return total


def machine_ms(loop: int = MACHINE_LOOP) -> float:
    """The machine probe: this thread's CPU time (ms) for the same fixed loop (:func:`_count`). Nothing of ours (a
    model, a session, a setting) changes it, only the speed of the core it runs on. Why: on this VM a part's CPU
    per inference switched between two levels (about 41 and 72 ms for MobileNetV2's first 50 ops) seconds apart,
    within one session as well as between sessions, with steal at 0; this loop timed after each inference on the
    same core switched with it (1.2 ms beside the fast inferences, 1.8-2.0 beside the slow ones): the host runs
    that core slower at times, which no counter of the guest shows."""
    start = time.thread_time()
    _count(loop)
    return (time.thread_time() - start) * 1000


@dataclass
class _Stream:
    """When each request of a stream was submitted and finished (perf_counter s), the final futures of the last,
    and the scheduler's and client's CPU over the stream."""

    submitted: list[float]
    finished: list[float]
    last: list
    host: HostCpu


def _drive(client, submit, requests: range, window: int, deadline: float) -> _Stream:
    """Submit ``requests`` in order (``submit(r)``: request r's tasks, returning its final futures), keeping
    ``window`` unfinished, until all have finished: the client of every stream, a run's and a probe's alike.

    Raises PlacedError when a request fails or ``deadline`` passes (what is in flight is cancelled)."""
    total = len(requests)
    submitted, finished = [0.0] * total, [0.0] * total
    pending: dict[object, int] = {}  # final future -> request (its position in ``requests``)
    left: dict[int, int] = {}  # request -> final futures not finished
    last: list = []
    i = completed = 0
    before = _host_cpu(client)
    try:
        while completed < total:
            while i < total and i - completed < window:
                finals = submit(requests[i])
                submitted[i] = time.perf_counter()
                left[i] = len(finals)
                pending.update((f, i) for f in finals)
                if i == total - 1:
                    last = finals
                i += 1
            for future in _finished(pending, deadline):
                if future.status != "finished":
                    raise PlacedError(f"request {requests[pending[future]]} failed: {_failure(future)}")
                request = pending.pop(future)
                left[request] -= 1
                if left[request] == 0:
                    finished[request] = time.perf_counter()
                    completed += 1
    except BaseException:
        client.cancel(list(pending))  # what is left in flight; the rest goes with the futures' references
        raise
    return _Stream(submitted, finished, last, _host_used(before, _host_cpu(client), total))


def _host_cpu(client) -> tuple[float, float | None]:
    """The client's CPU time so far and the scheduler's (None when it runs in this process, counted with the
    client, or on another machine)."""
    machine, pid, seconds = client.run_on_scheduler(_process_cpu)
    here = time.process_time()
    return here, (seconds if machine == socket.gethostname() and pid != os.getpid() else None)


def _host_used(before: tuple[float, float | None], after: tuple[float, float | None], requests: int) -> HostCpu:
    scheduler = None if before[1] is None or after[1] is None else after[1] - before[1]
    return HostCpu(requests, after[0] - before[0], scheduler)


def _union(intervals: list[tuple[float, float]]) -> float:
    """The length of the union of ``intervals``."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def _submit(client, fn, *args, worker: str, key: str, priority: int = 0):
    return client.submit(fn, *args, key=key, workers=[worker], allow_other_workers=False, pure=False,
                         priority=priority)  # fmt: skip


def _feeds(client, stages, specs, model_inputs, seed) -> dict[int, list]:
    """Per stage reading model inputs, the futures of a dict of those inputs on each of its replicas' workers."""
    spec_of = {}
    for stage, stage_specs in zip(stages, specs):
        for name, spec in zip(stage.inputs, stage_specs):
            spec_of.setdefault(name, spec)
    arrays = dict(zip(model_inputs, seeded_inputs([spec_of[n] for n in model_inputs], seed)))
    feeds = {}
    for k, stage in enumerate(stages):
        mine = {n: arrays[n] for n in stage.inputs if n in arrays}
        if mine:
            feeds[k] = [_place(client, mine, worker) for worker in stage.workers]
    return feeds


def _place(client, value: dict, worker: str):
    """A future of ``value`` (a dict of tensors) held by ``worker``, under a key of its own. (``scatter`` of a dict
    itself would scatter each entry under its name as the key, and a later dict with the same names would find
    the first one's data under those keys and use it.)"""
    return client.scatter([value], workers=[worker], hash=False)[0]


def _readers(stages: Sequence[PlacedStage], model_outputs: Sequence[str]) -> list[dict[int, tuple[str, ...]]]:
    """Per stage j, the stages k > j (and -1 for the client) reading some of its outputs, with those names."""
    readers = []
    for j, stage in enumerate(stages):
        mine = {}
        for k in range(j + 1, len(stages)):
            names = tuple(n for n in stage.outputs if n in stages[k].inputs)
            if names:
                mine[k] = names
        names = tuple(n for n in stage.outputs if n in model_outputs)
        if names:
            mine[-1] = names
        readers.append(mine)
    return readers


def _submit_request(client, run, r, stages, feeds, readers) -> list:
    """Submit request r's tasks, each stage on its replica for r; the futures of the model outputs."""
    outs: dict[int, object] = {}
    for k, stage in enumerate(stages):
        i = stage.replica(r)
        deps = [feeds[k][i]] if k in feeds else []
        deps += [_handoff(client, run, r, j, k, stages, outs, readers) for j in range(k) if k in readers[j]]
        outs[k] = _submit(client, _stage, run, k, r, stage.inputs, stage.outputs, *deps, worker=stage.workers[i],
                          key=f"{run}-stage-{k}-{r}", priority=-r)  # fmt: skip
    return [_handoff(client, run, r, j, -1, stages, outs, readers) for j in range(len(stages)) if -1 in readers[j]]


def _handoff(client, run, r, j, k, stages, outs, readers):
    """What reader k (-1: the client) of stage j depends on: j's task itself, or a pick of the tensors it reads
    (on the worker that ran j for request r)."""
    if readers[j][k] == stages[j].outputs:
        return outs[j]
    worker = stages[j].workers[stages[j].replica(r)]
    return _submit(client, _pick, outs[j], readers[j][k], worker=worker, key=f"{run}-pick{j}to{k}-{r}", priority=-r)


def _finished(pending: dict, deadline: float) -> list:
    """The pending futures that are done (finished or failed), waiting for one at least."""
    from distributed import wait

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise PlacedError("the run timed out")
    try:
        wait(list(pending), timeout=remaining, return_when="FIRST_COMPLETED")
    except TimeoutError:
        raise PlacedError("the run timed out") from None
    return [f for f in pending if f.done()]


def _result(future, who: str, what: str, deadline: float):
    """The result of ``future`` (a task of ``who``); PlacedError saying it cannot ``what`` when it failed or
    ``deadline`` passed."""
    from distributed import wait

    wait(future, timeout=max(deadline - time.monotonic(), 1))
    if future.status != "finished":
        raise PlacedError(f"{who}: cannot {what} ({_failure(future)})")
    return future.result()


def _failure(future) -> str:
    if future.status == "error":
        error = future.exception()
        return f"{type(error).__name__}: {error}"
    return future.status


IDLE_S = 0.05  # s a ping-pong transfer waits on its link before it starts: a request alone waits longer


def pingpong(client, source: str, target: str, sizes: Sequence[int], repeats: int = 3,
             pause: float = IDLE_S) -> list[tuple[int, float]]:  # fmt: skip
    """``(bytes, seconds)`` of each transfer of an array of each size, made on worker ``source`` and read by a task
    on worker ``target`` (addresses), timed by Dask's transfer log on ``target``; ``repeats`` per size. Each
    transfer starts on an idle link, ``pause`` s after the one before, as a request alone in a pipeline meets its
    links (one request's latency after the last hand-off): a token bucket refilled, the buffers drained. (Right
    after a 200 kB transfer, 1 kB took 13-20 ms on 6.5 Mbit/s under load 6, 2-3 ms otherwise.)"""
    from distributed import wait

    run = f"ping-{uuid.uuid4().hex[:12]}"
    samples = []
    if not sizes:
        return samples
    # Untimed (its key is not the run's): the first transfer between two workers took 74 ms against 3-20 ms for
    # the next ones of 1 kB (under load 6); no hand-off of a run, after its warm-up, pays it.
    warm = client.submit(_make, sizes[0], key=f"warm-{run}", workers=[source], pure=False)
    client.submit(_touch, warm, key=f"warm-{run}-touch", workers=[target], pure=False).result()
    del warm
    for i in range(repeats):
        for nbytes in sizes:
            tag = f"{run}-{nbytes}-{i}"
            data = client.submit(_make, nbytes, key=f"{tag}-0", workers=[source], pure=False)
            wait(data)
            time.sleep(pause)
            client.submit(_touch, data, key=f"{tag}-touch", workers=[target], pure=False).result()
            del data
    for who, keys, duration, _, _ in client.run(_collect, run, workers=[target])[target]["transfers"]:
        if who == source:
            samples.append((sum(keys.values()), duration))
    return samples


@dataclass(frozen=True)
class CpuSample:
    """A probe stream's figures per request on one device: the stage tasks it ran, the bytes through their session
    (both ways), the messages and bytes it sent to and received from other workers, the CPU time (s) its worker
    and session processes took, the part of it the sessions' compute took (an echo's burn), the stream's period
    (s per request) and the part of it the worker's event loop was free to run its background (``loop_s``:
    :func:`_loop_s`; None: the whole period)."""

    tasks: int
    pipe_bytes: int
    sends: int
    sent: int
    receives: int
    received: int
    cpu_s: float
    compute_s: float
    period_s: float
    loop_s: float | None = None

    @property
    def background_s(self) -> float:
        """The seconds per request the worker's background is charged for: its event loop's free time."""
        return self.period_s if self.loop_s is None else self.loop_s

    @property
    def engine_s(self) -> float:
        """The CPU time beyond the compute: the engine's."""
        return self.cpu_s - self.compute_s


@dataclass(frozen=True)
class HostSample:
    """A probe stream's scheduler and client: tasks per request, their CPU per request and the period (s)."""

    tasks: int
    cpu_s: float
    period_s: float


@dataclass
class DeviceSamples:
    """What :func:`probe_device` timed on one worker (seconds)."""

    occupancy: list[tuple[int, float]] = field(default_factory=list)  # (bytes through the session, task start to start)
    chains: list[tuple[int, float]] = field(default_factory=list)  # (tasks in the chain, submitted to notice)
    hops: list[float] = field(default_factory=list)  # start of a chain's task to the next one's, on the worker
    cpu: list[CpuSample] = field(default_factory=list)  # per size of the stream, the device's CPU per request
    host: list[HostSample] = field(default_factory=list)  # per size, the scheduler's and the client's


@dataclass
class PairSamples:
    """What :func:`probe_pair` measured per size: the CPU per request of the sending and the receiving device, and
    of the scheduler and the client."""

    source: list[CpuSample] = field(default_factory=list)
    target: list[CpuSample] = field(default_factory=list)
    host: list[HostSample] = field(default_factory=list)


@dataclass(frozen=True)
class IdleCpu:
    """The CPU time per second (s/s) each worker (by address) and the scheduler and client take while nothing runs:
    heartbeats, monitors, the event loops' ticks. A worker's is per second of its event loop's free time
    (:func:`_loop_s`), which is the wall time while nothing runs."""

    workers: dict[str, float]
    host: float


BURN_MS_DEFAULT = 20.0  # an echo's compute in a CPU probe: a part's, so the engine's messages are not batched


def probe_device(client, worker: str, sizes: Sequence[int], requests: int = 20, chains: Sequence[int] = (1, 2, 3, 4),
                 repeats: int = 3, window: int = 8, warmup: int = 3, executor: str = DEFAULT_EXECUTOR,
                 burn_ms: float = BURN_MS_DEFAULT) -> DeviceSamples:  # fmt: skip
    """Time stage tasks of an echo session on ``worker`` (module docstring): per size in ``sizes`` (bytes of the
    tensor a task reads and returns), ``requests`` tasks with ``window`` in flight after ``warmup``, the session
    spending ``burn_ms`` of CPU on each as a part's compute (the occupancy is the time between task starts less
    that compute); then ``repeats`` chains of each length in ``chains`` of tasks of an echo without compute
    reading a 1 kB tensor, one chain at a time. The stream also gives, per size, the CPU per request of the
    device and of the scheduler and client, over the whole stream (:func:`_stream`).

    Raises PlacedError when the worker is missing or its echo session cannot start.
    """
    require("distributed", "farm", "probing a Dask worker")
    run = f"probe-{uuid.uuid4().hex[:12]}"
    names = ("x",)
    try:
        _start_echoes(client, run, [(worker, k, burn_ms) for k in range(len(sizes))] + [(worker, len(sizes), 0.0)],
                      executor)  # fmt: skip
        samples = DeviceSamples()
        for k, nbytes in enumerate(sizes):
            feed = _place(client, {"x": np.ones(nbytes, dtype=np.uint8)}, worker)
            cpu = _stream(client, run, [(worker, k)], feed, range(warmup + requests + window), window, f"stage-{k}")
            samples.host.append(HostSample(1, cpu.host.per_request_ms / 1000, cpu.period_s))
            samples.cpu.append(cpu.sample(worker, 1, 2 * nbytes, 0, 0, 0, 0))
        chain_feed = _place(client, {"x": np.ones(1 << 10, dtype=np.uint8)}, worker)
        k = len(sizes)
        lengths = [length for _ in range(repeats) for length in chains]
        heads = [0, *itertools.accumulate(lengths)]  # the request number of each chain's first task

        def chain(i: int) -> list:
            dep = chain_feed
            for r in range(heads[i], heads[i + 1]):
                dep = _submit(client, _stage, run, k, r, names, names, dep, worker=worker, key=f"{run}-chain-{r}")
            return [dep]

        # Timed as a run times a request (one in flight, the run's own client loop): from the end of the
        # submission to the completion notice, nothing gathered. Timed from before the submits, with .result()
        # fetching the output, a chain also held the client's submission and a gathering round trip that no
        # request of a run pays: the request term read 5-10 ms high (load 7) and the latency over-predicted.
        stream = _drive(client, chain, range(len(lengths)), 1, time.monotonic() + PROBE_TIMEOUT)
        samples.chains += [(length, done - sent)
                           for length, sent, done in zip(lengths, stream.submitted, stream.finished)]
        times = client.run(_collect, run, workers=[worker])[worker]["times"]
        starts = dict((req, start) for req, _, start, _ in times[len(sizes)])
        for head, end in zip(heads, heads[1:]):
            samples.hops += [starts[r + 1] - starts[r] for r in range(head, end - 1)]
        for k, nbytes in enumerate(sizes):
            timed = sorted((t for t in times[k] if warmup <= t[0] < warmup + requests), key=lambda t: t[2])
            samples.occupancy += [(2 * nbytes, b[2] - a[2] - a[1] / 1000) for a, b in zip(timed, timed[1:])]
        return samples
    finally:
        client.run(_forget, run, workers=[worker], on_error="ignore")


def probe_pair(client, source: str, target: str, sizes: Sequence[int], requests: int = 22, window: int = 4,
               executor: str = DEFAULT_EXECUTOR, burn_ms: float = BURN_MS_DEFAULT) -> PairSamples:  # fmt: skip
    """The CPU a hand-off costs the devices at both ends: per size in ``sizes``, a stream of ``requests`` requests
    (``window`` in flight) shaped as a pipeline's, each a stage task of an echo session on ``source`` reading a
    tensor of that size there, then one on ``target`` reading the first's output, which Dask moves over their link
    (the client only hears of completions, as in a run); each session spends ``burn_ms`` of CPU per request as a
    part's compute. Per size, the CPU per request of each worker with its session, and of the scheduler and the
    client (2 tasks per request), over the whole stream (:func:`_stream`: a worker fetches a request's input
    ahead of its task, by a depth that varies, so no span of its own tasks holds exactly their hand-offs).

    Raises PlacedError when a worker is missing or its echo session cannot start.
    """
    require("distributed", "farm", "probing Dask workers")
    run = f"probe-{uuid.uuid4().hex[:12]}"
    try:
        _start_echoes(client, run, [(source, 0, burn_ms), (target, 1, burn_ms)], executor)
        samples = PairSamples()
        for i, nbytes in enumerate(sizes):
            feed = _place(client, {"x": np.ones(nbytes, dtype=np.uint8)}, source)
            numbers = range(i * requests, (i + 1) * requests)
            cpu = _stream(client, run, [(source, 0), (target, 1)], feed, numbers, window, f"pair-{i}")
            samples.host.append(HostSample(2, cpu.host.per_request_ms / 1000, cpu.period_s))
            samples.source.append(cpu.sample(source, 1, 2 * nbytes, 1, nbytes, 0, 0))
            samples.target.append(cpu.sample(target, 1, 2 * nbytes, 0, 0, 1, nbytes))
        return samples
    finally:
        client.run(_forget, run, workers=[source, target], on_error="ignore")


IDLE_SLICE_S = 0.5  # a Dask worker's heartbeat and system monitor come every 0.5 s: one of each per slice


def idle_cpu(client, workers: Sequence[str], seconds: float = 2.0) -> IdleCpu:
    """The CPU per second ``workers``, the scheduler and the client take over ``seconds`` with nothing to run: for
    each worker the median over slices of ``IDLE_SLICE_S`` read in its own event loop (left free meanwhile), per
    second of the loop's free time (:func:`_loop_s`: the wall time, but for a burst that holds the loop).

    Why slices: a one-off burst in the window (a collection, a late clean-up) moved the mean, and a probe is
    charged the background for its whole wall time, which load stretches: measured over 1 s windows, 25-28 ms/s
    against 16-19 in the others, and at load 9 one worker's 63 ms/s against 7-10 (Dask's tick at 1 s), which took
    12-35 ms off each of its probe samples of 220-620 ms per request."""
    slices = max(round(seconds / IDLE_SLICE_S), 1)
    host_before, start = _host_cpu(client), time.perf_counter()
    rates = client.run(_background, seconds / slices, slices, workers=list(workers))
    host = _host_used(host_before, _host_cpu(client), 1)
    wall = time.perf_counter() - start
    return IdleCpu({w: statistics.median(rates[w]) for w in workers}, host.per_request_ms / 1000 / wall)


async def _background(slice_s: float, slices: int, dask_worker=None) -> list[float]:
    """This worker process's CPU per second of its event loop's free time (:func:`_loop_s`) over ``slices``
    consecutive slices of ``slice_s`` seconds, sleeping between its readings so that the event loop runs what it
    runs when idle."""
    rates = []
    loop, cpu = _loop_s(dask_worker), time.process_time()
    for _ in range(slices):
        await asyncio.sleep(slice_s)
        free, used = _loop_s(dask_worker), time.process_time()
        rates.append((used - cpu) / max(free - loop, _ticks(dask_worker)[1]))  # a tick at least ends a slice
        loop, cpu = free, used
    return rates


def _ticks(dask_worker) -> tuple[int, float]:
    """Dask's count of this worker's event-loop ticks so far and their interval (s): private attributes of
    ``distributed``'s Server (``_tick_counter``, ``_tick_interval``; 2026.11.0 has them). PlacedError, naming the
    attribute and the version, when a release has dropped them: the probes cannot tell the loop's free time."""
    try:
        return dask_worker._tick_counter, dask_worker._tick_interval
    except AttributeError as error:
        import distributed

        raise PlacedError(f"this worker's distributed {distributed.__version__} has no {error.name} on its Server: "
                          "the CPU probes count Dask's event-loop ticks to tell the loop's free time") from None


def _loop_s(dask_worker) -> float:
    """The seconds this worker's event loop has been free to run its background so far, by Dask's own count of its
    ticks (a periodic callback every ``_tick_interval``, 20 ms) times their interval.

    Why not the wall time: the background is the loop's periodic callbacks (the tick alone 9 of a worker's
    16-20 ms/s), and a callback due while something holds the loop (a slow board's engine, the CPU fit test's
    plugin burning 20-105 ms per task or fetch, stretched 3-5 times by load) is skipped, not made up (Tornado's
    PeriodicCallback runs once late and goes on from the next due time). Measured on a worker at load 5-7,
    100 ms blocks with 50 ms sleeps between: 12 ticks a second of 50, the background 6.9 ms/s against 20 idle;
    the idle rate charged per tick that ran says 4.7 ms/s, per wall second 20 (blocks of 50 and 200 ms alike). A
    probe charged the idle rate for its whole wall time and read a burning sample 3-9.5 ms low per request (load
    8)."""
    ticks, interval = _ticks(dask_worker)
    return ticks * interval


def _start_echoes(client, run: str, sessions: Sequence[tuple[str, int, float]], executor: str) -> None:
    """Start an echo session numbered k on each (worker, k, burn) of ``sessions``, spending burn ms per request."""
    for worker, k, burn_ms in sessions:
        env = {"NUM_THREADS": "1", "EXECUTOR": executor, BURN_MS: str(burn_ms)}
        loaded = client.submit(_load, run, k, None, ECHO, env, key=f"{run}-load-{k}", workers=[worker],
                               allow_other_workers=False, pure=False)  # fmt: skip
        _result(loaded, f"the echo session on {worker}", "start", time.monotonic() + 60)


@dataclass(frozen=True)
class _StreamCpu:
    """A probe stream's CPU per request (s) over all its requests: per worker of its path, (its process and its
    sessions, their compute), and the scheduler's and the client's; ``period_s``, the wall time per request over
    the same span (what the host's background per second is charged for), and per worker ``loop_s``, the part of
    it its event loop was free (:func:`_loop_s`: what its background is charged for)."""

    workers: dict[str, tuple[float, float]]
    host: HostCpu
    period_s: float
    loop_s: dict[str, float]

    def sample(self, worker: str, tasks: int, pipe_bytes: int, sends: int, sent: int, receives: int,
               received: int) -> CpuSample:  # fmt: skip
        """``worker``'s figures per request, for a request of these tasks, bytes and messages on it."""
        return CpuSample(tasks, pipe_bytes, sends, sent, receives, received, *self.workers[worker], self.period_s,
                         self.loop_s[worker])  # fmt: skip


def _stream(client, run: str, path: Sequence[tuple[str, int]], feed, requests: range, window: int,
            tag: str) -> _StreamCpu:  # fmt: skip
    """Requests ``requests`` through ``path`` (per step a worker and its echo session k, each task reading the one
    before, the first ``feed``), ``window`` in flight (:func:`_drive`, as a run's), outputs left on the workers as
    a stage's are until the next reads them; the CPU they took, read on each worker before the first is submitted
    and after the last has finished.

    Why the whole stream: a worker's CPU read at its own tasks' ends holds the tasks between them, but not exactly
    those requests' hand-offs. A receiver fetches a request's input when the sender has finished it, up to
    ``window`` requests ahead of its own task (the sender serves it then), and how far ahead differs from one end
    of a span to the other: measured, 18 to 21 fetches in spans of 19 tasks, each one too many or too few 5.5 ms
    per request at 4 MB in the CPU fit's test (its plugin burns 105 ms per fetch there). Over the whole stream
    every request's task, fetch and sending counts once; filling and draining only add waiting, charged as
    background over the same span.

    Why the garbage is collected first (on the workers, the scheduler and the client): Python's full collection
    falls due at the earliest at the eleventh collection of generation 1 (CPython 3.11 also waits for the objects
    pending a full one to pass a quarter of the long-lived ones), about once a run of the CPU fit's test a worker,
    and takes a worker 46-60 ms of CPU at load 7-13 (its 90,000 objects); one inside a stream adds it to that
    stream's requests alone (a plain 4 MB stream of that test, 30 requests: 1.4 ms more each on the worker's loop
    thread, 7% of the 20 ms it checks), and the fit reads it as a cost of that size. After a full collection none
    falls due within a stream (30 requests make 3-5 collections of generation 0; a full one, 121 at least); in a
    long run its share is one per ~900 requests, under 0.1 ms each. Raises PlacedError without a request."""
    if not requests:
        raise PlacedError("a probe stream needs a request at least")
    names = ("x",)
    workers = list(dict.fromkeys(worker for worker, _ in path))

    def submit(r: int) -> list:
        dep = feed
        for step, (worker, k) in enumerate(path):
            dep = _submit(client, _stage, run, k, r, names, names, dep, worker=worker, key=f"{run}-{tag}-{step}-{r}",
                          priority=-r)  # fmt: skip
        return [dep]

    _collect_garbage(client, workers)
    start = time.perf_counter()
    before = client.run(_stream_reading, run, workers=workers)
    stream = _drive(client, submit, requests, window, time.monotonic() + PROBE_TIMEOUT)
    after = client.run(_stream_reading, run, workers=workers)
    n = len(requests)
    cpu = {w: ((sum(after[w][:2]) - sum(before[w][:2])) / n, (after[w][2] - before[w][2]) / n) for w in workers}
    loop = {w: (after[w][3] - before[w][3]) / n for w in workers}
    return _StreamCpu(cpu, stream.host, (time.perf_counter() - start) / n, loop)


def _collect_garbage(client, workers: Sequence[str]) -> None:
    """A full garbage collection in each of ``workers``, the scheduler and this client, so that none falls due
    inside the stream that follows: see :func:`_stream`."""
    client.run(gc.collect, workers=list(workers))
    client.run_on_scheduler(gc.collect)
    gc.collect()


def _stream_reading(run: str, dask_worker=None) -> tuple[float, float, float, float]:
    """:func:`_cpu` of ``run`` on this worker, and its event loop's free time so far (:func:`_loop_s`)."""
    return *_cpu(run), _loop_s(dask_worker)


if __name__ == "__main__":
    _serve(sys.argv[1])
