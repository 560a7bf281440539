"""Measured pipeline throughput next to what the partition predicted and next to the whole model.

Prediction: a pipeline of parts with loads L_k (sums of the traced op times) completes one request
per period ``max(max L_k, T sum L_k / C)``: no faster than its slowest stage, and no faster than C cores can
do the work of every stage, each stage keeping its T threads busy (K stages of T threads on fewer than K T
cores take turns on them). Its throughput is ``1 / period`` and its speedup over running the whole model
(``sum L_k``) is ``sum L_k / period``. Measurement: the parts as a pipeline of processes (one stage
per process, ``threads_per_stage`` threads each) against the whole model as a one-stage pipeline on as
many threads, but never more threads than the machine has cores (the report says when it capped them),
interleaved over ``rounds`` rounds, because two runs on a shared machine can differ by 2x.

Honesty rules: every figure is a median over the rounds with its spread (min, max, IQR); a stage whose
measured busy time is more than ``OFF_PREDICTION`` off its prediction is flagged; the verdict compares
the rounds' paired speedups (pipeline / whole model of the same round) and says "faster" or "slower"
only when every round agrees and the median speedup's distance from 1 exceeds the speedups' spread
(their IQR, and at least ``MIN_DIFFERENCE``); otherwise, and always with fewer than ``MIN_VERDICT_ROUNDS``
rounds, it says "cannot tell". A speedup above ``min(stages, cores)`` is more than pipelining on these cores can
give: it is never "faster" (the baseline was slowed, not the pipeline fast). Predicted and measured speedups
share their baseline: when the split records the trace's context (``devices.context``), the whole model runs
on the trace's threads (at most the cores), the threads the predicted loads were measured with. Latency is
reported twice: a request's time from entering the first stage to leaving the last (queueing included), and
the sum of the stages' busy times for it (queueing excluded).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from devices.chain import Stage
from devices.context import MeasurementContext
from devices.pipeline import PipelineRun, PipelineSettings, run_pipeline
from devices.stats import Summary, summarize
from solver.deploy.split import SplitResult, read_split
from solver.deploy.verify import check_executor
from solver.errors import UsageError
from solver.io.tflite import uncompressed

OFF_PREDICTION = 0.2  # a stage measured more than 20% away from its prediction is flagged
MIN_VERDICT_ROUNDS = 3  # fewer rounds give no spread to judge a difference by
MIN_DIFFERENCE = 0.02  # a speedup within 2% of 1 is no difference, however tight the rounds
FASTER, SLOWER, CANNOT_TELL = "faster", "slower", "cannot tell"


@dataclass
class StageFigures:
    """One stage: its predicted time and its measured busy time (run plus hand-off) over every request."""

    stage: int
    predicted_us: float | None
    measured: Summary  # us, every timed request of every round

    @property
    def error(self) -> float | None:
        """measured / predicted - 1, None without a prediction."""
        return self.measured.median / self.predicted_us - 1 if self.predicted_us else None

    @property
    def off(self) -> bool:
        """More than ``OFF_PREDICTION`` away from the prediction."""
        return self.error is not None and abs(self.error) > OFF_PREDICTION

    def to_json(self) -> dict:
        return {"stage": self.stage, "predicted_us": self.predicted_us, "measured_us": self.measured.median,
                "spread_us": self.measured.iqr, "min_us": self.measured.min, "error": self.error,
                "off_prediction": self.off}


@dataclass
class PipelineComparison:
    """Predicted against measured pipeline figures, their spread, the verdict and its reasons."""

    out_dir: Path
    num_parts: int
    threads_per_stage: int
    cores: int
    predicted_ms: list[float] | None  # per part, from the trace the partition was made with
    pipelines: list[PipelineRun]  # one per round
    wholes: list[PipelineRun]  # one per round, the whole model on whole_threads threads
    whole_threads: int = 0
    load_average: tuple[float, float] | None = None  # the machine's 1-minute load average before and after
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def throughputs(self) -> Summary:
        return summarize([r.throughput for r in self.pipelines])

    @property
    def whole_throughputs(self) -> Summary:
        return summarize([r.throughput for r in self.wholes])

    @property
    def speedups(self) -> Summary:
        """Per round, the pipeline's throughput over the whole model's of the same round."""
        return summarize([p.throughput / w.throughput for p, w in zip(self.pipelines, self.wholes)])

    @property
    def throughput(self) -> float:
        return self.throughputs.median

    @property
    def whole_throughput(self) -> float:
        return self.whole_throughputs.median

    @property
    def speedup(self) -> float:
        return self.speedups.median

    @property
    def predicted_period_ms(self) -> float | None:
        """The time between two requests leaving the pipeline, with the stages sharing the cores (module doc)."""
        if not self.predicted_ms:
            return None
        return max(max(self.predicted_ms), self.threads_per_stage * sum(self.predicted_ms) / self.cores)

    @property
    def cores_limit_prediction(self) -> bool:
        """Whether the cores, not the slowest stage, set the predicted period."""
        return bool(self.predicted_ms) and self.predicted_period_ms > max(self.predicted_ms)

    @property
    def predicted_speedup(self) -> float | None:
        return sum(self.predicted_ms) / self.predicted_period_ms if self.predicted_ms else None

    @property
    def predicted_throughput(self) -> float | None:
        return 1000.0 / self.predicted_period_ms if self.predicted_ms else None

    def stages(self) -> list[StageFigures]:
        """Each stage's prediction and its busy times over every timed request of every round."""
        out = []
        for k in range(self.num_parts):
            busy = [(c + h) * 1000 for r in self.pipelines for c, h in zip(r.compute_ms[k], r.handoff_ms[k])]
            predicted = self.predicted_ms[k] * 1000 if self.predicted_ms else None
            out.append(StageFigures(k, predicted, summarize(busy)))
        return out

    def stage_ms(self) -> list[float]:
        """Median busy time (run plus hand-off) of each stage over every request of every round."""
        return [s.measured.median / 1000 for s in self.stages()]

    def handoff_ms(self) -> list[float]:
        return [statistics.median(h for r in self.pipelines for h in r.handoff_ms[k]) for k in range(self.num_parts)]

    @property
    def latency_ms(self) -> float:
        return statistics.median(r.latency_ms for r in self.pipelines)

    @property
    def service_latency_ms(self) -> float:
        """A request's latency without queueing: the median over requests of its stages' busy times summed."""
        return statistics.median(
            sum(r.compute_ms[k][i] + r.handoff_ms[k][i] for k in range(self.num_parts))
            for r in self.pipelines for i in range(len(r.compute_ms[0]))
        )  # fmt: skip

    @property
    def ceiling(self) -> int:
        """The most speedup pipelining can give here: one stage per core at best."""
        return min(self.num_parts, self.cores)

    @property
    def whole_latency_ms(self) -> float:
        return statistics.median(r.latency_ms for r in self.wholes)

    @property
    def verdict(self) -> str:
        """``faster``, ``slower`` or ``cannot tell`` (the module doc's rule)."""
        s = self.speedups
        if s.n < MIN_VERDICT_ROUNDS:
            return CANNOT_TELL
        spread = max(s.iqr, MIN_DIFFERENCE)
        if s.median > self.ceiling:
            return CANNOT_TELL  # more than the cores can give: the baseline was slowed (explain says so)
        if s.min > 1 and s.median - 1 > spread:
            return FASTER
        if s.max < 1 and 1 - s.median > spread:
            return SLOWER
        return CANNOT_TELL

    def verdict_text(self) -> str:
        s = self.speedups
        figures = f"{s.median:.2f}x the whole model's throughput (rounds {s.min:.2f} to {s.max:.2f}x)"
        if self.verdict == FASTER:
            return f"the pipeline is faster: {figures}"
        if self.verdict == SLOWER:
            return f"the pipeline is slower: {figures}"
        if s.n < MIN_VERDICT_ROUNDS:
            why = f"{s.n} round(s) give no spread to judge by (use --rounds {MIN_VERDICT_ROUNDS} or more)"
        elif s.median > self.ceiling:
            why = (f"{s.median:.2f}x is more than {self.num_parts} stages on {self.cores} cores can give "
                   f"(at most {self.ceiling}x): the whole model was slowed, the figure measures contention")
        else:
            why = "the difference is within the spread of the rounds"
        return f"cannot tell whether the pipeline is faster: {figures}; {why}"

    def to_json(self) -> dict:
        """Predicted and measured figures (medians over rounds, with spreads) as a JSON document."""
        return {
            "out_dir": str(self.out_dir),
            "num_parts": self.num_parts,
            "threads_per_stage": self.threads_per_stage,
            "cores": self.cores,
            "rounds": len(self.pipelines),
            "requests": self.pipelines[0].requests,
            "stages": [s.to_json() for s in self.stages()],
            "throughput": {
                "measured": self.throughputs.to_json(),
                "predicted": self.predicted_throughput,
                "whole_model": self.whole_throughputs.to_json(),
            },
            "predicted": None if not self.predicted_ms else {
                "part_ms": list(self.predicted_ms),
                "period_ms": self.predicted_period_ms,
                "throughput": self.predicted_throughput,
                "speedup": self.predicted_speedup,
                "limited_by": "cores" if self.cores_limit_prediction else "slowest stage",
            },
            "measured": {
                "throughput": self.throughput,
                "speedup": self.speedup,
                "speedup_per_round": [p.throughput / w.throughput for p, w in zip(self.pipelines, self.wholes)],
                "latency_ms": self.latency_ms,
                "latency_without_queueing_ms": self.service_latency_ms,
                "stage_ms": self.stage_ms(),
                "handoff_ms": self.handoff_ms(),
            },
            "whole_model": {
                "threads": self.whole_threads,
                "throughput": self.whole_throughput,
                "latency_ms": self.whole_latency_ms,
            },
            "load_average": list(self.load_average) if self.load_average else None,
            "verdict": self.verdict,
            "verdict_text": self.verdict_text(),
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ComparisonSettings:
    """How a split is measured as a pipeline: the settings of each run and the interleaved rounds.

    The whole model runs with ``run`` too, on ``threads_per_stage`` times the number of parts threads, at
    most the machine's cores.
    """

    run: PipelineSettings = PipelineSettings()
    rounds: int = MIN_VERDICT_ROUNDS

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


def trace_threads(split: SplitResult) -> tuple[int, str]:
    """The threads per stage the split's trace was measured with (its NUM_THREADS, else 1) and where from."""
    context = MeasurementContext.from_json(split.context)
    if context is not None and context.threads is not None and context.threads > 0:
        return context.threads, f"the trace's NUM_THREADS={context.threads}"
    return 1, "the default; the split records no NUM_THREADS of its trace"


def compare_pipeline(
    split: SplitResult | str | Path, settings: ComparisonSettings = ComparisonSettings()
) -> PipelineComparison:
    """Measure ``split`` as a pipeline and the whole model, ``settings.rounds`` times interleaved (module doc)."""
    split = split if isinstance(split, SplitResult) else read_split(split)
    run = settings.run
    stages = [Stage(split.out_dir / p.file, p.inputs, p.outputs) for p in split.parts]
    k = len(stages)
    cores = len(os.sched_getaffinity(0))
    context = MeasurementContext.from_json(split.context)
    # The predicted speedup's baseline is the whole model on the trace's threads: measure against the same.
    wanted = context.effective_threads if context is not None else run.threads_per_stage * k
    whole_run = PipelineSettings(
        requests=run.requests, warmup=run.warmup, threads_per_stage=min(wanted, cores),
        executor=run.executor, seed=run.seed, timeout=run.timeout,
    )
    pipelines, wholes = [], []
    load_before = os.getloadavg()[0]
    with uncompressed(split.model) as plain:  # onert reads no xz or gzip: a private plain copy while measuring
        whole = [Stage(plain, split.model_inputs, split.model_outputs)]
        for _ in range(settings.rounds):
            wholes.append(run_pipeline(whole, split.model_inputs, split.model_outputs, whole_run))
            pipelines.append(run_pipeline(stages, split.model_inputs, split.model_outputs, run))
    comparison = PipelineComparison(
        out_dir=split.out_dir,
        num_parts=k,
        threads_per_stage=run.threads_per_stage,
        cores=cores,
        predicted_ms=[load / 1000 for load in split.loads_us] if split.loads_us else None,
        pipelines=pipelines,
        wholes=wholes,
        whole_threads=whole_run.threads_per_stage,
        load_average=(load_before, os.getloadavg()[0]),
    )
    if max(comparison.load_average) > cores:
        comparison.notes.append(
            f"the machine was busy: load average {load_before:.1f} before and {comparison.load_average[1]:.1f} after, on "
            f"{cores} cores; every figure is slowed and spread by other work"
        )
    if context is not None:
        comparison.notes.append(
            f"the whole model ran on {whole_run.threads_per_stage} thread(s), the trace's ({context.threads_text()}"
            f"{'; at most the cores' if wanted > cores else ''}): the baseline of the predicted speedup too"
        )
    elif wanted > cores:
        comparison.notes.append(
            f"the whole model ran on {cores} thread(s), the machine's cores, not the pipeline's {wanted}: "
            "more threads than cores would only slow it down and flatter the pipeline"
        )
    if context is None and split.loads_us:
        comparison.notes.append("the split does not record the trace's threads: the predicted speedup's baseline "
                                "may run on other threads than the measured one")  # fmt: skip
    comparison.reasons = explain(comparison)
    return comparison


def explain(c: PipelineComparison) -> list[str]:
    """Plain reasons why the measured gain falls short (of 1x, or of the prediction), and predictions that missed."""
    reasons = []
    threads = c.num_parts * c.threads_per_stage
    stages = c.stages()
    stage_ms = [s.measured.median / 1000 for s in stages]
    bottleneck = max(stage_ms)
    busy = c.load_average is not None and max(c.load_average) > c.cores
    for s in stages:
        if s.off:
            if threads > c.cores:
                cause = f"the {c.num_parts} stages share {c.cores} core(s): a stage's time includes waiting for one"
            elif busy:
                cause = f"the machine was busy (load average {max(c.load_average):.1f} on {c.cores} cores)"
            else:
                cause = "the weights predict the part poorly alone: solve partition --calibrate corrects them"
            reasons.append(
                f"stage {s.stage} measured {s.measured.median / 1000:.2f} ms (IQR {s.measured.iqr / 1000:.2f}) against "
                f"{s.predicted_us / 1000:.2f} ms predicted: {s.error:+.0%}, more than {OFF_PREDICTION:.0%} off "
                f"({cause})"
            )
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
    if c.num_parts > 1 and c.speedups.median > c.ceiling:
        reasons.append(
            f"implausible: {c.speedups.median:.2f}x from {c.num_parts} stages on {c.cores} cores is more than "
            f"pipelining can give (at most {c.ceiling}x); the "
            f"whole model's {c.whole_threads} threads suffered more from contention than the stages did, so the "
            "baseline, not the pipeline, explains the figure"
        )
    if c.num_parts > 1 and c.verdict != FASTER:
        reasons.append(
            f"the whole model uses all {c.whole_threads} threads inside each operator; a pipeline only pays off "
            "when stages get cores of their own"
        )
    return reasons
