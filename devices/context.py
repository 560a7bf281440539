"""Where and how a measurement ran, and how busy the machine's cores were meanwhile.

A figure measured with two onert threads on a machine whose other work leaves one core free measures
contention, not the model: every measurement records its :class:`MeasurementContext` (the device and host,
the runtime's version, the backends and every onert setting, NUM_THREADS among them, the cores it may use)
and the :class:`Load` before and during it.

Model of the load: the cores this process may run on are ``os.sched_getaffinity``. The other programs'
demand is the number of tasks running or runnable on the machine (``/proc/loadavg``'s fourth field, counted
by the kernel across every process) less the tasks of this process and of the measuring worker (a child whose
command line runs ``devices.worker``, and its fork), sampled every ``SAMPLE_S`` seconds. The free cores are the cores less that
demand's mean. Before a measurement a one-thread probe (a busy loop in this process for ``PROBE_S``) adds
the share of a core one thread gets: below ``PROBE_SHARE`` even one thread waits for its core. The 1-minute
load average is recorded beside them but judges nothing: it still counts our own work of the last minute.
A measurement with ``threads`` threads is contended when ``threads`` exceeds the free cores by more than
``FIT_SLACK``, or the probe got less than ``PROBE_SHARE`` of its core.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field

from devices.base import BackendConfig

SAMPLE_S = 0.25  # seconds between samples of the running tasks while a measurement runs
PROBE_S = 0.2  # seconds of the one-thread probe before a measurement
PROBE_SHARE = 0.8  # a one-thread probe that gets less of its core than this finds the cores shared
FIT_SLACK = 0.25  # threads may exceed the free cores by this much (sampling noise) and still fit
WORKER_COMMAND = b"devices.worker"  # in the command line of the processes that measure (devices/local.py)


@dataclass(frozen=True)
class Load:
    """How busy the machine was: cores, the other programs' running tasks, the probe, the load average."""

    cores: int  # cores this process may run on (os.sched_getaffinity)
    others: float  # mean running tasks of other programs over the samples
    load_average: float  # 1-minute load average at the end (information only: it counts our own recent work)
    probe_share: float | None = None  # share of a core a one-thread busy loop got (None: no probe)
    samples: int = 0

    @property
    def free_cores(self) -> float:
        return max(0.0, self.cores - self.others)

    def fits(self, threads: int) -> bool:
        """Whether ``threads`` threads find a core each (see the module docstring)."""
        shared = self.probe_share is not None and self.probe_share < PROBE_SHARE
        return threads <= self.free_cores + FIT_SLACK and not shared

    def fitting_threads(self) -> int:
        """The most threads that find a core each (at least one)."""
        return max(1, int(self.free_cores + FIT_SLACK))

    def describe(self) -> str:
        share = self.probe_share
        probe = f", a one-thread probe got {100 * share:.0f}% of a core" if share is not None else ""
        return (f"{self.free_cores:.1f} of {self.cores} cores free (other programs ran {self.others:.1f} tasks on "
                f"average{probe}; load average {self.load_average:.2f})")  # fmt: skip

    def to_json(self) -> dict:
        return {
            "cores": self.cores, "free_cores": round(self.free_cores, 3), "others": round(self.others, 3),
            "load_average": self.load_average, "probe_share": self.probe_share, "samples": self.samples,
        }  # fmt: skip

    @staticmethod
    def from_json(data: object) -> Load | None:
        """The load a trace recorded; None when it is missing or malformed."""
        try:
            share = data.get("probe_share")  # type: ignore[union-attr]
            samples = int(data.get("samples", 0))  # type: ignore[union-attr]
            return Load(int(data["cores"]), float(data["others"]), float(data["load_average"]),  # type: ignore[index]
                        None if share is None else float(share), samples)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def _running_total() -> int | None:
    """Tasks running or runnable on the machine now (``/proc/loadavg``), None where there is none."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return WORKER_COMMAND in f.read()
    except OSError:
        return False


def _own_running() -> int:
    """Running tasks (threads) of this process and of its descendants that measure (the worker and its fork):
    other children, such as busy processes a test starts, are other programs."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    ours, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in ours and _is_worker(p)]
        ours.update(children)
        frontier.extend(children)
    running = 0
    for pid in ours:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    running += f.read().rsplit(")", 1)[1].split()[0] == "R"
            except (OSError, IndexError):
                continue
    return running


def others_running() -> float | None:
    """Running tasks of other programs now (None where /proc cannot tell)."""
    total = _running_total()
    return None if total is None else max(0, total - _own_running())


def probe_load(seconds: float = PROBE_S) -> Load:
    """The load before a measurement: a one-thread busy loop of ``seconds`` that samples the running tasks."""
    samples: list[float] = []
    wall, cpu = time.perf_counter(), time.thread_time()
    end = wall + seconds
    next_sample = wall
    while (now := time.perf_counter()) < end:
        if now >= next_sample:
            sample = others_running()
            if sample is not None:
                samples.append(sample)
            next_sample = now + seconds / 8
    share = min(1.0, (time.thread_time() - cpu) / (time.perf_counter() - wall))
    return _load(samples, share)


def _load(samples: list[float], share: float | None) -> Load:
    mean = sum(samples) / len(samples) if samples else 0.0
    return Load(cores(), mean, os.getloadavg()[0], share, len(samples))


class LoadMonitor:
    """Samples the other programs' running tasks every ``SAMPLE_S`` seconds in a thread while a measurement
    runs (``with LoadMonitor() as monitor: ...; monitor.load()``)."""

    def __init__(self, interval: float = SAMPLE_S):
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="nnpart load monitor", daemon=True)

    def __enter__(self) -> LoadMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            sample = others_running()
            if sample is not None:
                self.samples.append(sample)

    def load(self) -> Load:
        return _load(list(self.samples), None)


@dataclass(frozen=True)
class MeasurementContext:
    """Where and how a measurement ran: device and host, runtime, backends, every onert setting, the cores."""

    device: str  # the device spec: local, ssh://..., sdb://...
    host: str  # the machine's name (the device spec for a board)
    runtime: str  # "onert 0.1.0" ("onert" when the version is unknown)
    backends: tuple[str, ...]
    settings: tuple[tuple[str, str], ...]  # every onert variable of the configuration, sorted (NUM_THREADS...)
    cores: int  # cores the measurement could use (0: unknown, on a board)
    loads: tuple[Load, ...] = field(default=(), compare=False)  # before, then during each round

    @property
    def threads(self) -> int | None:
        """NUM_THREADS when set; None: onert's default."""
        value = dict(self.settings).get("NUM_THREADS")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    @property
    def effective_threads(self) -> int:
        """The threads onert uses: NUM_THREADS, or for its default every core (1 when the cores are unknown)."""
        threads = self.threads
        return threads if threads is not None and threads > 0 else max(self.cores, 1)

    def threads_text(self) -> str:
        if self.threads is not None and self.threads > 0:
            return f"NUM_THREADS={self.threads}"
        if not self.cores:
            return "onert's default threads"
        return f"onert's default threads ({self.effective_threads}: every core)"

    def setting_config(self) -> BackendConfig:
        """The onert settings of this context (no backend assignment): what part models are measured with."""
        return BackendConfig(settings=tuple((k, v) for k, v in self.settings if not k.startswith("OP_BACKEND_")))

    def describe(self) -> str:
        words = ", ".join(f"{k}={v}" for k, v in self.settings if k != "NUM_THREADS")
        return (f"{self.device} ({self.host}, {self.runtime}), backends {';'.join(self.backends)}, "
                f"{self.threads_text()}" + (f", {words}" if words else ""))  # fmt: skip

    def differences(self, other: MeasurementContext) -> list[str]:
        """What differs between this context and ``other`` that changes the figures, one phrase each."""
        found = []
        for what, mine, theirs in (("device", self.device, other.device), ("host", self.host, other.host),
                                   ("runtime", self.runtime, other.runtime),
                                   ("backends", ";".join(self.backends), ";".join(other.backends)),
                                   ("threads", self.threads_text(), other.threads_text())):  # fmt: skip
            if mine != theirs:
                found.append(f"{what} {mine} vs {theirs}")
        for key in sorted(set(dict(self.settings)) | set(dict(other.settings)) - {"NUM_THREADS"}):
            mine, theirs = dict(self.settings).get(key, "unset"), dict(other.settings).get(key, "unset")
            if key != "NUM_THREADS" and mine != theirs:
                found.append(f"{key} {mine} vs {theirs}")
        return found

    def elsewhere(self, other: MeasurementContext) -> str:
        """How ``other`` ran somewhere else than this context (device, host or runtime), "" when it did not."""
        return "; ".join(d for d in self.differences(other) if d.startswith(("device ", "host ", "runtime ")))

    def contended(self) -> Load | None:
        """The first load (before, or during a round) in which the threads did not find a core each."""
        return next((load for load in self.loads if not load.fits(self.effective_threads)), None)

    def to_json(self) -> dict:
        return {
            "device": self.device, "host": self.host, "runtime": self.runtime, "backends": list(self.backends),
            "settings": dict(self.settings), "threads": self.threads, "effective_threads": self.effective_threads,
            "cores": self.cores, "loads": [load.to_json() for load in self.loads],
        }  # fmt: skip

    @staticmethod
    def from_json(data: object) -> MeasurementContext | None:
        """The context a trace or split recorded; None when it is missing or malformed."""
        try:
            settings = data["settings"]  # type: ignore[index]
            context = MeasurementContext(
                str(data["device"]), str(data["host"]), str(data["runtime"]),  # type: ignore[index]
                tuple(str(b) for b in data["backends"]),  # type: ignore[index]
                tuple(sorted((str(k), str(v)) for k, v in settings.items())), int(data["cores"]),  # type: ignore[index]
            )
            loads = tuple(Load.from_json(x) for x in data.get("loads", []))  # type: ignore[union-attr]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        return MeasurementContext(**{**context.__dict__, "loads": tuple(x for x in loads if x is not None)})


def runtime_version() -> str:
    """onert's package version, read without importing onert."""
    from importlib import metadata

    try:
        return f"onert {metadata.version('onert')}"
    except metadata.PackageNotFoundError:
        return "onert"


def measurement_context(device: str, config: BackendConfig, loads: tuple[Load, ...] = ()) -> MeasurementContext:
    """The context of a measurement of ``config`` on ``device``: this machine's for "local", else the board's
    name with its cores unknown."""
    settings = tuple(sorted(config.environment().items()))
    if device == "local":
        return MeasurementContext(device, platform.node() or "this machine", runtime_version(), config.backends,
                                  settings, cores(), loads)  # fmt: skip
    return MeasurementContext(device, device, "onert", config.backends, settings, 0, loads)


def context_now(device: str, config: BackendConfig) -> MeasurementContext:
    """The context of measurements about to start on ``device`` with ``config``, with this machine's load now
    (a one-thread probe) when the device is this machine."""
    return measurement_context(device, config, (probe_load(),) if device == "local" else ())
