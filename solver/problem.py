"""The partitioning problem: an operator DAG with integer op weights, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from solver.tflite import Model


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
