"""The exact partitioner on real models: MobileNetV2, ResNet50, InceptionV3 with onert traces, K = 2..8.

Prints per model and K the best heuristic bottleneck (ONE's MinMax and our order search), the exact
bottleneck, status, proven bound and solve time. Target: every instance proven optimal in under 10 s
on a 2-core machine.

    python -m benchmarks.exact_models [--quick] [--time-limit 60] [--workers 2]
"""

from __future__ import annotations

import argparse

from solver.models.zoo import model_path, trace_path
from solver.partitioning.partition import PartitionSettings, partition
from solver.problem import load_problem

MODELS = ("mobilenet_v2", "resnet50", "inception_v3")
TARGET_SECONDS = 10.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="K in 2, 4, 8 only")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    ks = (2, 4, 8) if args.quick else (2, 3, 4, 6, 8)
    print(f"{'model':<13} {'ops':>4} {'K':>2} {'heuristic':>10} {'exact':>8} {'bound':>8} {'status':<9} "
          f"{'time s':>7}  target: OPTIMAL in < {TARGET_SECONDS:g} s")
    met = total = 0
    for name in MODELS:
        problem = load_problem(model_path(name), trace_path(name))
        for k in ks:
            settings = PartitionSettings(num_parts=k, runs=10, seed=0, exact=True, time_limit=args.time_limit,
                                         workers=args.workers)  # fmt: skip
            r = partition(problem, settings)
            heuristic = min(run.metrics.bottleneck for run in r.heuristics.values())
            seconds = r.exact.wall_time  # the exact solver's time, as the target counts it
            ok = r.status == "OPTIMAL" and seconds < TARGET_SECONDS
            met, total = met + ok, total + 1
            print(f"{name:<13} {problem.num_ops:>4} {k:>2} {heuristic:>10} {r.metrics.bottleneck:>8} {r.bound:>8} "
                  f"{r.status:<9} {seconds:>7.2f}  {'met' if ok else 'MISSED'}", flush=True)
    print(f"\n{met}/{total} instances proven optimal in under {TARGET_SECONDS:g} s")


if __name__ == "__main__":
    main()
