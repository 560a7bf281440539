"""``solve place``: partition a model across the devices of a platform and place each part on one."""

from __future__ import annotations

import argparse
from pathlib import Path

from solver.commands._exact import add_exact_arguments, bounds_text, exact_progress, map_path, secondary_names
from solver.commands._memory import add_memory_model_argument, memory_model
from solver.commands._problem import add_problem_arguments, problem_from_args
from solver.offload.objectives import OBJECTIVES as OFFLOAD_OBJECTIVES
from solver.offload.settings import ALGORITHMS as OFFLOAD_ALGORITHMS
from solver.placement.objectives import OBJECTIVES, TABLE
from solver.solving.objectives import described

PLACEMENT_MAP = "placement_map.json"  # the default map of solve place (solve partition writes partition_map.json)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "place",
        help="partition a model across heterogeneous devices and links (a platform file) and place the parts",
        description="Split the operator graph of MODEL into at most as many parts as the platform has devices "
        "and put each part on its own device, so that the bottleneck (throughput: the slowest device or link) or "
        "the end-to-end latency (the longest path through the session graph, links included) is least. Devices "
        "have their own speed or trace, memory and supported op types (docs/platform-format.md). A greedy chain "
        "placement runs first; --exact solves with CP-SAT, warm-started by it, and reports OPTIMAL, or the proven "
        "bound and gap. Writes ONE's partition_map.json with the placement added.",
    )
    add_problem_arguments(parser)
    parser.add_argument("--platform", type=Path, required=True, metavar="P.json",
                        help="the devices and links (docs/platform-format.md)")
    parser.add_argument("--calibrated-links", type=Path, metavar="FILE",
                        help="measured links (written by 'solve pipeline --calibrate-links') in place of the "
                             "platform's: a per-message overhead and a bandwidth per link; when the file measured the "
                             "devices too, the placement is chosen and predicted with their per-request engine "
                             "overhead")  # fmt: skip
    parser.add_argument("--objective", choices=OBJECTIVES,
                        help=f"{described((TABLE[name] for name in OBJECTIVES), ' or ')}; "
                             f"offloading minimises {' or '.join(OFFLOAD_OBJECTIVES)} only")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the greedy's chains (default 0)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help=f"where to write ONE's partition_map.json format with its placement (default: "
                             f"{PLACEMENT_MAP} next to MODEL, apart from solve partition's partition_map.json)")
    parser.add_argument("--json", action="store_true", help="print the placement as JSON instead of the report")
    parser.add_argument("--replicate", action="store_true",
                        help="a part may run on several devices, requests dealt round robin (the exact replicated "
                             "model, CP-SAT; throughput only): the map's 'placement' names each part's first "
                             "device and 'replicas' all of them, which ONE's readers ignore, 'solve split' keeps and "
                             "'solve pipeline --platform' runs (docs/placed-runs.md)")  # fmt: skip
    add_memory_model_argument(parser, "each device's session memory (what its capacity caps; reported beside the count "
                                      "of every tensor touched and seed 002's estimate)")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the HTML report (as solve show does): the op graph coloured by device, each "
                             "op timed on its device, the tensors that cross links")  # fmt: skip
    add_exact_arguments(parser, "the objective", TABLE)
    offload = parser.add_argument_group(
        "offloading to backends (docs/backends.md)",
        "Any of these options (or --offload) choose the backend of every op instead: a device is a backend, "
        "a backend may run several parts one after another, and the objective is the sequential end-to-end "
        "latency with a hand-off cost per tensor crossing parts.")  # fmt: skip
    offload.add_argument("--offload", action="store_true", help="offload to backends (implied by the options below)")
    offload.add_argument("--rules", type=Path, metavar="FILE.part",
                         help="circle-partitioner's partition file (ONE's dialect): backends, default, comply, "
                              "[OPCODE], [OPNAME]")
    offload.add_argument("--exclude-ops", default="", metavar="TYPE,...",
                         help="op types kept on the default backend (optimize_for's excluded_ops)")
    offload.add_argument("--min-part-ops", type=int, metavar="N", help="every part has at least N ops (default 1)")
    offload.add_argument("--max-parts", type=int, metavar="N", help="at most N parts in all")
    offload.add_argument("--algo", choices=OFFLOAD_ALGORITHMS + ("seed002",),
                         help="exact (CP-SAT, the default with --exact), greedy (the default otherwise), delegate "
                              "(TFLite-delegate style) or circle-partitioner (its grouping of the rules' backends); "
                              "seed002 does not offload: it places with seed 002's method (its cut points, memory "
                              "estimate and greedy node path), as the answer or, with --exact, as the hint")  # fmt: skip
    parser.set_defaults(run=run)


def _offloading(args: argparse.Namespace) -> bool:
    return bool(args.offload or args.rules or args.exclude_ops or args.min_part_ops is not None
                or args.max_parts is not None or args.algo in OFFLOAD_ALGORITHMS)  # fmt: skip


def _device_memory(problem, result, model):
    """Each used device's session under the memory model (docs/memory.md), beside the placement's own count and
    seed 002's estimate of the same ops."""
    from solver.memory.parts import DeviceMemory, parts_memory, problem_graph
    from solver.placement.seed002 import seed002_memory

    devices = result.problem.devices
    assign = result.assign
    estimate = parts_memory(problem_graph(problem.model, problem.graph), assign, len(devices), model)
    out = []
    for d, name in enumerate(devices):
        ops = [v for v, a in enumerate(assign) if a == d]
        if ops:
            out.append(DeviceMemory(name, result.problem.memory_cap(d), result.metrics.counted[d],
                                    estimate.predicted[d], seed002_memory(problem.graph, ops)))  # fmt: skip
    return out


def _engine_prediction(links, problem, platform, result):
    """The map's prediction with the measured devices' per-request overhead of ``links`` (a links file; None
    without one or when it measured no device): ``solver.placement.predicted.predict_parts``, each device a
    machine of its own."""
    engine = _device_fits(links, platform)
    if not engine:
        return None
    from solver.placement.predicted import predict_parts

    names, assign = result.problem.devices, result.assign
    parts = [(names[d], [v for v, a in enumerate(assign) if a == d]) for d in result.metrics.order]
    return predict_parts(problem, platform, parts, "calibrated", {}, 1, engine)


def _device_fits(links, platform) -> dict:
    """The devices measured in the links file ``links`` by name (none without a file)."""
    if not links:
        return {}
    from solver.io.linkfile import device_fits, read_calibration

    return device_fits(platform, read_calibration(links), links)


def _engine_text(engine, links) -> str:
    overhead = ", ".join(f"{d} {us / 1000:.2f} ms" for d, us in engine.overhead_us.items())
    return (f"with the measured engine overhead of {links} (per request: {overhead}): {engine.throughput:.2f} inf/s "
            f"(bottleneck {engine.bottleneck}), latency {engine.latency_us / 1000:.2f} ms")


def run(args: argparse.Namespace) -> int:
    if args.html:
        from solver.commands._html import check_html_path

        check_html_path(args.html)
    if _offloading(args):
        if args.replicate:
            from solver.errors import UsageError

            raise UsageError("--replicate places one part per device set; the offloading options do not apply")
        return _run_offload(args)
    if args.replicate:
        return _run_replicated(args)
    from solver.commands._output import print_json
    from solver.io.partition_map import write_partition_map
    from solver.io.linkfile import read_platform_with_links
    from solver.errors import CheckError
    from solver.placement.memory import memory_figure
    from solver.placement.place import INVALID, PlaceSettings, place
    from solver.placement.report import format_placement

    settings = PlaceSettings(objective=args.objective or "throughput", exact=args.exact, algo=args.algo or "greedy",
                             time_limit=args.time_limit,
                             workers=args.workers, seed=args.seed, secondary=secondary_names(args),
                             slack=args.slack)  # fmt: skip
    out = map_path(args, args.platform, name=PLACEMENT_MAP)
    chosen = memory_model(args.memory_model, this_machine=False)  # refused first: calibrated without a calibration
    platform = read_platform_with_links(args.platform, args.calibrated_links)
    problem = problem_from_args(args)
    describe = bounds_text(settings.objective)
    with exact_progress(args) as shown:
        result = place(problem, platform, settings, on_progress=shown.callback(describe),
                       memory=memory_figure(problem, chosen), engine=_device_fits(args.calibrated_links, platform))  # fmt: skip
        shown.close(describe(result.value, result.bound))
    if result.status == INVALID:
        if args.json:
            print_json("place", result.to_json())
        else:
            print(format_placement(result))
        raise CheckError(f"{args.platform}: seed 002's placement overflows a device's memory in our model (see the "
                         "table); no partition map written")  # fmt: skip
    devices = _device_memory(problem, result, chosen)
    memory = {**chosen.to_json(), "devices": [d.to_json() for d in devices]}
    engine = _engine_prediction(args.calibrated_links, problem, platform, result)
    if args.json:  # the answer first: a failing write loses nothing
        print_json("place", {**result.to_json(), "memory": memory, "partition_map_file": str(out),
                             **({"engine": engine.to_json()} if engine else {})})  # fmt: skip
    else:
        print(format_placement(result))
        from solver.memory.report import devices_text

        print(devices_text(chosen, devices))
        if engine:
            print(_engine_text(engine, args.calibrated_links))
    write_partition_map(out, result.parts, len(result.metrics.order), placement=result.placement)
    if not args.json:
        print(f"wrote {out}")
    if args.html:
        from solver.commands._html import show_html
        from solver.show.view import placement_view

        show_html(args.html, placement_view(problem, result))
    return 0


def _run_replicated(args: argparse.Namespace) -> int:
    from solver.commands._output import print_json
    from solver.errors import UsageError
    from solver.io.linkfile import read_platform_with_links
    from solver.io.partition_map import write_partition_map
    from solver.placement.memory import memory_figure
    from solver.placement.predicted import predict_replicated
    from solver.placement.problem import placement_problem
    from solver.placement.replicas import evaluate_replicated, solve_replicated
    from solver.placement.report import format_replicated
    from solver.progress import Progress
    from solver.solving.budget import Budget

    if args.objective not in (None, "throughput"):
        raise UsageError("--replicate minimises the period (throughput); a replicated stage does not shorten latency")
    if args.secondary or args.slack or args.algo:
        raise UsageError("--secondary, --slack and --algo are not used with --replicate (one exact model)")
    out = map_path(args, args.platform, name=PLACEMENT_MAP)
    chosen = memory_model(args.memory_model, this_machine=False)
    platform = read_platform_with_links(args.platform, args.calibrated_links)
    engine = _device_fits(args.calibrated_links, platform)
    problem = problem_from_args(args)
    built = placement_problem(problem, platform, memory_figure(problem, chosen), engine)
    budget = Budget(args.time_limit)
    describe = bounds_text("period")
    with Progress("exact solve", total=args.time_limit, unit="s", quiet=args.quiet) as shown:
        answer, proven = solve_replicated(built, workers=args.workers, on_progress=shown.callback(describe),
                                          budget=budget)  # fmt: skip
        shown.close(describe(answer.period, answer.period) if proven else f"period {answer.period}, not proven optimal")
    placement, replicas = answer.map_keys()
    predicted = None
    if engine:  # the prediction adds the engine's cost to the loads without it
        blind = evaluate_replicated(placement_problem(problem, platform), list(answer.stage), list(answer.serve),
                                    memory=False)  # fmt: skip
        predicted = predict_replicated(blind, platform, "calibrated", {}, 1, problem, engine)
    doc = {"model": problem.name, "platform": str(args.platform), "status": "OPTIMAL" if proven else "FEASIBLE",
           "interrupted": budget.interrupted,
           "memory_model": built.memory_name, **answer.to_json(), "partition_map": list(answer.stage),
           "num_partitions": len(answer.stages), "placement": placement, "replicas": replicas,
           "partition_map_file": str(out), **({"engine": predicted.to_json()} if predicted else {})}  # fmt: skip
    if args.json:  # the answer first: a failing write loses nothing
        print_json("place", doc)
    else:
        print(format_replicated(answer, proven, problem.name, args.platform))
        if budget.interrupted:
            print("interrupted: the best replicated placement found so far")
        if predicted:
            print(_engine_text(predicted, args.calibrated_links))
    write_partition_map(out, list(answer.stage), len(answer.stages), placement=placement, replicas=replicas)
    if not args.json:
        print(f"wrote {out}")
    if args.html:
        from solver.commands._html import show_html
        from solver.show.view import replicated_view

        show_html(args.html, replicated_view(problem, built, answer, proven))
    return 0


def _run_offload(args: argparse.Namespace) -> int:
    from solver.commands._output import print_json
    from solver.errors import UsageError
    from solver.io.partition_map import write_partition_map
    from solver.io.partrules import read_rules
    from solver.io.linkfile import read_platform_with_links
    from solver.offload.offload import offload_model
    from solver.offload.report import format_offload
    from solver.offload.settings import OffloadSettings
    from solver.placement.memory import memory_figure

    if args.objective is not None and args.objective not in OFFLOAD_OBJECTIVES:
        raise UsageError(f"offloading minimises the end-to-end latency; --objective {args.objective} places one part "
                         "per device")  # fmt: skip
    if args.secondary or args.slack:
        raise UsageError("--secondary and --slack are not used when offloading")
    algo = args.algo or ("exact" if args.exact else "greedy")
    settings = OffloadSettings(algo=algo, min_part_ops=1 if args.min_part_ops is None else args.min_part_ops,
                               max_parts=args.max_parts, time_limit=args.time_limit, workers=args.workers,
                               exclude_ops=tuple(t.strip() for t in args.exclude_ops.split(",") if t.strip()))  # fmt: skip
    out = map_path(args, args.platform, args.rules, name=PLACEMENT_MAP)
    chosen = memory_model(args.memory_model, this_machine=False)  # each backend's sessions, capped by its memory
    platform = read_platform_with_links(args.platform, args.calibrated_links)
    rules = read_rules(args.rules) if args.rules else None
    problem = problem_from_args(args)
    with exact_progress(args) as shown:
        result = offload_model(problem, platform, settings, rules, on_progress=shown.callback(bounds_text("latency")),
                               memory=memory_figure(problem, chosen))  # fmt: skip
    write_partition_map(out, result.metrics.parts, result.metrics.num_parts, placement=result.placement)
    if args.json:
        print_json("offload", {**result.to_json(), "memory": {**chosen.to_json(), **result.memory_json()},
                               "partition_map_file": str(out)})  # fmt: skip
    else:
        print(format_offload(result))
        print(f"memory model: {chosen.name}, {chosen.reason}")
        print(f"wrote {out}")
    if args.html:
        from solver.commands._html import show_html
        from solver.show.view import partition_view

        devices = {int(k): name for k, name in result.placement.items()}
        show_html(args.html, partition_view(problem, result.metrics.parts, result.metrics.num_parts, placement=devices))
    return 0
