"""The long fuzz run: many hostile command lines against the promise of issue 16.

Each case is drawn from its seed by ``tests.fuzzing.draw_case`` (a mutated model, trace, graph, .IN2 file, dump,
platform file or partition map; a hostile option; an output target that cannot or must not be written) and run as
a user runs ``solve`` (a child process; ``--in-process`` calls ``solver.cli.main`` instead, ten times faster). It
prints the cases run per input kind, the promises broken (traceback, exit status, not one line, the file not
named, an output touched, a temporary file left, a hang) with the first example of each, and the wall time.

Baseline: issue 16's hostile user ran 518 cases and found 77 that broke the promise (64 tracebacks).

    python -m benchmarks.fuzz [--cases N] [--seed S] [--in-process] [--jobs J] [--kinds model,trace,...]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fuzzing import KINDS, broken_promises, describe, draw_case, good_inputs, run_case

BASELINE = "issue 16: 77 of 518 hostile cases broke the promise (64 tracebacks)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600, help="cases to run (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first case (default 0)")
    parser.add_argument("--in-process", action="store_true", help="call solver.cli.main instead of a child process")
    parser.add_argument("--jobs", type=int, default=2, help="child processes at once (default 2)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"input kinds to draw from (default {','.join(KINDS)})")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {', '.join(KINDS)}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        good = good_inputs(root / "good")
        cases = []
        for seed in range(args.seed, args.seed + args.cases):
            rng = random.Random(seed)
            cases.append(draw_case(good, root / f"case-{seed}", rng, rng.choice(kinds)))
        start = time.perf_counter()
        if args.in_process:
            outcomes = [run_case(case, subprocess_=False) for case in cases]
        else:
            with ThreadPoolExecutor(args.jobs) as pool:
                outcomes = list(pool.map(run_case, cases))
        wall = time.perf_counter() - start

    runs, failed, broken_by, first = Counter(), Counter(), Counter(), {}
    for case, outcome in zip(cases, outcomes):
        runs[case.kind] += 1
        broken = broken_promises(case, outcome)
        if broken:
            failed[case.kind] += 1
            for promise in broken:
                broken_by[promise] += 1
                first.setdefault(promise, describe(case, outcome, broken))

    how = "in process" if args.in_process else f"child processes, {args.jobs} at a time"
    print(f"{len(cases)} cases from seed {args.seed} ({how}), {wall:.1f} s wall, {wall / len(cases):.2f} s per case")
    print(f"\n{'kind':<10} {'cases':>6} {'broken':>7}")
    for kind in KINDS:
        if runs[kind]:
            print(f"{kind:<10} {runs[kind]:>6} {failed[kind]:>7}")
    print(f"{'total':<10} {sum(runs.values()):>6} {sum(failed.values()):>7}    baseline: {BASELINE}")
    if broken_by:
        print("\npromises broken: " + ", ".join(f"{p} {n}" for p, n in broken_by.most_common()))
        examples: dict[str, list[str]] = {}  # one case often breaks several promises: show it once
        for promise, example in first.items():
            examples.setdefault(example, []).append(promise)
        for example, promises in examples.items():
            print(f"\nfirst to break {', '.join(promises)}:\n{example}")


if __name__ == "__main__":
    main()
