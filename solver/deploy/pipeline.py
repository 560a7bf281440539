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
    def verdict(self) -> str:
        if self.speedup >= WIN_MARGIN:
            return f"the pipeline wins: {self.speedup:.2f}x the whole model's throughput"
        return f"the pipeline loses: {self.speedup:.2f}x the whole model's throughput"

    def text(self) -> str:
        total = self.num_parts * self.threads_per_stage
        lines = [
            f"pipeline {self.out_dir}: {self.num_parts} stages x {self.threads_per_stage} thread(s) on {self.cores} cores, "
            f"{len(self.pipelines)} round(s) of {self.pipelines[0].requests} requests (medians)",
            f"{'':34} {'predicted':>10} {'measured':>10}",
        ]
        if self.predicted_ms:
            lines.append(f"{'throughput (inferences/s)':34} {self.predicted_throughput:10.2f} {self.throughput:10.2f}")
            lines.append(f"{'speedup over the whole model':34} {self.predicted_speedup:10.2f} {self.speedup:10.2f}")
        else:
            lines.append(f"{'throughput (inferences/s)':34} {'-':>10} {self.throughput:10.2f}")
            lines.append(f"{'speedup over the whole model':34} {'-':>10} {self.speedup:10.2f}")
        lines.append(f"{'latency (ms, median)':34} {'':>10} {statistics.median(r.latency_ms for r in self.pipelines):10.1f}")
        lines.append(
            f"whole model, {total} thread(s): {self.whole_throughput:.2f} inferences/s, "
            f"latency {statistics.median(r.latency_ms for r in self.wholes):.1f} ms"
        )
        predicted = [f"{p:8.1f}" for p in self.predicted_ms] if self.predicted_ms else ["       -"] * self.num_parts
        for k, (p, m, h) in enumerate(zip(predicted, self.stage_ms(), self.handoff_ms())):
            lines.append(f"  stage {k}: predicted {p} ms, measured {m:8.2f} ms (hand-off {h:.3f} ms)")
        lines.append(self.verdict)
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)


def compare_pipeline(
    split: SplitResult | str | Path, settings: PipelineSettings = PipelineSettings(), rounds: int = 1
) -> PipelineComparison:
    """Measure ``split`` as a pipeline and the whole model on as many threads, ``rounds`` times interleaved."""
    split = split if isinstance(split, SplitResult) else read_split(split)
    stages = [Stage(split.out_dir / p.file, p.inputs, p.outputs) for p in split.parts]
    whole = [Stage(split.model, split.model_inputs, split.model_outputs)]
    k = len(stages)
    whole_settings = PipelineSettings(
        requests=settings.requests, warmup=settings.warmup, threads_per_stage=settings.threads_per_stage * k,
        executor=settings.executor, seed=settings.seed, timeout=settings.timeout,
    )
    pipelines, wholes = [], []
    for _ in range(rounds):
        wholes.append(run_pipeline(whole, split.model_inputs, split.model_outputs, whole_settings))
        pipelines.append(run_pipeline(stages, split.model_inputs, split.model_outputs, settings))
    comparison = PipelineComparison(
        out_dir=split.out_dir,
        num_parts=k,
        threads_per_stage=settings.threads_per_stage,
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
