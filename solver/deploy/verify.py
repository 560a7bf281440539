"""Numerical check of a split: the parts, run in order, compute what the whole model computes.

Both run with the real onert runtime on the same seeded inputs: the whole model on cpu, each part on its own
device's backend (``ruy`` parts on ruy), each part its own session, all in a child process, so that a part file
that crashes onert is reported by name instead of ending ``solve``. A part for a device that is not an onert
backend (``npu``) or whose backend the installed onert lacks (``acl_cl`` on a machine without ARM Compute
Library) runs on cpu, and the result's notes say so.

Inputs: floats are standard normal, unless ``input_range`` says otherwise or the model has an op defined on
part of the reals only (``SQRT``, ``RSQRT``, ``LOG``, ``POW``): then they are uniform in [0, 1), as ONE's
circle-part-value-test draws them. Each model output is compared elementwise: ``|parts - whole| <= atol + rtol
* max|whole|`` must hold everywhere, so the relative error is measured against the output's scale (random-weight
softmax outputs are nearly uniform, so the scale of the logits matters, not of single elements). Where both
hold the same value (a NaN on both sides, the same infinity) the position agrees; a NaN or an infinity on one
side only is a mismatch; the scale is taken over the whole model's finite values.

Everything runs with onert's Dataflow executor by default (``devices.base.DEFAULT_EXECUTOR``): onert 0.1.0's
default Linear executor returns wrong values for a model output that other operators of the same model also
read (measured:
``two_output_mlp``'s mid-graph output came back equal to the final output; every 2-part split of
``skip_chain`` and ``branchy_cnn``, whose first part hands on a tensor it also uses itself, mismatched).
Such outputs are what splitting creates at every skip connection, so Linear is only for trying.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from devices.base import DEFAULT_EXECUTOR, EXECUTORS
from devices.chain import ChainRunner, ModelRunner, Stage, installed_backends, probe_load
from devices.isolated import run_isolated
from devices.inputs import seeded_inputs
from solver.errors import CheckError, UsageError
from solver.deploy.split import SplitResult, read_split, split_model
from solver.io.connections import onert_backends
from solver.io.tflite import Model, read_model, uncompressed

# Ops defined on part of the reals: a model with one draws its float inputs in [0, 1) (ONE's test range).
DOMAIN_TYPES = frozenset({"SQRT", "RSQRT", "LOG", "POW"})
DOMAIN_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class VerifySettings:
    """Inputs, tolerance and runtime settings of a verification."""

    seed: int = 0
    rtol: float = 1e-4  # relative to max |whole-model output|
    atol: float = 1e-6
    executor: str = DEFAULT_EXECUTOR  # onert EXECUTOR of every run (see the module docstring)
    probe_package: bool = False  # also try loading the directory as one nnpackage (in a child process)
    input_range: tuple[float, float] | None = None  # float inputs uniform in [lo, hi) (else see the module)

    def __post_init__(self) -> None:
        check_executor(self.executor)
        if not (self.rtol >= 0 and self.atol >= 0):  # also refuses NaN
            raise UsageError(f"tolerances must be >= 0, got rtol {self.rtol:g} and atol {self.atol:g}")
        if self.input_range is not None:
            lo, hi = self.input_range
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise UsageError(f"--input-range needs finite LO < HI, got {lo:g},{hi:g}")


def check_executor(executor: str) -> None:
    """Refuse an executor onert does not have."""
    if executor not in EXECUTORS:
        raise UsageError(f"unknown onert executor {executor!r} (use {', '.join(EXECUTORS)})")


@dataclass(frozen=True)
class OutputCheck:
    """One model output compared: the largest absolute and relative differences and the verdict."""

    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float  # max_abs / max |whole-model output|
    scale: float  # max |whole-model output|
    ok: bool


@dataclass
class VerifyResult:
    """The verdict over all model outputs of one split."""

    out_dir: Path
    outputs: list[OutputCheck]
    settings: VerifySettings
    num_parts: int
    package: tuple[bool, str] | None = None  # (loaded and ran, what happened) when probed
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    def to_json(self) -> dict:
        """The verdict as a JSON document; an infinite difference (shapes disagree) is null."""
        return {
            "out_dir": str(self.out_dir),
            "num_parts": self.num_parts,
            "ok": self.ok,
            "settings": asdict(self.settings),
            "outputs": [
                {**asdict(o), "shape": list(o.shape), "max_abs": _finite(o.max_abs), "max_rel": _finite(o.max_rel),
                 "scale": _finite(o.scale)}
                for o in self.outputs
            ],
            "package": None if self.package is None else {"loaded": self.package[0], "detail": self.package[1]},
            "notes": list(self.notes),
        }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def verify_split(split: SplitResult | str | Path, settings: VerifySettings = VerifySettings()) -> VerifyResult:
    """Run the whole model and the chain of parts on the same seeded inputs and compare every output.

    Raises
    ------
    UsageError, CheckError
        The split directory is unreadable or its connection files are inconsistent.
    devices.chain.RunError
        onert cannot load or run a model.
    devices.isolated.RuntimeCrash
        onert crashed on a model (it runs in a child process; the message names the file).
    """
    split = split if isinstance(split, SplitResult) else read_split(split)
    installed = installed_backends()
    notes = list(split.notes) + fallback_notes(split, installed)
    float_range = settings.input_range
    if float_range is None:
        limited = sorted({op.type for op in read_model(split.model).operators} & DOMAIN_TYPES)
        if limited:
            float_range = DOMAIN_RANGE
            notes.append(f"float inputs drawn uniform in [0, 1): the model has {', '.join(limited)}")
    with uncompressed(split.model) as plain:
        reference, produced = run_isolated(
            _run_split, plain, part_stages(split, installed), split.model_inputs, split.model_outputs, settings,
            float_range, what="onert",
        )  # fmt: skip
    checks = [compare_output(name, got, ref, settings)
              for name, got, ref in zip(split.model_outputs, produced, reference)]  # fmt: skip
    result = VerifyResult(split.out_dir, checks, settings, len(split.parts), notes=notes)
    if settings.probe_package:
        result.package = probe_load(split.out_dir)
    return result


def runnable_backend(device: str, installed: frozenset[str]) -> str:
    """The onert backend a part of ``device`` runs on: the device's own when it is an onert backend the
    installed onert has, else cpu."""
    backend = onert_backends(device)
    return backend if backend in installed else "cpu"


def part_stages(split: SplitResult, installed: frozenset[str] | None = None) -> list[Stage]:
    """The parts as stages of a chain, each on its own device's onert backend (:func:`runnable_backend`)."""
    installed = installed_backends() if installed is None else installed
    return [Stage(split.out_dir / p.file, p.inputs, p.outputs, runnable_backend(p.device, installed))
            for p in split.parts]  # fmt: skip


def fallback_notes(split: SplitResult, installed: frozenset[str]) -> list[str]:
    """One note per part that runs on cpu instead of its device."""
    notes = []
    for number, p in enumerate(split.parts, start=1):
        if p.device == "cpu" or runnable_backend(p.device, installed) != "cpu":
            continue
        why = "not an onert backend" if onert_backends(p.device) == "cpu" else "not in the installed onert"
        notes.append(f"part {number} ({p.file}) ran on cpu: {p.device} is {why}")
    return notes


def _run_split(
    step, whole: Path, stages: list[Stage], inputs: tuple[str, ...], outputs: tuple[str, ...], settings: VerifySettings,
    float_range: tuple[float, float] | None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The whole model's outputs and the chain's, on the same seeded inputs (run in a child process: a part
    file onert cannot read may crash it, see ``devices.isolated``)."""
    env = {"EXECUTOR": settings.executor}
    step(f"{whole} (the whole model)")
    model = ModelRunner(whole, env=env)
    feeds = seeded_inputs(model.input_specs(), settings.seed, float_range)
    reference = model.run(feeds)
    tensors = dict(zip(inputs, feeds))
    for stage in stages:
        step(f"{stage.path} (a part model)")
        tensors = ChainRunner([stage], env=env).run(tensors)
    return reference, [tensors[name] for name in outputs]


def compare_output(name: str, got: np.ndarray, ref: np.ndarray, settings: VerifySettings) -> OutputCheck:
    """One model output of the parts (``got``) against the whole model's (``ref``), as the module says."""
    if got.shape != ref.shape:
        return OutputCheck(name, tuple(ref.shape), float("inf"), float("inf"), 0.0, False)
    got64, ref64 = got.astype(np.float64), ref.astype(np.float64)
    same = (got64 == ref64) | (np.isnan(got64) & np.isnan(ref64))  # equal infinities, NaN on both sides
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(got64 - ref64))
    diff = np.where(np.isnan(diff), np.inf, diff)  # a NaN on one side only
    finite = np.abs(ref64[np.isfinite(ref64)])
    scale = float(np.max(finite)) if finite.size else 0.0
    max_abs = float(np.max(diff)) if diff.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    ok = max_abs <= settings.atol + settings.rtol * scale
    return OutputCheck(name, tuple(ref.shape), max_abs, max_rel, scale, ok)


def split_and_verify(
    model_path: str | Path,
    parts: list[int],
    out_dir: str | Path,
    *,
    model: Model | None = None,
    op_weights: list[float] | None = None,
    verify: bool = True,
    settings: VerifySettings = VerifySettings(),
    context: dict | None = None,
) -> tuple[SplitResult, VerifyResult | None]:
    """Split ``model_path`` by ``parts`` into ``out_dir`` and (unless ``verify`` is False) verify it.

    ``op_weights`` (per-op time in us, e.g. the partition problem's node weights) records each part's
    predicted load in ``split.json``, for ``solve pipeline``, and ``context`` the trace's measurement context.

    Raises
    ------
    CheckError
        The parts do not compute the whole model's outputs (after the files are written, so the
        user can inspect them).
    """
    split = split_model(model_path, parts, out_dir, model=model, op_weights=op_weights, context=context)
    if not verify:
        return split, None
    result = verify_split(split, settings)
    check_verified(result)
    return split, result


def check_verified(result: VerifyResult) -> None:
    """Raise a one-line :class:`CheckError` naming the first mismatching output, if any."""
    for o in result.outputs:
        if not o.ok:
            raise CheckError(
                f"{result.out_dir}: the parts do not compute model output '{o.name}' (max abs diff {o.max_abs:.3g}, "
                f"rel {o.max_rel:.3g}, tolerance {result.settings.atol:g} + {result.settings.rtol:g} * {o.scale:.3g})"
            )
