"""The problem every command starts from: an operator DAG with integer op weights, where it came from, and the
table of the input formats it is read from.

A new input format is a reader in ``solver/io/`` and one row of :data:`FORMATS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import networkx as nx

from heuristics.dag import Dag, GraphError

from solver.data import DEFAULT_MODEL, DEFAULT_TRACE
from solver.errors import UsageError
from solver.io.graph_arrays import GraphArrays, read_graph_arrays, refuse
from solver.io.graphs import read_in2
from solver.io.keras import SUFFIXES as KERAS_SUFFIXES
from solver.io.keras import read_keras, read_layer_times
from solver.io.tflite import Model, read_model
from solver.io.trace import attach_weights, read_trace


@dataclass
class PartitionProblem:
    """An op DAG to split into pipeline stages (see docs/design.md for the graph convention).

    ``graph`` nodes are 0..n-1 with an integer ``weight`` (in ``weight_unit``); ``notes`` are facts the
    report must tell the user (dynamic batch, several subgraphs, how the weights were measured). A JSON graph
    comes as ``arrays`` with ``graph`` None: the dag is built from the arrays and the networkx graph only when
    something asks for it (a million ops take 2 GB as networkx objects).
    """

    graph: nx.DiGraph | None
    name: str
    source: Path
    notes: list[str] = field(default_factory=list)
    weight_unit: str = "us"
    model: Model | None = None  # the TFLite model, when the input was one
    trace: Path | None = None  # the trace the weights came from
    trace_runs: int | None = None  # how many runs the trace held per op
    arrays: GraphArrays | None = None  # a JSON graph as read (then graph is built on first use)

    def __post_init__(self) -> None:
        if self.graph is None:
            del self.graph  # built on first use: see __getattr__

    def __getattr__(self, name: str):
        arrays = self.__dict__.get("arrays")
        if name != "graph" or arrays is None:
            raise AttributeError(name)
        self.graph = arrays.to_networkx()
        return self.graph

    @property
    def num_ops(self) -> int:
        return self.arrays.n if self.arrays is not None else self.graph.number_of_nodes()

    def op_type(self, v: int) -> str:
        """Op v's type (without building the networkx graph of a JSON graph)."""
        return self.arrays.types[v] if self.arrays is not None else self.graph.nodes[v].get("type", "")

    @property
    def total_weight(self) -> int:
        return self.dag.total

    @cached_property
    def dag(self) -> Dag:
        """The graph checked and flattened, once (raises GraphError naming the graph if it is invalid; a JSON
        graph's cycle raises the reader's GraphFormatError listing it)."""
        if self.arrays is None:
            return Dag.from_graph(self.graph)
        arrays = self.arrays
        *edges, tensors = arrays.pairs()
        try:
            return Dag.from_arrays(arrays.name, arrays.weights, edges, tensors, arrays.constant_table())
        except GraphError:
            refuse(arrays.path)

    def to_json(self) -> dict:
        """The problem's facts as a JSON object (snake_case keys)."""
        return {
            "model": self.name,
            "source": str(self.source),
            "trace": str(self.trace) if self.trace else None,
            "trace_runs": self.trace_runs,
            "num_ops": self.num_ops,
            "weight_unit": self.weight_unit,
            "total_weight": self.total_weight,
        }


# Where a format's op weights come from: the file itself, an onert trace (measured by ``solve profile``), or a
# layer-times file (measured by TensorFlow, ``solver.deploy.keras_timing``).
IN_FILE, TRACE, LAYER_TIMES = "file", "trace", "layer times"


@dataclass(frozen=True)
class InputFormat:
    """One input format: the file name suffixes that name it, where its op weights come from, and its reader
    ``read(path, weights_file, estimator)`` (``weights_file`` is None when the file carries its weights)."""

    name: str
    suffixes: tuple[str, ...]  # matched against the file's last suffix, in lower case
    weights: str  # IN_FILE, TRACE or LAYER_TIMES
    read: Callable[[Path, Path | None, str], PartitionProblem]


def _graph_reader(read: Callable[[Path], nx.DiGraph]) -> Callable[[Path, Path | None, str], PartitionProblem]:
    def read_problem(path: Path, _weights_file: Path | None, _estimator: str) -> PartitionProblem:
        graph = read(path)
        return PartitionProblem(graph=graph, name=graph.graph["name"], source=path, weight_unit=graph.graph["unit"])

    return read_problem


def _json_problem(path: Path, _weights_file: Path | None, _estimator: str) -> PartitionProblem:
    """A JSON graph read as arrays (solver/io/graph_arrays.py); its networkx graph is built when asked for."""
    arrays = read_graph_arrays(path)
    return PartitionProblem(graph=None, name=arrays.name, source=path, weight_unit=arrays.unit, arrays=arrays)


def _keras_problem(path: Path, times: Path | None, _estimator: str) -> PartitionProblem:
    graph = read_keras(path)
    failed = read_layer_times(times, graph)
    notes = [f"one op per Keras layer; op weights from the layer times in {times}"]
    if failed:
        notes.append(f"layers that could not be timed alone count 0 us: {', '.join(failed)}")
    return PartitionProblem(graph=graph, name=path.name, source=path, notes=notes, trace=times)


def _model_problem(path: Path, trace: Path | None, weights: str) -> PartitionProblem:
    model = read_model(path)
    path = model.path
    graph = model.op_graph()
    notes = list(model.notes)
    times = read_trace(trace)
    notes += attach_weights(graph, model, times, weights)
    _, high = times.runs
    return PartitionProblem(
        graph=graph, name=path.name, source=path, notes=notes, model=model, trace=trace, trace_runs=high
    )


FORMATS = (
    InputFormat("JSON graph (docs/graph-format.md)", (".json",), IN_FILE, _json_problem),
    InputFormat("SALBP .IN2", (".in2",), IN_FILE, _graph_reader(read_in2)),
    InputFormat("Keras model, one op per layer", KERAS_SUFFIXES, LAYER_TIMES, _keras_problem),
    InputFormat("TFLite model", (".tflite",), TRACE, _model_problem),
    InputFormat("circle model", (".circle",), TRACE, _model_problem),
    InputFormat("TFLite or circle model compressed with xz or gzip", (".xz", ".gz"), TRACE, _model_problem),
)
MODEL_FORMAT = FORMATS[3]  # any other name: the flatbuffer reader knows TFLite and circle by their identifier


def input_format(path: str | Path) -> InputFormat:
    """The row of :data:`FORMATS` that ``path``'s last suffix names (a TFLite or circle model when none does)."""
    suffix = Path(path).suffix.lower()
    return next((row for row in FORMATS if suffix in row.suffixes), MODEL_FORMAT)


def load_problem(
    path: str | Path | None = None, trace: str | Path | None = None, weights: str = "median"
) -> PartitionProblem:
    """Read a partitioning problem; reading never measures anything.

    - a TFLite model (``.tflite``, ``.circle``, or either compressed with xz/gzip) with an onert trace
      (Chrome trace or ``trace.json``) giving the op weights (``solver.deploy.profiling`` measures one);
    - a Keras model (``.keras``, ``.h5``; the ``keras`` extra) with a layer-times file
      (``solver.deploy.keras_timing`` measures one): one op per layer;
    - a JSON graph (``.json``, docs/graph-format.md) or a SALBP ``.IN2`` file, which carry their weights;
    - nothing: the bundled default, InceptionV3 with a trace measured by onert on it.

    ``weights`` is the estimator of an op's weight over the trace's timed runs (median, min, mean, pNN).

    Raises
    ------
    ModelError, TraceError, GraphFormatError, UsageError
        The input cannot be read, a model comes without a trace, or a graph file comes with one.
    """
    if path is None:
        path, trace = DEFAULT_MODEL, trace or DEFAULT_TRACE
    path = Path(path)
    kind = input_format(path)
    if kind.weights == IN_FILE:
        if trace is not None:
            raise UsageError(f"{path}: a graph file carries its own weights; drop the trace {trace}")
        return kind.read(path, None, weights)
    if trace is None:
        raise UsageError(f"{path}: a model needs a trace of its op times (measure one with 'solve profile')")
    return kind.read(path, Path(trace), weights)
