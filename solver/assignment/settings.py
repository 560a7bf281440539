"""What the backend-assignment calls take: search, Pareto and brute-force settings, checked when built.

The checks live here so that the Python API and the command line refuse the same things with the same
words (a UsageError). This module is light (no numpy, pymoo or onert): command parsers read its constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devices.base import MeasureSettings
from solver.errors import UsageError
from solver.io.dumps import is_dump_spec
from solver.io.oplist import MODES

ALGORITHMS = ("auto", "surrogate", "nsga2", "random", "hlps", "brute-force")
MIN_POPULATION = 2  # NSGA-II's binary tournaments need two parents
DEFAULT_MAX_POINTS = 4096  # brute force refuses larger spaces unless forced

# onert's global settings worth searching, with the values onert accepts (the first is onert's default).
SETTINGS: dict[str, tuple[str, ...]] = {
    "EXECUTOR": ("Linear", "Dataflow", "Parallel"),
    "CPU_MEMORY_PLANNER": ("FirstFit", "Bump", "WIC"),
    "NUM_THREADS": ("2", "1"),
}


@dataclass(frozen=True)
class Setting:
    """A global onert variable searched over: its environment name and candidate values."""

    name: str
    values: tuple[str, ...]


def settings_from_names(names: Sequence[str]) -> tuple[Setting, ...]:
    """The settings variables named (``EXECUTOR``, ``CPU_MEMORY_PLANNER``, ``NUM_THREADS``)."""
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        raise UsageError(f"unknown onert setting {unknown[0]!r}; choose from {', '.join(SETTINGS)}")
    return tuple(Setting(n, SETTINGS[n]) for n in dict.fromkeys(names))


def _known_memory_figure(figure: str) -> None:
    if figure not in ("process", "session"):
        raise UsageError(f"memory figure {figure!r}: choose process or session")


def _at_least(name: str, value: float | None, low: float) -> None:
    if value is not None and value < low:
        raise UsageError(f"{name} must be at least {low}, not {value}")


def _known_mode(mode: str | None) -> None:
    if mode is not None and mode not in MODES:
        raise UsageError(f"unknown --mode {mode!r}; choose {' or '.join(MODES)}")


def _check_measure(measure: MeasureSettings) -> None:
    _at_least("--repeats", measure.repeats, 1)
    _at_least("--warmup", measure.warmup, 0)
    _at_least("--seed", measure.seed, 0)
    if not measure.timeout > 0:
        raise UsageError(f"--timeout must be positive, not {measure.timeout}")


@dataclass(frozen=True)
class SearchSettings:
    """Which algorithm, how many unique measurements, population size and seed."""

    algorithm: str = "auto"  # the model-based search, or brute force when the budget pays for the whole space
    budget: int | None = None  # unique measurements; None: the whole space for brute-force, else 200
    population: int | None = None  # NSGA-II population; None: from the budget (see default_population)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UsageError(f"unknown algorithm {self.algorithm!r}; choose from {', '.join(ALGORITHMS)}")
        _at_least("--budget", self.budget, 1)
        _at_least("--population", self.population, MIN_POPULATION)
        _at_least("--seed", self.seed, 0)


@dataclass(frozen=True)
class ParetoSettings:
    """What to search: the model, where to measure, the space and the search.

    Measurements come from a brute-force dump (``offline``, or a ``device`` spec that names a dump) or
    from a live device (``"local"``, ``"ssh://user@host"``, ``"sdb://serial"``).
    """

    model: Path | None = None
    offline: Path | None = None  # a brute-force dump to look measurements up in
    device: str | None = None  # a device spec (solver.assignment.offline.open_spec)
    mode: str | None = None  # "name" or "index"; None: the dump's mode, else name
    settings: tuple[str, ...] = ()  # onert variables to search over (EXECUTOR, ...)
    search: SearchSettings = field(default_factory=SearchSettings)
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    backends: tuple[str, ...] | None = None  # the backends to search (a dump: its backends' names)
    devices: Path | None = None  # a devices file: measure on a farm (devices.farm)
    cluster: str | None = None  # the farm's Dask cluster: local, local:N or tcp://host:port
    journal: Path | None = None  # append every measurement here; resume from it
    rounds: int = 2  # live: rounds of the points whose place in the front is unclear
    memory: str = "process"  # live: the memory figure points are ranked by (BruteForceSettings.memory)
    layouts: bool = False  # live: round r measured under process layout r

    def __post_init__(self) -> None:
        _at_least("--rounds", self.rounds, 1)
        _known_memory_figure(self.memory)
        if self.backends is not None and (not self.backends or len(set(self.backends)) != len(self.backends)):
            raise UsageError(f"--backends needs distinct backend names, not {','.join(self.backends) or 'none'}")
        if self.cluster is not None and self.devices is None:
            raise UsageError("--cluster needs --devices FILE (the devices its workers measure on)")
        if self.offline is not None and self.device is not None:
            raise UsageError("give either --offline DUMP or --device SPEC, not both")
        if self.offline is None and self.device is None:
            raise UsageError("give --offline DUMP or --device SPEC")
        _known_mode(self.mode)
        settings_from_names(self.settings)
        _check_measure(self.measure)
        if (self.memory, self.layouts) != ("process", False) and self.dump is not None:
            raise UsageError(f"{self.dump}: a dump's memory is the figure it was measured with; --memory-figure and "
                             "--layouts choose how a live device measures")  # fmt: skip

    @property
    def dump(self) -> Path | None:
        """The dump to search: ``offline``, or the device spec when it names a dump; None for a live device."""
        if self.offline is not None:
            return self.offline
        return Path(self.device) if is_dump_spec(self.device) else None


@dataclass(frozen=True)
class BruteForceSettings:
    """What to enumerate and how to measure each point."""

    mode: str = "name"
    backends: tuple[str, ...] = ("cpu", "ruy")  # digit value -> backend; the first is the default
    warmup: int = 1
    repeats: int = 3
    seed: int = 0
    timeout: float = 300.0  # seconds per measurement
    max_points: int = DEFAULT_MAX_POINTS  # refuse larger spaces...
    force: bool = False  # ...unless forced
    rounds: int = 1  # every point measured in this many rounds, interleaved (A B C A B C)
    # Opt-in (``solver.assignment.evaluator``): rank by the session's own memory instead of the process's peak
    # RSS, and measure round r under process layout r, so the median of the rounds is not one draw of glibc's
    # allocation history (benchmarks/surrogate.py measures both). The defaults are the plain measurement.
    memory: str = "process"
    layouts: bool = False

    def __post_init__(self) -> None:
        _at_least("--rounds", self.rounds, 1)
        _known_memory_figure(self.memory)
        _known_mode(self.mode or "")
        if not self.backends or len(set(self.backends)) != len(self.backends):
            raise UsageError(f"--backends needs distinct backend names, not {','.join(self.backends) or 'none'}")
        _check_measure(self.measure)
        _at_least("--max-points", self.max_points, 1)

    @property
    def measure(self) -> MeasureSettings:
        """How each point is measured (no trace)."""
        return MeasureSettings(self.warmup, self.repeats, False, self.timeout, self.seed)
