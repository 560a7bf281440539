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

``--run`` (root) runs the choices on a platform where they differ: (a), with cpu1 a slower board's runtime, its
worker spending ``--board-task-ms`` of CPU in its event loop per task it runs and ``--board-ms-per-mb`` per MB it
receives (a Dask worker plugin; by default 150 ms/MB and nothing per task: a board whose network path is slow,
as receiving over the 6.5 Mbit/s link cost 34-54 ms/MB last session). In one lab
the links and engine are calibrated (the plugin on), then three optima are placed, split and run ``--repeats``
times in turn: blind to the engine, aware of the devices' occupancy only (last session's model, no message
CPU), and aware of each core's CPU with its messages (this model); each beside its calibrated prediction of the
run (the cores shared as the lab pins them, the scheduler's and client's CPU counted).

    python -m benchmarks.placement_engine [--models mobilenet_v2,resnet50,inception_v3] [--calibrate --out DIR]
        [--links-a FILE] [--links-c FILE] [--time-limit 60]
    python -m benchmarks.placement_engine --run [--models mobilenet_v2] [--board-task-ms 0] [--board-ms-per-mb 150]
        [--repeats 3] [--requests 30]
    python -m benchmarks.placement_engine --receive-rates

``--receive-rates`` (root) calibrates a lab of three devices where c receives from a over 1 Gbit/s and from b over
6.5 Mbit/s (every other link 1 Gbit/s), so c's receiving CPU is fitted over two rates (solver.deploy.linkfit.fit_core:
per MB and per second on the link), and prints each device's fit and what receiving a MB costs c at each rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
from pathlib import Path

from benchmarks.placed_pipeline import GBIT, SEED002_MEAN, two_devices
from devices.slowboard import burning_plugin
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


def slow_board(address: str, task_ms: float, ms_per_mb: float):
    """The worker at ``address`` made a slower board's runtime (devices.slowboard): ``task_ms`` of CPU whenever a
    probe's or a placed run's task finishes there and ``ms_per_mb`` per MB of such a task's data it fetched."""
    def ours(key: str) -> bool:
        return key.startswith(("probe-", "placed-")) and "-load-" not in key

    return burning_plugin(task_ms, ms_per_mb, ours, ours, address)


def run_choices(model: str, directory: Path, args) -> list[dict]:
    """Scenario ``--run`` (module docstring): the blind, occupancy-aware and CPU-aware optima of ``model`` calibrated,
    placed, split and run in one lab, ``args.repeats`` rounds in turn."""
    from devices.placed import PlacedSettings
    from solver.deploy.placed import calibrate_engine, calibrate_links, compare_placed, placed_workers
    from solver.deploy.split import split_model
    from solver.placement.predicted import predict_split

    problem = load_problem(model_path(model), trace_path(model, threads=1, busy=True))
    platform = read_platform(two_devices(directory, GBIT))
    names = list(platform.names)
    settings = PlacedSettings(requests=args.requests, warmup=3)
    cores = len(os.sched_getaffinity(0))
    with placed_workers("netlab", names, platform) as workers:
        workers.client.register_plugin(slow_board(workers.address["cpu1"], args.board_task_ms, args.board_ms_per_mb))
        measured = calibrated(platform, calibrate_links(workers, platform, names))
        fitted, host = calibrate_engine(workers, platform, names)
        engine = {f.name: f for f in fitted}
        print(f"# run {model}: cpu1 +{args.board_task_ms:g} ms per task, +{args.board_ms_per_mb:g} ms per MB received; "
              + "; ".join(f"{f.name} occupancy task {f.task_us / 1000:.2f} ms, CPU {_cpu_text(f.cpu)}" for f in fitted)
              + f"; host {host.request_us / 1000:.2f} ms + {host.task_us / 1000:.2f} ms/task", flush=True)  # fmt: skip
        plans = {"blind": None, "occupancy": {d: dataclasses.replace(f, cpu=None) for d, f in engine.items()},
                 "cpu": engine}  # fmt: skip
        rows = []
        for label, fits in plans.items():
            result = place(problem, measured, PlaceSettings(exact=True, time_limit=args.time_limit, workers=1), engine=fits)
            split = split_model(model_path(model), result.parts, directory / f"run_{model}_{label}",
                                placement={int(k): d for k, d in result.placement.items()})  # fmt: skip
            predicted = predict_split(problem, measured, split, "calibrated", workers.core_of, cores, engine, host)
            rows.append({"model": model, "plan": label, "status": result.status, "value": result.value,
                         "devices": "+".join(p.device for p in split.parts),
                         "ops": "/".join(str(len(p.ops)) for p in split.parts), "assign": result.assign,
                         "split": split, "predicted": predicted, "measured": [], "load": []})  # fmt: skip
        for _ in range(args.repeats):
            for row in rows:
                comparison = compare_placed(row["split"], workers, [row["predicted"]], settings)
                if not comparison.ok:
                    raise SystemExit(f"{model} {row['plan']}: outputs differ from the whole model's")
                row["measured"].append(comparison.run.throughput)
                row["load"] += list(comparison.load_average)
                print(f"#   {row['plan']:9} measured {comparison.run.throughput:.2f} inf/s "
                      f"(load {comparison.load_average[0]:.1f}-{comparison.load_average[1]:.1f})", flush=True)  # fmt: skip
    return rows


def receive_rates(directory: Path) -> None:
    """Scenario ``--receive-rates`` (module docstring)."""
    import json

    from solver.deploy.placed import calibrate_engine, placed_workers

    slow = {("b", "c")}
    path = directory / "receive_rates.json"
    path.write_text(json.dumps({"devices": [{"name": n} for n in "abc"], "links": [
        {"from": x, "to": y, "bandwidth": SEED002_MEAN if (x, y) in slow else GBIT}
        for x in "abc" for y in "abc" if x != y]}))  # fmt: skip
    platform = read_platform(path)
    with placed_workers("netlab", list("abc"), platform) as workers:
        fitted, _ = calibrate_engine(workers, platform, list("abc"))
    for f in fitted:
        cpu = f.cpu
        print(f"# {f.name}: CPU {_cpu_text(cpu)} + {cpu.receive_us_per_s / 1000:.2f} ms per s on the link "
              f"(rms {cpu.rms_us / 1000:.2f} ms, {cpu.samples} streams)", flush=True)  # fmt: skip
    c = next(f.cpu for f in fitted if f.name == "c")
    for label, bandwidth in (("1 Gbit/s", GBIT), ("6.5 Mbit/s", SEED002_MEAN)):
        per_mb = c.receive_us_per_mb + c.receive_us_per_s * 1e6 / bandwidth
        print(f"c receiving over {label}: {c.receive_us / 1000:.2f} ms per message + {per_mb / 1000:.2f} ms per MB")


def _cpu_text(cpu) -> str:
    if cpu is None:
        return "not measured"
    return (f"{cpu.task_us / 1000:.2f} ms/task, send {cpu.send_us / 1000:.2f} ms + {cpu.send_us_per_mb / 1000:.2f} ms/MB, "
            f"receive {cpu.receive_us / 1000:.2f} ms + {cpu.receive_us_per_mb / 1000:.2f} ms/MB")  # fmt: skip


def _print_runs(rows: list[dict]) -> None:
    print(f"{'model':13} {'plan':9} {'status':8} {'parts':10} {'ops':7} {'objective us':>12} {'pred. inf/s':>11} "
          f"{'meas. inf/s median (min-max)':>28} {'err':>7} {'load':>9}  predicted bottleneck")  # fmt: skip
    for row in rows:
        m, predicted = row["measured"], row["predicted"]
        median = statistics.median(m)
        print(f"{row['model']:13} {row['plan']:9} {row['status']:8} {row['devices']:10} {row['ops']:7} "
              f"{row['value']:>12} {predicted.throughput:>11.2f} {median:>12.2f} ({min(m):6.2f}-{max(m):6.2f}) "
              f"{predicted.throughput / median - 1:>+7.1%} {min(row['load']):4.1f}-{max(row['load']):4.1f}  "
              f"{predicted.bottleneck}")  # fmt: skip
    print("objective: solve place's value under the plan's own model (blind: compute and links; occupancy: with "
          "the devices' occupancy; cpu: with each core's CPU and messages); pred.: the calibrated prediction of the run "
          "(cores shared as pinned, scheduler and client counted); measured: one throughput run per round")


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
    parser.add_argument("--run", action="store_true", help="run the choices on (a) with cpu1 a slower board (root)")
    parser.add_argument("--board-task-ms", type=float, default=0.0, help="--run: cpu1's extra CPU per task (ms)")
    parser.add_argument("--board-ms-per-mb", type=float, default=150.0, help="--run: cpu1's extra CPU per MB received")
    parser.add_argument("--repeats", type=int, default=3, help="--run: rounds of runs, the plans in turn")
    parser.add_argument("--requests", type=int, default=30, help="--run: timed requests per run")
    parser.add_argument("--receive-rates", action="store_true",
                        help="fit receiving CPU over a 1 Gbit/s and a 6.5 Mbit/s link into one device (root)")
    args = parser.parse_args(argv)
    if args.receive_rates:
        with tempfile.TemporaryDirectory() as tmp:
            receive_rates(Path(tmp))
        return
    if args.run:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [row for model in args.models.split(",") for row in run_choices(model, Path(tmp), args)]
        _print_runs(rows)
        return
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
