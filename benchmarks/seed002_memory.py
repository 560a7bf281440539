"""Seed 002's answers against the memory model: how many fit its nodes (64 MB by default) in its own estimate,
in the count nnpart's placement capped before (constants and every tensor touched), and in the planner and
calibrated models (docs/memory.md), and how many placements of ours fit under the model.

Seed 002's Keras models (``weights=None``; MobileNetV2 and EfficientNetB1 by default, the ones that fit a few
64 MB nodes) on its random networks (``benchmarks.seed002.network``: positions in [1, 150]^2, its bandwidth
law, one capacity for every node). Per network, seed 002's answer (``solver.placement.seed002``; it raises
"only one partition" when its estimate fits one node, or finds no path); for each answer, each part's memory
in its own estimate (output bytes plus the parameter *count*), the count, and each memory model's figure; the
answer *fits* a measure when every part is within the capacity. Then our placement under the planner model
(``solve place --memory-model planner``: the greedy, then the exact search, ``--time-limit`` each) and its
status. The Keras graphs have no TFLite shapes, so the workspace term is 0; a Keras model's own I/O is not in
its op graph. The calibrated model is the one kept for this machine (``solve partition --calibrate``), when
there is one. Printed: per model and node count the answers and, per measure, how many fit and the median of
the parts' largest figure; the load average before and after.

    python -m benchmarks.seed002_memory [--networks 20] [--nodes 5,10] [--cap 64]
                                        [--models mobilenet_v2,efficientnet_b1] [--time-limit 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.seed002 import MB, network
from devices.cache import device_identity, load_calibration
from solver.errors import InfeasibleError
from solver.io.keras import read_keras
from solver.io.platform import read_platform
from solver.memory.calibration import MemoryCalibration, MemoryModel
from solver.memory.parts import parts_memory, problem_graph
from solver.models.zoo import keras_path
from solver.placement.memory import memory_figure
from solver.placement.metrics import evaluate
from solver.placement.place import PlaceSettings, place
from solver.placement.problem import placement_problem
from solver.placement.seed002 import Seed002Error, seed002, seed002_memory
from solver.problem import PartitionProblem


def models() -> dict[str, MemoryModel]:
    """upper, planner and (when this machine has a calibration) calibrated."""
    out = {"upper": MemoryModel("upper", "benchmark"), "planner": MemoryModel("planner", "benchmark")}
    stored = load_calibration(device_identity("local"), "memory")
    if stored is not None:
        out["calibrated"] = MemoryModel("calibrated", "this machine's", MemoryCalibration.from_json(stored))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--nodes", default="5,10")
    parser.add_argument("--cap", type=int, default=64, help="MB per node")
    parser.add_argument("--models", default="mobilenet_v2,efficientnet_b1")
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args(argv)
    measures = models()
    print(f"python -m benchmarks.seed002_memory {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"load average before: {_load()}")
    if "calibrated" not in measures:
        print("no memory calibration of this machine: the calibrated model is left out")
    names = ["seed 002", "counted", *measures]
    print(f"{'model':<16} {'nodes':>5} {'answers':>7}  " + "  ".join(f"{n + ' fit (max MB)':>24}" for n in names)
          + f"  {'ours under planner':>24}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path = keras_path(name)
            graph = read_keras(path)
            for v in graph:  # seed 002's method and the memory never look at op times
                graph.nodes[v]["weight"] = 0
            base = PartitionProblem(graph, name, path)
            memory_graph = problem_graph(None, graph)
            for count in (int(n) for n in args.nodes.split(",")):
                fits = {n: [] for n in names}
                largest = {n: [] for n in names}
                raised, ours = 0, {}
                for seed in range(args.networks):
                    platform = read_platform(network(count, args.cap, seed, Path(tmp)))
                    problem = placement_problem(base, platform)
                    cap = args.cap * MB
                    try:
                        answer = seed002(problem)
                    except Seed002Error:
                        raised += 1
                        answer = None
                    if answer is not None:
                        used = sorted(set(answer.assign))
                        figures = {"seed 002": [seed002_memory(graph, [v for v, d in enumerate(answer.assign)
                                                                       if d == u]) for u in used],
                                   "counted": [evaluate(problem, answer.assign, memory=False).counted[u]
                                               for u in used]}  # fmt: skip
                        D = len(platform.devices)
                        for label, model in measures.items():
                            predicted = parts_memory(memory_graph, answer.assign, D, model).predicted
                            figures[label] = [predicted[u] for u in used]
                        for label, values in figures.items():
                            fits[label].append(max(values) <= cap)
                            largest[label].append(max(values) / MB)
                    settings = PlaceSettings(exact=True, time_limit=args.time_limit, workers=2)
                    try:
                        status = place(base, platform, settings, memory=memory_figure(base, measures["planner"])).status
                    except InfeasibleError as err:
                        status = "NONE FOUND" if "not proven" in str(err) or "found no" in str(err) else "INFEASIBLE"
                    ours[status] = ours.get(status, 0) + 1
                answers = args.networks - raised
                cells = [f"{sum(fits[n])}/{answers} ({statistics.median(largest[n]) if largest[n] else 0:.1f})"
                         for n in names]  # fmt: skip
                status_text = ", ".join(f"{k} {v}" for k, v in sorted(ours.items()))
                print(f"{name:<16} {count:>5} {answers:>7}  " + "  ".join(f"{c:>24}" for c in cells)
                      + f"  {status_text:>24}", flush=True)  # fmt: skip
    print(f"load average after: {_load()} (1, 5, 15 min; {os.cpu_count()} cores)")


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
