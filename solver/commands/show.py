"""``solve show``: see a partition (or a placement) on the model's graph, in a browser or in Model Explorer."""

from __future__ import annotations

import argparse
from pathlib import Path

from solver.commands._html import check_html_path
from solver.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "show",
        help="draw a partition or placement on the model's graph: an HTML report, Model Explorer overlays",
        description="Show ONE's partition_map.json (from solve partition, solve place or ONE's tools) on the "
        "model's op graph. --html writes one self-contained page (no network): the graph laid out top to bottom "
        "by Graphviz's dot (Debian package graphviz), ops coloured by part (or device), cut edges marked with "
        "their tensors and bytes, the per-part table with the bottleneck, the session graph, and the map against "
        "the lower bound and both heuristics; hovering an op shows its name, type, time and part. "
        "--model-explorer writes Model Explorer's node data (part or device per op, op times as a heat map, "
        "and with --backends the backend of each op) and opens the model with them when the 'explorer' extra is "
        "installed.",
    )
    parser.add_argument("paths", type=Path, nargs="+", metavar="PATH",
                        help="[MODEL [TRACE]] MAP: the model (omitted: the bundled InceptionV3) and its trace as for "
                             "solve partition, then the partition_map.json to show")  # fmt: skip
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report here")
    parser.add_argument("--platform", type=Path, metavar="P.json",
                        help="the platform of a placement: ops are timed on their devices and the links counted")
    parser.add_argument("--model-explorer", action="store_true",
                        help="write Model Explorer's node data next to the map (or into --explorer-dir) and open "
                             "the model with it (needs the 'explorer' extra; without it, says how to open them)")  # fmt: skip
    parser.add_argument("--explorer-dir", type=Path, metavar="DIR", help="where the node data files go")
    parser.add_argument("--backends", type=Path, metavar="FILE",
                        help="also overlay a backend assignment: the output of solve pareto --pick (its lines, or "
                             "its --json)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8080, help="Model Explorer's port (default 8080)")
    parser.add_argument("--no-browser", action="store_true", help="start Model Explorer without opening a browser")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.io.partition_map import read_partition_map, read_placement

    if not args.html and not args.model_explorer:
        raise UsageError("nothing to show: give --html FILE and/or --model-explorer")
    if len(args.paths) > 3:
        raise UsageError(f"expected [MODEL [TRACE]] MAP, got {len(args.paths)} paths")
    if args.backends and not args.model_explorer:
        raise UsageError("--backends is an overlay for Model Explorer: add --model-explorer")
    *inputs, map_file = args.paths
    if args.html:
        check_html_path(args.html)
    problem = _problem(args, inputs)
    parts = read_partition_map(map_file, problem.num_ops)
    placement = read_placement(map_file, parts)
    view = _view(problem, parts, placement, args.platform)
    if args.html:
        from solver.show.html import write_report

        write_report(args.html, view)
        print(f"wrote {args.html}")
    if args.model_explorer:
        _model_explorer(args, problem, view, map_file)
    return 0


def _problem(args: argparse.Namespace, inputs: list[Path]):
    from solver.commands._problem import problem_from_args

    args.model, args.trace = (inputs + [None, None])[:2]
    return problem_from_args(args)


def _view(problem, parts: list[int], placement: dict[int, str] | None, platform_file: Path | None):
    from solver.show.view import partition_view, placed_view

    if placement is not None and platform_file is not None:
        from solver.io.platform import read_platform

        return placed_view(problem, read_platform(platform_file), parts, placement)
    if placement is not None:
        view = partition_view(problem, parts, placement=placement)
        view.notes.append("op times are the trace's; give --platform to time each op on its device")
        return view
    from solver.partitioning.partition import PartitionSettings, partition

    # The heuristics take a fraction of a second: the map is shown against them and the lower bound.
    k = max(parts, default=0) + 1
    heuristics = partition(problem, PartitionSettings(num_parts=k)).heuristics if _valid(problem, parts, k) else None
    return partition_view(problem, parts, k, heuristics=heuristics)


def _valid(problem, parts: list[int], k: int) -> bool:
    from solver.errors import CheckError
    from solver.partitioning.metrics import check_partition

    try:
        check_partition(problem.dag, parts, k)
    except CheckError:
        return False
    return True


def _model_explorer(args: argparse.Namespace, problem, view, map_file: Path) -> None:
    import importlib

    from solver.io.tflite import read_model_bytes
    from solver.show.explorer import how_to_open, partition_node_data, start, write_node_data

    if problem.model is None or problem.source.name.endswith(".circle"):
        raise UsageError(f"{problem.source}: Model Explorer overlays need a TFLite model (.tflite)")
    directory = args.explorer_dir or map_file.parent
    overlays = partition_node_data(view)
    if args.backends:
        overlays.append(_backends(args.backends, problem))
    model = problem.source
    if not model.name.endswith(".tflite"):  # compressed: Model Explorer reads plain .tflite files only
        from solver.io.files import write_atomic

        plain = directory / (model.name.split(".tflite")[0].split(".circle")[0] + ".tflite")
        model = write_atomic(plain, read_model_bytes(problem.source))
    paths = write_node_data(directory, map_file.stem, overlays)
    print("wrote " + ", ".join(str(p) for p in paths))
    try:
        importlib.import_module("model_explorer")
    except ImportError:
        print(how_to_open(model, paths))
        return
    print(f"starting Model Explorer on http://localhost:{args.port} (Ctrl-C stops it)", flush=True)
    start(model, paths, port=args.port, browser=not args.no_browser)


def _backends(path: Path, problem):
    from solver.io.optypes import onert_type
    from solver.show.explorer import backend_node_data, backends_per_op, read_assignment

    backends, environment = read_assignment(path)
    types = [onert_type(str(problem.graph.nodes[v].get("type", ""))) for v in range(problem.num_ops)]
    return backend_node_data(backends_per_op(backends, environment, types), list(backends))
