"""Placement on CPU + NPU and CPU + GPU + NPU platforms: MobileNetV2, ResNet50, InceptionV3 with onert traces.

The NPU runs the usual accelerated ops (convolutions, pooling, element-wise adds, concatenation, padding)
4 times faster than the CPU's measured times, holds 32 MB and runs nothing else (no softmax, mean, reshape
or fully-connected); a GPU runs every op 2 times faster and holds 256 MB; the CPU runs every op at its
measured time with no memory limit; the two-device platform is the NPU beside the CPU. 1 GB/s links with 40 us latency join every pair both ways (devices of
one SoC behind a shared bus). For each model and objective: the greedy chain placement, the exact answer,
its proven bound and status, both objectives of the answer, the ops on each device and the solve time.
Target: every instance OPTIMAL.

    python -m benchmarks.placement [--quick] [--platforms cpu+npu,cpu+gpu+npu] [--time-limit 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from solver.io.platform import read_platform
from solver.models.zoo import model_path, trace_path
from solver.placement.place import PlaceSettings, place
from solver.problem import load_problem

MODELS = ("mobilenet_v2", "resnet50", "inception_v3")
NPU_OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION", "PAD"]
NPU = {"name": "npu", "speed": 4.0, "memory": 32 * 2**20, "supports": NPU_OPS}
GPU = {"name": "gpu", "speed": 2.0, "memory": 256 * 2**20}
CPU = {"name": "cpu", "speed": 1.0}
LINK = {"bandwidth": 1.0e9, "latency_us": 40}
PLATFORMS = {
    "cpu+npu": {"devices": [NPU, CPU], "default_link": LINK},
    "cpu+gpu+npu": {"devices": [NPU, GPU, CPU], "default_link": LINK},
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="MobileNetV2 only")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--platforms", default=",".join(PLATFORMS), help="which platforms, comma-separated")
    args = parser.parse_args(argv)
    optimal = total = 0
    for label in args.platforms.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{label}.json"
            path.write_text(json.dumps(PLATFORMS[label]))
            platform = read_platform(path)
        names = "/".join(platform.names)
        print(f"\nplatform {label}")
        print(f"{'model':<13} {'ops':>4} {'objective':<10} {'greedy':>8} {'exact':>8} {'bound':>8} {'status':<9} "
              f"{'bottleneck':>10} {'latency':>8} {'ops ' + names:>15} {'time s':>7}")  # fmt: skip
        for name in MODELS[:1] if args.quick else MODELS:
            problem = load_problem(model_path(name), trace_path(name))
            for objective in ("throughput", "latency"):
                r = place(problem, platform, PlaceSettings(objective, exact=True, time_limit=args.time_limit, workers=args.workers))
                m = r.metrics
                optimal, total = optimal + (r.status == "OPTIMAL"), total + 1
                print(f"{name:<13} {problem.num_ops:>4} {objective:<10} {r.heuristic:>8} {r.value:>8} {r.bound:>8} "
                      f"{r.status:<9} {m.throughput:>10} {m.latency:>8} {'/'.join(map(str, m.op_counts)):>15} "
                      f"{r.time:>7.2f}", flush=True)  # fmt: skip
    print(f"\n{optimal}/{total} placements proven optimal")


if __name__ == "__main__":
    main()
