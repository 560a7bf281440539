"""The memory model a command uses: the calibration kept for this machine, or the planner (docs/memory.md)."""

from __future__ import annotations

from solver.errors import UsageError


def memory_model(requested: str | None, fitted=None, *, this_machine: bool = True):
    """``requested`` (upper, planner, calibrated) or the default: ``fitted`` now, else the calibration kept for
    this machine's local device, else the planner (UsageError for ``calibrated`` without a calibration).
    A platform's devices (``this_machine=False``) are not this machine: its calibration is then no default."""
    from devices.cache import device_identity, load_calibration
    from solver.memory.calibration import MemoryCalibration, MemoryModel, choose_model

    if requested is None and not this_machine:
        return MemoryModel("planner", "the default for a platform's devices (this machine's calibration applies "
                                      "with --memory-model calibrated)")  # fmt: skip
    identity = device_identity("local")
    if fitted is None:
        stored = load_calibration(identity, "memory")
        try:
            fitted = MemoryCalibration.from_json(stored) if stored is not None else None
        except UsageError:
            fitted = None  # an unreadable calibration is measured again by the next --calibrate
    return choose_model(requested, fitted, identity)


def add_memory_model_argument(parser, what: str) -> None:
    from solver.memory.model import MODELS

    parser.add_argument("--memory-model", choices=MODELS,
                        help=f"how {what} is predicted (docs/memory.md): upper (every tensor alive all run), planner "
                             "(onert's memory planner simulated) or calibrated (the planner plus this machine's "
                             "fitted session cost; solve partition --calibrate fits it); default calibrated where a "
                             "calibration exists, planner otherwise; the report says which")  # fmt: skip
