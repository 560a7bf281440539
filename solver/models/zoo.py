"""Real-size models for benchmarks and the bundled default: Keras applications built with
``weights=None`` (random weights, nothing downloaded), converted to .tflite and traced with onert.

Everything is cached under ``$NNPART_CACHE_DIR`` (default ``~/.cache/nnpart``), outside git.
TensorFlow is imported only in a subprocess that builds a model, never on nnpart's import path.

``python -m solver.models.zoo --bundle`` regenerates the bundled default in ``solver/data``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from devices.cache import default_cache_dir
from solver.data import DEFAULT_MODEL, DEFAULT_TRACE, TRACE_RUNS
from solver.errors import ModelError
from solver.extras import require_installed

APPLICATIONS = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50", "inception_v3": "InceptionV3",
                # irregularly wired: where the op order decides the memory (benchmarks/memory.py --orders)
                "nasnet_mobile": "NASNetMobile", "densenet121": "DenseNet121"}
# Seed 002's experiment runs on these, as Keras models (its method reads Keras layer graphs).
KERAS_APPLICATIONS = {
    "resnet50": "ResNet50",
    "inception_resnet_v2": "InceptionResNetV2",
    "efficientnet_b1": "EfficientNetB1",
    "mobilenet_v2": "MobileNetV2",
}

_BUILD = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
tf.keras.utils.set_random_seed(0)
model = getattr(tf.keras.applications, sys.argv[1])(weights=None)
if sys.argv[2].endswith(".keras"):
    model.save(sys.argv[2])
else:
    open(sys.argv[2], "wb").write(tf.lite.TFLiteConverter.from_keras_model(model).convert())
"""


def model_path(name: str) -> Path:
    """The .tflite file of application ``name`` (built and converted on first use, ~10-30 s)."""
    return _built(name, APPLICATIONS, ".tflite")


def keras_path(name: str) -> Path:
    """The .keras file of application ``name`` (seed 002's models; built on first use)."""
    return _built(name, KERAS_APPLICATIONS, ".keras")


def _built(name: str, applications: dict[str, str], suffix: str) -> Path:
    if name not in applications:
        raise ModelError(f"{name}: unknown model; choose from {', '.join(applications)}")
    path = default_cache_dir() / "models" / f"{name}{suffix}"
    if not path.exists():
        require_installed("tensorflow", "keras", "building the benchmark models")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{name}.tmp{suffix}")  # Keras picks the format from the suffix
        result = subprocess.run(
            [sys.executable, "-c", _BUILD, applications[name], str(tmp)], capture_output=True, text=True
        )
        if result.returncode != 0:
            tail = result.stderr.strip().splitlines()[-1:] or ["no message"]
            raise ModelError(f"{name}: building the Keras model failed: {tail[0]}")
        tmp.replace(path)
    return path


def trace_path(name: str, runs: int = TRACE_RUNS, threads: int | None = None, busy: bool = False) -> Path:
    """An onert Chrome trace of ``model_path(name)`` with ``runs`` runs (measured on first use), on onert's
    default threads, or on ``threads`` cores with NUM_THREADS=``threads``: a device of one core is timed pinned
    to one core, since onert keeps helper threads beyond NUM_THREADS (ResNet50 at NUM_THREADS=1: 131 ms free,
    235 ms pinned to one core). ``busy`` (with ``threads``): while every other core runs the model too, one
    NUM_THREADS=1 process pinned to each, as in a network lab where every device computes at once (cores share
    caches and memory bandwidth, and a virtual machine's cores may share a physical one)."""
    if busy and threads is None:
        raise ModelError("a busy profile needs its threads: the cores it measures on, the others kept busy")
    tag = "" if threads is None else f".c{threads}" + ("b" if busy else "")
    path = default_cache_dir() / "traces" / f"{name}.r{runs}{tag}.chrome.json"
    if not path.exists():
        _profile(model_path(name), path, runs, threads, busy)
    return path


_SPIN = """
import sys
from devices.chain import ModelRunner
from devices.inputs import seeded_inputs
runner = ModelRunner(sys.argv[1], env={"NUM_THREADS": "1"})
inputs = seeded_inputs(runner.input_specs(), 0)
while True:
    runner.run(inputs)
"""


def _profile(model: Path, out: Path, runs: int, threads: int | None, busy: bool = False) -> None:
    from devices import BackendConfig, open_device
    from solver.deploy.profiling import ProfileSettings, profile_model

    config = BackendConfig(settings=() if threads is None else (("NUM_THREADS", str(threads)),))
    allowed = sorted(os.sched_getaffinity(0))
    neighbours = []
    if threads is not None:  # the measuring child inherits the cores it may use
        os.sched_setaffinity(0, allowed[:threads])
    try:
        for cpu in allowed[threads:] if busy else ():
            neighbours.append(subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", _SPIN, str(model)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        # The measurement cache keys a pinned measurement on its cores (devices.cache.pinned_cpus), not on what
        # the other cores do: a busy profile is measured afresh.
        device = open_device("local", cache=not busy)
        profile_model(model, device, ProfileSettings(runs=runs), config=config, out=out)
    finally:
        for neighbour in neighbours:
            neighbour.kill()
            neighbour.wait()
        os.sched_setaffinity(0, allowed)


def write_structure_only(source: Path, target: Path) -> None:
    """Write ``source`` with its floating-point constants zeroed, xz-compressed.

    Partitioning needs only structure, shapes and dtypes; zeroed weights compress from ~100 MB to a
    few tens of KB and the model still runs (float kernels take the same time on zeros). Integer
    constants (shapes, axes, paddings) are kept: the model would not prepare without them.
    """
    import lzma

    from ai_edge_litert import schema_py_generated as schema

    data = bytearray(source.read_bytes())
    model = schema.Model.GetRootAs(data, 0)
    floats = (schema.TensorType.FLOAT32, schema.TensorType.FLOAT16, schema.TensorType.FLOAT64)
    weights = {
        tensor.Buffer()
        for subgraph in (model.Subgraphs(s) for s in range(model.SubgraphsLength()))
        for tensor in (subgraph.Tensors(t) for t in range(subgraph.TensorsLength()))
        if tensor.Type() in floats
    }
    for i in sorted(weights):
        buffer = model.Buffers(i)
        length = buffer.DataLength()
        if length:
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            data[start : start + length] = bytes(length)
    target.write_bytes(lzma.compress(bytes(data), preset=9))


def bundle_default() -> None:
    """Regenerate the bundled default: InceptionV3 structure and an onert trace measured on it."""
    import lzma
    import tempfile

    write_structure_only(model_path("inception_v3"), DEFAULT_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "inception_v3.tflite"
        plain.write_bytes(lzma.decompress(DEFAULT_MODEL.read_bytes()))
        _profile(plain, DEFAULT_TRACE, TRACE_RUNS)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="store_true", help="regenerate solver/data (the bundled default)")
    parser.add_argument("names", nargs="*", help="models to build and trace into the cache")
    args = parser.parse_args()
    for n in args.names:
        print(model_path(n), trace_path(n))
    if args.bundle:
        bundle_default()
        print(DEFAULT_MODEL, DEFAULT_TRACE)
