"""``solve oplist``: ONE's gen_oplist, the decisions of a backend assignment."""

from __future__ import annotations

import argparse
from pathlib import Path

from solver.commands._output import print_json
from solver.io.oplist import MODES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "oplist",
        help="write ONE's oplist.json of a model (op types, or op groups by type and data size)",
        description="Write ONE's gen_oplist output. name mode: the unique onert op types. index mode adds opmap "
        "(the group of every op: a unique pair of TFLite op name and data size, the bytes of the op's input and "
        "output tensors with real dtype sizes) and opname_by_indx (the onert op type of every op).",
    )
    parser.add_argument("model", type=Path, help="the .tflite model")
    parser.add_argument("--mode", choices=MODES, default="name", help="name (per op type) or index (per op group)")
    parser.add_argument("--out", type=Path, required=True, help="where to write oplist.json")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON (schema nnpart.oplist/1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from solver.io.files import check_output, write_json
    from solver.io.oplist import read_oplist

    check_output(args.out, inputs=(args.model,))
    oplist = read_oplist(args.model, args.mode)
    if args.json:
        print_json("oplist", {"out": str(args.out), "mode": oplist.mode, "num_decisions": oplist.num_decisions,
                              **oplist.to_json()})  # fmt: skip
    else:
        groups = f", {oplist.num_decisions} groups" if args.mode == "index" else ""
        print(f"{args.out}: {len(oplist.oplist)} op types{groups}: {', '.join(oplist.oplist)}")
    write_json(args.out, oplist.to_json())
    return 0
