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
    """The problem MODEL and TRACE name; a model without a trace is measured first (or its cached times reused).

    A TFLite model is profiled on the local onert device, a Keras model's layers are timed with TensorFlow.
    """
    from devices.cache import default_cache_dir
    from solver.data import TRACE_RUNS
    from solver.io.keras import is_keras_file
    from solver.partitioning.problem import load_problem, needs_trace

    model = args.model
    if model is None or args.trace is not None or not needs_trace(model):
        return load_problem(model, args.trace)
    if is_keras_file(model):
        from solver.deploy.keras_timing import cached_layer_times

        how = f"timing its layers with TensorFlow ({TRACE_RUNS} runs)"
        measure = lambda: cached_layer_times(model, default_cache_dir(), TRACE_RUNS)  # noqa: E731
    else:
        from devices import open_device
        from solver.deploy.profiling import cached_trace

        how = f"profiling it on the local onert device ({TRACE_RUNS} runs)"
        measure = lambda: cached_trace(model, open_device("local"), default_cache_dir(), TRACE_RUNS)  # noqa: E731
    print(f"{model}: no trace given; {how}, unless the cache holds its times...", file=sys.stderr)
    times, measured = measure()
    problem = load_problem(model, times)
    origin = f"measured now, {how}" if measured else "from the measurement cache"
    problem.notes.insert(0, f"no trace given: weights {origin} ({times})")
    return problem
