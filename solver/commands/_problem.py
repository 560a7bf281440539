"""The MODEL and TRACE arguments that ``solve partition``, ``compare`` and ``place`` share, the problem they
name, and ``--weights``, the one option that says how a trace's runs become op weights (``solve profile`` too)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devices.stats import check_estimator
from solver.errors import UsageError

WEIGHTS_HELP = (
    "how an op's weight comes from its timed runs in the trace: median (the default: robust to the outlier runs "
    "a busy machine makes, and what moves least between two profiles), min (the best case: each op's luckiest "
    "run, optimistic and, with few runs, jumpy), mean (follows outliers), or pNN, a percentile such as p90 "
    "(plan for a busy device)"
)


def add_weights_argument(parser) -> None:
    parser.add_argument("--weights", default="median", metavar="median|min|mean|pNN", help=WEIGHTS_HELP)


def weights_from_args(args: argparse.Namespace) -> str:
    """The ``--weights`` estimator, checked (``UsageError``); median when the namespace has none."""
    weights = getattr(args, "weights", "median")
    try:
        return check_estimator(weights)
    except ValueError as err:
        raise UsageError(f"--weights: {err}") from err


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
    add_weights_argument(parser)
    parser.add_argument("--refresh", action="store_true",
                        help="a model without a trace: profile it again and replace the cached trace")


def check_model_file(path: Path) -> None:
    """A missing, unreadable or directory MODEL is bad input (exit 2), said in one line before anything runs."""
    from solver.errors import ModelError

    path = Path(path)
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not a model file")
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError as err:
        raise ModelError(f"{path}: no such file") from err
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror})") from err


def problem_from_args(args: argparse.Namespace):
    """The problem MODEL and TRACE name; a model without a trace is measured first (or its cached times reused).

    A TFLite model is profiled on the local onert device (a cached trace is used only if its profile was
    stable), a Keras model's layers are timed with TensorFlow. The problem's first note says which it was.
    """
    from devices.cache import default_cache_dir
    from solver.data import TRACE_RUNS
    from solver.problem import IN_FILE, LAYER_TIMES, input_format, load_problem

    model = args.model
    weights, refresh = weights_from_args(args), getattr(args, "refresh", False)  # also for a bare Namespace
    if model is not None:
        check_model_file(model)
    if model is None or args.trace is not None or input_format(model).weights == IN_FILE:
        return _warned(load_problem(model, args.trace, weights), args.trace)
    if input_format(model).weights == LAYER_TIMES:
        from solver.deploy.keras_timing import cached_layer_times

        how = f"timing its layers with TensorFlow ({TRACE_RUNS} runs)"
        print(f"{model}: no trace given; {how}, unless the cache holds its times...", file=sys.stderr)
        times, measured = cached_layer_times(model, default_cache_dir(), TRACE_RUNS)
        origin = f"measured now, {how}" if measured else "from the measurement cache"
    else:
        from devices import open_device
        from solver.deploy.profiling import ProfileSettings, cached_trace

        print(f"{model}: no trace given; profiling it on the local onert device, unless the cache holds a stable "
              "profile...", file=sys.stderr)  # fmt: skip
        device = open_device("local", refresh=refresh)
        times, origin = cached_trace(model, device, default_cache_dir(), ProfileSettings(runs=TRACE_RUNS), refresh)
    problem = load_problem(model, times, weights)
    problem.notes.insert(0, f"no trace given: weights {origin} ({times})")
    return _warned(problem, times, at=1)  # after the note that says where the weights came from


def _warned(problem, trace: Path | None, at: int = 0):
    """``problem``, warned on stderr and in its notes (at ``at``) when its trace says its profile was UNSTABLE or
    contended."""
    from solver.io.trace import trace_warning

    warning = trace_warning(trace) if trace is not None and Path(trace).suffix == ".json" else ""
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
        problem.notes.insert(at, f"warning: {warning}")
    return problem
