"""A device's memory terms fitted to measurements, and the choice of the memory model a command uses.

Model
-----
Each measured session s (the whole model, or one part alone) gives one equation of the memory model
(:mod:`solver.memory.model`)::

    measured_s - (arena_s + io_s) = fixed + a_c * constants_s + a_w * workspace_s

``fixed`` (the session's own cost on this device: runtime objects, kernels, thread pools), ``a_c`` (the
constants as the backend holds them: cpu's kernels keep transposed or packed copies of some weights, and freed
originals may stay in the heap) and ``a_w`` (how many times the largest im2col scratch stays resident) are
fitted by non-negative least squares over all sessions: every subset of the three terms is fitted by least
squares and the best fit whose coefficients are all >= 0 is kept (exact for three terms). With fewer than three
sessions ``a_c = a_w = 1`` and ``fixed`` is their mean excess. The residuals (measured - predicted) are reported
with the fit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver.errors import UsageError
from solver.memory.model import MemoryTerms, check_model


@dataclass(frozen=True)
class MemorySample:
    """One measured session: what it was, its model terms and its measured memory (bytes)."""

    label: str
    terms: MemoryTerms
    measured: float

    def to_json(self) -> dict:
        return {"label": self.label, "terms": self.terms.to_json(), "measured_bytes": self.measured}


@dataclass(frozen=True)
class MemoryCalibration:
    """A device's fitted terms and the sessions they were fitted on."""

    device: str
    fixed: float
    constant_scale: float
    workspace_scale: float
    samples: tuple[MemorySample, ...]

    def predict(self, terms: MemoryTerms) -> float:
        """``fixed + a_c * constants + arena + io + a_w * workspace`` in bytes."""
        rest = terms.planned - terms.workspace - terms.constants
        return self.fixed + self.constant_scale * terms.constants + rest + self.workspace_scale * terms.workspace

    @property
    def residuals(self) -> list[float]:
        """Measured - predicted of each sample, bytes."""
        return [s.measured - self.predict(s.terms) for s in self.samples]

    def to_json(self) -> dict:
        return {
            "device": self.device, "fixed_bytes": self.fixed, "constant_scale": self.constant_scale,
            "workspace_scale": self.workspace_scale,
            "samples": [{**s.to_json(), "predicted_bytes": self.predict(s.terms), "residual_bytes": r}
                        for s, r in zip(self.samples, self.residuals)],
        }  # fmt: skip

    @classmethod
    def from_json(cls, document: dict) -> MemoryCalibration:
        """The calibration ``to_json`` wrote (``UsageError`` for anything else)."""
        try:
            samples = tuple(
                MemorySample(s["label"], _terms(s["terms"]), float(s["measured_bytes"])) for s in document["samples"]
            )
            return cls(str(document["device"]), float(document["fixed_bytes"]), float(document["constant_scale"]),
                       float(document["workspace_scale"]), samples)  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise UsageError(f"not a memory calibration ({type(err).__name__}: {err})") from err


def _terms(document: dict) -> MemoryTerms:
    arena = {str(b): int(v) for b, v in document["arena"].items()}
    return MemoryTerms(int(document["constants"]), arena, int(document["io"]), int(document["workspace"]),
                       int(document["upper"]) - int(document["constants"]) - int(document["io"]))  # fmt: skip


def fit_memory(device: str, samples: Sequence[MemorySample]) -> MemoryCalibration:
    """Non-negative least squares of ``fixed``, ``a_c`` and ``a_w`` (module docstring); ``UsageError`` without
    samples."""
    if not samples:
        raise UsageError(f"no memory measurements of {device} to calibrate with")
    t = [s.terms for s in samples]
    excess = np.array([s.measured - (sum(x.arena.values()) + x.io) for s, x in zip(samples, t)], dtype=float)
    columns = np.array([[1.0, x.constants, x.workspace] for x in t], dtype=float)
    if len(samples) < columns.shape[1]:
        fixed = float(np.mean(excess - columns[:, 1] - columns[:, 2]))
        return MemoryCalibration(device, max(fixed, 0.0), 1.0, 1.0, tuple(samples))
    coefficients = _nonnegative_least_squares(columns, excess)
    return MemoryCalibration(device, *map(float, coefficients), tuple(samples))


def _nonnegative_least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``argmin |a x - b|`` over ``x >= 0``, by least squares on every subset of the columns (few columns)."""
    best, best_error = np.zeros(a.shape[1]), float(b @ b)
    for subset in itertools.product((False, True), repeat=a.shape[1]):
        free = np.flatnonzero(subset)
        if not len(free):
            continue
        x = np.zeros(a.shape[1])
        x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        error = float(np.sum((a @ x - b) ** 2))
        if (x >= 0).all() and error < best_error - 1e-9 * max(best_error, 1.0):
            best, best_error = x, error
    return best


@dataclass(frozen=True)
class MemoryModel:
    """The memory model a command uses and why: ``upper``, ``planner`` or ``calibrated`` (with its terms)."""

    name: str
    reason: str
    calibration: MemoryCalibration | None = None

    def predict(self, terms: MemoryTerms) -> int:
        """A session's memory in bytes under this model."""
        if self.name == "upper":
            return terms.upper
        if self.name == "planner":
            return terms.planned
        return int(round(self.calibration.predict(terms)))

    def to_json(self) -> dict:
        return {"model": self.name, "reason": self.reason,
                "calibration": None if self.calibration is None else self.calibration.to_json()}  # fmt: skip


def choose_model(requested: str | None, calibration: MemoryCalibration | None, device: str) -> MemoryModel:
    """``requested`` (one of ``MODELS``), or by default ``calibrated`` when ``device`` has a calibration and
    ``planner`` otherwise; ``UsageError`` for ``calibrated`` without one."""
    if requested is not None:
        check_model(requested)
    if requested == "calibrated" or (requested is None and calibration is not None):
        if calibration is None:
            raise UsageError(f"--memory-model calibrated: no memory calibration of {device} yet "
                             "(solve partition --calibrate measures one)")  # fmt: skip
        why = "requested" if requested else "the default where the device has a calibration"
        return MemoryModel("calibrated", f"{why}: {device}'s fitted terms", calibration)
    if requested is None:
        return MemoryModel("planner", f"the default: no memory calibration of {device} yet")
    return MemoryModel(requested, "requested")
