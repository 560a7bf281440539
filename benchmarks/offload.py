"""Offloading to backends: circle-partitioner's grouping and a delegate-style greedy against the exact plan.

Two platforms per model (MobileNetV2, ResNet50, InceptionV3 from solver.models.zoo, weights=None):

- measured: onert's cpu and ruy backends with their own traces (``solve profile``, ruy running CONV_2D and
  FULLY_CONNECTED, all it runs). A hand-off costs 20 us + bytes at 5 GB/s: both backends share this CPU's
  memory, so a hand-off is a copy of the output array into the next session plus a session call (an assumed
  figure; the measured end-to-end minus the parts' own times is printed beside it). Every plan is split and
  run (``solve run``'s sequential runner) for its measured end-to-end latency.
- npu (predicted only, there is no NPU here): an accelerator of matrix products that runs what ruy runs
  (CONV_2D, FULLY_CONNECTED) 4x faster than the measured cpu, nothing else; a hand-off costs 100 us + bytes at
  2 GB/s (a driver round trip and a DMA over a shared bus, the order of a mobile NPU delegate's invocation
  cost). Convolutions alternate with depthwise convolutions and adds the accelerator does not run, so every
  offloaded run of ops pays two hand-offs: offloading a small convolution does not pay, a large one does, and
  the choice is not trivial.

circle-partitioner's rules send every op type the backend runs to it (what a user writes without times);
the delegate plan claims the same ops TFLite-style. Columns: predicted latency, parts and hand-offs of each
plan (with the proven bound and the solve time), and for the measured platform the measured median end-to-end
latency with its IQR, the measured hand-off time (mean end to end minus the parts' mean times) and the whole
model on cpu in the same rounds. The load average is printed: the machine is shared, and times measured under
load carry that spread.

    python -m benchmarks.offload [--models mobilenet_v2,...] [--time-limit 60] [--rounds 10] [--traces DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from solver.deploy.sequential import run_sequential
from solver.deploy.split import split_model
from solver.io.partrules import PartitionRules
from solver.io.platform import read_platform
from solver.models.zoo import model_path
from solver.offload.offload import offload_model
from solver.offload.settings import OffloadSettings
from solver.problem import load_problem

MODELS = ("mobilenet_v2", "resnet50", "inception_v3")
RUY_OPS = ("CONV_2D", "FULLY_CONNECTED")
NPU_OPS = RUY_OPS  # the accelerator runs what ruy runs (matrix products), 4x faster than the cpu
PLANS = ("circle-partitioner", "delegate", "exact")


def trace(model: Path, out: Path, ruy: bool) -> Path:
    """The model's onert trace on cpu, or with ruy running what it runs (measured once, kept in ``out``)."""
    if not out.exists():
        extra = ["--backends", "cpu,ruy", "--op-type", "Conv2D=ruy", "--op-type", "FullyConnected=ruy"] if ruy else []
        subprocess.run([sys.executable, "-m", "solver", "profile", str(model), "--out", str(out), "--runs", "5",
                        "--rounds", "2", "--max-runs", "20", *extra], check=True, capture_output=True)  # fmt: skip
    return out


def platforms(tmp: Path, cpu: Path, ruy: Path):
    measured = {"devices": [{"name": "cpu", "trace": str(cpu)},
                            {"name": "ruy", "trace": str(ruy), "supports": list(RUY_OPS)}],
                "default_link": {"bandwidth": 5e9, "latency_us": 20}}  # fmt: skip
    npu = {"devices": [{"name": "cpu", "trace": str(cpu)},
                       {"name": "npu", "speed": 4.0, "supports": list(NPU_OPS)}],  # 4x the cpu trace's times
           "default_link": {"bandwidth": 2e9, "latency_us": 100}}  # fmt: skip
    for name, doc in (("measured", measured), ("npu", npu)):
        (tmp / f"{name}.json").write_text(json.dumps(doc))
    return {name: read_platform(tmp / f"{name}.json") for name in ("measured", "npu")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds of each measured plan")
    parser.add_argument("--traces", type=Path, default=Path(tempfile.gettempdir()) / "nnpart-offload-traces",
                        help="where the cpu and ruy traces are kept between runs")  # fmt: skip
    args = parser.parse_args(argv)
    args.traces.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'model':<13} {'platform':<9} {'plan':<19} {'predicted ms':>12} {'parts':>5} {'hand-offs':>9} "
          f"{'status':<9} {'bound ms':>8} {'solve s':>7} {'measured ms (IQR)':>22} {'hand-off ms':>11} {'whole cpu ms':>12}")  # fmt: skip
    for name in args.models.split(","):
        model = model_path(name)
        cpu = trace(model, args.traces / f"{name}.cpu.chrome.json", ruy=False)
        ruy = trace(model, args.traces / f"{name}.ruy.chrome.json", ruy=True)
        problem = load_problem(model, cpu)
        with tempfile.TemporaryDirectory() as tmp:
            for label, platform in platforms(Path(tmp), cpu, ruy).items():
                accelerator = platform.names[1]
                ops = RUY_OPS if accelerator == "ruy" else NPU_OPS
                rules = PartitionRules(("cpu", accelerator), "cpu", "opcode", {t: accelerator for t in ops})
                for plan in PLANS:
                    settings = OffloadSettings(algo=plan, time_limit=args.time_limit, workers=args.workers)
                    result = offload_model(problem, platform, settings, rules if plan == "circle-partitioner" else None)
                    m = result.metrics
                    measured = handoff = whole = "-"
                    if label == "measured":
                        out = Path(tmp) / f"{label}-{plan}"
                        split = split_model(model, m.parts, out, placement={k: platform.names[b] for k, b in
                                                                            enumerate(m.part_backends)})  # fmt: skip
                        run = run_sequential(split, rounds=args.rounds)
                        s = run.latency_ms
                        measured = f"{s.median:.1f} ({s.q25:.1f}-{s.q75:.1f})"
                        handoff = f"{s.mean - sum(p.mean for p in run.part_ms):.2f}"  # means add up, medians do not
                        whole = f"{run.whole_ms.median:.1f}"
                    print(f"{name:<13} {label:<9} {plan:<19} {m.latency / 1000:12.1f} {m.num_parts:>5} "
                          f"{m.handoffs:>9} {result.status:<9} {result.bound / 1000:8.1f} {result.time:7.1f} {measured:>22} {handoff:>11} {whole:>12}", flush=True)  # fmt: skip
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
