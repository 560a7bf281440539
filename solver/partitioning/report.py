"""Reports of a partition: readable text, a JSON document, and ONE's ``partition_map.json``."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from solver.partitioning.partition import PartitionResult
from solver.partitioning.problem import PartitionProblem

METHOD_NAMES = {"minmax": "ONE MinMax (fixed)", "orders": "order search", "exact": "exact (CP-SAT)"}


def part_rows(problem: PartitionProblem, result: PartitionResult) -> list[dict]:
    """Per part: op count, weight, share of the total, first and last op (in topological order), constants."""
    graph, m = problem.graph, result.metrics
    ops: list[list[int]] = [[] for _ in range(m.num_parts)]
    for v in nx.lexicographical_topological_sort(graph):
        ops[result.parts[v]].append(v)
    return [
        {
            "part": k,
            "ops": m.op_counts[k],
            "weight": m.loads[k],
            "share": m.loads[k] / m.total if m.total else 0.0,
            "first_op": _op(graph, ops[k][0]) if ops[k] else None,
            "last_op": _op(graph, ops[k][-1]) if ops[k] else None,
            "constant_bytes": m.memory[k],
        }
        for k in range(m.num_parts)
    ]


def _op(graph: nx.DiGraph, v: int) -> dict:
    return {"index": v, "type": graph.nodes[v].get("type", "")}


def report_json(problem: PartitionProblem, result: PartitionResult) -> dict:
    """The machine-readable report (what ``--json`` prints)."""
    m = result.metrics
    return {
        "model": problem.name,
        "source": str(problem.source),
        "trace": str(problem.trace) if problem.trace else None,
        "trace_runs": problem.trace_runs,
        "num_ops": problem.num_ops,
        "weight_unit": problem.weight_unit,
        "num_parts": m.num_parts,
        "method": result.method,
        "status": result.status,
        "total_weight": m.total,
        "bottleneck": m.bottleneck,
        "lower_bound": m.lower_bound,
        "ratio": m.ratio,
        "bound": result.bound,
        "gap": result.gap,
        "parts": part_rows(problem, result),
        "session_graph": m.session_graph,
        "acyclic": m.acyclic,
        "edge_cut": m.edge_cut,
        "memory_overhead": m.memory_overhead,
        "transfer_bytes": m.transfer_bytes,
        "heuristics": {name: {"bottleneck": b, "time": t} for name, (b, t) in result.heuristics.items()},
        "time": result.time,
        "notes": result.notes,
        "partition_map": result.parts,
    }


def format_report(problem: PartitionProblem, result: PartitionResult) -> str:
    """The readable report: parts, session graph, metrics, how the answer was found and how good it is."""
    m, unit = result.metrics, problem.weight_unit
    lines = [f"{problem.name}: {problem.num_ops} ops, total weight {m.total} {unit}, {m.num_parts} parts"]
    lines += [f"note: {note}" for note in result.notes]
    lines += ["", f"{'part':>4} {'ops':>5} {'weight':>10} {'share':>6}  {'first op':<24} {'last op':<24} constants"]
    for row in part_rows(problem, result):
        lines.append(
            f"{row['part']:>4} {row['ops']:>5} {row['weight']:>10} {row['share']:>6.1%}  "
            f"{_op_text(row['first_op']):<24} {_op_text(row['last_op']):<24} {row['constant_bytes']} B"
        )
    lines += ["", "session graph (1: some tensor goes from the row's part to the column's):"]
    lines.append("     " + " ".join(f"{j:>3}" for j in range(m.num_parts)))
    lines += [f"{i:>4} " + " ".join(f"{x:>3}" for x in row) for i, row in enumerate(m.session_graph)]
    lines += [
        "",
        f"bottleneck        {m.bottleneck} {unit}",
        f"lower bound       {m.lower_bound} {unit}  (max of ceil(total / K) and the largest op)",
        f"bottleneck / lower bound  {m.ratio:.4f}",
        f"edge cut          {m.edge_cut} op pairs across parts",
        f"memory overhead   {m.memory_overhead} B (ONE's definition: tensor bytes per cut edge)",
        f"transfer bytes    {m.transfer_bytes} B (each tensor once per consuming part)",
        f"session graph     {'acyclic' if m.acyclic else 'CYCLIC'}",
        "",
        f"method            {METHOD_NAMES[result.method]}, {result.status}",
        f"proven bound      {result.bound} {unit}, gap {result.gap:.2%}",
        "heuristics:",
    ]
    for name, (bottleneck, seconds) in result.heuristics.items():
        ratio = bottleneck / m.lower_bound if m.lower_bound else 1.0
        lines.append(f"  {name:<14} bottleneck {bottleneck:>10} {unit}  ({ratio:.4f} x lower bound)  {seconds:.3f} s")
    lines.append(f"time              {result.time:.2f} s")
    return "\n".join(lines)


def _op_text(op: dict | None) -> str:
    return f"{op['index']} {op['type']}".strip() if op else "-"
