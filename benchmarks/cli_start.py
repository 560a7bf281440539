"""Time the start of the command line: ``solve --help`` and the help of the heaviest commands.

Target: well under 0.5 s each (issue 12 measured 2-4 s when every command's libraries loaded at start).
Each row is the median wall time of N fresh runs of the real ``solve`` entry point (or ``python -m solver``
when ``solve`` is not on PATH), and the heavy libraries the run imported.

    python -m benchmarks.cli_start [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5
HEAVY = ("ortools", "pymoo", "scipy", "onert", "matplotlib", "tensorflow", "pandas")
CASES = (["--help"], ["partition", "--help"], ["pareto", "--help"], ["split", "--help"])
BASELINE = "issue 12: solve --help took 2-4 s (OR-Tools, pymoo, scipy, pandas loaded at start)"


def entry_point() -> list[str]:
    solve = shutil.which("solve")
    return [solve] if solve else [sys.executable, "-m", "solver"]


def wall_time(argv: list[str], runs: int) -> float:
    """Median seconds of ``runs`` fresh runs of ``solve ARGV``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(entry_point() + argv, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_imports(argv: list[str]) -> list[str]:
    """The heavy libraries ``solve ARGV`` imports (from ``python -X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "solver", *argv], capture_output=True, text=True, check=True
    )
    imported = {line.rpartition("|")[2].strip().split(".")[0] for line in done.stderr.splitlines()}
    return sorted(imported & set(HEAVY))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh runs per command (default 11)")
    args = parser.parse_args(argv)
    print(f"entry point: {' '.join(entry_point())}, {args.runs} runs each")
    header = f"{'command':24} {'median s':>9} {'target s':>9}  heavy libraries imported"
    print(header)
    print("-" * len(header))
    for case in CASES:
        seconds = wall_time(case, args.runs)
        heavy = ", ".join(heavy_imports(case)) or "none"
        print(f"{'solve ' + ' '.join(case):24} {seconds:9.3f} {TARGET_S:9.2f}  {heavy}")
    print(BASELINE)


if __name__ == "__main__":
    main()
