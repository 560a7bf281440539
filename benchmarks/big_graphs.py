"""Big graphs through the real ``solve partition`` command: 10,000, 100,000 and 1,000,000 ops at K = 8, 16, 64.

Two seeded graph families, written as JSON graphs (docs/graph-format.md) once per size:

- ``transformer``: repeated encoder blocks with residual edges, the shape of benchmarks/transformer.py
  (14 ops and 18 edges a block; matmuls heavy, element-wise ops light);
- ``layered``: a random layered DAG (layers of 40 to 200 ops, each op reading 1 to 3 ops of the layer
  before and now and then one up to 8 layers back; log-normal weights).

Each graph and K runs ``solve partition GRAPH --num-parts K --exact --time-limit T --json`` as a child
process, and the table gives its wall time (from the command's start), the time reading the graph takes
(``load_problem`` and the checked instance, timed in this process once per graph), the time the command
reports for its solving (``time``: from reading the graph to the checked answer, the span the limit covers),
the child's CPU time (far below the wall time on a crowded machine), its peak memory (its high-water mark
``VmHWM``, sampled every 0.1 s: the child's ``ru_maxrss`` also counts this process's memory when it was spawned,
Linux keeps it across the exec, and that is a read million-op graph), the load average as it started and ended, the
largest part's memory in the command's per-part memory report (its default model; "none": no report), how many
parts' planner the report simulated within the time limit (the others show a lower bound), status,
bottleneck, proven bound and gap, and whether the partition map it wrote passes the independent checker
(``solver.partitioning.metrics.check_partition``, run here on the graph read back). Targets: the solve time
within the limit plus a few percent (5%, issue 16), the wall time within the limit plus 10% and the peak under
1 GB (issue 29: 66 s for a million ops at --time-limit 60), every answer valid; start-up (wall minus solve
time: imports, writing the map) is shown apart. The graph files are written a chunk at a time (10^7 ops fit).
The machine's load average is printed before and after (the machines are shared: compare rows of one run).

    python -m benchmarks.big_graphs [--quick] [--sizes 10000,100000,1000000,10000000] [--parts 8,16,64]
                                    [--time-limit 60] [--families transformer,layered] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from math import nan
from pathlib import Path

import numpy as np

from benchmarks.transformer import BLOCK, BLOCK_EDGES

TOLERANCE = 0.05  # the command's solve time may pass the limit by this fraction (issue 16: "a few percent")
WALL_TOLERANCE = 0.10  # and its wall time by this one (issue 29: 66 s at --time-limit 60)
PEAK_MB = 1024  # issue 29: a million ops under 1 GB


def transformer_doc(num_ops: int, seed: int = 0, arrays: bool = False):
    """A JSON graph of about ``num_ops`` ops: an embedding, then encoder blocks chained by residual edges
    (``arrays``: its name, op types, weights, edge sources, targets and bytes instead)."""
    rng = np.random.default_rng(seed)
    blocks = max(1, (num_ops - 1) // len(BLOCK))
    types = ["EMBEDDING"] + [kind for kind, _ in BLOCK] * blocks
    means = np.array([50] + [mean for _, mean in BLOCK] * blocks)
    weights = rng.integers(means // 2, means * 3 // 2 + 1)
    weights[0] = 50
    base = 1 + len(BLOCK) * np.arange(blocks)
    last = np.concatenate(([0], base[:-1] + len(BLOCK) - 1))  # the block input: the previous block's last op
    src = np.concatenate([last if a < 0 else base + a for a, _ in BLOCK_EDGES])
    dst = np.concatenate([base + b for _, b in BLOCK_EDGES])
    parts = (f"transformer-{len(types)}", types, weights, src, dst, np.full(len(src), 4096))
    return parts if arrays else _doc(*parts)


def layered_doc(num_ops: int, seed: int = 0, arrays: bool = False):
    """A random layered DAG of ``num_ops`` ops (see the module doc; ``arrays`` as for transformer_doc)."""
    rng = np.random.default_rng(seed)
    widths = []
    while sum(widths) < num_ops:
        widths.append(int(rng.integers(40, 201)))
    widths[-1] -= sum(widths) - num_ops
    starts = np.concatenate(([0], np.cumsum(widths)))
    layer = np.repeat(np.arange(len(widths)), widths)
    src_parts, dst_parts = [], []
    ops = np.arange(starts[1], num_ops)
    for _ in range(3):  # 1 to 3 readers of the layer before (duplicates dropped below)
        prev = layer[ops] - 1
        pick = starts[prev] + (rng.random(len(ops)) * np.asarray(widths)[prev]).astype(np.int64)
        keep = rng.random(len(ops)) < (1.0 if not src_parts else 0.5)
        src_parts.append(pick[keep])
        dst_parts.append(ops[keep])
    skip = ops[rng.random(len(ops)) < 0.05]  # a long edge, up to 8 layers back
    back = np.maximum(0, layer[skip] - rng.integers(2, 9, size=len(skip)))
    src_parts.append(starts[back] + (rng.random(len(skip)) * np.asarray(widths)[back]).astype(np.int64))
    dst_parts.append(skip)
    pairs = np.unique(np.stack([np.concatenate(src_parts), np.concatenate(dst_parts)], axis=1), axis=0)
    weights = np.maximum(1, rng.lognormal(np.log(100), 1.0, size=num_ops).astype(np.int64))
    nbytes = rng.integers(1, 65, size=len(pairs)) * 1024
    parts = (f"layered-{num_ops}", ["OP"] * num_ops, weights, pairs[:, 0], pairs[:, 1], nbytes)
    return parts if arrays else _doc(*parts)


def _doc(name: str, types: list[str], weights, src, dst, nbytes) -> dict:
    return {"format": "nnpart-graph", "version": 1, "name": name, "unit": "us", "ops": list(_ops(types, weights)),
            "edges": list(_edges(src, dst, nbytes))}  # fmt: skip


def _ops(types, weights, first: int = 0):
    return ({"id": v, "type": t, "weight": w} for v, (t, w) in enumerate(zip(types, weights.tolist()), first))


def _edges(src, dst, nbytes):
    return ({"from": u, "to": v, "bytes": b} for u, v, b in zip(src.tolist(), dst.tolist(), nbytes.tolist()))


FAMILIES = {"transformer": transformer_doc, "layered": layered_doc}
CHUNK = 100_000  # ops or edges written at a time: 10^7 ops never exist as Python objects at once


def graph_file(directory: Path, family: str, num_ops: int) -> Path:
    """The family's graph of ``num_ops`` ops as a JSON file in ``directory`` (written once, then reused)."""
    path = directory / f"{family}-{num_ops}.json"
    if not path.exists():
        parts = FAMILIES[family](num_ops, arrays=True)
        name, types, weights, src, dst, nbytes = parts
        with open(path.with_suffix(".tmp"), "w") as f:
            f.write(json.dumps({"format": "nnpart-graph", "version": 1, "name": name, "unit": "us"})[:-1])
            for key, items, count in (("ops", lambda a, b: _ops(types[a:b], weights[a:b], a), len(weights)),
                                      ("edges", lambda a, b: _edges(src[a:b], dst[a:b], nbytes[a:b]), len(src))):
                f.write(f',"{key}":[')
                for a in range(0, count, CHUNK):
                    text = json.dumps(list(items(a, a + CHUNK)), separators=(",", ":"))[1:-1]
                    f.write(("," if a else "") + text)
                f.write("]")
            f.write("}")
        os.replace(path.with_suffix(".tmp"), path)
    return path


def run_partition(graph: Path, num_parts: int, limit: float, out: Path) -> dict:
    """Run the real command in a child: its JSON report (or last error line), exit code, wall time, peak RSS (MB)."""
    command = [sys.executable, "-m", "solver", "partition", str(graph), "--num-parts", str(num_parts),
               "--exact", "--time-limit", f"{limit:g}", "--json", "--out", str(out)]  # fmt: skip
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start, load = time.monotonic(), os.getloadavg()[0]
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        peak = 0
        while True:  # the child's own rusage (not the largest child's so far), and its memory while it runs
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, high_water_kb(child.pid))
            time.sleep(0.1)
        wall = time.monotonic() - start
        stdout.seek(0)
        stderr.seek(0)
        text, errors = stdout.read(), stderr.read().strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "rss": peak / 1024, "code": code, "cpu": usage.ru_utime + usage.ru_stime,
            "load": f"{load:.1f}-{os.getloadavg()[0]:.1f}",
            "report": json.loads(text) if code == 0 and text.strip() else {},
            "error": errors[-1] if code and errors else ""}  # fmt: skip


def high_water_kb(pid: int) -> int:
    """A running process's peak resident memory so far (kB; 0 once it has ended)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def read_graph(path: Path):
    """The graph's checked instance as ``solve`` reads it (the streaming reader, then the dag) and the seconds
    that took here (in this process, after the command ran: the read time inside the command's solve time)."""
    from solver.problem import load_problem

    start = time.monotonic()
    dag = load_problem(path).dag
    return dag, time.monotonic() - start


def check_answer(graph, out: Path, num_parts: int) -> str:
    """'yes' when the written map passes the independent checker, else the checker's complaint."""
    from solver.errors import NnpartError
    from solver.partitioning.metrics import check_partition

    try:
        parts = json.loads(out.read_text())["partition_map"]
        check_partition(graph, parts, num_parts)
    except (OSError, ValueError, KeyError, NnpartError) as err:
        return f"NO: {err}"
    return "yes"


def row(name: str, k: int, run: dict, valid: str, read: float, limit: float) -> str:
    """One line of the table for a run of the command on graph ``name`` with ``k`` parts."""
    report = run["report"]
    solve = report.get("time", nan)
    met = (run["code"] == 0 and valid == "yes" and solve <= limit * (1 + TOLERANCE)
           and run["wall"] <= limit * (1 + WALL_TOLERANCE) and run["rss"] < PEAK_MB)
    notes = run["error"] or "; ".join(n for n in report.get("notes", []) if any(
        word in n for word in ("skipped", "stopped", "scaled", "divided", "not run", "no memory report")))
    parts_memory = (report.get("memory") or {}).get("parts", [])
    largest = max((p["predicted_bytes"] for p in parts_memory), default=None)
    simulated = sum(not p["terms"]["arena_lower_bound"] for p in parts_memory)
    return (f"{name:<20} {k:>3} {run['wall']:>7.1f} {read:>6.1f} {solve:>7.1f} {run['wall'] - solve:>8.1f} "
            f"{run['cpu']:>6.1f} {run['rss']:>8.0f} {'none' if largest is None else f'{largest / 2**20:.3f}':>11} "
            f"{f'{simulated}/{len(parts_memory)}':>9} "
            f"{report.get('status', 'exit ' + str(run['code'])):<9} {report.get('bottleneck', ''):>12} "
            f"{report.get('bound', ''):>12} {100 * report.get('gap', nan):>7.3f} "
            f"{valid[:5]:<5} {'met' if met else 'MISSED':<6} {run.get('load', ''):>9} {notes}")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 ops at K = 8, 16 with 20 s")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--parts", default="8,16,64")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--dir", type=Path, help="where the graph files are kept (default: a temporary directory)")
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [int(x) for x in args.sizes.split(",")]
    parts = [8, 16] if args.quick else [int(x) for x in args.parts.split(",")]
    limit = 20.0 if args.quick else args.time_limit

    with tempfile.TemporaryDirectory() as scratch:
        directory = args.dir or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        print(f"load average before: {load_average()} (2 cores; shared machine)  target: solve <= {limit:g} s "
              f"+ {100 * TOLERANCE:g}%, wall <= {limit:g} s + {100 * WALL_TOLERANCE:g}%, peak < {PEAK_MB} MB, every "
              "answer valid; start-up (wall - solve: imports, writing the map) shown apart")
        print(f"{'graph':<20} {'K':>3} {'wall s':>7} {'read s':>6} {'solve s':>7} {'start-up':>8} {'cpu s':>6} "
              f"{'peak MB':>8} {'part mem MB':>11} {'simulated':>9} "
              f"{'status':<9} {'bottleneck':>12} "
              f"{'bound':>12} {'gap %':>7} {'valid':<5} {'target':<6} {'load':>9} notes")
        for family in args.families.split(","):
            for size in sizes:
                path = graph_file(directory, family, size)
                runs = {}
                for k in parts:  # every K first: the graph read back for the check never sits beside a child
                    out = directory / f"{path.stem}.k{k}.map.json"
                    out.unlink(missing_ok=True)
                    runs[k] = (run_partition(path, k, limit, out), out)
                    out.with_suffix(".run.json").write_text(json.dumps(runs[k][0]))  # kept should this run stop
                graph, read = read_graph(path) if any(run["code"] == 0 for run, _ in runs.values()) else (None, nan)
                for k, (run, out) in runs.items():
                    print(row(path.stem, k, run, check_answer(graph, out, k) if run["code"] == 0 else "NO", read,
                              limit), flush=True)
                del graph, runs
        print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
