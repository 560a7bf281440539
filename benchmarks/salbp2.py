"""SALBP-2 benchmark: the exact partitioner on the 302 classical instances (Scholl 1993).

Reads ../shared/benchmarks/salbp2 (instances/*.IN2 and optima.json) and prints, per instance, the
solver's bottleneck, proven bound and status beside the published optimum (or best known interval),
then per graph family how many reach the published optimum (or best known value), how many of those the
literature proves are proven here, and the time's median and maximum; then the instances still missed, and
any best known value improved or proven. Issue 29's target: all 302 reached within 60 s each on 2 cores, and
every value the literature proves optimal proven.

    python -m benchmarks.salbp2                    # full: 302 instances x up to 60 s
    python -m benchmarks.salbp2 --quick            # 2 instances per graph, 10 s each
    python -m benchmarks.salbp2 --graphs WARNECKE --workers 1   # one family
    python -m benchmarks.salbp2 --instances ARC111:27,SCHOLL:25 # single instances
    python -m benchmarks.salbp2 --save new.jsonl --baseline old.jsonl  # old counts beside the new ones
    python -m benchmarks.salbp2 --save run.jsonl   # again after an interrupt: resumes, skipping the rows saved
    python -m benchmarks.salbp2 --bounds           # the lower bounds alone (no search): seconds for all 302

``--save`` appends one JSON line per instance as it ends, so a long run survives an interrupt: run the same
command again and it skips the instances the file already holds (an instance cut short is not saved).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from heuristics.dag import Dag, lower_bound
from solver.partitioning.partition import PartitionSettings, partition
from solver.partitioning.salbp_bounds import CycleBounds
from solver.problem import PartitionProblem, load_problem


def _data_folder(relative: str = "shared/benchmarks/salbp2") -> Path:
    """The data set beside the project (``../shared`` from its root), found from any folder the project is checked
    out in (a git worktree sits deeper than the main checkout): the nearest enclosing folder that holds it."""
    here = Path(__file__).resolve()
    return next((p / relative for p in here.parents if (p / relative).is_dir()), here.parents[2] / relative)


DATA = _data_folder()


def instances(quick: bool, graphs: set[str] | None = None, data: Path = DATA,
              picked: list[tuple[str, int]] | None = None) -> list[dict]:
    """The instances to run: all, a graph's, or ``picked`` (in its order)."""
    entries = [e for e in json.loads((data / "optima.json").read_text())
               if (graphs is None or e["graph"] in graphs) and (picked is None or (e["graph"], e["m"]) in picked)]
    if picked is not None:
        entries.sort(key=lambda e: picked.index((e["graph"], e["m"])))
    if not quick:
        return entries
    # Per graph the smallest and the largest m: the largest m (tight, many parts) are the hardest.
    chosen = []
    for graph in dict.fromkeys(e["graph"] for e in entries):
        own = [e for e in entries if e["graph"] == graph]
        chosen += [own[0], own[-1]] if len(own) > 1 else own
    return chosen


def read_rows(path: Path) -> list[dict]:
    """The rows of a ``--save`` file: one JSON object a line (older files hold one JSON list)."""
    if not path.exists():
        return []
    text = path.read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def solve(problem: PartitionProblem, e: dict, limit: float, workers: int) -> dict:
    """One instance through the command's path (heuristics, then the exact solver warm-started by the better)."""
    start = time.monotonic()
    r = partition(problem, PartitionSettings(num_parts=e["m"], exact=True, time_limit=limit, workers=workers)).exact
    if r.interrupted:
        raise KeyboardInterrupt  # a row cut short is not a measurement: not saved, so a resumed run redoes it
    target = e["c_opt"] if e["c_opt"] is not None else e["ub"]
    return {"graph": e["graph"], "n": problem.num_ops, "m": e["m"], "ours": r.bottleneck, "bound": r.bound,
            "status": r.status, "target": target, "published_optimal": e["c_opt"] is not None, "lb": e["lb"],
            "reached": r.bottleneck <= target, "proven": r.status == "OPTIMAL", "time": time.monotonic() - start,
            "load": os.getloadavg()[0]}


def bound(problem: PartitionProblem, e: dict) -> dict:
    """The lower bounds alone: heuristics.dag's, and the destructive-improvement one the exact search starts from."""
    start = time.monotonic()
    dag = Dag.from_graph(problem.graph)
    weights = lower_bound(dag, e["m"])
    tests = CycleBounds(dag, e["m"]).least(weights, max(weights, dag.total))
    return {"graph": e["graph"], "n": problem.num_ops, "m": e["m"], "weights": weights, "tests": tests,
            "lb": e["lb"], "target": e["c_opt"] if e["c_opt"] is not None else e["ub"],
            "time": time.monotonic() - start}


def bound_summary(rows: list[dict]) -> None:
    """Per family: how often each bound reaches the published lower bound and the best known value; its time."""
    print(f"{'graph':<9} {'instances':>9} {'old=lb':>7} {'new=lb':>7} {'old=best':>8} {'new=best':>8} {'raised':>6} "
          f"{'median s':>8} {'max s':>6}")
    for family in list(dict.fromkeys(r["graph"] for r in rows)) + ["all"]:
        own = [r for r in rows if family in ("all", r["graph"])]
        times = [r["time"] for r in own]
        count = lambda key, than: sum(r[key] >= r[than] for r in own)
        print(f"{family:<9} {len(own):>9} {count('weights', 'lb'):>7} {count('tests', 'lb'):>7} "
              f"{count('weights', 'target'):>8} {count('tests', 'target'):>8} "
              f"{sum(r['tests'] > r['weights'] for r in own):>6} {statistics.median(times):>8.2f} {max(times):>6.2f}")


def bounds_only(entries: list[dict], data: Path) -> None:
    """The ``--bounds`` table: per instance both bounds beside the published ones, then per family."""
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    print(f"{'graph':<9} {'n':>4} {'m':>3} {'old':>7} {'new':>7} {'published lb':>12} {'best':>7} {'time s':>7}")
    problems: dict[str, PartitionProblem] = {}
    rows = []
    for e in entries:
        if e["graph"] not in problems:
            problems[e["graph"]] = load_problem(data / "instances" / f"{e['graph']}.IN2")
        r = bound(problems[e["graph"]], e)
        rows.append(r)
        flag = "  ABOVE THE BEST KNOWN VALUE: a bug" if r["tests"] > r["target"] else ""
        print(f"{r['graph']:<9} {r['n']:>4} {r['m']:>3} {r['weights']:>7} {r['tests']:>7} {r['lb']:>12} "
              f"{r['target']:>7} {r['time']:>7.2f}{flag}", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; old = heuristics.dag.lower_bound, new = "
          "salbp_bounds (the exact search's starting bound); a bound reaching 'best' proves the best known value "
          "optimal\n")
    bound_summary(rows)
    wrong = [f"{r['graph']} m={r['m']}" for r in rows if r["tests"] > r["target"]]
    print(f"\nbounds above the best known value (bugs): {', '.join(wrong) or '-'}")
    proven = [f"{r['graph']} m={r['m']}" for r in rows if r["tests"] == r["target"] > r["weights"]]
    print(f"proven optimal by the new bound alone, not by the old: {', '.join(proven) or '-'}")
    raised = [f"{r['graph']} m={r['m']}: {r['tests']} (published {r['lb']}, best known {r['target']})" for r in rows
              if r["tests"] > r["lb"]]
    print(f"published lower bounds raised: {', '.join(raised) or '-'}")


def summary(rows: list[dict], baseline: dict[tuple[str, int], dict]) -> None:
    """Per family: reached, proven (of the values the literature proves), time median / max; old counts beside."""
    old = f" {'old reached':>11} {'old proven':>10}" if baseline else ""
    print(f"{'graph':<9} {'n':>4} {'instances':>9} {'reached':>8} {'proven':>7} {'of proven':>9} "
          f"{'median s':>8} {'max s':>6}{old}")
    families = list(dict.fromkeys(r["graph"] for r in rows)) + ["all"]
    for family in families:
        own = [r for r in rows if family in ("all", r["graph"])]
        times = [r["time"] for r in own]
        line = (f"{family:<9} {own[0]['n'] if family != 'all' else '':>4} {len(own):>9} "
                f"{sum(r['reached'] for r in own):>8} {sum(r['proven'] for r in own):>7} "
                f"{sum(r['published_optimal'] for r in own):>9} {statistics.median(times):>8.1f} {max(times):>6.1f}")
        if baseline:
            before = [baseline[(r["graph"], r["m"])] for r in own if (r["graph"], r["m"]) in baseline]
            line += f" {sum(b['reached'] for b in before):>11} {sum(b['proven'] for b in before):>10}"
            if len(before) < len(own):
                line += f" (of {len(before)})"
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 instances per graph with --time-limit 10")
    parser.add_argument("--time-limit", type=float, help="seconds per instance (default 60, 10 with --quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--graphs", help="only these graphs, comma-separated (e.g. ARC111,SCHOLL)")
    parser.add_argument("--instances", help="only these instances in this order, GRAPH:M comma-separated (e.g. ARC111:27)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the data set's folder (default {DATA})")
    parser.add_argument("--save", type=Path, help="write the rows as JSON here")
    parser.add_argument("--baseline", type=Path, help="a --save file of an earlier run: its counts beside ours")
    parser.add_argument("--bounds", action="store_true", help="the lower bounds alone, no search")
    args = parser.parse_args(argv)
    limit = args.time_limit or (10.0 if args.quick else 60.0)
    picked = [(g, int(m)) for g, m in (item.rsplit(":", 1) for item in args.instances.split(","))] \
        if args.instances else None
    baseline = {(r["graph"], r["m"]): r for r in read_rows(args.baseline)} if args.baseline else {}
    if args.bounds:
        bounds_only(instances(args.quick, set(args.graphs.split(",")) if args.graphs else None, args.data, picked),
                    args.data)
        return
    problems: dict[str, PartitionProblem] = {}
    rows = read_rows(args.save) if args.save else []
    done = {(r["graph"], r["m"]) for r in rows}
    print(f"load average at the start: {os.getloadavg()[0]:.1f}; {limit:g} s, {args.workers} workers"
          + (f"; {len(done)} instances already in {args.save}, skipped" if done else ""))
    print(f"{'graph':<9} {'n':>4} {'m':>3} {'ours':>7} {'bound':>7} {'status':<9} {'published':>15} "
          f"{'reached':>7} {'time s':>7} {'load':>5}")
    try:
        for e in instances(args.quick, set(args.graphs.split(",")) if args.graphs else None, args.data, picked):
            if (e["graph"], e["m"]) in done:
                continue
            if e["graph"] not in problems:
                problems[e["graph"]] = load_problem(args.data / "instances" / f"{e['graph']}.IN2")
            r = solve(problems[e["graph"]], e, limit, args.workers)
            rows.append(r)
            published = str(e["c_opt"]) if e["c_opt"] is not None else f"[{e['lb']}, {e['ub']}]"
            print(f"{r['graph']:<9} {r['n']:>4} {r['m']:>3} {r['ours']:>7} {r['bound']:>7} {r['status']:<9} "
                  f"{published:>15} {'yes' if r['reached'] else 'NO':>7} {r['time']:>7.1f} {r['load']:>5.1f}",
                  flush=True)
            if args.save:
                with args.save.open("a") as out:
                    out.write(json.dumps(r) + "\n")
    except KeyboardInterrupt:
        resume = f" in {args.save}, the same command resumes" if args.save else ""
        print(f"\ninterrupted: {len(rows)} rows kept{resume}")
        if not rows:
            return
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    summary(rows, baseline)
    missed = [f"{r['graph']} m={r['m']} ({r['ours']} vs {r['target']})" for r in rows if not r["reached"]]
    unproven = [f"{r['graph']} m={r['m']} ({r['bound']}..{r['ours']})" for r in rows
                if r["published_optimal"] and not r["proven"]]
    print(f"\nnot reached ({len(missed)}): {', '.join(missed) or '-'}")
    print(f"proven in the literature, not here ({len(unproven)}): {', '.join(unproven) or '-'}")
    better = [f"{r['graph']} m={r['m']}: {r['ours']} (best known {r['target']}, bound {r['bound']}, "
              f"published lower bound {r['lb']})" for r in rows
              if not r["published_optimal"] and (r["ours"] < r["target"] or r["bound"] > r["lb"])]
    print(f"best known values improved or bounds raised: {', '.join(better) or '-'}")


if __name__ == "__main__":
    main()
