"""``solve run``: the parts of a split run one after another, each on its backend, timed end to end.

Each part is its own onert session on its device's backend (as ``solve verify`` runs them); one round feeds the
model inputs (seeded), runs every part in order and hands tensors along by name. The whole model on cpu runs in
the same rounds, interleaved, so both see the same machine load. After ``warmup`` rounds (the first prepares
the sessions) ``rounds`` rounds are timed with ``time.perf_counter``: end-to-end, per part, and the whole model.
The machine's load average is recorded beside them: on a shared machine it says how much to trust the spread.
Every session runs with the onert settings given (``settings``: NUM_THREADS, ...), else with those of the trace
the split's predictions came from (its recorded context), else onert's defaults; the answer says which. An
end-to-end latency more than ``OFF_PREDICTION`` away from the prediction is flagged.

Memory is measured apart: the parts share this process, so their peaks cannot be told apart in it. Each part
runs once more alone in a fresh child (``devices.local.LocalDevice``, the worker of ``solve profile``) with the
same backends and executor; its figure is the child's peak RSS above its RSS before the session
(``devices.base.SessionMemory``), the same measure as a profile's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from devices.base import DEFAULT_EXECUTOR, BackendConfig, MeasureSettings, SessionMemory
from devices.chain import ModelRunner, RunError
from devices.context import MeasurementContext, measurement_context
from devices.inputs import seeded_inputs
from devices.stats import Summary, summarize
from solver.deploy.pipeline import OFF_PREDICTION
from solver.deploy.split import SplitResult, read_split
from solver.deploy.verify import check_executor, part_stages
from solver.errors import UsageError
from solver.io.tflite import read_model, uncompressed
from solver.memory.calibration import MemoryModel
from solver.memory.model import memory_terms, model_graph


@dataclass
class SequentialRun:
    """Measured end-to-end latency of the parts run in sequence, per part, and of the whole model on cpu."""

    split: SplitResult
    backends: list[str]
    latency_ms: Summary
    part_ms: list[Summary]
    whole_ms: Summary
    rounds: int
    load_average: tuple[float, float, float]
    part_memory: list[SessionMemory | None]  # each part's session alone in its own child (None: not measured)
    memory_model: MemoryModel | None = None
    predicted_memory: list[int] = field(default_factory=list)  # each part's session under ``memory_model``
    settings: dict[str, str] = field(default_factory=dict)  # the onert settings every session ran with
    notes: list[str] = field(default_factory=list)

    @property
    def predicted_ms(self) -> float | None:
        loads = self.split.loads_us
        return None if loads is None else sum(loads) / 1000

    @property
    def error(self) -> float | None:
        """Measured end-to-end median / predicted - 1 (None without a prediction)."""
        return self.latency_ms.median / self.predicted_ms - 1 if self.predicted_ms else None

    @property
    def off(self) -> bool:
        return self.error is not None and abs(self.error) > OFF_PREDICTION

    def to_json(self) -> dict:
        loads = self.split.loads_us
        memory = [None if m is None else m.session_kb * 1024 for m in self.part_memory]
        predicted = self.predicted_memory or [None] * len(memory)
        return {
            "dir": str(self.split.out_dir),
            "rounds": self.rounds,
            "latency_ms": self.latency_ms.to_json(),
            "whole_cpu_ms": self.whole_ms.to_json(),
            "predicted_ms": self.predicted_ms,
            "error": self.error,
            "off_prediction": self.off,
            "settings": dict(self.settings),
            "parts": [{"file": p.file, "backend": b, "ms": s.to_json(),
                       "predicted_ms": None if loads is None else loads[k] / 1000,
                       "predicted_memory_bytes": predicted[k], "measured_memory_bytes": memory[k]}
                      for k, (p, b, s) in enumerate(zip(self.split.parts, self.backends, self.part_ms))],  # fmt: skip
            "load_average": list(self.load_average),
            "notes": list(self.notes),
            "memory_model": None if self.memory_model is None else self.memory_model.to_json(),
        }


def run_sequential(split: SplitResult | str, rounds: int = 20, warmup: int = 2, seed: int = 0,
                   executor: str = DEFAULT_EXECUTOR, settings: dict[str, str] | None = None,
                   memory_model: MemoryModel | None = None) -> SequentialRun:
    """Time the parts of ``split`` run in sequence (see the module docstring); with ``memory_model``, predict
    each part's session memory beside the measured one (the part file's ops under ``executor``).

    Raises
    ------
    UsageError
        ``rounds`` < 1 or ``warmup`` < 0, an unknown executor, or an unreadable split directory.
    devices.chain.RunError
        onert cannot load or run a part.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise UsageError(f"--rounds must be an integer >= 1, not {rounds!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise UsageError(f"--warmup must be an integer >= 0, not {warmup!r}")
    check_executor(executor)
    split = split if isinstance(split, SplitResult) else read_split(split)
    env, where = _settings(split, executor, settings)
    stages = part_stages(split)
    runners = [ModelRunner(s.path, s.backends or "cpu", env) for s in stages]
    with uncompressed(split.model) as plain:
        whole = ModelRunner(plain, env=env)
        inputs = seeded_inputs(whole.input_specs(), seed)
        total, per_part, alone = [], [[] for _ in stages], []
        for r in range(warmup + rounds):
            tensors = dict(zip(split.model_inputs, inputs))
            start = time.perf_counter()
            for k, (stage, runner) in enumerate(zip(stages, runners)):
                begin = time.perf_counter()
                tensors.update(zip(stage.outputs, runner.run([tensors[n] for n in stage.inputs])))
                if r >= warmup:
                    per_part[k].append((time.perf_counter() - begin) * 1000)
            end = time.perf_counter()
            whole.run(inputs)
            if r >= warmup:
                total.append((end - start) * 1000)
                alone.append((time.perf_counter() - end) * 1000)
    load = os.getloadavg()
    memory = [part_memory(s.path, s.backends or "cpu", executor) for s in stages]
    predicted = [] if memory_model is None else [
        memory_model.predict(memory_terms(model_graph(read_model(s.path)), executor=executor)) for s in stages]
    return SequentialRun(split, [s.backends or "cpu" for s in stages], summarize(total),
                         [summarize(t) for t in per_part], summarize(alone), rounds, load, memory, memory_model,
                         predicted, env,
                         [f"every session ran with {' '.join(f'{k}={v}' for k, v in env.items())} ({where})"])  # fmt: skip


def _settings(split: SplitResult, executor: str, told: dict[str, str] | None) -> tuple[dict[str, str], str]:
    """The onert settings of every session and where they come from: told, else the split's trace context."""
    context = MeasurementContext.from_json(split.context)
    traced = dict(context.setting_config().settings) if context is not None else {}
    elsewhere = context.elsewhere(measurement_context("local", BackendConfig())) if context is not None else ""
    where = f"; the trace was measured elsewhere: {elsewhere}" if elsewhere else ""
    if told:
        differ = {k: traced.get(k, "unset") for k, v in told.items() if traced.get(k) != v} if context else {}
        trace = " ".join(f"{k}={v}" for k, v in differ.items())
        told_text = "--setting" + (f"; the trace was measured with {trace}" if differ else "")
        return {"EXECUTOR": executor, **told}, told_text + where
    if context is None:
        return {"EXECUTOR": executor}, "the split records no trace settings: onert's defaults"
    return {"EXECUTOR": executor, **traced}, f"the trace's: {context.threads_text()}{where}"


def part_memory(path: Path, backends: str, executor: str) -> SessionMemory | None:
    """The session memory of the model at ``path`` run alone in a fresh child (one prepare and one run).

    Raises ``devices.chain.RunError`` when the part does not run there (it ran in this process just before).
    """
    from devices.local import LocalDevice
    from solver.deploy.coldfile import measure_cold

    config = BackendConfig(tuple(backends.split(";")), settings=(("EXECUTOR", executor),))
    # read cold, as the calibration measured its sessions (docs/memory.md)
    measured = measure_cold(LocalDevice(), path, config, MeasureSettings(warmup=1, repeats=1, check_outputs=False))
    if not measured.valid:
        raise RunError(f"{path}: measuring its memory alone failed: {measured.reason}")
    return measured.memory
