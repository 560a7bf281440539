"""The bundled default problem: InceptionV3's structure (weights zeroed, xz) and an onert trace measured on it.

``python -m solver.models.zoo --bundle`` regenerates both files.
"""

from pathlib import Path

DATA_DIR = Path(__file__).parent
DEFAULT_MODEL = DATA_DIR / "inception_v3.tflite.xz"
DEFAULT_TRACE = DATA_DIR / "inception_v3.chrome.json"
TRACE_RUNS = 10  # runs in the bundled trace, and the runs a model without a trace is profiled with
