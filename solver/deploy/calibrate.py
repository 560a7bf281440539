"""Close the loop between predicted and measured part times: split, measure each part, correct the weights, re-solve.

A partition predicts each part's time as the sum of its ops' weights, timed inside the whole model. A part
run alone is not that sum: its ops meet other cache contents and thread-pool states, and the part pays its own
session dispatch and input and output copies. :func:`calibrate` measures what the parts really take and
corrects the op weights until the prediction holds and the measured bottleneck stops improving:

1. split the partition (:func:`solver.deploy.split.split_model`) into a scratch directory;
2. measure every part model on the device, one at a time, in fresh processes, with the configuration (threads)
   the trace was measured with, the parts interleaved over passes (A B A B) so that a change of load hits all
   alike; a part's time is the median of its timed runs, its spread their IQR;
3. compare each part's measured time ``M_k`` with its predicted time ``P_k`` (the sum of its ops' weights);
4. correct the weights of the ops of part k by the factor ``exp(shrink(log(M_k / P_k), u_k))``, where
   ``shrink(x, u) = sign(x) max(0, |x| - u)`` and ``u_k`` is the uncertainty of the part's median: two standard
   errors, ``2 sqrt(pi / 2) r_k / sqrt(n_k)``, with ``r_k`` the robust CV of its n_k runs (IQR / 1.349 / median);
5. re-solve with the corrected weights (the caller's ``solve``), and repeat.

Why this rule: a per-part ratio is the only attribution the measurement supports (we time parts, not the ops
inside them), and it spreads the part's discrepancy over its ops in proportion to their weight, which is where
cache and thread effects scale. The correction is applied in log space, so a part twice too slow and a part
twice too fast are corrected by the same amount, and it is damped by the measurement's own noise: the part of
a discrepancy that the median of the runs cannot vouch for is not applied, so the loop never chases noise (on
a quiet device it corrects almost fully, on a busy one only what stands out beyond the median's uncertainty). An op that moves to another part
keeps the factor it has learned, the one evidence about it there is, and is corrected again with its new part.

Stopping: after at least two rounds (the second checks the corrected prediction), when a round's measured
bottleneck is not lower than the best so far by more than the uncertainty of either median, when the re-solve
returns a partition already measured, or after ``max_rounds``. The answer is the round with the lowest measured
bottleneck (an earlier round wins ties within the noise).

The answer's calibrated weights are the kept round's weights corrected by its own measurement, and a last
*check* round measures the kept partition afresh against the part times those weights predict: the error a
user of the calibrated prediction should expect (run-to-run variation and the damping above), which is what
``solve pipeline`` and ``solve split`` then predict with.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devices.base import BackendConfig, Device, MeasureSettings
from devices.errors import DeviceError
from devices.stats import DEFAULT_TARGET_CV, Summary, summarize
from solver.deploy.coldfile import measure_cold
from solver.deploy.split import split_model
from solver.errors import UsageError

MIN_ROUNDS = 2  # the second round checks the corrected prediction
MEDIAN_ERRORS = 2  # a correction must stand out by this many standard errors of the part's median
TOLERANCE = 0.10  # the check round meets the calibrated prediction when every part is within this of it


@dataclass(frozen=True)
class CalibrationSettings:
    """How to calibrate: the rounds at most, each part's timed and warm-up runs, the device configuration."""

    max_rounds: int = 4
    check: bool = True  # measure the kept partition once more against its calibrated prediction
    repeats: int = 10  # timed runs of each part per round, spread over the passes
    warmup: int = 2  # per process
    passes: int = 2  # fresh processes per part and round, the parts interleaved (A B A B): load drifts even out
    config: BackendConfig = BackendConfig()  # the configuration the trace was measured with
    timeout: float = 300.0  # seconds per part measurement

    def __post_init__(self) -> None:
        for what, value, least in (("calibration rounds", self.max_rounds, MIN_ROUNDS),
                                   ("timed runs per part", self.repeats, 3),  # a spread needs three
                                   ("warm-up runs per part", self.warmup, 0),
                                   ("measuring passes", self.passes, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UsageError(f"{what} must be an integer of at least {least}, not {value!r}")
        if self.passes > self.repeats:
            raise UsageError(f"measuring passes ({self.passes}) cannot outnumber the timed runs per part ({self.repeats})")
        if not (isinstance(self.timeout, (int, float)) and self.timeout > 0 and math.isfinite(self.timeout)):
            raise UsageError(f"the measurement time-out must be a positive number of seconds, not {self.timeout!r}")


@dataclass
class CalibrationRound:
    """One round: the partition measured, each part's predicted time and its measured runs."""

    round: int
    parts: list[int]  # the partition map measured
    part_ids: list[int]  # the part of each entry below (empty parts are not measured)
    weights: list[int]  # the op weights the partition was solved with (us)
    predicted_us: list[float]  # per part, in part order: the sum of its ops' weights
    measured: list[Summary]  # per part: its timed runs (us)
    # per part: the median over the passes of its session's memory (bytes; None where the device does not say)
    memory_bytes: list[float | None] = field(default_factory=list)

    @property
    def measured_us(self) -> list[float]:
        return [s.median for s in self.measured]

    @property
    def spread_us(self) -> list[float]:
        return [s.iqr for s in self.measured]

    @property
    def errors(self) -> list[float]:
        """Per part, measured / predicted - 1 (inf for a part predicted to take no time)."""
        return [m / p - 1 if p else math.inf for m, p in zip(self.measured_us, self.predicted_us)]

    @property
    def measured_bottleneck_us(self) -> float:
        return max(self.measured_us)

    @property
    def bottleneck_spread_us(self) -> float:
        """The IQR of the slowest part's runs."""
        return self.measured[self.measured_us.index(self.measured_bottleneck_us)].iqr

    def to_json(self) -> dict:
        return {
            "round": self.round,
            "parts": list(self.part_ids),
            "predicted_us": list(self.predicted_us),
            "measured_us": self.measured_us,
            "spread_us": self.spread_us,
            "error": [e if math.isfinite(e) else None for e in self.errors],
            "measured_memory_bytes": list(self.memory_bytes),
            "predicted_bottleneck_us": max(self.predicted_us),
            "measured_bottleneck_us": self.measured_bottleneck_us,
            "partition_map": list(self.parts),
        }


@dataclass
class Calibration:
    """Every round, the best one (lowest measured bottleneck), why the loop stopped, the corrected weights."""

    rounds: list[CalibrationRound]
    best: int  # index into rounds
    stop_reason: str
    weights: list[int]  # calibrated: the kept round's weights corrected by its own measurement
    check: CalibrationRound | None = None  # the kept partition measured again, predicted from ``weights``
    notes: list[str] = field(default_factory=list)
    config: BackendConfig = BackendConfig()  # what the parts were measured with (the trace's settings by default)

    @property
    def best_round(self) -> CalibrationRound:
        return self.rounds[self.best]

    @property
    def check_error(self) -> float | None:
        """The check round's largest |measured / predicted - 1| over the parts (None without a check)."""
        return max(abs(e) for e in self.check.errors) if self.check is not None else None

    @property
    def missed(self) -> bool:
        """The check round missed the ``TOLERANCE`` of the calibrated prediction."""
        error = self.check_error
        return error is not None and not error <= TOLERANCE

    def kept_text(self) -> str:
        """Which round was kept and why, against the rounds measured after it (lower but within the noise)."""
        kept = self.best_round
        text = f"kept round {kept.round} (measured bottleneck {kept.measured_bottleneck_us / 1000:.3f} ms)"
        lower = [r for r in self.rounds[self.best + 1 :] if r.measured_bottleneck_us < kept.measured_bottleneck_us]
        if lower:
            text += (f"; round {lower[0].round}'s {lower[0].measured_bottleneck_us / 1000:.3f} ms is lower by less "
                     "than the spread of the two medians, so the earlier round stands")  # fmt: skip
        return text

    def to_json(self) -> dict:
        return {"best_round": self.best, "stop_reason": self.stop_reason, "weights": list(self.weights),
                "check": self.check.to_json() if self.check else None, "check_error": self.check_error,
                "tolerance": TOLERANCE, "missed": self.missed, "settings": dict(self.config.settings),
                "notes": list(self.notes)}  # fmt: skip


def calibrate(
    model_path: str | Path,
    parts: Sequence[int],
    weights: Sequence[int],
    solve: Callable[[list[int]], list[int]],
    device: Device,
    settings: CalibrationSettings = CalibrationSettings(),
    on_round: Callable[[CalibrationRound], None] | None = None,
) -> Calibration:
    """Measure ``parts`` of ``model_path`` part by part, correct ``weights`` and re-solve (module doc).

    ``solve(weights)`` returns the partition for op weights ``weights`` (us); ``parts`` is its answer for
    ``weights``. ``on_round`` is called after each measured round.

    Raises
    ------
    DeviceError
        A part model failed to run on the device.
    ModelError, UsageError
        The model cannot be split along ``parts``.
    """
    parts, weights = list(parts), [int(w) for w in weights]
    rounds: list[CalibrationRound] = []
    best, stop = 0, f"the round cap ({settings.max_rounds})"
    checking = settings.check
    try:
        for r in range(settings.max_rounds):
            measured = measure_parts(model_path, parts, weights, device, settings, r)
            rounds.append(measured)
            if on_round is not None:
                on_round(measured)
            if r > 0:
                if _improves(measured, rounds[best]):
                    best = r
                else:
                    stop = "the measured bottleneck stopped improving"
                    break
            if r == settings.max_rounds - 1:
                break
            weights = corrected_weights(weights, measured)
            following = solve(list(weights))
            if r + 1 >= MIN_ROUNDS and any(following == done.parts for done in rounds):
                stop = "the re-solve returned a partition already measured"
                break
            parts = following
    except KeyboardInterrupt:
        if not rounds:
            raise  # nothing measured yet: nothing to keep
        stop = "an interruption (Ctrl-C); the rounds measured so far are kept"
        checking = False
    kept = rounds[best]
    calibrated = corrected_weights(kept.weights, kept)
    check = None
    if checking:
        try:
            check = measure_parts(model_path, kept.parts, calibrated, device, settings, len(rounds))
        except KeyboardInterrupt:
            pass  # the calibration stands without its check
    return Calibration(rounds, best, stop, calibrated, check, _unstable_notes(rounds, check), settings.config)


def _unstable_notes(rounds: list[CalibrationRound], check: CalibrationRound | None) -> list[str]:
    """One note per part measurement whose runs spread more than a stable measurement's target."""
    notes = []
    for r in rounds + ([check] if check else []):
        for part, summary in zip(r.part_ids, r.measured):
            if summary.robust_cv > DEFAULT_TARGET_CV:
                which = "the check round" if r is check else f"round {r.round}"
                notes.append(f"{which}, part {part}: unstable measurement (robust CV "
                             f"{summary.robust_cv:.0%} > {DEFAULT_TARGET_CV:.0%}); its correction was damped by "
                             "that spread, and the answer is only as good as these measurements")
    return notes


def measure_parts(model_path: str | Path, parts: list[int], weights: list[int], device: Device,
                  settings: CalibrationSettings, round_number: int = 0) -> CalibrationRound:
    """Split ``parts`` into a scratch directory and measure each part model alone, one process at a time, the
    parts interleaved over ``settings.passes`` passes (A B A B), so that a load change hits every part alike."""
    with tempfile.TemporaryDirectory(prefix="nnpart-calibrate-") as tmp:
        split = split_model(model_path, parts, Path(tmp), op_weights=[float(w) for w in weights])
        runs: list[list[float]] = [[] for _ in split.parts]
        memory: list[list[float]] = [[] for _ in split.parts]
        for i in range(settings.passes):
            repeats = len(range(i, settings.repeats, settings.passes))  # the repeats shared out over the passes
            # Each pass of each round is its own measurement (and cache entry, on a cached device).
            run = MeasureSettings(warmup=settings.warmup, repeats=repeats, timeout=settings.timeout,
                                  round=round_number * settings.passes + i)
            for part, times, held in zip(split.parts, runs, memory):
                m = measure_cold(device, split.out_dir / part.file, settings.config, run)  # docs/memory.md
                if not m.valid:
                    raise DeviceError(f"{model_path}: part {part.part_id} ({part.file}) failed on {device.name}: "
                                      f"{m.reason}")
                times += [t * 1000 for t in m.times_ms]
                if m.memory is not None:
                    held.append(m.memory.session_kb * 1024.0)
        ids = [p.part_id for p in split.parts]
    return CalibrationRound(round_number, list(parts), ids, list(weights), list(split.loads_us),
                            [summarize(times) for times in runs],
                            [summarize(held).median if held else None for held in memory])  # fmt: skip


def corrected_weights(weights: Sequence[int], measured: CalibrationRound) -> list[int]:
    """Each op's weight times its part's factor, ``exp(shrink(log(M / P), u))`` (module doc).

    A part predicted to take no time shares its measured time equally among its ops.
    """
    out = list(weights)
    for part, predicted, summary in zip(measured.part_ids, measured.predicted_us, measured.measured):
        ops = [v for v, p in enumerate(measured.parts) if p == part]
        if predicted <= 0:
            for v in ops:
                out[v] = int(round(summary.median / len(ops)))
            continue
        ratio = math.log(max(summary.median, 1e-9) / predicted)
        factor = math.exp(math.copysign(max(0.0, abs(ratio) - median_uncertainty(summary)), ratio))
        for v in ops:
            out[v] = int(round(weights[v] * factor))
    return out


def median_uncertainty(summary: Summary) -> float:
    """Two standard errors of the median, relative to it: ``2 sqrt(pi / 2) robust_cv / sqrt(n)`` (normal runs)."""
    if summary.n == 0 or not math.isfinite(summary.robust_cv):
        return math.inf
    return MEDIAN_ERRORS * math.sqrt(math.pi / 2) * summary.robust_cv / math.sqrt(summary.n)


def _improves(candidate: CalibrationRound, best: CalibrationRound) -> bool:
    """A lower measured bottleneck than ``best``'s by more than the uncertainty of either median."""
    noise = max(r.measured_bottleneck_us * median_uncertainty(r.measured[r.measured_us.index(r.measured_bottleneck_us)])
                for r in (candidate, best))
    return candidate.measured_bottleneck_us < best.measured_bottleneck_us - noise
