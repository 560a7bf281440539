"""What every device speaks: a backend configuration, measurement settings and a measurement."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from devices.stats import Summary, summarize

# onert's executors. Our own runs (verification, pipelines) use Dataflow: onert 0.1.0's default Linear
# executor returns wrong values for a model output that other operators of the same model also read.
EXECUTORS = ("Linear", "Dataflow", "Parallel")
DEFAULT_EXECUTOR = "Dataflow"


@dataclass(frozen=True)
class BackendConfig:
    """A backend assignment as onert reads it from the environment when a session is created.

    Precedence in onert: ``op_indices`` (OP_BACKEND_MAP) over ``op_types`` (OP_BACKEND_<type>) over the
    default, the first of ``backends``.
    """

    backends: tuple[str, ...] = ("cpu",)  # backends to load; the first is the default for every op
    op_types: tuple[tuple[str, str], ...] = ()  # (onert op type, backend): OP_BACKEND_<type>=<backend>
    op_indices: tuple[tuple[int, str], ...] = ()  # (op index, backend): OP_BACKEND_MAP="i=b;..."
    settings: tuple[tuple[str, str], ...] = ()  # other onert variables: EXECUTOR, NUM_THREADS, ...

    def environment(self) -> dict[str, str]:
        """The environment variables that select this configuration (besides ``backends``)."""
        env = {f"OP_BACKEND_{op_type}": backend for op_type, backend in self.op_types}
        if self.op_indices:
            env["OP_BACKEND_MAP"] = ";".join(f"{i}={b}" for i, b in self.op_indices)
        env.update(self.settings)
        return env

    def env_string(self) -> str:
        """ONE's configuration string: ``BACKENDS="cpu;ruy" OP_BACKEND_Conv2D=ruy ...``."""
        words = [f'BACKENDS="{";".join(self.backends)}"']
        for key, value in self.environment().items():
            words.append(f'{key}="{value}"' if ";" in value or " " in value else f"{key}={value}")
        return " ".join(words)


@dataclass(frozen=True)
class MeasureSettings:
    """How to measure: warm-up and timed runs, tracing, time-out and the seed of the inputs."""

    warmup: int = 1
    repeats: int = 3
    trace: bool = False  # also collect onert's per-op Chrome trace
    timeout: float = 300.0  # seconds for the whole measurement
    seed: int = 0  # inputs are drawn from this seed, so runs are comparable
    check_outputs: bool = True  # compare outputs with an all-cpu reference run
    # Which round of an interleaved or repeated measurement this is: rounds are measured (and cached) apart,
    # so measuring A B A B gives each A its own fresh process and its own cache entry. Round 0 is a plain
    # measurement (its cache key is the one it had before rounds existed).
    round: int = 0
    # Opt-in: the measuring process's layout. glibc's malloc moves its mmap threshold as blocks are freed, so
    # a process's peak RSS depends on its allocation history: a 1,000-byte environment variable that nothing
    # reads re-draws up to half of the differences between backend assignments (benchmarks/surrogate.py).
    # Layout k > 0 pads the worker's environment with k KB, so rounds under different layouts sample that
    # history instead of repeating one draw of it. Layout 0 is the plain process (and the key it had before).
    layout: int = 0


@dataclass(frozen=True)
class SessionMemory:
    """The memory of one onert session, measured in the process that ran it (KB).

    ``before_kb`` is the process's resident set after onert was imported and before the session was made;
    ``peak_kb`` its peak resident set from then to the end of the timed runs (the kernel's high-water mark,
    reset just before the session where Linux allows). ``session_kb`` = peak - before: what the session
    (its constants, arena, buffers and fixed cost) added to the process.
    """

    before_kb: int
    peak_kb: int

    @property
    def session_kb(self) -> int:
        return max(self.peak_kb - self.before_kb, 0)

    def to_json(self) -> dict:
        return {"before_kb": self.before_kb, "peak_kb": self.peak_kb, "session_kb": self.session_kb}


@dataclass
class Measurement:
    """One configuration measured once: times of the timed runs, peak memory and validity.

    An invalid configuration (fails to prepare, crashes, times out, or computes outputs that differ from
    the all-cpu reference) is a result with ``valid=False`` and the reason, not an exception.
    """

    valid: bool
    reason: str = ""
    times_ms: list[float] = field(default_factory=list)
    peak_rss_kb: int = 0
    trace: dict | None = None  # Chrome trace JSON when requested
    measured_at: str = ""  # when it was measured (ISO 8601, UTC); kept by the cache
    from_cache: bool = field(default=False, compare=False)  # this answer came from the measurement cache
    memory: SessionMemory | None = None  # the session's own memory, where the device measures it

    @property
    def time_ms(self) -> float:
        """Median execution time of the timed runs (nan when there are none)."""
        return statistics.median(self.times_ms) if self.times_ms else float("nan")

    @property
    def summary(self) -> Summary:
        """Median, minimum, quartiles and spread of the timed runs (``devices.stats``)."""
        return summarize(self.times_ms)


def now() -> str:
    """The current time as ISO 8601 in UTC, to the second (what ``Measurement.measured_at`` holds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Device(Protocol):
    """Somewhere a model can be measured."""

    name: str

    def backends(self) -> dict[str, frozenset[str] | None]:
        """Backend -> the onert op types it can run (None: all of them)."""

    def measure(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
        """Measure ``model`` under ``config``."""
