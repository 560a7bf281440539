"""Run part models as a pipeline: one stage per process, tensors handed over in shared memory.

Model
-----
Stage k is a spawned process with its own onert session (``NUM_THREADS`` and ``EXECUTOR`` set
before the session is created). Every tensor that crosses a stage boundary, and every model
input, lives in one ``multiprocessing.shared_memory`` block with ``slots`` rows; request r uses
row ``r % slots`` of every tensor. Queues carry only request numbers. Stage k takes r from its
queue, runs its model on its input rows, copies its outputs into their rows and passes r on; the
last stage reports r to the driver. The driver admits request r only after request ``r - slots``
has left the last stage, so a row is never overwritten while a later stage may still read it
(tensors that skip stages included). Requests leave in order because every stage is FIFO.

Throughput is the requests completed after the warm-up divided by the time between the first
and the last of those completions; latency is admission to completion, so it includes waiting
for a free slot. A one-stage pipeline of the whole model is the baseline.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing import shared_memory

import numpy as np

from devices.base import DEFAULT_EXECUTOR
from devices.chain import Stage
from devices.errors import DeviceError, require
from devices.inputs import seeded_inputs

_POLL = 0.5  # seconds between liveness checks while waiting on a queue


class PipelineError(DeviceError):
    """A stage failed to load or run, died, or the pipeline timed out."""


@dataclass(frozen=True)
class PipelineSettings:
    """How to run a pipeline."""

    requests: int = 50  # timed requests
    warmup: int = 5  # requests run before timing starts
    threads_per_stage: int = 1  # onert NUM_THREADS of each stage
    executor: str = DEFAULT_EXECUTOR  # onert EXECUTOR (Linear miscomputes outputs also read inside a model)
    slots: int | None = None  # requests in flight; None: number of stages + 1
    seed: int = 0
    timeout: float = 600.0  # seconds for the whole run


@dataclass
class PipelineRun:
    """Measured figures of one pipeline run."""

    num_stages: int
    threads_per_stage: int
    requests: int
    wall_s: float  # from the first to the last timed completion
    latencies_ms: list[float]
    compute_ms: list[list[float]]  # per stage, per timed request: the onert run
    handoff_ms: list[list[float]]  # per stage, per timed request: copying outputs into shared memory
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # model outputs of the last request

    @property
    def throughput(self) -> float:
        """Completed requests per second in the steady state."""
        return (self.requests - 1) / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def latency_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    def stage_ms(self) -> list[float]:
        """Median busy time (run plus hand-off) of each stage."""
        return [statistics.median(c + h for c, h in zip(cs, hs)) for cs, hs in zip(self.compute_ms, self.handoff_ms)]


def run_pipeline(
    stages: Sequence[Stage],
    model_inputs: Sequence[str],
    model_outputs: Sequence[str],
    settings: PipelineSettings = PipelineSettings(),
) -> PipelineRun:
    """Run ``stages`` as a pipeline on seeded inputs and measure it (see the module docstring).

    Raises
    ------
    PipelineError
        A stage cannot load or run its model, dies, or the run exceeds ``settings.timeout``.
    MissingExtraError
        onert is not installed (said here, once, rather than by every stage process).
    """
    require("onert", "onert", "running a pipeline")
    ctx = mp.get_context("spawn")  # onert sessions and threads must not be inherited through fork
    k = len(stages)
    slots = settings.slots or k + 1
    hops = [ctx.Queue() for _ in range(k + 1)]  # hops[i] feeds stage i; hops[k] reaches the driver
    layouts = [ctx.Queue() for _ in range(k)]
    reports = ctx.Queue()
    env = {"NUM_THREADS": str(settings.threads_per_stage), "EXECUTOR": settings.executor}
    procs = [
        ctx.Process(
            target=_stage_main, name=stage.path.name, daemon=True,
            args=(i, stage, env, hops[i], hops[i + 1], layouts[i], reports),
        )
        for i, stage in enumerate(stages)
    ]
    deadline = time.monotonic() + settings.timeout
    blocks: list[shared_memory.SharedMemory] = []
    for p in procs:
        p.start()
    try:
        specs = {}
        for _ in range(k):
            specs.update(_get(reports, procs, deadline, "ready")[2])
        layout = {}
        for name, (shape, dtype) in specs.items():
            nbytes = max(int(np.prod(shape)) * np.dtype(dtype).itemsize * slots, 1)
            block = shared_memory.SharedMemory(create=True, size=nbytes)
            blocks.append(block)
            layout[name] = (block.name, (slots, *shape), dtype)
        for q in layouts:
            q.put((slots, layout))
        views = {n: np.ndarray(shape, dtype, buffer=b.buf) for (n, (_, shape, dtype)), b in zip(layout.items(), blocks)}
        feeds = seeded_inputs([specs[n] for n in model_inputs], settings.seed)
        run = _drive(hops, procs, reports, views, model_inputs, feeds, slots, settings, deadline)
        run.outputs = {n: views[n][(settings.warmup + settings.requests - 1) % slots].copy() for n in model_outputs}
        for _ in range(k):
            _, stage, compute, handoff = _get(reports, procs, deadline, "stats")
            run.compute_ms[stage] = compute[settings.warmup :]
            run.handoff_ms[stage] = handoff[settings.warmup :]
        return run
    finally:
        views = None  # numpy views must go before their blocks can close
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        for block in blocks:
            block.close()
            block.unlink()


def _drive(hops, procs, reports, views, model_inputs, feeds, slots, settings, deadline) -> PipelineRun:
    """Admit requests (at most ``slots`` in flight), collect completions, and time them."""
    total = settings.warmup + settings.requests
    admitted: list[float] = []
    done: list[float] = []

    def complete_one() -> None:
        r = _get(hops[-1], procs, deadline, "completion", reports)
        if r != len(done):
            raise PipelineError(f"request {r} completed out of order (expected {len(done)})")
        done.append(time.perf_counter())

    for r in range(total):
        if r >= slots:
            complete_one()
        for name, x in zip(model_inputs, feeds):
            views[name][r % slots] = x
        admitted.append(time.perf_counter())
        hops[0].put(r)
    while len(done) < total:
        complete_one()
    hops[0].put(None)
    w = settings.warmup
    k = len(procs)
    return PipelineRun(
        num_stages=k,
        threads_per_stage=settings.threads_per_stage,
        requests=settings.requests,
        wall_s=done[-1] - done[w],
        latencies_ms=[(d - a) * 1000 for a, d in zip(admitted[w:], done[w:])],
        compute_ms=[[] for _ in range(k)],
        handoff_ms=[[] for _ in range(k)],
    )


def _get(q, procs, deadline: float, what: str, errors=None):
    """The next item of ``q``; raise if a stage reported an error, died, or time ran out."""
    errors = errors if errors is not None else q
    while True:
        try:
            item = q.get(timeout=_POLL)
        except queue.Empty:
            item = None
        else:
            if errors is q and isinstance(item, tuple) and item[0] == "error":
                raise PipelineError(item[2])
            if errors is q and isinstance(item, tuple) and item[0] != what:
                raise PipelineError(f"stage {item[1]} sent '{item[0]}' while the driver waited for '{what}'")
            return item
        if errors is not q:
            try:
                message = errors.get_nowait()
            except queue.Empty:
                pass
            else:
                raise PipelineError(message[2] if message[0] == "error" else f"unexpected message {message[0]!r}")
        dead = [i for i, p in enumerate(procs) if p.exitcode not in (None, 0)]
        if dead:
            i = dead[0]
            raise PipelineError(f"stage {i} ({procs[i].name}) died (exit code {procs[i].exitcode}) while the driver waited for {what}")
        if time.monotonic() > deadline:
            raise PipelineError(f"timed out waiting for {what}")


def _stage_main(index: int, stage: Stage, env: dict, inbox, outbox, layouts, reports) -> None:
    """A stage process: load, report shapes, attach to shared memory, then serve requests until None."""
    try:
        _serve(index, stage, env, inbox, outbox, layouts, reports)
    except BaseException as exc:  # every failure must reach the driver, which otherwise waits
        reports.put(("error", index, f"stage {index} ({stage.path.name}): {exc}"))


def _serve(index: int, stage: Stage, env: dict, inbox, outbox, layouts, reports) -> None:
    os.environ.update(env)
    from devices.chain import ModelRunner

    runner = ModelRunner(stage.path, env=env)
    specs = runner.input_specs()
    warm = runner.run(seeded_inputs(specs, 0))  # prepares the session and gives the output shapes
    shapes = {n: (tuple(max(int(d), 1) for d in s), dt) for n, (s, dt) in zip(stage.inputs, specs)}
    shapes.update({n: (o.shape, str(o.dtype)) for n, o in zip(stage.outputs, warm)})
    reports.put(("ready", index, shapes))
    slots, layout = layouts.get()
    blocks = {n: shared_memory.SharedMemory(name=layout[n][0]) for n in (*stage.inputs, *stage.outputs)}
    views = {n: np.ndarray(layout[n][1], layout[n][2], buffer=b.buf) for n, b in blocks.items()}
    session = runner.session
    compute: list[float] = []
    handoff: list[float] = []
    while (r := inbox.get()) is not None:
        slot = r % slots
        t0 = time.perf_counter()
        outs = session.infer([views[n][slot] for n in stage.inputs])
        t1 = time.perf_counter()
        for n, o in zip(stage.outputs, outs):
            views[n][slot] = o
        t2 = time.perf_counter()
        compute.append((t1 - t0) * 1000)
        handoff.append((t2 - t1) * 1000)
        outbox.put(r)
    outbox.put(None)  # lets the next stage finish too (the driver ignores it)
    reports.put(("stats", index, compute, handoff))
    del views, session
    for b in blocks.values():
        b.close()
