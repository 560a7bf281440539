"""Profile a model on a device in rounds: onert's per-op Chrome traces of every round kept in one trace, per-op
and whole-run statistics, and a verdict on whether the measurement is stable (the table is
``solver.deploy.report.profile_table``).

Model of a profile: round r is a fresh process (``MeasureSettings.round = r``) that runs ``warmup`` warm-up
runs (the first prepares the session) and ``runs`` timed runs with tracing. After ``rounds`` rounds the timed
runs' totals (the sum of the op times of one run, in the order they ran) are judged with
``devices.stats.stability``: the robust CV against ``target_cv``, outlier runs, a drift over time. More rounds
follow while the verdict is "unstable" and the budget of ``max_runs`` timed runs allows. The trace written
holds every round's events (``solver.io.trace.rounds_trace``), so ``solve partition`` reads exactly the runs
the table shows, and the weight of an op is ``weights`` (median by default) over its timed runs.

Measurements go through the device's cache when it has one: a profile whose rounds all came from the cache
says so with when they were measured; an unstable profile's rounds are dropped from the cache, so the next
profile measures again instead of returning the same noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devices.base import BackendConfig, Device, Measurement, MeasureSettings
from devices.context import LoadMonitor, MeasurementContext, cores, measurement_context, probe_load
from devices.errors import DeviceError
from devices.stats import DEFAULT_TARGET_CV, Stability, Summary, check_estimator, stability, summarize
from solver.errors import UsageError
from solver.io.files import write_json
from solver.io.tflite import read_model, uncompressed
from solver.io.trace import OpTimes, attach_weights, rounds_trace, trace_facts, trace_times


@dataclass(frozen=True)
class ProfileSettings:
    """How long to measure and how to turn runs into weights (checked when built: ``UsageError``)."""

    runs: int = 10  # timed runs per round
    warmup: int = 1  # warm-up runs per round, the preparing run included
    rounds: int = 3  # rounds at least, each a fresh process
    max_runs: int | None = None  # budget: no round that would pass this many timed runs (None: 2 x runs x rounds)
    target_cv: float = DEFAULT_TARGET_CV  # stable when the run totals' robust CV is at most this
    weights: str = "median"  # estimator of an op's weight over its timed runs: median, min, mean, pNN
    seed: int = 0
    timeout: float = 600.0  # seconds per round

    def __post_init__(self) -> None:
        if self.max_runs is None:
            object.__setattr__(self, "max_runs", 2 * self.runs * self.rounds if type(self.runs) is int else 0)
        for name, least in (("runs", 1), ("warmup", 1), ("rounds", 1), ("seed", 0)):
            value = getattr(self, name)
            if type(value) is not int or value < least:
                raise UsageError(f"{name} must be an integer >= {least}, got {value!r}")
        if type(self.max_runs) is not int or self.max_runs < self.runs * self.rounds:
            raise UsageError(f"max runs ({self.max_runs!r}) must be at least runs x rounds ({self.runs * self.rounds})")
        if not (math.isfinite(self.target_cv) and self.target_cv > 0):
            raise UsageError(f"the target CV must be a finite number > 0, got {self.target_cv!r}")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise UsageError(f"the time-out must be a finite number of seconds > 0, got {self.timeout!r}")
        try:
            check_estimator(self.weights)
        except ValueError as err:
            raise UsageError(str(err)) from err


@dataclass(frozen=True)
class OpRow:
    """One op of the profile: its weight (the estimator over its timed runs) and their summary (us)."""

    index: int
    type: str  # TFLite op name
    backend: str  # the backend that ran it, from the trace
    time_us: float  # the weight: the estimator over the timed runs
    runs: Summary


@dataclass
class ProfileResult:
    """A profile: the rounds measured, the trace file, per-op rows (slowest first), the verdict and notes."""

    model: Path
    device: str
    config: BackendConfig
    settings: ProfileSettings
    measurements: list[Measurement]  # one per round, in order
    trace_path: Path | None  # None when the trace was not kept
    rows: list[OpRow]
    totals: Stability  # over the run totals (ms), in the order the runs ran
    notes: list[str] = field(default_factory=list)
    context: MeasurementContext | None = None  # where and how it ran, with the load before and during each round
    contention: str = ""  # why the figures measure contention (threads beyond the free cores), else ""

    @property
    def stable(self) -> bool:
        """The run totals are stable and the threads had a core each: never stable under contention."""
        return self.totals.stable and not self.contention

    @property
    def reasons(self) -> list[str]:
        """Why the profile is UNSTABLE (empty when it is stable)."""
        return ([self.contention] if self.contention else []) + list(self.totals.reasons)

    @property
    def from_cache(self) -> bool:
        """Every round came from the measurement cache."""
        return all(m.from_cache for m in self.measurements)

    @property
    def measured_at(self) -> str:
        """When the first round was measured (ISO 8601, UTC; empty when the device does not say)."""
        return min((m.measured_at for m in self.measurements if m.measured_at), default="")

    @property
    def run_time(self) -> Summary:
        """onert's own run time of every timed run of every round (ms)."""
        return summarize([t for m in self.measurements for t in m.times_ms])

    @property
    def peak_rss_kb(self) -> int:
        return max(m.peak_rss_kb for m in self.measurements)

    @property
    def memory_kb(self) -> Summary:
        """The session's memory (peak RSS above the RSS before the session, ``devices.base.SessionMemory``) over
        the rounds that measured it (KB)."""
        return summarize([float(m.memory.session_kb) for m in self.measurements if m.memory is not None])

    def memory_json(self) -> dict:
        """The session's memory per round and over the rounds, a record of its own (``--json``'s ``memory``).

        onert's Python API (0.1.0) reports no memory figures of its own, so these are the process's."""
        return {
            "what": "peak RSS of the measuring process above its RSS before the session (onert imported)",
            "rounds": [None if m.memory is None else m.memory.to_json() for m in self.measurements],
            "session_kb": self.memory_kb.to_json(),
        }

    @property
    def total_us(self) -> float:
        """Sum of the per-op weights."""
        return sum(r.time_us for r in self.rows)

    def spread(self) -> str:
        """Rounds, runs and the spread of the run totals, and the verdict, in one phrase."""
        t = self.totals.summary
        return (f"{len(self.measurements)} round(s), {t.n} timed runs, run totals median {t.median:.3g} ms, "
                f"IQR {t.iqr:.3g} ms, robust CV {100 * t.robust_cv:.1f}%, {'stable' if self.stable else 'UNSTABLE'}")  # fmt: skip

    def origin(self) -> str:
        """Where the figures come from, in one line: measured now, or the cache and when it measured them."""
        if self.from_cache:
            return f"from the measurement cache, measured {self.measured_at} ({self.spread()}; --refresh measures again)"
        return f"measured now ({self.spread()})"

    def to_json(self) -> dict:
        """The profile for ``--json``: the verdict and its reasons, the spread of the runs, every op slowest first."""
        return {
            "model": str(self.model),
            "device": self.device,
            "configuration": self.config.env_string(),
            "stable": self.stable,
            "reasons": self.reasons,
            "contended": bool(self.contention),
            "context": self.context.to_json() if self.context is not None else None,
            "rounds": len(self.measurements),
            "timed_runs": self.totals.summary.n,
            "target_cv": self.settings.target_cv,
            "weights": self.settings.weights,
            "from_cache": self.from_cache,
            "measured_at": self.measured_at,
            "time_ms": self.run_time.median,
            "run_time_ms": self.run_time.to_json(),
            "run_totals_ms": self.totals.summary.to_json(),
            "outlier_runs": list(self.totals.outliers),
            "fast_runs": list(self.totals.fast),
            "drift": {"z": self.totals.drift.z, "shift": self.totals.drift.shift},
            "peak_rss_kb": self.peak_rss_kb,
            "memory": self.memory_json(),
            "trace": str(self.trace_path) if self.trace_path is not None else None,
            "total_us": self.total_us,
            "ops": [
                {"index": r.index, "type": r.type, "backend": r.backend, "time_us": r.time_us, "runs": r.runs.to_json()}
                for r in self.rows
            ],
            "notes": list(self.notes),
        }


def profile_model(
    model_path: str | Path,
    device: Device,
    settings: ProfileSettings = ProfileSettings(),
    config: BackendConfig | None = None,
    out: str | Path | None = None,
    on_round: Callable[[int, bool, str], None] | None = None,
) -> ProfileResult:
    """Measure ``model_path`` on ``device`` in rounds with onert's per-op tracing (see the module docstring) and
    write the trace of every round to ``out``.

    ``on_round(rounds done, more to come, what the run totals say)`` follows the rounds (progress output).

    The configuration's outputs are checked against an all-cpu run, so a profile of a configuration that
    computes wrong answers is refused.

    Raises
    ------
    ModelError
        ``model_path`` is not a TFLite model.
    DeviceError
        The configuration did not run, or the device returns no per-op trace (a lookup dump).
    TraceError
        The trace does not match the model.
    """
    model_path = Path(model_path)
    model = read_model(model_path)
    config = config or BackendConfig()
    measurements: list[Measurement] = []
    local = device.name == "local"  # the load we can see is this machine's
    loads = [probe_load()] if local else []
    with uncompressed(model_path) as runnable:  # onert reads no xz or gzip: a private plain copy while measuring
        while True:
            with LoadMonitor() as monitor:
                measurements.append(_round(model_path, runnable, device, config, settings, len(measurements)))
            if local and not measurements[-1].from_cache:
                loads.append(monitor.load())
            layout = [(settings.warmup, settings.runs)] * len(measurements)
            document = rounds_trace([m.trace for m in measurements], layout)
            # Read back and checked against the model before anything is written.
            times = trace_times(document, Path(out) if out is not None else Path("the measured trace"))
            totals = stability(_totals_ms(times, measurements), settings.target_cv)
            enough = len(measurements) >= settings.rounds
            done = enough and (totals.stable or (len(measurements) + 1) * settings.runs > settings.max_runs)
            if on_round is not None:
                summary = totals.summary
                on_round(len(measurements), not done, f"run totals median {summary.median:.2f} ms, robust CV "
                                                      f"{summary.robust_cv:.1%}")  # fmt: skip
            if done:
                break
        # Rounds from the cache were judged when they were measured: today's load says nothing of them.
        context = measurement_context(device.name, config, tuple(loads) if len(loads) > 1 else ())
        contention = contention_reason(context)
        if contention or not totals.stable:
            _forget(device, runnable, config, settings, len(measurements))
    graph = model.op_graph()
    notes = attach_weights(graph, model, times, settings.weights)
    result = ProfileResult(model_path, device.name, config, settings, measurements, None, [], totals, notes, context,
                           contention)  # fmt: skip
    if not result.stable:
        notes.insert(0, "UNSTABLE measurement: " + "; ".join(result.reasons) + " (not kept in the measurement cache)")
    about = {
        "stable": result.stable, "reasons": result.reasons, "contended": bool(contention),
        "measured_at": result.measured_at, "timed_runs": totals.summary.n, "run_totals_ms": totals.summary.to_json(),
        "device": device.name, "context": context.to_json(),
    }  # fmt: skip
    if out is not None:
        document["otherData"]["nnpart"].update(about, memory=result.memory_json())
        result.trace_path = write_json(out, document)
    result.rows = sorted(
        (OpRow(op.index, op.type, times.backends.get(op.index, "?"), times.weight(op.index, settings.weights),
               summarize(times.timed(op.index))) for op in model.operators),
        key=lambda r: -r.time_us,
    )  # fmt: skip
    return result


def contention_reason(context: MeasurementContext) -> str:
    """Why figures measured in ``context`` measure contention (its threads did not find a core each before or
    during a round), with the thread count that fits; "" when they had their cores."""
    load = context.contended()
    if load is None:
        return ""
    fits = load.fitting_threads()
    when = "before measuring" if load is context.loads[0] else "while measuring"
    remedy = (f"measure on a quiet machine or with --setting NUM_THREADS={fits}" if fits < context.effective_threads
              else "even one thread had no core of its own: measure on a quieter machine")  # fmt: skip
    return (f"contended: {context.threads_text()} on {load.describe()} {when}: the figures measure contention, not "
            f"the model; {remedy}")


def _round(
    model_path: Path, runnable: Path, device: Device, config: BackendConfig, settings: ProfileSettings, r: int
) -> Measurement:
    """Round ``r`` measured on ``runnable`` (``model_path`` itself, or its uncompressed copy)."""
    measured = device.measure(runnable, config, _measure_settings(settings, r))
    if not measured.valid:
        raise DeviceError(f"{model_path}: profiling on {device.name} failed: {measured.reason}")
    if measured.trace is None:
        raise DeviceError(f"{model_path}: {device.name} returns no per-op trace")
    return measured


def _measure_settings(settings: ProfileSettings, r: int) -> MeasureSettings:
    return MeasureSettings(settings.warmup, settings.runs, True, settings.timeout, settings.seed, round=r)


def _totals_ms(times: OpTimes, measurements: list[Measurement]) -> list[float]:
    """Each timed run's total in ms, in the order they ran: the sum of its op times (onert's run time when the
    trace's ops were not timed equally often)."""
    totals = times.run_totals()
    if totals is None:
        return [t for m in measurements for t in m.times_ms]
    return [t / 1000 for t in totals]


def _forget(device: Device, model: Path, config: BackendConfig, settings: ProfileSettings, rounds: int) -> None:
    """Drop the rounds of an unstable profile from the device's measurement cache (if it has one)."""
    discard = getattr(device, "discard", None)
    if discard is not None:
        for r in range(rounds):
            discard(model, config, _measure_settings(settings, r))


def cached_trace(
    model_path: str | Path, device: Device, cache_dir: Path, settings: ProfileSettings = ProfileSettings(),
    refresh: bool = False,
) -> tuple[Path, str]:  # fmt: skip
    """A trace of ``model_path`` kept in ``cache_dir``, keyed by the model's content, and where it came from.

    A kept trace is used when its profile was stable; a missing, unjudged or unstable one (or any, with
    ``refresh``) is measured again and replaces the entry. Returns the trace and one line saying whether it
    was measured now or comes from the cache (when it was measured, its spread).

    Nobody chose the threads here: on this machine, when onert's default (every core) exceeds the cores other
    work leaves free, the profile runs on the threads that fit (NUM_THREADS), and the line says so.
    """
    out = cache_entry(cache_dir, "traces", model_path, ".chrome.json")
    facts = trace_facts(out) if out.exists() and not refresh else {}
    if facts.get("stable") is True:
        return out, f"from the measurement cache, measured {facts.get('measured_at', '?')} ({facts_line(facts)})"
    config, threads = BackendConfig(), ""
    if device.name == "local":
        load, all_cores = probe_load(), cores()
        fits = load.fitting_threads()
        if not load.fits(all_cores) and fits < all_cores:
            config = BackendConfig(settings=(("NUM_THREADS", str(fits)),))
            threads = (f" with NUM_THREADS={fits}: onert's default threads ({all_cores}) exceed the cores other work "
                       f"leaves free ({load.free_cores:.1f})")  # fmt: skip
    result = profile_model(model_path, device, settings, config=config, out=out)
    if result.from_cache:
        return out, result.origin()
    return out, f"measured now, profiling it on the {device.name} onert device{threads} ({result.spread()})"


def facts_line(facts: dict) -> str:
    """The spread a cached trace recorded, in one phrase."""
    spread = facts.get("run_totals_ms") or {}
    if not spread:
        return "spread not recorded"
    return (f"{facts.get('timed_runs', '?')} timed runs, run totals median {spread.get('median', float('nan')):.3g} ms, "
            f"robust CV {100 * (spread.get('robust_cv') or 0):.1f}%, stable")  # fmt: skip


def cache_entry(cache_dir: Path, kind: str, model_path: str | Path, suffix: str) -> Path:
    """Where a measurement of ``kind`` of a model is kept: named by the model's stem and content digest."""
    from devices.workerdevice import file_digest

    model_path = Path(model_path)
    return cache_dir / kind / f"{model_path.stem}-{file_digest(model_path)[:16]}{suffix}"
