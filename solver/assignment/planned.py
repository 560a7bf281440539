"""What onert's memory planner makes of a backend assignment: the regressors of the model-based search's memory.

Model. A point of a :class:`~solver.assignment.space.SearchSpace` puts every op of the model on a backend (its
decision's) and may choose ``EXECUTOR`` and ``CPU_MEMORY_PLANNER``. The session's memory is then, by the one
memory model (docs/memory.md, :mod:`solver.memory.model`), a sum of terms that are *not* sums over decisions:

- ``arena[b]``: the capacity onert's planner gives the tensors written by backend b's ops, claimed and released in
  the executor's order (a maximum over live tensors; a tensor handed to another backend lives to the end);
- ``constants[b]``: the constant bytes read by b's ops, each once per backend (a backend that prepacks its
  weights holds a copy of its own: the fit learns each backend's factor);
- ``workspace[b]``: the largest im2col matrix of b's Conv2D ops (scratch whose pages stay resident);
- ``handoff``: bytes of the tensors written on one backend and read by an op on another (held by both sides).

:func:`planner_features` gives these, in KB (the search's memory unit), as one row per point. The fit weighs
them (a device's fixed cost, prepacking factors, what the runtime adds) instead of the model assuming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from devices.workerdevice import file_digest
from solver.io.oplist import make_oplist
from solver.memory.lifetimes import LINEAR, Graph, backend_events, onert_order
from solver.memory.model import im2col_bytes, model_graph
from solver.memory.planner import DEFAULT_PLANNER, plan_memory, planner_for

KB = 1024.0


@dataclass(frozen=True)
class PlannerModel:
    """A model's memory graph tied to a space: ``decision_of[k]`` the decision covering op ``k``."""

    graph: Graph
    decision_of: tuple[int, ...]
    order: tuple[int, ...]  # the executor's op order (positions of graph.ops)


def planner_model(model, space) -> PlannerModel:
    """The planner's view of the ``solver.io.tflite.Model`` ``model`` over ``space`` (whose decisions cover its
    ops: by index in index mode, by onert op type in name mode); ValueError when they do not match."""
    graph = model_graph(model)
    if space.mode == "index":
        owner = {i: k for k, d in enumerate(space.decisions) for i in d.ops}
        decision_of = tuple(owner.get(i, -1) for i in range(len(graph.ops)))
    else:
        types = make_oplist(model, "index").opname_by_indx
        label = {d.label: k for k, d in enumerate(space.decisions)}
        decision_of = tuple(label.get(t, -1) for t in types)
    if -1 in decision_of or (space.opmap is not None and len(space.opmap) != len(graph.ops)):
        raise ValueError("the model's ops do not match the space's decisions")
    return PlannerModel(graph, decision_of, tuple(onert_order(graph)))


def feature_names(backends: Sequence[str]) -> list[str]:
    """The name of every column of :func:`planner_features`, in order."""
    return [f"{term}[{b}]" for b in backends for term in ("arena", "constants", "workspace")] + ["handoff"]


def point_features(planned: PlannerModel, backend_of: Sequence[str], backends: Sequence[str],
                   planner: str = DEFAULT_PLANNER, executor: str = LINEAR) -> list[float]:  # fmt: skip
    """The columns of one assignment (``backend_of[k]`` the backend of op ``k``), in KB (module docstring)."""
    graph = planned.graph
    row = []
    for b in backends:
        ops = [graph.ops[k] for k in range(len(graph.ops)) if backend_of[k] == b]
        arena = plan_memory(backend_events(graph, planned.order, backend_of, b, executor), planner).capacity if ops else 0
        constants = {t for op in ops for t in op.inputs if t in graph.constants}
        workspace = max((im2col_bytes(graph, op) for op in ops), default=0)
        row += [arena / KB, sum(graph.sizes[t] for t in constants) / KB, workspace / KB]
    external = set(graph.inputs) | set(graph.outputs) | graph.constants
    writer = {t: backend_of[k] for k, op in enumerate(graph.ops) for t in op.outputs if t not in external}
    handed = {t for k, op in enumerate(graph.ops) for t in op.inputs if t in writer and writer[t] != backend_of[k]}
    return row + [sum(graph.sizes[t] for t in handed) / KB]


def planner_features(planned: PlannerModel, space, genes: np.ndarray,
                     seen: dict[tuple, list[float]] | None = None) -> np.ndarray:  # fmt: skip
    """One row of :func:`point_features` per point (rows of ``genes``), ``EXECUTOR`` and ``CPU_MEMORY_PLANNER``
    read from the point's settings where the space searches them; equal assignments are simulated once (``seen``
    keeps the rows across calls)."""
    genes = np.asarray(genes, dtype=np.int64).reshape(-1, space.num_genes)
    seen = {} if seen is None else seen
    rows = []
    for point in map(tuple, genes.tolist()):
        digits = space.digits(point)
        values = dict(space.setting_values(point))
        key = tuple(digits) + (values.get("EXECUTOR", LINEAR), values.get("CPU_MEMORY_PLANNER"))
        if key not in seen:
            backend_of = [space.backends[digits[d]] for d in planned.decision_of]
            seen[key] = point_features(planned, backend_of, space.backends,
                                       planner_for(values.get("CPU_MEMORY_PLANNER")), values.get("EXECUTOR", LINEAR))  # fmt: skip
        rows.append(seen[key])
    return np.array(rows, dtype=np.float64).reshape(len(rows), 3 * len(space.backends) + 1)


def dump_model(dump) -> Path | None:
    """The model file a dump names (``model`` beside the dump file, the same bytes as its ``model_sha256``), or
    None: a synthetic dump, or a model not at hand."""
    name = dump.about.get("model")
    if not isinstance(name, str) or dump.path is None or not dump.model_sha256:
        return None
    path = Path(dump.path).parent / Path(name).name
    return path if path.is_file() and file_digest(path) == dump.model_sha256 else None


def with_planner(space, model_path: str | Path | None):
    """``space`` with the planner of the model file ``model_path`` (unchanged when None or when the model's ops do
    not match the space's decisions)."""
    from dataclasses import replace

    from solver.io.tflite import read_model

    if model_path is None or space.planned is not None:
        return space
    try:
        return replace(space, planned=planner_model(read_model(model_path), space))
    except ValueError:
        return space
