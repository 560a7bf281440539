"""Partition heuristics on real models: ONE's MinMax (10 runs) against our order search.

For MobileNetV2, ResNet50 and InceptionV3 (Keras, ``weights=None``, converted to TFLite and traced with onert;
cached outside git by ``solver.models.zoo``) and K in 2, 3, 4, 6, 8, prints each heuristic's bottleneck,
the lower bound (``heuristics.dag.lower_bound``: average, largest op, bin packing, station windows), their
ratio and the time. A scaling row on a random
layered DAG of 10,000 ops follows.

Targets: order search no worse than MinMax everywhere; under a second at ~100 ops; seconds at 10,000 ops.

    python -m benchmarks.partition_heuristics [--quick]
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np

from heuristics.dag import Dag, lower_bound
from heuristics.minmax import minmax
from heuristics.orders import order_search
from solver.models import zoo as keras_models
from solver.partitioning.metrics import check_partition
from solver.problem import load_problem

PARTS = (2, 3, 4, 6, 8)


def layered_dag(n: int, seed: int = 0, fan_in: int = 2, window: int = 40) -> nx.DiGraph:
    """Ops 0..n-1, each reading ``fan_in`` random earlier ops among the last ``window``; weights 1..999."""
    rng = np.random.default_rng(seed)
    graph = nx.DiGraph(name=f"layered-{n}")
    graph.add_nodes_from((v, {"weight": int(rng.integers(1, 1000))}) for v in range(n))
    for v in range(1, n):
        for u in rng.integers(max(0, v - window), v, size=fan_in):
            graph.add_edge(int(u), v)
    return graph


def _run(heuristic, graph: nx.DiGraph, k: int) -> tuple[int, float]:
    start = time.perf_counter()
    parts = heuristic(graph, k)
    seconds = time.perf_counter() - start
    return check_partition(graph, parts, k).bottleneck, seconds


HEURISTICS = {
    "MinMax x10": lambda g, k: minmax(g, k, runs=10, seed=0),
    "order search": lambda g, k: order_search(g, k, seed=0),
}


def rows(name: str, graph: nx.DiGraph, parts: tuple[int, ...]):
    dag = Dag.from_graph(graph)
    for k in parts:
        bound = lower_bound(dag, k)
        results = {h: _run(fn, graph, k) for h, fn in HEURISTICS.items()}
        yield name, graph.number_of_nodes(), k, bound, results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="InceptionV3 only, and a 2,000-op DAG")
    args = parser.parse_args(argv)
    names = ("inception_v3",) if args.quick else tuple(keras_models.APPLICATIONS)
    graphs = [(n, load_problem(keras_models.model_path(n), keras_models.trace_path(n)).graph) for n in names]
    size = 2000 if args.quick else 10_000
    header = f"{'model':<14} {'ops':>6} {'K':>2} {'lower bnd':>10}"
    for h in HEURISTICS:
        header += f" | {h + ' bottleneck':>24} {'ratio':>6} {'s':>6}"
    print("bottlenecks in us (weights: onert trace medians); ratio = bottleneck / lower bound")
    print("target: order search <= MinMax x10 on every row")
    print(header)
    worse = 0
    all_rows = [r for name, graph in graphs for r in rows(name, graph, PARTS)]
    all_rows += list(rows(f"layered-{size}", layered_dag(size), (4, 8)))
    for name, n, k, bound, results in all_rows:
        line = f"{name:<14} {n:>6} {k:>2} {bound:>10}"
        for bottleneck, seconds in results.values():
            line += f" | {bottleneck:>24} {bottleneck / bound:>6.4f} {seconds:>6.2f}"
        print(line, flush=True)
        worse += results["order search"][0] > results["MinMax x10"][0]
    print(f"order search worse than MinMax on {worse} of {len(all_rows)} rows")


if __name__ == "__main__":
    main()
