"""The MODEL and TRACE arguments that ``solve partition`` and ``solve compare`` share."""

from __future__ import annotations

from pathlib import Path


def add_problem_arguments(parser) -> None:
    parser.add_argument("model", type=Path, nargs="?",
                        help="a .tflite/.circle model (possibly .xz or .gz), a JSON graph (docs/graph-format.md) or "
                             "a SALBP .IN2 file; omitted: the bundled InceptionV3 with its onert trace")  # fmt: skip
    parser.add_argument("trace", type=Path, nargs="?",
                        help="onert per-op times of MODEL: a Chrome trace (TRACING_MODE=1 trace.chrome.json) or "
                             "trace.json; omitted for a model: it is profiled on the local onert device first; not "
                             "used with JSON graphs and .IN2 files, which carry their weights")  # fmt: skip
