"""Seed 002's experiment: its method against our proven optimum on its networks of edge nodes.

Seed 002's four Keras models (built with ``weights=None``), networks of 5 to 50 nodes placed uniformly in
[1, 150]^2 with its bandwidth law ``log2(1 + 283230 / d^2)`` Mbit/s and no latency, every node holding 64,
128 or 256 MB, several seeded networks each. Two objectives, both in our model (real tensor bytes over the
links; memory as docs/platform-format.md counts it):

- ``transfer``: seed 002's own, the worst link's transfer time (op times set to 0);
- ``ours``: the throughput bottleneck, the worst of compute (the layers' measured times) and transfer.

Per instance, seed 002's answer (``solver.placement.seed002``) and our exact answer (the prefix search beside
CP-SAT, solver.placement.exact) warm-started by our greedy. Seed 002's answer is *valid* when it fits every
node in our memory model; its ratio is taken to our answer only when that is proven OPTIMAL. Where the seed
raises ("only one partition" when the whole model fits a node; "can't partition"), the row counts it.
Printed per model, node count and capacity (``opt/feas/n``: proven, OPTIMAL or INFEASIBLE when no placement
fits; FEASIBLE; instances) and the worst gap ``(value - bound) / value`` of the unproven answers, then the
totals: statuses, solve times (median, quartiles, max), the seed's and our greedy's ratios to the proven
optimum (mean, worst), the unproven answers' gaps, and the load average before and after (the machine's other
work slows the solves).

With ``--results FILE`` each case is appended to FILE as one JSON line when it ends (with the 1-minute load
average then), and a case FILE already holds (same model, nodes, capacity, objective, network and time limit)
is read back instead of solved: an interrupted run goes on where it stopped, and the tables cover every case.

    python -m benchmarks.seed002 [--networks 50] [--first-network 0] [--nodes 5,10,15,20,50] [--caps 64,128,256]
                                 [--models resnet50,...] [--time-limit 60] [--workers 2] [--results FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from devices.cache import default_cache_dir
from solver.data import TRACE_RUNS
from solver.deploy.keras_timing import cached_layer_times
from solver.errors import CheckError, InfeasibleError
from solver.io.keras import read_keras, read_layer_times
from solver.io.platform import read_platform
from solver.models.zoo import KERAS_APPLICATIONS, keras_path
from solver.placement.bounds import lower_bound
from solver.placement.exact import solve_placement
from solver.placement.greedy import GREEDY_SHARE, greedy_placement
from solver.placement.metrics import evaluate
from solver.placement.problem import PlacementProblem, placement_problem
from solver.placement.seed002 import Seed002Error, seed002
from solver.problem import PartitionProblem
from solver.solving.budget import Budget
from solver.solving.outcome import FEASIBLE, HEURISTIC, OPTIMAL

MB = 2**20
INFEASIBLE = "INFEASIBLE"
SPINE_SHARE = 0.1  # of the time limit, for the spine bound


@dataclasses.dataclass
class Row:
    model: str
    nodes: int
    cap_mb: int
    objective: str
    status: str  # of our answer; INFEASIBLE: proven that no placement fits
    time: float
    ours: int | None  # our value, us
    seed: str  # "ok", "invalid" (overflows our memory model), or why it raised
    ratio: float | None  # seed's value / our proven optimum
    greedy_ratio: float | None  # our greedy's value (the exact search's start) / our proven optimum
    gap: float | None  # unproven: (value - bound) / value
    network: int = 0  # the network's seed
    time_limit: float = 60.0
    load: float | None = None  # the 1-minute load average when the case ended

    def key(self) -> tuple:
        """What makes a case: the same key, the same problem and limit."""
        return self.model, self.nodes, self.cap_mb, self.objective, self.network, self.time_limit


def network(nodes: int, cap_mb: int, seed: int, directory: Path) -> Path:
    """Seed 002's random network as a platform file."""
    positions = np.random.default_rng(seed).random((nodes, 2)) * 149 + 1
    doc = {"devices": [{"name": f"n{i}", "memory": cap_mb * MB, "pos": [float(x), float(y)]}
                       for i, (x, y) in enumerate(positions)],
           "bandwidth_law": "seed002"}  # fmt: skip
    path = directory / f"net-{nodes}-{cap_mb}-{seed}.json"
    path.write_text(json.dumps(doc))
    return path


def solve_instance(problem: PlacementProblem, args) -> tuple[str, int, float, int, int | None]:
    """Our exact answer: status, value, solve time (greedy, bound and the exact search, all within the time
    limit), the proven bound and the greedy's value."""
    start = time.monotonic()
    hint = greedy_placement(problem, "throughput", until=Budget(GREEDY_SHARE * args.time_limit))
    value = evaluate(problem, hint).throughput if hint is not None else None
    # The contraction and spine bounds together: a tenth of the limit (solver.placement.bounds, .spine).
    lower = lower_bound(problem, "throughput", value, seconds=SPINE_SHARE * args.time_limit) if value is not None else 0
    # The time limit bounds the whole solve, the greedy and the bound included (as in ``solve place``).
    remaining = max(args.time_limit - (time.monotonic() - start), 0.1)
    solved = solve_placement(problem, "throughput", hint=hint, time_limit=remaining, workers=args.workers, lower=lower)
    if solved.interrupted:  # Ctrl-C: the case is not done (a results file must not keep it)
        raise KeyboardInterrupt
    return solved.status, solved.value, time.monotonic() - start, max(solved.bound, lower), value


def seed_value(problem: PlacementProblem) -> tuple[str, int | None]:
    try:
        answer = seed002(problem)
    except Seed002Error as err:
        return ("only one part" if "only one" in str(err) else "no path"), None
    try:
        return "ok", evaluate(problem, answer.assign).throughput
    except CheckError:
        return "invalid", evaluate(problem, answer.assign, memory=False).throughput


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=50)
    parser.add_argument("--first-network", type=int, default=0, help="the seed of the first network")
    parser.add_argument("--nodes", default="5,10,15,20,50")
    parser.add_argument("--caps", default="64,128,256")
    parser.add_argument("--models", default=",".join(KERAS_APPLICATIONS))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, help="a JSON-lines file of the cases: appended, and read to resume")
    args = parser.parse_args(argv)
    nodes = [int(n) for n in args.nodes.split(",")]
    caps = [int(c) for c in args.caps.split(",")]
    rows: list[Row] = []
    done = _read_results(args.results) if args.results else {}
    print(f"python -m benchmarks.seed002 {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"load average before: {_load()}")
    print(f"{'model':<20} {'nodes':>5} {'MB':>4} {'objective':<9} {'opt/feas/n':>10} {'median s':>8} {'max s':>6} "
          f"{'seed ok/invalid/raises':>22} {'seed/opt mean':>13} {'worst':>6} {'greedy/opt mean':>15} "
          f"{'worst':>6} {'worst gap':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path = keras_path(name)
            graph = read_keras(path)
            times, _ = cached_layer_times(path, default_cache_dir(), TRACE_RUNS)
            read_layer_times(times, graph)
            base = PartitionProblem(graph, name, path)
            for count in nodes:
                for cap in caps:
                    for objective in ("transfer", "ours"):
                        batch = []
                        for seed in range(args.first_network, args.first_network + args.networks):
                            row = done.get((name, count, cap, objective, seed, args.time_limit))
                            if row is None:
                                row = _case(base, name, count, cap, objective, seed, args, Path(tmp))
                                if args.results:
                                    with args.results.open("a") as out:
                                        out.write(json.dumps(dataclasses.asdict(row)) + "\n")
                            batch.append(row)
                        rows += batch
                        print(_line(batch), flush=True)
    print()
    _totals(rows)
    print(f"load average after: {_load()} (1, 5, 15 min; {os.cpu_count()} cores)")


def _case(base: PartitionProblem, name: str, count: int, cap: int, objective: str, seed: int, args,
          directory: Path) -> Row:  # fmt: skip
    """One case solved: our answer and seed 002's."""
    problem = placement_problem(base, read_platform(network(count, cap, seed, directory)))
    if objective == "transfer":
        problem = dataclasses.replace(problem, times=[[0 if t is not None else None for t in r] for r in problem.times])
    started = time.monotonic()
    try:
        status, value, seconds, bound, greedy = solve_instance(problem, args)
    except InfeasibleError as err:  # no placement at all: proven, or none found in time
        status = "NONE FOUND" if "not proven" in str(err) else INFEASIBLE
        value, seconds, bound, greedy = None, time.monotonic() - started, None, None
    how, seeds = seed_value(problem)
    proven = status == OPTIMAL and value
    ratio = seeds / value if how == "ok" and proven else None
    ours = greedy / value if greedy is not None and proven else None
    gap = (value - bound) / value if value and status != OPTIMAL else None
    return Row(name, count, cap, objective, status, seconds, value, how, ratio, ours, gap, seed, args.time_limit,
               os.getloadavg()[0])  # fmt: skip


def _read_results(path: Path) -> dict[tuple, Row]:
    """The cases a results file holds, by key (none when it does not exist yet)."""
    if not path.exists():
        return {}
    rows = [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    return {row.key(): row for row in rows}


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _line(batch: list[Row]) -> str:
    first = batch[0]
    optimal = sum(r.status in (OPTIMAL, INFEASIBLE) for r in batch)
    feasible = sum(r.status == FEASIBLE for r in batch)
    times = [r.time for r in batch]
    seeds = [r.seed for r in batch]
    ok, invalid = seeds.count("ok"), seeds.count("invalid")
    raised = len(seeds) - ok - invalid
    return (f"{first.model:<20} {first.nodes:>5} {first.cap_mb:>4} {first.objective:<9} "
            f"{f'{optimal}/{feasible}/{len(batch)}':>10} {statistics.median(times):>8.2f} {max(times):>6.1f} "
            f"{f'{ok}/{invalid}/{raised}':>22} {_ratios([r.ratio for r in batch], 13)} "
            f"{_ratios([r.greedy_ratio for r in batch], 15)} {_worst_gap(batch):>9}")  # fmt: skip


def _worst_gap(rows: list[Row]) -> str:
    """The largest gap of the unproven answers, or a dash when every answer is proven."""
    gaps = [r.gap for r in rows if r.gap is not None]
    return f"{max(gaps):.1%}" if gaps else "-"


def _ratios(values: list[float | None], width: int) -> str:
    """Mean and worst of the ratios there are, or dashes."""
    ratios = [r for r in values if r is not None]
    if not ratios:
        return f"{'-':>{width}} {'-':>6}"
    return f"{statistics.fmean(ratios):>{width}.3f} {max(ratios):>6.3f}"


def _totals(rows: list[Row]) -> None:
    for objective in ("transfer", "ours"):
        part = [r for r in rows if r.objective == objective]
        if not part:
            continue
        statuses = [r.status for r in part]
        times = sorted(r.time for r in part)
        quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else times * 3
        ratios = [r.ratio for r in part if r.ratio is not None]
        greedy = [r.greedy_ratio for r in part if r.greedy_ratio is not None]
        seeds = [r.seed for r in part]
        gaps = [r.gap for r in part if r.gap is not None]
        print(f"{objective}: {statuses.count(OPTIMAL)}/{len(part)} OPTIMAL, {statuses.count(INFEASIBLE)} proven "
              f"INFEASIBLE, {statuses.count(FEASIBLE)} FEASIBLE, {statuses.count(HEURISTIC)} HEURISTIC, "
              f"{statuses.count('NONE FOUND')} with none found; solve time median {statistics.median(times):.2f} s "
              f"(quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}), max {times[-1]:.1f} s; seed 002 ok "
              f"{seeds.count('ok')}, invalid in our memory model {seeds.count('invalid')}, raises "
              f"{len(seeds) - seeds.count('ok') - seeds.count('invalid')}; seed/optimum over {len(ratios)} proven "
              "instances: " + (f"mean {statistics.fmean(ratios):.3f}, worst {max(ratios):.3f}" if ratios else "none")
              + f"; our greedy/optimum over {len(greedy)}: "
              + (f"mean {statistics.fmean(greedy):.3f}, worst {max(greedy):.3f}" if greedy else "none")
              + (f"; gap of the {len(gaps)} unproven: median {statistics.median(gaps):.1%}, worst {max(gaps):.1%}"
                 if gaps else ""))  # fmt: skip


if __name__ == "__main__":
    main()
