"""Measured pipeline throughput next to what the partition predicted and next to the whole model.

Prediction: a pipeline of parts with loads L_k (sums of the traced op times) completes one request
per ``max L_k``, so its throughput is ``1 / max L_k`` and its speedup over running the whole model
(``sum L_k``) is ``sum L_k / max L_k``. Measurement: the parts as a pipeline of processes (one stage
per process, ``threads_per_stage`` threads each) against the whole model as a one-stage pipeline
with the same total number of threads, interleaved over ``rounds`` rounds (medians reported),
because two runs on a shared machine can differ by 2x.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from devices.chain import Stage
from devices.pipeline import PipelineRun, PipelineSettings, run_pipeline
from solver.deploy.split import SplitResult, read_split
from solver.deploy.verify import check_executor
from solver.errors import UsageError

# A pipeline that gains less than this over the whole model is reported as not winning.
WIN_MARGIN = 1.05


@dataclass
class PipelineComparison:
    """Predicted against measured pipeline figures, with the reasons when the pipeline loses."""

    out_dir: Path
    num_parts: int
    threads_per_stage: int
    cores: int
    predicted_ms: list[float] | None  # per part, from the trace the partition was made with
    pipelines: list[PipelineRun]  # one per round
    wholes: list[PipelineRun]  # one per round, the whole model on num_parts * threads_per_stage threads
    reasons: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return statistics.median(r.throughput for r in self.pipelines)

    @property
    def whole_throughput(self) -> float:
        return statistics.median(r.throughput for r in self.wholes)

    @property
    def speedup(self) -> float:
        return self.throughput / self.whole_throughput

    @property
    def predicted_speedup(self) -> float | None:
        return sum(self.predicted_ms) / max(self.predicted_ms) if self.predicted_ms else None

    @property
    def predicted_throughput(self) -> float | None:
        return 1000.0 / max(self.predicted_ms) if self.predicted_ms else None

    def stage_ms(self) -> list[float]:
        """Median over rounds of each stage's median busy time (run plus hand-off)."""
        per_round = [r.stage_ms() for r in self.pipelines]
        return [statistics.median(stage) for stage in zip(*per_round)]

    def handoff_ms(self) -> list[float]:
        return [statistics.median(h for r in self.pipelines for h in r.handoff_ms[k]) for k in range(self.num_parts)]

    @property
    def latency_ms(self) -> float:
        return statistics.median(r.latency_ms for r in self.pipelines)

    @property
    def whole_latency_ms(self) -> float:
        return statistics.median(r.latency_ms for r in self.wholes)

    @property
    def verdict(self) -> str:
        if self.speedup >= WIN_MARGIN:
            return f"the pipeline wins: {self.speedup:.2f}x the whole model's throughput"
        return f"the pipeline loses: {self.speedup:.2f}x the whole model's throughput"

    def to_json(self) -> dict:
        """Predicted and measured figures (medians over rounds) as a JSON document."""
        return {
            "out_dir": str(self.out_dir),
            "num_parts": self.num_parts,
            "threads_per_stage": self.threads_per_stage,
            "cores": self.cores,
            "rounds": len(self.pipelines),
            "requests": self.pipelines[0].requests,
            "predicted": None if not self.predicted_ms else {
                "part_ms": list(self.predicted_ms),
                "throughput": self.predicted_throughput,
                "speedup": self.predicted_speedup,
            },
            "measured": {
                "throughput": self.throughput,
                "speedup": self.speedup,
                "latency_ms": self.latency_ms,
                "stage_ms": self.stage_ms(),
                "handoff_ms": self.handoff_ms(),
            },
            "whole_model": {
                "threads": self.num_parts * self.threads_per_stage,
                "throughput": self.whole_throughput,
                "latency_ms": self.whole_latency_ms,
            },
            "wins": self.speedup >= WIN_MARGIN,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class ComparisonSettings:
    """How a split is measured as a pipeline: the settings of each run and the interleaved rounds.

    The whole model runs with ``run`` too, on ``threads_per_stage`` times the number of parts threads.
    """

    run: PipelineSettings = PipelineSettings()
    rounds: int = 1

    def __post_init__(self) -> None:
        r = self.run
        check_executor(r.executor)
        for what, value, least in (
            ("threads per stage", r.threads_per_stage, 1),
            ("rounds", self.rounds, 1),
            ("timed requests", r.requests, 2),  # throughput needs two completions
            ("warm-up requests", r.warmup, 0),
        ):
            if value < least:
                raise UsageError(f"{what} must be at least {least}, got {value}")
        if not r.timeout > 0:
            raise UsageError(f"the time-out must be positive, got {r.timeout:g} s")


def compare_pipeline(
    split: SplitResult | str | Path, settings: ComparisonSettings = ComparisonSettings()
) -> PipelineComparison:
    """Measure ``split`` as a pipeline and the whole model on as many threads, ``settings.rounds`` times interleaved."""
    split = split if isinstance(split, SplitResult) else read_split(split)
    run = settings.run
    stages = [Stage(split.out_dir / p.file, p.inputs, p.outputs) for p in split.parts]
    whole = [Stage(split.model, split.model_inputs, split.model_outputs)]
    k = len(stages)
    whole_run = PipelineSettings(
        requests=run.requests, warmup=run.warmup, threads_per_stage=run.threads_per_stage * k,
        executor=run.executor, seed=run.seed, timeout=run.timeout,
    )
    pipelines, wholes = [], []
    for _ in range(settings.rounds):
        wholes.append(run_pipeline(whole, split.model_inputs, split.model_outputs, whole_run))
        pipelines.append(run_pipeline(stages, split.model_inputs, split.model_outputs, run))
    comparison = PipelineComparison(
        out_dir=split.out_dir,
        num_parts=k,
        threads_per_stage=run.threads_per_stage,
        cores=len(os.sched_getaffinity(0)),
        predicted_ms=[load / 1000 for load in split.loads_us] if split.loads_us else None,
        pipelines=pipelines,
        wholes=wholes,
    )
    comparison.reasons = explain(comparison)
    return comparison


def explain(c: PipelineComparison) -> list[str]:
    """Plain reasons why the measured gain falls short (of 1x, or of the prediction)."""
    reasons = []
    threads = c.num_parts * c.threads_per_stage
    stage_ms = c.stage_ms()
    bottleneck = max(stage_ms)
    if threads > c.cores:
        reasons.append(
            f"too few cores: {c.num_parts} stages x {c.threads_per_stage} thread(s) need {threads} cores, "
            f"this machine gives {c.cores} (shared with other work), so stages wait for each other's cores"
        )
    if c.num_parts > 1 and bottleneck > 1.2 * statistics.mean(stage_ms):
        reasons.append(
            f"imbalance: the slowest stage takes {bottleneck:.1f} ms against a mean of "
            f"{statistics.mean(stage_ms):.1f} ms; throughput follows the slowest stage"
        )
    handoff = sum(c.handoff_ms())
    if handoff > 0.05 * bottleneck:
        reasons.append(f"transfer: handing tensors over costs {handoff:.2f} ms per request ({handoff / bottleneck:.0%} of the bottleneck)")
    period = 1000.0 / c.throughput
    if c.num_parts > 1 and period > 1.3 * bottleneck:
        reasons.append(
            f"overhead: a request leaves every {period:.2f} ms but the slowest stage is busy only {bottleneck:.2f} ms; "
            "the rest is queue messaging and scheduling between processes"
        )
    if c.predicted_ms:
        slowdown = bottleneck / max(c.predicted_ms)
        if slowdown > 1.3:
            reasons.append(
                f"contention: the bottleneck stage ran {slowdown:.1f}x slower in the pipeline than the trace "
                "predicts (stages share cores, caches and memory bandwidth)"
            )
    if c.num_parts > 1 and c.speedup < WIN_MARGIN:
        reasons.append(
            f"the whole model uses all {threads} threads inside each operator; a pipeline only pays off "
            "when stages get cores of their own"
        )
    return reasons
