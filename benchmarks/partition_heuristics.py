"""Partition heuristics: ONE's MinMax (10 runs) against our order search, beside the exact optimum.

Prints one row per (graph, K): bottleneck and time of each heuristic, the lower bound, and the CP-SAT
result (status and bottleneck) where it is run. Targets: order search no worse than MinMax; under a second on
125 ops; seconds on 10,000 ops.

    python -m benchmarks.partition_heuristics [--quick]

Graphs: the bundled InceptionV3 with its onert trace (``load_problem()``), and random layered DAGs with fixed
seeds (a 10,000-op one in the full profile).
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np

from heuristics.minmax import minmax
from heuristics.orders import order_search
from solver.metrics import check_partition, lower_bound
from solver.problem import load_problem


def layered_dag(n: int, seed: int = 0, fan_in: int = 2, window: int = 40) -> nx.DiGraph:
    """Ops 0..n-1, each reading ``fan_in`` random earlier ops among the last ``window``; weights 1..999."""
    rng = np.random.default_rng(seed)
    graph = nx.DiGraph(name=f"layered-{n}")
    graph.add_nodes_from((v, {"weight": int(rng.integers(1, 1000))}) for v in range(n))
    for v in range(1, n):
        for u in rng.integers(max(0, v - window), v, size=fan_in):
            graph.add_edge(int(u), v)
    return graph


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def row(name: str, graph: nx.DiGraph, k: int, exact_limit: float | None) -> str:
    mm, t_mm = _timed(lambda: minmax(graph, k, runs=10, seed=0))
    os_, t_os = _timed(lambda: order_search(graph, k, seed=0))
    b_mm = check_partition(graph, mm, k).bottleneck
    b_os = check_partition(graph, os_, k).bottleneck
    exact = "-"
    if exact_limit:
        from solver.exact import solve_exact

        res = solve_exact(graph, k, hint=os_ if b_os <= b_mm else mm, time_limit=exact_limit, workers=2)
        exact = f"{res.status} {res.bottleneck}"
    verdict = "ok" if b_os <= b_mm else "WORSE"
    return (f"{name:<16} {graph.number_of_nodes():>6} {k:>3} {lower_bound(graph, k):>10} {b_mm:>10} {t_mm:>8.3f} "
            f"{b_os:>10} {t_os:>8.3f} {verdict:>6}  {exact}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="InceptionV3 K=4 and a 2,000-op DAG only")
    args = parser.parse_args(argv)
    inception = load_problem().graph
    cases = [("inception_v3", inception, k, 20.0) for k in ((4,) if args.quick else (2, 4, 8, 16))]
    sizes = (2000,) if args.quick else (2000, 10000)
    cases += [(f"layered-{n}", layered_dag(n), k, None) for n in sizes for k in (4, 16)]
    print("target: order search <= MinMax (10 runs); < 1 s at 125 ops; seconds at 10,000 ops")
    print(f"{'graph':<16} {'ops':>6} {'K':>3} {'lower bnd':>10} {'MinMax':>10} {'s':>8} {'orders':>10} {'s':>8} "
          f"{'vs MM':>6}  exact (20 s, 2 workers)")  # fmt: skip
    for name, graph, k, limit in cases:
        print(row(name, graph, k, limit), flush=True)


if __name__ == "__main__":
    main()
