"""The offloading options (light: ``solve place``'s parser reads ``ALGORITHMS`` from here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from solver.errors import UsageError
from solver.solving.options import ExactOptions

ALGORITHMS = ("exact", "greedy", "delegate", "circle-partitioner")


@dataclass(frozen=True)
class OffloadSettings(ExactOptions):
    """The offloading options of ``solve place`` (and of ``partition_for``), checked when built. The exact
    solver's options (:class:`ExactOptions`, keyword-only) without secondary objectives; ``exact`` is not given
    but follows from ``algo``."""

    algo: str = "exact"
    min_part_ops: int = 1
    max_parts: int | None = None
    exclude_ops: tuple[str, ...] = ()
    exact: bool = field(default=False, init=False)  # algo == "exact"

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_ops", tuple(self.exclude_ops))
        object.__setattr__(self, "exact", self.algo == "exact")
        if self.algo not in ALGORITHMS:
            raise UsageError(f"unknown offloading algorithm {self.algo!r}; choose from {', '.join(ALGORITHMS)}")
        if isinstance(self.min_part_ops, bool) or not isinstance(self.min_part_ops, int) or self.min_part_ops < 1:
            raise UsageError(f"--min-part-ops must be an integer >= 1, not {self.min_part_ops!r}")
        if self.max_parts is not None and (isinstance(self.max_parts, bool) or not isinstance(self.max_parts, int)
                                           or self.max_parts < 1):  # fmt: skip
            raise UsageError(f"--max-parts must be an integer >= 1, not {self.max_parts!r}")
        if self.secondary or self.slack:
            raise UsageError("secondary objectives and slack are not used when offloading")
        self.check_exact()
