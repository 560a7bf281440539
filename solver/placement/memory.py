"""The memory model a placement's devices are capped on (docs/memory.md), as the placement solvers see it."""

from __future__ import annotations

from solver.memory.calibration import MemoryModel
from solver.memory.parts import part_floor, part_memory, problem_graph
from solver.placement.problem import MemoryFigure
from solver.problem import PartitionProblem


def memory_figure(problem: PartitionProblem, model: MemoryModel) -> MemoryFigure:
    """A part's session memory under ``model`` and the monotone relaxation the solvers state (see
    :class:`~solver.placement.problem.MemoryFigure`).

    - upper: ``constants + io + every tensor written`` holds every constant and data tensor a part touches (an
      input is I/O, a tensor it writes is I/O or written), so the relaxation is the count itself;
    - planner: the arena, I/O and workspace may hold less than every tensor; only the constants are certain;
    - calibrated: its fixed cost and its constants scale, the rest as the planner (the fixed cost a byte less:
      the figure is rounded to whole bytes).
    """
    graph = problem_graph(problem.model, problem.graph)
    figure, floor = part_memory(graph, model), part_floor(graph, model)
    if model.name == "upper":
        return MemoryFigure(model.name, figure, 0.0, 1.0, 1.0, floor)
    if model.name == "planner":
        return MemoryFigure(model.name, figure, 0.0, 1.0, 0.0, floor)
    calibration = model.calibration
    return MemoryFigure(model.name, figure, max(calibration.fixed - 1.0, 0.0), calibration.constant_scale, 0.0,
                        floor)  # fmt: skip
