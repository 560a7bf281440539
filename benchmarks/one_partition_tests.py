"""ONE's circle-part-value-test through nnpart: per (model, .part) pair, the part count of ONE's test.lst, the
parts ONE's current code makes, ours, and whether the split computes the model (onert, parts for acl_cl and
npu on cpu). The same pairs as tests/offload/test_one_partition_tests.py, as a table for the record.

    python -m benchmarks.one_partition_tests
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from devices.chain import RunError
from solver.deploy.split import split_model
from solver.deploy.verify import verify_split
from solver.io.tflite import read_model
from tests.one_recipes import PAIRS, build, group_pair
from tests.traces import write_chrome_trace


def main() -> None:
    print(f"{'pair':34} {'.part from':40} {'test.lst':>8} {'ONE':>4} {'ours':>4}  verify")
    with tempfile.TemporaryDirectory() as tmp:
        for i, pair in enumerate(PAIRS):
            work = Path(tmp) / str(i)
            work.mkdir()
            model = build(pair.recipe, work / f"{pair.recipe}.tflite")
            parsed = read_model(model)
            trace = write_chrome_trace(work / "trace.json", parsed, [[100.0] * parsed.num_ops] * 2)
            problem, result = group_pair(pair, model, trace, work)
            placement = {int(k): b for k, b in result.placement.items()}
            split = split_model(model, result.metrics.parts, work / "split", model=parsed, placement=placement)
            try:
                verified = verify_split(split)
                worst = max(o.max_rel for o in verified.outputs)
                fallback = sum("ran on cpu" in n for n in verified.notes)
                verdict = f"{'ok' if verified.ok else 'MISMATCH'} (max rel {worst:.1e}; {fallback} part(s) on cpu)"
            except RunError as err:
                verdict = f"not run: {str(err).split('(')[-1].rstrip(')')}"
            listed = str(pair.listed) if pair.listed else "-"
            print(f"{pair.part:34} {pair.where:40} {listed:>8} {len(pair.parts):>4} {result.metrics.num_parts:>4}  "
                  f"{verdict}")  # fmt: skip
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
