"""Placement chosen with the engine's measured cost per request against the placement chosen without it.

On the two-device platforms of benchmarks/placed_pipeline.py, (a) two devices of one core with a 1 Gbit/s link and
(c) the same with a 6.5 Mbit/s link (seed 002's mean), each model is placed by ``solve place --exact`` (throughput)
on the measured links twice: blind to the devices' per-request engine cost (the placement of last session), and
with it (solver.placement.engine). Both maps are predicted with the cost (``solver.placement.predicted``, each
device a machine of its own, as ``solve place`` reports it); the table shows which placements change and how much
predicted throughput the choice with the cost gains over the blind optimum.

The links files come from ``--links-a`` / ``--links-c`` (written by ``solve pipeline --calibrate-links``), or with
``--calibrate`` (root) from a ping-pong and echo stage tasks in a network lab of the platform (devices.netlab),
written to ``--out``. Op times: the busy one-core profile (``zoo.trace_path(threads=1, busy=True)``), as the
placed-pipeline benchmark places with ``--busy-profile``.

    python -m benchmarks.placement_engine [--models mobilenet_v2,resnet50,inception_v3] [--calibrate --out DIR]
        [--links-a FILE] [--links-c FILE] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.placed_pipeline import GBIT, SEED002_MEAN, two_devices
from solver.io.linkfile import calibrated, device_fits, read_calibration, write_links
from solver.io.platform import read_platform
from solver.models.zoo import model_path, trace_path
from solver.placement.place import PlaceSettings, place
from solver.placement.predicted import predict_parts
from solver.problem import load_problem

MODELS = ("mobilenet_v2", "resnet50", "inception_v3")
SCENARIOS = {"a": GBIT, "c": SEED002_MEAN}


def calibrate(platform_path: Path, out: Path) -> Path:
    """The platform's links and devices measured in a network lab, written to ``out`` (a links file)."""
    from solver.deploy.placed import calibrate_engine, calibrate_links, placed_workers

    platform = read_platform(platform_path)
    names = list(platform.names)
    with placed_workers("netlab", names, platform) as workers:
        links = calibrate_links(workers, platform, names)
        engine, host = calibrate_engine(workers, platform, names)
    return write_links(out, platform, links, engine, host)


def compare(model: str, platform_path: Path, links_path: Path, time_limit: float) -> dict:
    """The blind and the engine-aware optimum of ``model`` on the platform with the measured links, each predicted
    with the measured engine."""
    problem = load_problem(model_path(model), trace_path(model, threads=1, busy=True))
    platform = calibrated(read_platform(platform_path), read_calibration(links_path).links)
    fits = device_fits(platform, read_calibration(links_path), links_path)
    settings = PlaceSettings(exact=True, time_limit=time_limit, workers=2)
    row = {"model": model}
    for label, engine in (("blind", None), ("aware", fits)):
        result = place(problem, platform, settings, engine=engine)
        names = result.problem.devices
        parts = [(names[d], [v for v, a in enumerate(result.assign) if a == d]) for d in result.metrics.order]
        predicted = predict_parts(problem, platform, parts, "calibrated", {}, 1, fits)
        row[label] = {"status": result.status, "value": result.value, "time": result.time,
                      "ops": "/".join(str(len(ops)) for _, ops in parts), "devices": "+".join(d for d, _ in parts),
                      "period": predicted.period_us, "throughput": predicted.throughput,
                      "bottleneck": predicted.bottleneck, "assign": result.assign}  # fmt: skip
    row["changed"] = row["blind"]["assign"] != row["aware"]["assign"]
    return row


def _fits_text(fits) -> str:
    devices = [f"{f.name} task {f.task_us:.0f} us, pipe {f.pipe_bandwidth / 1e6:.3g} MB/s, hop {f.hop_us:.0f} us, "
               f"request {f.request_us:.0f} us" for f in fits.devices]  # fmt: skip
    links = [f"{l.source}->{l.target} {l.overhead_us:.0f} us + {l.bandwidth / 1e6:.3f} MB/s" for l in fits.links]
    return "; ".join(devices + links)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--scenarios", default="a,c")
    parser.add_argument("--links-a", type=Path, help="the links file of scenario (a)")
    parser.add_argument("--links-c", type=Path, help="the links file of scenario (c)")
    parser.add_argument("--calibrate", action="store_true", help="measure the links files in a network lab (root)")
    parser.add_argument("--out", type=Path, help="where --calibrate writes the links files (default: a temporary "
                                                 "folder)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        out = args.out or directory
        out.mkdir(parents=True, exist_ok=True)
        print(f"{'scen.':5} {'model':13} {'plan':6} {'status':8} {'parts':10} {'ops':9} {'objective us':>12} "
              f"{'pred. period us':>15} {'pred. inf/s':>11} {'gain':>7} {'solve s':>7}  bottleneck")  # fmt: skip
        for scenario in args.scenarios.split(","):
            platform_path = two_devices(directory, SCENARIOS[scenario])
            links = getattr(args, f"links_{scenario}")
            if links is None:
                if not args.calibrate:
                    parser.error(f"scenario ({scenario}) needs --links-{scenario} or --calibrate")
                links = calibrate(platform_path, out / f"{scenario}.links.json")
            print(f"# ({scenario}) {links}: {_fits_text(read_calibration(links))}", flush=True)
            for model in args.models.split(","):
                row = compare(model, platform_path, links, args.time_limit)
                for label in ("blind", "aware"):
                    r = row[label]
                    gain = r["throughput"] / row["blind"]["throughput"] - 1
                    print(f"{scenario:5} {model:13} {label:6} {r['status']:8} {r['devices']:10} {r['ops']:9} "
                          f"{r['value']:>12} {r['period']:>15.0f} {r['throughput']:>11.2f} {gain:>+7.1%} "
                          f"{r['time']:>7.1f}  {r['bottleneck']}", flush=True)  # fmt: skip
                print(f"#   placement {'changed' if row['changed'] else 'unchanged'}", flush=True)


if __name__ == "__main__":
    main()
