"""Placements run as placed: predicted against measured throughput and latency, on real (shaped) links.

Scenarios (root: devices.netlab builds them):
(a) two devices, one core each, a 1 Gbit/s link both ways;
(b) seed 002-style networks of 3 nodes (``--nodes``), positions uniform in [1, 150]^2, bandwidth by seed 002's law (6.5
    Mbit/s on average), memory per node 60% of what the whole model needs in our memory model (so the model
    must be split), 3 nodes on this machine's cores (two share one: the prediction counts it).
Each model is placed by ``solve place --exact`` (throughput) and, in (b), by the greedy and by seed 002's own
method on the same network; every placement is split, run on the lab's workers (devices.placed), and its
measured throughput and one-in-flight latency printed beside the prediction with the platform's links and
with the links measured by a ping-pong in the same lab (``solve pipeline --calibrate-links``).

    python -m benchmarks.placed_pipeline [--models mobilenet_v2] [--networks 1] [--nodes 3] [--requests 20]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from devices.placed import PlacedSettings
from solver.commands._placed import predict
from solver.deploy.placed import calibrate_links, compare_placed, placed_workers
from solver.deploy.split import split_model
from solver.io.linkfile import calibrated
from solver.io.platform import read_platform
from solver.models.zoo import model_path, trace_path
from solver.partitioning.problem import load_problem
from solver.placement.metrics import evaluate
from solver.placement.place import INVALID, PlaceSettings, place
from solver.placement.problem import placement_problem

GBIT = 1.25e8  # bytes/s


def two_devices(directory: Path) -> Path:
    path = directory / "two_cpus.json"
    path.write_text(json.dumps({"devices": [{"name": "cpu0"}, {"name": "cpu1"}],
                                "default_link": {"bandwidth": GBIT}}))  # fmt: skip
    return path


def seed002_network(directory: Path, problem, nodes: int, seed: int) -> Path:
    whole = evaluate(placement_problem(problem, read_platform(two_devices(directory))), [0] * problem.num_ops,
                     memory=False).memory[0]  # fmt: skip
    positions = np.random.default_rng(seed).random((nodes, 2)) * 149 + 1
    path = directory / f"seed002_{nodes}n_s{seed}.json"
    path.write_text(json.dumps({"bandwidth_law": "seed002", "devices": [
        {"name": f"n{i}", "memory": int(0.6 * whole), "pos": [float(x), float(y)]} for i, (x, y) in enumerate(positions)]}))
    return path


def run_scenario(label: str, model: str, platform_path: Path, algos: list[str], directory: Path,
                 settings: PlacedSettings) -> list[dict]:  # fmt: skip
    problem = load_problem(model_path(model), trace_path(model))
    platform = read_platform(platform_path)
    placements = []
    for algo in algos:
        result = place(problem, platform, PlaceSettings(exact=algo == "exact", algo="greedy" if algo == "exact" else algo,
                                                        time_limit=60, workers=1))  # fmt: skip
        if result.status == INVALID:
            print(f"# {label} {model} {algo}: INVALID in our memory model, not run", flush=True)
            continue
        out = directory / f"{label}_{model}_{algo}"
        placement = {int(k): d for k, d in result.placement.items()}
        split = split_model(model_path(model), result.parts, out, placement=placement)
        placements.append((algo, result, split))
    rows = []
    with placed_workers("netlab", list(platform.names), platform) as workers:
        fits = calibrate_links(workers, platform, list(platform.names))
        measured = calibrated(platform, fits)
        cores = len(os.sched_getaffinity(0))
        for algo, result, split in placements:
            predictions = [predict(problem, platform, split, "platform", workers.core_of, cores),
                           predict(problem, measured, split, "calibrated", workers.core_of, cores)]  # fmt: skip
            comparison = compare_placed(split, workers, predictions, settings)
            rows.append({"scenario": label, "model": model, "algo": algo, "status": result.status,
                         "devices": "+".join(dict.fromkeys(p.device for p in split.parts)),
                         "comparison": comparison})  # fmt: skip
            from solver.deploy.report import placed_text

            print(f"# {label} {model} {algo} ({result.status})\n{placed_text(comparison)}\n", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mobilenet_v2", help="comma-separated zoo models (default mobilenet_v2)")
    parser.add_argument("--networks", type=int, default=1, help="seed 002-style networks per model (default 1)")
    parser.add_argument("--nodes", type=int, default=3, help="nodes of each network (default 3)")
    parser.add_argument("--no-two-devices", action="store_true", help="skip scenario (a)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per run (default 20)")
    args = parser.parse_args(argv)
    settings = PlacedSettings(requests=args.requests, warmup=3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for model in args.models.split(","):
            if not args.no_two_devices:
                rows += run_scenario("a_2cpu_1gbit", model, two_devices(directory), ["exact"], directory, settings)
            problem = load_problem(model_path(model), trace_path(model))
            for seed in range(args.networks):
                network = seed002_network(directory, problem, args.nodes, seed)
                rows += run_scenario(f"b_seed002_{args.nodes}n_s{seed}", model, network, ["exact", "greedy", "seed002"],
                                     directory, settings)  # fmt: skip
    header = (f"{'scenario':18} {'model':13} {'algo':8} {'devices':10} {'pred inf/s':>10} {'cal inf/s':>10} "
              f"{'meas inf/s':>10} {'pred ms':>8} {'cal ms':>8} {'meas ms (IQR)':>16} {'load':>10}  measured bottleneck")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in rows:
        c = r["comparison"]
        plain, cal = c.predictions
        lat = c.latency
        what, us = c.measured_bottleneck()
        print(f"{r['scenario']:18} {r['model']:13} {r['algo']:8} {r['devices']:10} {plain.throughput:10.2f} "
              f"{cal.throughput:10.2f} {c.run.throughput:10.2f} {plain.latency_us / 1000:8.1f} {cal.latency_us / 1000:8.1f} "
              f"{lat.median / 1000:8.1f} ({lat.iqr / 1000:5.1f}) {c.load_average[0]:4.1f}-{c.load_average[1]:4.1f}  "
              f"{what} {us / 1000:.1f} ms")  # fmt: skip
    print("pred: solve place's model with the platform's links; cal: with the links fitted by a ping-pong through "
          "Dask in the same lab; meas: throughput with stages + 1 requests in flight, latency with one")


if __name__ == "__main__":
    main()
