"""The memory model's text: each part's or device's predicted memory, the model that predicted it and why."""

from __future__ import annotations

from solver.memory.calibration import MemoryModel
from solver.memory.parts import DeviceMemory, PartsMemory

MB = 2**20


def parts_text(memory: PartsMemory) -> str:
    """Each part's predicted memory with its terms, the model and (calibrated) its fit."""
    lines = [f"memory per part ({memory.model.name} model, {memory.model.reason}; planner {memory.planner}, "
             f"executor {memory.executor}):"]  # fmt: skip
    bounded = set(memory.bounded)
    for k, (nbytes, terms) in enumerate(zip(memory.predicted, memory.terms)):
        # The planner's sum first; the terms only a calibration weighs after the semicolon.
        at_least = ">= " if k in bounded else ""
        lines.append(f"  part {k}: {at_least}{nbytes / MB:8.2f} MB  (constants {terms.constants / MB:.2f}, arena "
                     f"{sum(terms.arena.values()) / MB:.2f}, I/O {terms.io / MB:.2f}, workspace "
                     f"{terms.workspace / MB:.2f}; calibrated only: I/O copies {terms.copies / MB:.2f}, filter "
                     f"{terms.filter / MB:.2f}, largest constant {terms.largest_constant / MB:.2f}, largest activation "
                     f"{terms.activation / MB:.2f})")  # fmt: skip
    lines += [f"  note: {note}" for note in memory.notes]
    calibration = memory.model.calibration
    if calibration is not None:
        worst = max((abs(r) for r in calibration.residuals), default=0.0)
        lines.append(f"  calibration of {calibration.device}: fixed {calibration.fixed / MB:.2f} MB, constants x "
                     f"{calibration.constant_scale:.2f}, I/O copies x {calibration.copies_scale:.2f}, filter x "
                     f"{calibration.filter_scale:.2f}, workspace x {calibration.workspace_scale:.2f}, largest "
                     f"activation x {calibration.activation_scale:.2f}, "
                     f"{len(calibration.samples)} sessions, largest residual {worst / MB:.2f} MB")  # fmt: skip
    return "\n".join(lines)


def devices_text(model: MemoryModel, devices: list[DeviceMemory]) -> str:
    """Each used device: its capacity, the placement's own count, the model's figure and seed 002's estimate."""
    lines = [f"memory per device ({model.name} model, {model.reason}):",
             f"  {'device':<12} {'capacity':>12} {'counted':>12} {'predicted':>12} {'seed 002':>12}"]  # fmt: skip
    for d in devices:
        cap = "unlimited" if d.capacity is None else str(d.capacity)
        lines.append(f"  {d.device:<12} {cap:>12} {d.counted:>12} {d.predicted:>12} {d.seed002:>12.0f}"
                     f"{'  OVER' if d.over else ''}")  # fmt: skip
    if any(d.over for d in devices):
        lines.append("  OVER: the device's session needs more than its capacity under the memory model (a baseline's "
                     "answer, shown but not a placement)")  # fmt: skip
    return "\n".join(lines)
