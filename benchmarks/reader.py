"""Time the TFLite reader and the trace reader.

Target: a 100 MB model parses (operators, tensors, op graph) in well under a second.

    python -m benchmarks.reader
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from solver.models import zoo as keras_models
from solver.io.tflite import read_model
from solver.io.trace import read_trace
from tests.fbmodels import write_large_model

TARGET_S = 0.5


def _time(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = write_large_model(Path(tmp) / "big.tflite")
        rows.append(("synthetic 24 x FC", big.stat().st_size, _time(lambda: read_model(big).op_graph())))
    for name in keras_models.APPLICATIONS:
        path = keras_models.model_path(name)
        rows.append((name, path.stat().st_size, _time(lambda: read_model(path).op_graph())))
    bundled = keras_models.DEFAULT_MODEL
    rows.append(("bundled (xz)", bundled.stat().st_size, _time(lambda: read_model(bundled).op_graph())))
    trace = keras_models.DEFAULT_TRACE
    rows.append(("bundled trace", trace.stat().st_size, _time(lambda: read_trace(trace))))
    print(f"{'input':<20} {'MB':>8} {'median s':>9} {'target s':>9}")
    for name, size, seconds in rows:
        print(f"{name:<20} {size / 1e6:>8.1f} {seconds:>9.3f} {TARGET_S:>9.1f}")


if __name__ == "__main__":
    main()
