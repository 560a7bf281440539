"""SALBP-2 benchmark: the exact partitioner on the 302 classical instances (Scholl 1993).

Reads ../shared/benchmarks/salbp2 (instances/*.IN2 and optima.json) and prints, per instance, the
solver's bottleneck, proven bound and status beside the published optimum (or best known interval),
then a summary by graph size: how many reach the published optimum (or best known value) and how many
are proven optimal. Targets: every instance up to 100 tasks, and at least 90% of all.

    python -m benchmarks.salbp2                    # full: 302 instances x up to 60 s
    python -m benchmarks.salbp2 --quick            # 2 instances per graph, 10 s each
    python -m benchmarks.salbp2 --graphs WARNECKE --workers 1   # one family
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from solver.partitioning.partition import PartitionSettings, partition
from solver.problem import PartitionProblem, load_problem

DATA = Path(__file__).resolve().parents[2] / "shared/benchmarks/salbp2"
SIZES = ((0, 50), (51, 100), (101, 150), (151, 300))


def instances(quick: bool, graphs: set[str] | None = None, data: Path = DATA) -> list[dict]:
    entries = [e for e in json.loads((data / "optima.json").read_text()) if graphs is None or e["graph"] in graphs]
    if not quick:
        return entries
    # Per graph the smallest and the largest m: the largest m (tight, many parts) are the hardest.
    picked = []
    for graph in dict.fromkeys(e["graph"] for e in entries):
        own = [e for e in entries if e["graph"] == graph]
        picked += [own[0], own[-1]] if len(own) > 1 else own
    return picked


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 instances per graph with --time-limit 10")
    parser.add_argument("--time-limit", type=float, help="seconds per instance (default 60, 10 with --quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--graphs", help="only these graphs, comma-separated (e.g. ARC111,SCHOLL)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the data set's folder (default {DATA})")
    args = parser.parse_args(argv)
    limit = args.time_limit or (10.0 if args.quick else 60.0)
    problems: dict[str, PartitionProblem] = {}
    results = []
    print(f"{'graph':<9} {'n':>4} {'m':>3} {'ours':>7} {'bound':>7} {'status':<9} {'published':>15} "
          f"{'reached':>7} {'time s':>7}")
    for e in instances(args.quick, set(args.graphs.split(",")) if args.graphs else None, args.data):
        if e["graph"] not in problems:
            problems[e["graph"]] = load_problem(args.data / "instances" / f"{e['graph']}.IN2")
        problem = problems[e["graph"]]
        start = time.monotonic()
        # The heuristics, then the exact solver warm-started by the better one.
        answer = partition(problem, PartitionSettings(num_parts=e["m"], exact=True, time_limit=limit,
                                                      workers=args.workers))  # fmt: skip
        r = answer.exact
        target = e["c_opt"] if e["c_opt"] is not None else e["ub"]
        published = str(target) if e["c_opt"] is not None else f"[{e['lb']}, {e['ub']}]"
        reached = r.bottleneck <= target
        results.append((problem.num_ops, reached, r.status == "OPTIMAL"))
        print(f"{e['graph']:<9} {problem.num_ops:>4} {e['m']:>3} {r.bottleneck:>7} {r.bound:>7} "
              f"{r.status:<9} {published:>15} {'yes' if reached else 'NO':>7} {time.monotonic() - start:>7.1f}",
              flush=True)
    print()
    print(f"{'tasks':<10} {'instances':>9} {'reached':>8} {'proven':>7}   target")
    for low, high in SIZES:
        rows = [x for x in results if low <= x[0] <= high]
        if rows:
            goal = "all" if high <= 100 else "-"
            print(f"{low:>4}-{high:<5} {len(rows):>9} {sum(x[1] for x in rows):>8} {sum(x[2] for x in rows):>7}   {goal}")
    share = sum(x[1] for x in results) / len(results)
    print(f"{'all':<10} {len(results):>9} {sum(x[1] for x in results):>8} {sum(x[2] for x in results):>7}   "
          f">= 90% reached: {share:.1%}")


if __name__ == "__main__":
    main()
