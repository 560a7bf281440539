"""Placement on a CPU + GPU + NPU platform: MobileNetV2, ResNet50, InceptionV3 with onert traces.

The NPU runs the usual accelerated ops (convolutions, pooling, element-wise adds, concatenation, padding)
4 times faster than the CPU's measured times, holds 32 MB and runs nothing else (no softmax, mean, reshape
or fully-connected); a GPU runs every op 2 times faster and holds 256 MB; the CPU runs every op at its
measured time with no memory limit. 1 GB/s links with 40 us latency join every pair both ways (devices of
one SoC behind a shared bus). For each model and objective: the greedy chain placement, the exact answer,
its proven bound and status, both objectives of the answer, the ops on each device and the solve time.
Target: every instance OPTIMAL.

    python -m benchmarks.placement [--quick] [--time-limit 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from solver.io.platform import read_platform
from solver.models.zoo import model_path, trace_path
from solver.partitioning.problem import load_problem
from solver.placement.place import PlaceSettings, place

MODELS = ("mobilenet_v2", "resnet50", "inception_v3")
NPU_OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION", "PAD"]
PLATFORM = {
    "devices": [
        {"name": "npu", "speed": 4.0, "memory": 32 * 2**20, "supports": NPU_OPS},
        {"name": "gpu", "speed": 2.0, "memory": 256 * 2**20},
        {"name": "cpu", "speed": 1.0},
    ],
    "default_link": {"bandwidth": 1.0e9, "latency_us": 40},
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="MobileNetV2 only")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cpu_npu.json"
        path.write_text(json.dumps(PLATFORM))
        platform = read_platform(path)
    print(f"{'model':<13} {'ops':>4} {'objective':<10} {'greedy':>8} {'exact':>8} {'bound':>8} {'status':<9} "
          f"{'bottleneck':>10} {'latency':>8} {'ops npu/gpu/cpu':>15} {'time s':>7}")  # fmt: skip
    optimal = total = 0
    for name in MODELS[:1] if args.quick else MODELS:
        problem = load_problem(model_path(name), trace_path(name))
        for objective in ("throughput", "latency"):
            r = place(problem, platform, PlaceSettings(objective, True, args.time_limit, args.workers))
            m = r.metrics
            optimal, total = optimal + (r.status == "OPTIMAL"), total + 1
            print(f"{name:<13} {problem.num_ops:>4} {objective:<10} {r.heuristic:>8} {r.value:>8} {r.bound:>8} "
                  f"{r.status:<9} {m.throughput:>10} {m.latency:>8} {'/'.join(map(str, m.op_counts)):>15} {r.time:>7.2f}",
                  flush=True)
    print(f"\n{optimal}/{total} placements proven optimal")


if __name__ == "__main__":
    main()
