"""The partitioning problem: an operator DAG with integer op weights, and where it came from."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from solver.errors import UsageError
from solver.tflite import Model, read_model
from solver.trace import attach_weights, read_trace


@dataclass
class PartitionProblem:
    """An op DAG to split into pipeline stages (see docs/design.md for the graph convention).

    ``graph`` nodes are 0..n-1 with an integer ``weight`` (in ``weight_unit``); ``notes`` are facts the
    report must tell the user (dynamic batch, several subgraphs, how the weights were measured).
    """

    graph: nx.DiGraph
    name: str
    source: Path
    notes: list[str] = field(default_factory=list)
    weight_unit: str = "us"
    model: Model | None = None  # the TFLite model, when the input was one
    trace: Path | None = None  # the trace the weights came from
    trace_runs: int | None = None  # how many runs the trace held per op

    @property
    def num_ops(self) -> int:
        return self.graph.number_of_nodes()

    @property
    def total_weight(self) -> int:
        return sum(w for _, w in self.graph.nodes(data="weight"))


def load_problem(path: str | Path | None = None, trace: str | Path | None = None) -> PartitionProblem:
    """Read a partitioning problem.

    - a TFLite model (``.tflite``, ``.circle``, or either compressed with xz/gzip) with an onert trace
      (Chrome trace or ``trace.json``) giving the op weights; without a trace, the model is profiled on
      the local onert device first (the trace is cached, keyed by the model's content);
    - a JSON graph (``.json``, docs/graph-format.md) or a SALBP ``.IN2`` file, which carry their weights;
    - nothing: the bundled default, InceptionV3 with a trace measured by onert on it.

    Raises
    ------
    ModelError, TraceError, GraphFormatError, UsageError, DeviceError
        The input cannot be read, a graph file comes with a trace, or profiling failed.
    """
    from solver import keras_models

    if path is None:
        path, trace = keras_models.DEFAULT_MODEL, trace or keras_models.DEFAULT_TRACE
    path = Path(path)
    kind = _input_kind(path)
    if kind == "json":
        from solver.graphfile import read_graph_json

        return _no_trace(read_graph_json(path), trace)
    if kind == "in2":
        from solver.graphfile import read_in2

        return _no_trace(read_in2(path), trace)
    model = read_model(path)
    if trace is None:
        problem = _model_problem(model, _profile_locally(model))
        problem.notes.insert(0, f"no trace given: profiled on the local onert device first (trace: {problem.trace})")
        return problem
    return _model_problem(model, Path(trace))


def _input_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".in2":
        return "in2"
    return "model"


def _no_trace(problem: PartitionProblem, trace: str | Path | None) -> PartitionProblem:
    if trace is not None:
        raise UsageError(f"{problem.source}: a graph file carries its own weights; drop the trace {trace}")
    return problem


def _profile_locally(model: Model) -> Path:
    """Measure per-op times of ``model`` with the local onert device; the trace is kept in the cache."""
    from devices import open_device
    from devices.cache import default_cache_dir
    from devices.workerdevice import file_digest
    from solver.keras_models import TRACE_RUNS
    from solver.profiling import profile_model

    path = model.path
    digest = file_digest(path)[:16]  # the same digest keys the measurement cache
    out = default_cache_dir() / "traces" / f"{path.stem}-{digest}.chrome.json"
    if not out.exists():
        print(f"{path}: no trace given, profiling it on the local onert device ({TRACE_RUNS} runs)...", file=sys.stderr)
        profile_model(path, open_device("local"), runs=TRACE_RUNS, out=out)
    return out


def _model_problem(model: Model, trace: Path) -> PartitionProblem:
    path = model.path
    graph = model.op_graph()
    notes = list(model.notes)
    times = read_trace(trace)
    notes += attach_weights(graph, model, times)
    _, high = times.runs
    return PartitionProblem(
        graph=graph, name=path.name, source=path, notes=notes, model=model, trace=trace, trace_runs=high
    )
