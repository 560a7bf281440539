"""From partition to running pipeline: exact partition, split, verify and pipeline, predicted vs measured.

For each model and K: the exact CP-SAT partition of the onert trace, the split (part models, conn.json,
MANIFEST), the numerical check with onert, and the parts run as a pipeline of processes (one thread per
stage) against the whole model on K threads, interleaved over several rounds (medians). Baseline from the
issue: a naive 2-process pipeline of ResNet50 cut at op 40 ran 3.9 inferences/s against 4.3 for the whole
model, one thread each.

    python -m benchmarks.pipeline [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from devices.pipeline import PipelineSettings
from solver.models.zoo import model_path, trace_path
from solver.partitioning.partition import PartitionSettings, partition
from solver.deploy.pipeline import ComparisonSettings, compare_pipeline
from solver.deploy.report import pipeline_text
from solver.problem import load_problem
from solver.deploy.verify import split_and_verify

ISSUE_BASELINE = "issue: naive ResNet50 cut at op 40, 2 processes x 1 thread: 3.9 inf/s vs whole model 4.3 inf/s (0.91x)"


def run_case(name: str, num_parts: int, out: Path, settings: ComparisonSettings, time_limit: float) -> dict:
    problem = load_problem(model_path(name), trace_path(name))
    start = time.perf_counter()
    result = partition(problem, PartitionSettings(num_parts=num_parts, exact=True, time_limit=time_limit, workers=2))
    solve_s = time.perf_counter() - start
    weights = [problem.graph.nodes[v]["weight"] for v in range(problem.num_ops)]
    start = time.perf_counter()
    split, verified = split_and_verify(model_path(name), result.parts, out, op_weights=weights)
    split_s = time.perf_counter() - start
    comparison = compare_pipeline(split, settings)
    return {
        "name": name, "K": num_parts, "status": result.status, "solve_s": solve_s, "split_s": split_s,
        "max_rel": max(o.max_rel for o in verified.outputs), "comparison": comparison,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MobileNetV2 at K=2 only, fewer requests, one round")
    args = parser.parse_args(argv)
    if args.quick:
        cases = [("mobilenet_v2", 2)]
        settings = ComparisonSettings(PipelineSettings(requests=20, warmup=3), rounds=1)
    else:
        cases = [(n, k) for n in ("mobilenet_v2", "resnet50", "inception_v3") for k in (2, 3)]
        settings = ComparisonSettings(PipelineSettings(requests=30, warmup=3), rounds=3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, k in cases:
            row = run_case(name, k, Path(tmp) / f"{name}_k{k}", settings, time_limit=60)
            rows.append(row)
            print(f"# {name} K={k}\n{pipeline_text(row['comparison'])}\n", flush=True)
    header = (
        f"{'model':14} {'K':>2} {'partition':>10} {'split s':>8} {'verify rel':>10} {'pred x':>7} {'meas x':>7} "
        f"{'pipe inf/s':>10} {'whole inf/s':>11} {'pred inf/s':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        c = r["comparison"]
        print(
            f"{r['name']:14} {r['K']:>2} {r['status']:>10} {r['split_s']:8.1f} {r['max_rel']:10.1e} "
            f"{c.predicted_speedup:7.2f} {c.speedup:7.2f} {c.throughput:10.2f} {c.whole_throughput:11.2f} "
            f"{c.predicted_throughput:10.2f}"
        )
    print(ISSUE_BASELINE)
    print("pred x: sum of part loads / bottleneck (trace); meas x: pipeline (K procs x 1 thread) / whole model (K threads)")


if __name__ == "__main__":
    main()
