"""MobileNetV2 under three backend assignments on the local onert, interleaved over rounds.

Assignments: all ops on cpu; every Conv2D on ruy; the first half of the Conv2D ops (by operator index)
on ruy. Each round measures the three once, in a fresh process each, in turn, so a slow phase of this
shared machine hits all three alike. Per assignment the table shows the median over rounds of the
per-round median time, the fastest round, the spread of the round medians (max - min, relative), and
the median and spread of the peak RSS, beside the figures in ../shared/reference/onert.md.

    python -m benchmarks.backends            # 5 rounds x 10 timed runs
    python -m benchmarks.backends --quick    # 2 rounds x 3 timed runs
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from devices import open_device
from devices.base import BackendConfig, MeasureSettings
from solver.io.tflite import read_model

# (time in ms, peak RSS in MB) measured for onert.md on this kind of machine.
BASELINE = {"all cpu": (30.0, 69.0), "Conv2D on ruy": (266.0, 89.0), "half Conv2D on ruy": (146.0, 88.0)}


def assignments(model: Path) -> dict[str, BackendConfig]:
    """The three configurations of the module docstring."""
    convs = [op.index for op in read_model(model).operators if op.type == "CONV_2D"]
    half = convs[: len(convs) // 2]
    return {
        "all cpu": BackendConfig(),
        "Conv2D on ruy": BackendConfig(("cpu", "ruy"), op_types=(("Conv2D", "ruy"),)),
        "half Conv2D on ruy": BackendConfig(("cpu", "ruy"), op_indices=tuple((i, "ruy") for i in half)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 timed runs")
    parser.add_argument("--model", type=Path, help="a .tflite model (default: MobileNetV2 from solver.models.zoo)")
    args = parser.parse_args()
    rounds, repeats = (2, 3) if args.quick else (5, 10)
    if args.model is None:
        from solver.models.zoo import model_path

        args.model = model_path("mobilenet_v2")
    device = open_device("local", cache=False)
    configs = assignments(args.model)
    settings = MeasureSettings(warmup=2, repeats=repeats)
    times: dict[str, list[float]] = {name: [] for name in configs}
    rss: dict[str, list[int]] = {name: [] for name in configs}
    invalid: dict[str, str] = {}
    for r in range(rounds):
        for name, config in configs.items():
            m = device.measure(args.model, config, settings)
            if not m.valid:
                invalid[name] = m.reason
                continue
            times[name].append(m.time_ms)
            rss[name].append(m.peak_rss_kb)
        print(f"round {r + 1}/{rounds} done", flush=True)

    print(f"\n{args.model.name}: {rounds} rounds x {repeats} timed runs (after 2 warm-up runs), fresh process each")
    print(f"{'assignment':<20} {'median ms':>9} {'min ms':>8} {'spread':>7} {'base ms':>8} "
          f"{'RSS MB':>7} {'spread':>7} {'base MB':>8}  valid")  # fmt: skip
    for name in configs:
        base_ms, base_mb = BASELINE[name]
        if not times[name]:
            print(f"{name:<20} {'-':>9} {'-':>8} {'-':>7} {base_ms:>8.0f} {'-':>7} {'-':>7} {base_mb:>8.0f}  "
                  f"no: {invalid[name]}")  # fmt: skip
            continue
        t, mem = times[name], [k / 1024 for k in rss[name]]
        t_med, m_med = statistics.median(t), statistics.median(mem)
        print(f"{name:<20} {t_med:>9.1f} {min(t):>8.1f} {100 * (max(t) - min(t)) / t_med:>6.0f}% {base_ms:>8.0f} "
              f"{m_med:>7.1f} {100 * (max(mem) - min(mem)) / m_med:>6.1f}% {base_mb:>8.0f}  "
              f"{'yes' if name not in invalid else 'partly: ' + invalid[name]}")  # fmt: skip


if __name__ == "__main__":
    main()
