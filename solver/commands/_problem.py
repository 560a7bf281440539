"""The MODEL and TRACE arguments that ``solve partition`` and ``solve compare`` share, and the problem they name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_problem_arguments(parser) -> None:
    parser.add_argument("model", type=Path, nargs="?",
                        help="a .tflite/.circle model (possibly .xz or .gz), a Keras model (.keras, .h5: one op per "
                             "layer), a JSON graph (docs/graph-format.md) or a SALBP .IN2 file; omitted: the bundled "
                             "InceptionV3 with its onert trace")  # fmt: skip
    parser.add_argument("trace", type=Path, nargs="?",
                        help="onert per-op times of MODEL: a Chrome trace (TRACING_MODE=1 trace.chrome.json) or "
                             "trace.json; for a Keras model a layer-times file ({\"times\": {layer: us}}); omitted "
                             "for a model: it is profiled on the local onert device (Keras: its layers timed with "
                             "TensorFlow) first, and the result kept in the measurement cache; not used with JSON "
                             "graphs and .IN2 files, which carry their weights")  # fmt: skip


def problem_from_args(args: argparse.Namespace):
    """The problem MODEL and TRACE name; a model without a trace is profiled first (or its cached trace reused)."""
    from solver.partitioning.problem import load_problem, needs_trace

    if args.model is None or args.trace is not None or not needs_trace(args.model):
        return load_problem(args.model, args.trace)
    from solver.io.keras import is_keras_file

    if is_keras_file(args.model):
        return _keras_problem(args.model)
    from devices import open_device
    from devices.cache import default_cache_dir
    from solver.data import TRACE_RUNS
    from solver.deploy.profiling import cached_trace

    print(f"{args.model}: no trace given; profiling it on the local onert device ({TRACE_RUNS} runs), "
          "unless the cache holds a trace of it...", file=sys.stderr)  # fmt: skip
    trace, measured = cached_trace(args.model, open_device("local"), default_cache_dir(), TRACE_RUNS)
    problem = load_problem(args.model, trace)
    how = "profiled on the local onert device now" if measured else "a trace from the measurement cache"
    problem.notes.insert(0, f"no trace given: weights from {how} ({trace})")
    return problem


def _keras_problem(model: Path):
    """A Keras model's problem, its layers timed with TensorFlow (kept in the cache, keyed by the file's content)."""
    from devices.cache import default_cache_dir
    from devices.workerdevice import file_digest
    from solver.data import TRACE_RUNS
    from solver.deploy.keras_timing import time_layers, write_layer_times
    from solver.partitioning.problem import load_problem

    times = default_cache_dir() / "layer-times" / f"{model.stem}-{file_digest(model)[:16]}.json"
    measured = not times.exists()
    if measured:
        print(f"{model}: no layer times given; timing its layers with TensorFlow ({TRACE_RUNS} runs)...",
              file=sys.stderr)  # fmt: skip
        found, failed = time_layers(model, TRACE_RUNS)
        write_layer_times(times, found, TRACE_RUNS)
        if failed:
            print(f"{model}: layers that cannot run alone count 0 us: {', '.join(failed)}", file=sys.stderr)
    problem = load_problem(model, times)
    how = "measured with TensorFlow now" if measured else "measured with TensorFlow earlier, from the cache"
    problem.notes.insert(0, f"no layer times given: weights {how} ({times})")
    return problem
