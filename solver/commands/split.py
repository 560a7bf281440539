"""``solve split MODEL PARTITION_MAP --out DIR``: part models, connection files, numerical check."""

from __future__ import annotations

import argparse

from solver.commands._verify import add_verify_arguments, settings_from_args
from solver.errors import EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "split",
        help="write one runnable .tflite per part, the connection files, and verify them",
        description="Split MODEL by PARTITION_MAP (ONE's partition_map.json) into DIR: one .tflite per non-empty part "
        "(its ops, tensors and buffers; inputs are the tensors it reads from earlier parts or the model inputs, "
        "named after its device when the map has a placement ('solve place'), else cpu; "
        "outputs the tensors later parts or the model outputs need; tensor names kept), circle-partitioner's "
        "<name>.conn.json, an nnpackage MANIFEST (metadata/MANIFEST, version 1.3) and split.json. Then run the "
        "whole model and the parts with onert on the same seeded inputs and compare every model output "
        "(exit 4 on a mismatch) unless --no-verify.",
    )
    parser.add_argument("model", help="the .tflite model")
    parser.add_argument("partition_map", help="partition_map.json: {\"partition_map\": [part of op 0, ...], \"num_partitions\": K}")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write the parts into (an nnpackage)")
    parser.add_argument("--trace", metavar="TRACE",
                        help="onert Chrome trace of MODEL: records each part's predicted time for 'solve pipeline'")  # fmt: skip
    parser.add_argument("--no-verify", action="store_true", help="only write the files, do not run them")
    parser.add_argument("--op-order", choices=("file", "memory"), default="file",
                        help="the order each part's ops are written in, which onert runs them in: file (the model's; "
                             "default) or memory (the order with the least live memory, exact over the part's op "
                             "orders where they are few enough, greedy beyond; docs/memory.md)")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print the split and the verdict as JSON (schema nnpart.split/1)")  # fmt: skip
    add_verify_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from devices.errors import require
    from solver.deploy.report import split_text, verify_text
    from solver.deploy.split import split_model
    from solver.deploy.verify import check_verified, verify_split
    from solver.io.files import check_output
    from solver.io.partition_map import read_partition_map, read_placement, read_replicas
    from solver.io.tflite import read_model

    check_output(args.out, inputs=(args.model, args.partition_map, args.trace), directory=True)
    settings = None
    if not args.no_verify:  # refuse what would stop the check before anything is written
        settings = settings_from_args(args)
        require("onert", "onert", "verifying the parts")
    model = read_model(args.model)
    parts = read_partition_map(args.partition_map, model.num_ops)
    placement = read_placement(args.partition_map, parts)
    replicas = read_replicas(args.partition_map, parts, placement)
    weights = context = None
    if args.trace:
        from solver.io.trace import trace_facts
        from solver.problem import load_problem

        graph = load_problem(args.model, args.trace).graph
        weights = [graph.nodes[v]["weight"] for v in range(model.num_ops)]
        context = trace_facts(args.trace).get("context")
    order = None
    if args.op_order == "memory":
        from solver.memory.model import model_graph
        from solver.memory.order import memory_order

        order, found = memory_order(model_graph(model), parts)
        if not args.json:
            for k, f in enumerate(found):
                print(f"part {k}: op order {f.method}, live peak {f.peak} B (file order {f.file_peak} B)")
    split = split_model(args.model, parts, args.out, model=model, op_weights=weights, placement=placement,
                        parts_source=args.partition_map, op_order=order, context=context, replicas=replicas)
    result = None if settings is None else verify_split(split, settings)
    if args.json:
        from solver.commands._output import print_json

        print_json("split", {"split": split.to_json(), "verify": None if result is None else result.to_json()})
    else:
        print(split_text(split))
        if result is not None:
            print(verify_text(result))
    if result is not None:
        check_verified(result)
    return EXIT_OK
