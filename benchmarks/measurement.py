"""How much an optimum depends on the profile behind it: MobileNetV2, ResNet50, InceptionV3 at K = 2, 3.

Each model is profiled twice (A, B: ``solve profile``'s defaults, rounds in fresh processes) and once more with
busy processes started beside it (C). For each weight estimator and K the exact optimum of A is evaluated on
B's weights and compared with B's own optimum, and the other way round; the worse of the two is the row's
"A<->B" figure (target: within 3%). C's optimum is evaluated on A's weights against A's optimum: how far a
profile taken on a busy machine leads the partition. Each profile's verdict (stable, robust CV of the run
totals) and the machine's load average are printed beside it: the machine is shared, so say how busy it was.
A last profile (D) runs onert's default threads beside one busy process pinned to each core (real contention:
threads beyond the free cores) and prints what the tool says of it, which must be UNSTABLE and "contended".

Partitioners are a table (``PARTITIONERS``): a robust partitioner (``solve partition --robust``) adds its
column by adding an entry that takes the problem and K and returns the parts.

    python -m benchmarks.measurement [--models mobilenet_v2,...] [--time-limit 60] [--weights median,min,mean]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from devices import open_device
from solver.deploy.profiling import ProfileResult, ProfileSettings, profile_model
from solver.models.zoo import model_path
from solver.partitioning.metrics import check_partition
from solver.partitioning.partition import PartitionSettings, partition
from solver.problem import PartitionProblem, load_problem

MODELS = ("mobilenet_v2", "resnet50", "inception_v3")
KS = (2, 3)
TARGET = 0.03


@contextmanager
def busy_cores(count: int | None = None) -> Iterator[None]:
    """``count`` (default: one per core) busy processes, each alternating bursts of work and rest, so the runs
    measured meanwhile meet changing contention, as on a device where other apps run."""
    code = (
        "import random, time\nrandom.seed({k})\nwhile True:\n"
        "    end = time.perf_counter() + random.uniform(0.002, 0.03)\n"
        "    while time.perf_counter() < end:\n        pass\n"
        "    time.sleep(random.uniform(0.002, 0.03))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code.format(k=k)]) for k in range(count or os.cpu_count() or 2)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


@contextmanager
def pinned_busy() -> Iterator[None]:
    """One busy process pinned to each core this process may use (every core taken), killed afterwards."""
    procs = []
    try:
        for core in sorted(os.sched_getaffinity(0)):
            code = f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True:\n    pass\n"
            procs.append(subprocess.Popen([sys.executable, "-c", code]))
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def exact(problem: PartitionProblem, k: int, time_limit: float) -> list[int]:
    settings = PartitionSettings(num_parts=k, runs=10, seed=0, exact=True, time_limit=time_limit, workers=2)
    return partition(problem, settings).parts


def robust(problem: PartitionProblem, k: int, time_limit: float) -> list[int]:
    """``solve partition --robust``: the worst of the profile's runs (solver/partitioning/robust.py)."""
    settings = PartitionSettings(num_parts=k, runs=10, seed=0, exact=True, time_limit=time_limit, workers=2,
                                 robust="worst")
    return partition(problem, settings).parts


PARTITIONERS: dict[str, Callable[[PartitionProblem, int, float], list[int]]] = {"default": exact, "robust": robust}


def bottleneck(problem: PartitionProblem, parts: list[int], k: int) -> int:
    return check_partition(problem.graph, parts, k).bottleneck


def gap(problem: PartitionProblem, parts: list[int], optimum: list[int], k: int) -> float:
    """How much worse ``parts`` is than ``optimum`` on ``problem``'s weights (0.05 = 5%)."""
    return bottleneck(problem, parts, k) / bottleneck(problem, optimum, k) - 1


def profile(model: Path, out: Path, settings: ProfileSettings) -> tuple[ProfileResult, float, float]:
    """The profile, its wall time and the load average (1 min) when it ended."""
    start = time.perf_counter()
    result = profile_model(model, open_device("local", cache=False), settings, out=out)
    return result, time.perf_counter() - start, os.getloadavg()[0]


def verdict(label: str, result: ProfileResult, seconds: float, load: float) -> str:
    t = result.totals.summary
    word = "stable" if result.stable else "UNSTABLE"
    line = (f"  {label}: {len(result.measurements)} rounds, {t.n} runs, run totals median {t.median:8.1f} ms, "
            f"min {t.min:7.1f}, robust CV {100 * t.robust_cv:5.1f}%, {word:<8} {seconds:5.0f} s, load {load:.1f}")  # fmt: skip
    return line + ("".join(f"\n      - {r}" for r in result.reasons) if not result.stable else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--weights", default="median,min,mean", help="estimators to compare (default median,min,mean)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    estimators = args.weights.split(",")
    settings = ProfileSettings()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; profiles: {settings.rounds}+ "
          f"rounds x {settings.runs} runs (at most {settings.max_runs}), target CV {settings.target_cv:g}")  # fmt: skip
    rows, met, total = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            model = model_path(name)
            print(f"{name}:")
            traces = {}
            for label in ("A", "B", "C busy"):
                traces[label] = Path(tmp) / f"{name}.{label[0]}.chrome.json"
                busy = busy_cores() if label.startswith("C") else nullcontext()
                with busy:
                    result, seconds, load = profile(model, traces[label], settings)
                print(verdict(label, result, seconds, load), flush=True)
            with pinned_busy():  # D: what the tool says of onert's default threads on cores all taken
                contended, seconds, load = profile(model, Path(tmp) / f"{name}.D.chrome.json", settings)
            print(verdict("D pinned", contended, seconds, load), flush=True)
            for estimator in estimators:
                problems = {label: load_problem(model, path, estimator) for label, path in traces.items()}
                a, b, c = problems["A"], problems["B"], problems["C busy"]
                for k in KS:
                    # Every partitioner's answers are measured against the default optima (a robust answer
                    # against another robust answer would hide what robustness costs on the quiet weights).
                    reference = {label: exact(p, k, args.time_limit) for label, p in problems.items()}
                    for how, solve in PARTITIONERS.items():
                        opt = reference if solve is exact else {label: solve(p, k, args.time_limit)
                                                                for label, p in problems.items()}
                        cross = max(gap(b, opt["A"], reference["B"], k), gap(a, opt["B"], reference["A"], k))
                        busy_gap = gap(a, opt["C busy"], reference["A"], k)
                        ok = cross <= TARGET
                        met, total = met + ok, total + 1
                        rows.append(f"{name:<13} {estimator:<7} {how:<8} {k:>2} {bottleneck(a, opt['A'], k):>9} "
                                    f"{bottleneck(b, opt['B'], k):>9} {100 * cross:>7.2f}% {100 * busy_gap:>8.2f}%  "
                                    f"{'met' if ok else 'MISSED'}")  # fmt: skip
                        print(rows[-1], flush=True)
    print(f"\n{'model':<13} {'weights':<7} {'solver':<8} {'K':>2} {'opt A us':>9} {'opt B us':>9} {'A<->B':>8} "
          f"{'C busy':>9}  target: A<->B within {100 * TARGET:g}%")  # fmt: skip
    print("\n".join(rows))
    print(f"\n{met}/{total} within {100 * TARGET:g}%; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
