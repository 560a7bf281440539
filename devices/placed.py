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
veths); the client and the scheduler only submit, and see when the last stage is done. No transport or
scheduling of our own: ordering is Dask's priorities (request r before r + 1), the window of requests in
flight is the client's.

Measured: throughput = (timed requests - 1) / (time between the first and the last timed completion);
latency = submission to completion at the client; per stage, the onert run of each request (on the
worker); per link, the bytes and duration of the worker's incoming transfers of each request (Dask's own
transfer log: a request and the data it returns, serialisation included) and the time the link was busy
(the union of those transfers: a request's data may wait behind another's on a saturated link). The last request's model
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
finished and sends the next), and at the client the chain's submission to completion, which less its hand-offs
is the request's own latency (submission, the completion notice).
"""

from __future__ import annotations

import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from devices.base import DEFAULT_EXECUTOR
from devices.errors import DeviceError, require
from devices.inputs import InputSpec, seeded_inputs

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
    warmup: int = 3  # requests run before timing starts
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


# --- on the workers ----------------------------------------------------------------------------------

_SESSIONS: dict[str, dict[int, _Session]] = {}  # run -> stage -> its session process, per worker process
_FOLDERS: dict[str, Path] = {}  # run -> where this worker wrote the run's part models
_TIMES: dict[str, dict[int, list[tuple[int, float, float]]]] = {}  # run -> stage -> (request, onert ms, start s)


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
        self.specs = self._answer()

    def run(self, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """The outputs and the onert time (ms) of one inference."""
        pickle.dump(inputs, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()
        return self._answer()

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


def _serve(path: str) -> None:
    """The session process: load ``path``, answer its input specs, then one inference per pickled input list."""
    from devices.chain import ModelRunner

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what onert prints goes to stderr, never into the answers
    requests = sys.stdin.buffer

    def answer(status: str, value) -> None:
        pickle.dump((status, value), answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()

    try:
        runner = _Echo() if path == ECHO else ModelRunner(path, env={k: os.environ[k] for k in ("NUM_THREADS", "EXECUTOR")
                                                                      if k in os.environ})  # fmt: skip
        specs = runner.input_specs()
        runner.run(seeded_inputs(specs, 0))  # prepares the session
    except Exception as exc:
        answer("error", f"{Path(path).name}: {exc}")
        return
    answer("ok", specs)
    while True:
        try:
            inputs = pickle.load(requests)
        except EOFError:
            return
        try:
            start = time.perf_counter()
            outputs = runner.run(inputs)
            answer("ok", (outputs, (time.perf_counter() - start) * 1000))
        except Exception as exc:
            answer("error", f"{Path(path).name}: {exc}")


class _Echo:
    """A session without a model: its outputs are its inputs."""

    def input_specs(self) -> list[InputSpec]:
        return []

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
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
    _TIMES.setdefault(run, {}).setdefault(k, []).append((r, ms, start))
    return dict(zip(outputs, values))


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


def _collect(run: str, dask_worker=None) -> dict:
    """This worker's stage times and incoming transfers of ``run``."""
    transfers = [(t["who"], dict(t["keys"]), t["duration"], t["start"], t["stop"]) for t in dask_worker.transfer_incoming_log
                 if any(str(key).startswith(run) for key in t["keys"])]  # fmt: skip
    return {"times": _TIMES.get(run, {}), "transfers": transfers}


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
        return _run(client, run, env, deadline, stages, model_inputs, model_outputs, settings)
    finally:  # the workers' sessions, model files and records of this run, also after a failure
        client.run(_forget, run, workers=hosts, on_error="ignore")


def _run(client, run, env, deadline, stages, model_inputs, model_outputs, settings) -> PlacedRun:
    loads = []
    for k, s in enumerate(stages):
        model = s.path.read_bytes()
        for i, worker in enumerate(s.workers):
            data = client.scatter(model, workers=[worker], hash=False)
            loads.append((k, s, client.submit(_load, run, k, data, s.path.name, env, key=f"{run}-load-{k}-{i}",
                                              workers=[worker], allow_other_workers=False, pure=False)))  # fmt: skip
    specs = {k: _result(f, f"{s.path.name} on {', '.join(s.devices)}", "load", deadline) for k, s, f in loads}
    specs = [specs[k] for k in range(len(stages))]
    feeds = _feeds(client, stages, specs, model_inputs, settings.seed)
    readers = _readers(stages, model_outputs)
    total = settings.warmup + settings.requests
    window = settings.in_flight or sum(len(s.workers) for s in stages) + 1
    submitted, finished = [0.0] * total, [0.0] * total
    pending: dict[object, int] = {}  # final future -> request
    left: dict[int, int] = {}  # request -> final futures not finished
    last: list = []
    r = completed = 0
    try:
        while completed < total:
            while r < total and r - completed < window:
                finals = _submit_request(client, run, r, stages, feeds, readers)
                submitted[r] = time.perf_counter()
                left[r] = len(finals)
                pending.update((f, r) for f in finals)
                if r == total - 1:
                    last = finals
                r += 1
            for future in _finished(pending, deadline):
                if future.status != "finished":
                    raise PlacedError(f"request {pending[future]} failed: {_failure(future)}")
                request = pending.pop(future)
                left[request] -= 1
                if left[request] == 0:
                    finished[request] = time.perf_counter()
                    completed += 1
        outputs: dict[str, np.ndarray] = {}
        for part in client.gather(last):
            outputs.update(part)
        reports = client.run(_collect, run, workers=sorted({w for s in stages for w in s.workers}))
    except BaseException:
        client.cancel(list(pending))  # what is left in flight; the rest goes with the futures' references
        raise
    w = settings.warmup
    device_of = {worker: d for s in stages for d, worker in zip(s.devices, s.workers)}
    compute = {device_of[worker]: [ms for times in report["times"].values() for req, ms, _ in times if req >= w]
               for worker, report in reports.items()}  # fmt: skip
    starts = {device_of[worker]: sorted(start for times in report["times"].values() for req, _, start in times if req >= w)
              for worker, report in reports.items()}  # fmt: skip
    links: dict[tuple[str, str], LinkTimes] = {}
    per_request: dict[tuple[str, str, int], list[float]] = {}
    spans: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for receiver, report in reports.items():
        for who, keys, duration, start, stop in report["transfers"]:
            request = int(str(next(iter(keys))).rsplit("-", 1)[1])
            if request < w or who not in device_of:
                continue
            pair = (device_of[who], device_of[receiver])
            entry = per_request.setdefault((*pair, request), [0, 0.0])
            entry[0] += sum(keys.values())
            entry[1] += duration
            spans.setdefault(pair, []).append((start, stop))
    for (a, b, _), (nbytes, seconds) in sorted(per_request.items()):
        link = links.setdefault((a, b), LinkTimes())
        link.nbytes.append(nbytes)
        link.seconds.append(seconds)
    for pair, intervals in spans.items():
        links[pair].busy_s = _union(intervals)
    return PlacedRun(
        devices=[s.devices for s in stages],
        requests=settings.requests,
        wall_s=finished[-1] - finished[w],
        latencies_ms=[(f - s) * 1000 for s, f in zip(submitted[w:], finished[w:])],
        compute_ms=compute,
        links=links,
        outputs=outputs,
        starts=starts,
    )


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
            feeds[k] = [client.scatter(mine, workers=[worker], hash=False) for worker in stage.workers]
    return feeds


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


def pingpong(client, source: str, target: str, sizes: Sequence[int], repeats: int = 3) -> list[tuple[int, float]]:
    """``(bytes, seconds)`` of each transfer of an array of each size, made on worker ``source`` and read by a task
    on worker ``target`` (addresses), timed by Dask's transfer log on ``target``; ``repeats`` per size."""
    run = f"ping-{uuid.uuid4().hex[:12]}"
    samples = []
    for i in range(repeats):
        for nbytes in sizes:
            tag = f"{run}-{nbytes}-{i}"
            data = client.submit(_make, nbytes, key=f"{tag}-0", workers=[source], pure=False)
            client.submit(_touch, data, key=f"{tag}-touch", workers=[target], pure=False).result()
            del data
    for who, keys, duration, _, _ in client.run(_collect, run, workers=[target])[target]["transfers"]:
        if who == source:
            samples.append((sum(keys.values()), duration))
    return samples


@dataclass
class DeviceSamples:
    """What :func:`probe_device` timed on one worker (seconds)."""

    occupancy: list[tuple[int, float]] = field(default_factory=list)  # (bytes through the session, task start to start)
    chains: list[tuple[int, float]] = field(default_factory=list)  # (tasks in the chain, submission to completion)
    hops: list[float] = field(default_factory=list)  # start of a chain's task to the next one's, on the worker


def probe_device(client, worker: str, sizes: Sequence[int], requests: int = 20, chains: Sequence[int] = (1, 2, 3, 4),
                 repeats: int = 3, window: int = 8, warmup: int = 3,
                 executor: str = DEFAULT_EXECUTOR) -> DeviceSamples:  # fmt: skip
    """Time stage tasks of an echo session on ``worker`` (module docstring): per size in ``sizes`` (bytes of the
    tensor a task reads and returns), ``requests`` tasks with ``window`` in flight after ``warmup``; then
    ``repeats`` chains of each length in ``chains`` of tasks reading a 1 kB tensor, one chain at a time.

    Raises PlacedError when the worker is missing or its echo session cannot start.
    """
    require("distributed", "farm", "probing a Dask worker")
    from distributed import wait

    run = f"probe-{uuid.uuid4().hex[:12]}"
    env = {"NUM_THREADS": "1", "EXECUTOR": executor}
    names = ("x",)
    try:
        for k in range(len(sizes) + 1):  # a session per size, the last for the chains
            loaded = client.submit(_load, run, k, None, ECHO, env, key=f"{run}-load-{k}", workers=[worker],
                                   allow_other_workers=False, pure=False)  # fmt: skip
            _result(loaded, f"the echo session on {worker}", "start", time.monotonic() + 60)
        samples = DeviceSamples()
        for k, nbytes in enumerate(sizes):
            feed = client.scatter({"x": np.ones(nbytes, dtype=np.uint8)}, workers=[worker], hash=False)
            pending: list = []
            for r in range(warmup + requests):
                if len(pending) >= window:
                    wait(pending.pop(0))  # the outputs stay on the worker, as a stage's until the next reads them
                pending.append(_submit(client, _stage, run, k, r, names, names, feed, worker=worker,
                                       key=f"{run}-stage-{k}-{r}", priority=-r))  # fmt: skip
            wait(pending)
        chain_feed = client.scatter({"x": np.ones(1 << 10, dtype=np.uint8)}, workers=[worker], hash=False)
        k, r = len(sizes), 0
        for _ in range(repeats):
            for length in chains:
                start = time.perf_counter()
                dep = chain_feed
                for _ in range(length):
                    dep = _submit(client, _stage, run, k, r, names, names, dep, worker=worker, key=f"{run}-chain-{r}")
                    r += 1
                dep.result()
                samples.chains.append((length, time.perf_counter() - start))
        times = client.run(_collect, run, workers=[worker])[worker]["times"]
        starts = dict((req, start) for req, _, start in times[len(sizes)])
        first = 0
        for _ in range(repeats):
            for length in chains:
                samples.hops += [starts[i + 1] - starts[i] for i in range(first, first + length - 1)]
                first += length
        for k, nbytes in enumerate(sizes):
            starts = [start for req, _, start in sorted(times[k]) if req >= warmup]
            samples.occupancy += [(2 * nbytes, b - a) for a, b in zip(starts, starts[1:])]
        return samples
    finally:
        client.run(_forget, run, workers=[worker], on_error="ignore")


if __name__ == "__main__":
    _serve(sys.argv[1])
