"""Profile a model on a device: onert's per-op Chrome trace, checked against the model, and per-op rows
(their table is ``solver.deploy.report.profile_table``).

The trace is written as the device returned it (what ``solve partition`` reads), then read back with
``solver.io.trace`` and checked against the model, so the table shows exactly the weights a partition
would use: per op the median over the timed runs (the first, preparing run left out).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devices.base import BackendConfig, Device, Measurement, MeasureSettings
from devices.errors import DeviceError
from solver.io.files import write_json
from solver.io.tflite import read_model
from solver.io.trace import attach_weights, read_trace


@dataclass(frozen=True)
class OpRow:
    """One op of the profile."""

    index: int
    type: str  # TFLite op name
    backend: str  # the backend that ran it, from the trace
    time_us: float  # median over the timed runs


@dataclass
class ProfileResult:
    """A profile: the measurement, the trace file, the per-op rows (slowest first) and notes."""

    model: Path
    device: str
    config: BackendConfig
    measurement: Measurement
    trace_path: Path | None  # None when the trace was not kept
    rows: list[OpRow]
    notes: list[str] = field(default_factory=list)

    @property
    def total_us(self) -> float:
        """Sum of the per-op medians."""
        return sum(r.time_us for r in self.rows)

    def to_json(self) -> dict:
        """The profile for ``--json``: model, device, configuration, the measurement and every op, slowest first."""
        return {
            "model": str(self.model),
            "device": self.device,
            "configuration": self.config.env_string(),
            "timed_runs": len(self.measurement.times_ms),
            "time_ms": self.measurement.time_ms,
            "peak_rss_kb": self.measurement.peak_rss_kb,
            "trace": str(self.trace_path) if self.trace_path is not None else None,
            "total_us": self.total_us,
            "ops": [{"index": r.index, "type": r.type, "backend": r.backend, "time_us": r.time_us} for r in self.rows],
            "notes": list(self.notes),
        }


def profile_model(
    model_path: str | Path,
    device: Device,
    runs: int = 10,
    config: BackendConfig | None = None,
    out: str | Path | None = None,
    *,
    warmup: int = 1,
    seed: int = 0,
    timeout: float = 600.0,
) -> ProfileResult:
    """Measure ``model_path`` on ``device`` with onert's per-op tracing and write the trace to ``out``.

    ``runs`` timed runs follow ``warmup`` warm-up runs (the trace holds them all; the table and
    ``solve partition`` leave the first out). The configuration's outputs are checked against an
    all-cpu run, so a profile of a configuration that computes wrong answers is refused.

    Raises
    ------
    ModelError
        ``model_path`` is not a TFLite model.
    DeviceError
        The configuration did not run, or the device returns no trace (a lookup dump).
    TraceError
        The trace does not match the model.
    """
    model_path = Path(model_path)
    model = read_model(model_path)
    config = config or BackendConfig()
    settings = MeasureSettings(warmup=warmup, repeats=runs, trace=True, timeout=timeout, seed=seed)
    measurement = device.measure(model_path, config, settings)
    if not measurement.valid:
        raise DeviceError(f"{model_path}: profiling on {device.name} failed: {measurement.reason}")
    if measurement.trace is None:
        raise DeviceError(f"{model_path}: {device.name} returns no per-op trace")
    with tempfile.TemporaryDirectory() as tmp:
        # Checked before anything is written: a trace that does not match the model is not kept.
        scratch = write_json(Path(tmp) / "trace.chrome.json", measurement.trace)
        times = read_trace(scratch)
        graph = model.op_graph()
        notes = attach_weights(graph, model, times)
    trace_path = write_json(out, measurement.trace) if out is not None else None
    rows = [OpRow(op.index, op.type, times.backends.get(op.index, "?"), times.weight(op.index)) for op in model.operators]
    rows.sort(key=lambda r: -r.time_us)
    return ProfileResult(model_path, device.name, config, measurement, trace_path, rows, notes)


def cached_trace(model_path: str | Path, device: Device, cache_dir: Path, runs: int) -> tuple[Path, bool]:
    """A trace of ``model_path`` kept in ``cache_dir``, keyed by the model's content; measured when missing.

    Returns the trace and whether it was measured now (False: it came from the cache).
    """
    out = cache_entry(cache_dir, "traces", model_path, ".chrome.json")
    if out.exists():
        return out, False
    profile_model(model_path, device, runs=runs, out=out)
    return out, True


def cache_entry(cache_dir: Path, kind: str, model_path: str | Path, suffix: str) -> Path:
    """Where a measurement of ``kind`` of a model is kept: named by the model's stem and content digest."""
    from devices.workerdevice import file_digest

    model_path = Path(model_path)
    return cache_dir / kind / f"{model_path.stem}-{file_digest(model_path)[:16]}{suffix}"
