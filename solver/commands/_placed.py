"""``solve pipeline DIR --platform P.json``: the parts run on their devices' Dask workers, beside the prediction."""

from __future__ import annotations

import argparse
import dataclasses
import os

from solver.errors import EXIT_OK, UsageError


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of a placed run (``--platform`` and what goes with it)."""
    group = parser.add_argument_group(
        "placed run (--platform)",
        "run each part on the Dask worker of the device its map names, hand-offs moved by Dask over that pair's "
        "link, and report throughput, latency, per device compute and per link bytes and time beside the "
        "prediction of 'solve place' for the same map (docs/placed-runs.md)",
    )
    group.add_argument("--platform", metavar="P.json", help="the platform the split was placed on")
    group.add_argument("--trace", metavar="TRACE", help="the model's op times (the trace 'solve place' was given)")
    group.add_argument("--cluster", metavar="WHERE",
                       help="the workers: netlab (namespaces joined by links shaped to the platform's bandwidths; "
                            "root), local (worker processes, unshaped loopback) or tcp://host:port (a scheduler "
                            "whose workers are named after the devices) (default netlab)")  # fmt: skip
    calibration = group.add_mutually_exclusive_group()
    calibration.add_argument("--calibrate-links", nargs="?", const="", metavar="FILE",
                             help="first fit every link's overhead and bandwidth by a ping-pong of tensor sizes, and "
                                  "every device's per-request overhead (its stage task, hand-off and session pipe) by "
                                  "timing empty stage tasks, with the CPU its core spends on them and on hand-offs "
                                  "over its links, and the scheduler's and client's CPU, and time each part's "
                                  "inference on its device in the run's own session (busy and alone), and write them "
                                  "to FILE (default: P.links.json beside the platform); both predictions are shown, "
                                  "the calibrated one with each part's measured compute")  # fmt: skip
    calibration.add_argument("--calibrated-links", metavar="FILE",
                             help="a measured links file: show its prediction too (its links and, when it has them, "
                                  "its devices' overheads and the compute of this split's parts)")  # fmt: skip


PLACED_ONLY = ("trace", "cluster", "calibrate_links", "calibrated_links")  # the options only a placed run reads


def check_not_placed(args: argparse.Namespace) -> None:
    """Refuse a placed run's options without ``--platform``: the pipeline of processes would ignore them."""
    given = [f"--{name.replace('_', '-')}" for name in PLACED_ONLY if getattr(args, name) is not None]
    if given:
        verb = "needs" if len(given) == 1 else "need"
        raise UsageError(f"{', '.join(given)} {verb} --platform P.json: only a placed run reads them")


def run_placed_command(args: argparse.Namespace) -> int:
    from devices.placed import PlacedSettings
    from solver.commands._output import print_json
    from solver.deploy.linkdrift import AFTER_RUN, LinkCheck
    from solver.deploy.partcompute import LatencyCheck, measure_parts, measured_problem, part_sources
    from solver.deploy.placed import (calibrate_engine, calibrate_links, check_cluster, check_outputs,
                                      check_placed_settings, compare_placed, placed_devices, placed_stages,
                                      placed_workers)  # fmt: skip
    from solver.deploy.report import placed_text
    from solver.deploy.split import read_split
    from solver.io.files import check_output
    from solver.io.linkfile import Calibration, calibrated, default_path, device_fits, read_calibration, write_links
    from solver.io.platform import read_platform
    from solver.problem import load_problem
    from solver.placement.predicted import predict_split

    if args.trace is None:
        raise UsageError("--platform needs --trace TRACE: the model's op times, as 'solve place' was given them")
    if args.rounds is not None or args.threads_per_stage is not None:
        raise UsageError("--rounds and --threads-per-stage are for the pipeline of processes, not a placed run "
                         "(--platform): one worker thread per device, one run")  # fmt: skip
    settings = PlacedSettings(requests=args.requests, warmup=args.warmup, executor=args.executor, timeout=args.timeout)
    check_placed_settings(settings)
    cluster = "netlab" if args.cluster is None else args.cluster
    check_cluster(cluster)
    split = read_split(args.dir)
    platform = read_platform(args.platform)
    unknown = sorted(set(placed_devices(split)) - set(platform.names))
    if unknown:
        raise UsageError(f"{args.dir}: parts are placed on {', '.join(unknown)}, which {args.platform} does not have")
    links_out = None
    if args.calibrate_links is not None:
        links_out = args.calibrate_links or default_path(args.platform)
        check_output(links_out, inputs=(args.platform, args.trace))
    fits = read_calibration(args.calibrated_links) if args.calibrated_links else None
    if fits is not None:
        device_fits(platform, fits, args.calibrated_links)  # a device the platform lacks is refused before any run
    problem = load_problem(split.model, args.trace)
    devices = placed_devices(split)
    with placed_workers(cluster, list(platform.names) if links_out else devices, platform) as workers:
        if links_out:
            links = calibrate_links(workers, platform, list(platform.names))
            fits = Calibration(links, *calibrate_engine(workers, platform, list(platform.names), settings.executor),
                               measure_parts(workers.client, placed_stages(split, workers), settings.executor))  # fmt: skip
        cores = len(os.sched_getaffinity(0))
        predictions = [predict_split(problem, platform, split, "platform", workers.core_of, cores)]
        sources = part_sources(split, platform, fits.parts, problem, core_of=workers.core_of) if fits else []
        check = latency = None
        if fits:
            source = args.calibrated_links or links_out

            def predict(mode: str, links: list, label: str, parts=sources):  # the parts' compute in the run's sessions
                return predict_split(measured_problem(problem, split, parts, mode), calibrated(platform, links, source),
                                     split, label, workers.core_of, cores, device_fits(platform, fits, source),
                                     fits.host)  # fmt: skip

            def forecast(links: list, label: str):  # the period with the parts busy, the latency with them alone
                return dataclasses.replace(predict("busy", links, label), latency_us=predict("alone", links, label).latency_us)

            predictions.append(forecast(fits.links, "calibrated"))
            # the parts timed alone again right before the latency run, and its latency predicted with them
            latency = LatencyCheck(predictions[-1], lambda parts, links: predict(
                "alone", fits.links if links is None else links, "calibrated", parts).latency_us)
            if fits.links:  # the run's links fitted again after it, the prediction made again with them
                check = LinkCheck(platform, fits.links, predictions[-1], lambda links: forecast(links, AFTER_RUN))
        comparison = compare_placed(split, workers, predictions, settings, compute=sources, links=check,
                                    latency=latency)  # fmt: skip
    if args.json:
        print_json("placed", {**comparison.to_json(),
                              "links_file": str(links_out or args.calibrated_links) if fits else None})  # fmt: skip
    else:
        print(placed_text(comparison))
    if links_out:
        write_links(links_out, platform, fits.links, fits.devices, fits.host, fits.parts)
        if not args.json:
            print(f"wrote {links_out}")
    check_outputs(comparison)
    return EXIT_OK
