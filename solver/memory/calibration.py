"""A device's memory terms fitted to measurements, and the choice of the memory model a command uses.

Model
-----
A session's peak is that of its load or of its run, whichever is larger (:mod:`solver.memory.model` has the
terms)::

    load = a_c * constants + largest_constant
    run  = fixed + a_c * constants + arena + io + a_io * copies + a_f * filter + a_w * workspace + a_t * activation

``fixed`` is the session's own cost on this device (runtime objects, the kernels' code pages, thread pools, the
heap malloc keeps), ``a_c`` the constants as the backend holds them, ``a_io`` how much of the caller's further
copies of the I/O buffers adds to the peak (all of it for one op; less where the copies, made after the first
run, reuse heap the first run's transient buffers freed), ``a_f`` how much of the largest Conv2D filter's
transposed copy adds to the peak, ``a_w`` how much of the largest im2col matrix stays resident (none where a
float Conv2D runs multithreaded), ``a_t`` the kernels' transient buffers and the heap malloc keeps after them per
byte of the largest activation. The arena and the I/O buffers count as they are. Each measured session s gives
one equation of the run::

    measured_s - (arena_s + io_s) = fixed + a_c * constants_s + a_io * copies_s + a_f * filter_s
                                    + a_w * workspace_s + a_t * activation_s

fitted by non-negative least squares over the sessions (every subset of the six terms is fitted by least
squares and the best fit whose coefficients are all >= 0 is kept: exact for so few terms). A session whose load
the fit predicts above its run peaked while loading: it is left out and the rest fitted again. With fewer
sessions than terms ``a_c = a_io = a_f = a_w = 1``, ``a_t = 0`` and ``fixed`` is their mean excess. The residuals (measured -
predicted) are reported with the fit.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
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
    filter_scale: float = 1.0
    copies_scale: float = 1.0
    activation_scale: float = 0.0

    def run(self, terms: MemoryTerms) -> float:
        """The run's peak: ``fixed + a_c * constants + arena + io + a_io * copies + a_f * filter + a_w *
        workspace + a_t * activation``."""
        return (self.fixed + self.constant_scale * terms.constants + sum(terms.arena.values()) + terms.io
                + self.copies_scale * terms.copies + self.filter_scale * terms.filter
                + self.workspace_scale * terms.workspace + self.activation_scale * terms.activation)  # fmt: skip

    def load(self, terms: MemoryTerms) -> float:
        """The load's peak: ``a_c * constants + largest_constant``."""
        return self.constant_scale * terms.constants + terms.largest_constant

    def predict(self, terms: MemoryTerms) -> float:
        """The session's peak in bytes: its load's or its run's, whichever is larger."""
        return max(self.load(terms), self.run(terms))

    @property
    def residuals(self) -> list[float]:
        """Measured - predicted of each sample, bytes."""
        return [s.measured - self.predict(s.terms) for s in self.samples]

    def to_json(self) -> dict:
        return {
            "device": self.device, "fixed_bytes": self.fixed, "constant_scale": self.constant_scale,
            "workspace_scale": self.workspace_scale, "filter_scale": self.filter_scale,
            "copies_scale": self.copies_scale, "activation_scale": self.activation_scale,
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
                       float(document["workspace_scale"]), samples, float(document["filter_scale"]),
                       float(document["copies_scale"]), float(document["activation_scale"]))  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise UsageError(f"not a memory calibration ({type(err).__name__}: {err})") from err


def _terms(document: dict) -> MemoryTerms:
    arena = {str(b): int(v) for b, v in document["arena"].items()}
    return MemoryTerms(int(document["constants"]), arena, int(document["io"]), int(document["workspace"]),
                       int(document["upper"]) - int(document["constants"]) - int(document["io"]),
                       int(document["inputs"]), int(document["outputs"]), int(document["filter"]),
                       int(document["largest_constant"]), int(document["activation"]))  # fmt: skip


def fit_memory(device: str, samples: Sequence[MemorySample]) -> MemoryCalibration:
    """Non-negative least squares of ``fixed``, ``a_c``, ``a_io``, ``a_f``, ``a_w`` and ``a_t`` (module
    docstring); a term no session has (all zero) keeps the planner's weight (``_UNFITTED``); ``UsageError``
    without samples."""
    if not samples:
        raise UsageError(f"no memory measurements of {device} to calibrate with")
    if len(samples) < len(_known(samples)):
        unfitted = _calibration(device, _UNFITTED, samples)
        fixed = float(np.mean([s.measured - unfitted.run(s.terms) for s in samples]))
        return dataclasses.replace(unfitted, fixed=max(fixed, 0.0))
    fitted = _fit_run(device, samples, samples)
    running = [s for s in samples if fitted.run(s.terms) >= fitted.load(s.terms)]
    if len(_known(running)) <= len(running) < len(samples):
        fitted = _fit_run(device, running, samples)
    return fitted


def _columns(terms: MemoryTerms) -> list[float]:
    """The run's fitted terms of one session: fixed (1), constants, copies, filter, workspace, activation."""
    return [1.0, terms.constants, terms.copies, terms.filter, terms.workspace, terms.activation]


# The weight of a term no session has: the planner's (1), none for the activations (an empirical term).
_UNFITTED = (0.0, 1.0, 1.0, 1.0, 1.0, 0.0)


def _known(samples: Sequence[MemorySample]) -> list[int]:
    """The columns some session has (not all zero): only those can be fitted."""
    columns = np.array([_columns(s.terms) for s in samples], dtype=float)
    return [j for j in range(columns.shape[1]) if np.any(columns[:, j])]


def _fit_run(device: str, fit_on: Sequence[MemorySample], samples: Sequence[MemorySample]) -> MemoryCalibration:
    """The run's terms fitted to the sessions ``fit_on``; the calibration reports every one of ``samples``."""
    excess = np.array([s.measured - (sum(s.terms.arena.values()) + s.terms.io) for s in fit_on])
    columns = np.array([_columns(s.terms) for s in fit_on], dtype=float)
    known = _known(fit_on)
    coefficients = np.array(_UNFITTED)
    coefficients[known] = _nonnegative_least_squares(columns[:, known], excess)
    return _calibration(device, coefficients, samples)


def _calibration(device: str, coefficients: Sequence[float], samples: Sequence[MemorySample]) -> MemoryCalibration:
    """The calibration of the run's weights in ``_columns``' order, reporting ``samples``."""
    fixed, constants, copies, filters, workspace, activation = map(float, coefficients)
    return MemoryCalibration(device, fixed, constants, workspace, tuple(samples), filters, copies, activation)


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

    def floor(self, terms: MemoryTerms) -> int:
        """What every part holding the ops of ``terms`` needs at least under this model. The upper and planner
        figures grow with the ops (an op's inputs and outputs are a larger part's I/O or live together in its
        arena while it runs); the calibrated one but for the caller's copies of the I/O, which a larger part may
        hold as arena instead."""
        if self.name != "calibrated":
            return self.predict(terms)
        c = self.calibration
        return math.floor(max(c.load(terms), c.run(terms) - c.copies_scale * terms.copies))

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
