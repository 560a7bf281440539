"""Per-layer times of a Keras model, measured with TensorFlow in a child process: its layer graph's weights.

Each layer is called on its own, eagerly, with random inputs of the shapes it is called with in the model
(batch 1): one warm-up call, then ``runs`` timed calls; its time is their median. Layers run alone miss
what a fused graph saves, so the times compare with each other, not with a converted model's. TensorFlow
runs in a child (``python -m solver.deploy.keras_timing MODEL RUNS OUT``), see ``solver.io.keras``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from solver.deploy.profiling import cache_entry
from solver.io.files import read_json, write_json
from solver.io.keras import load_model, run_keras_child


def time_layers(path: str | Path, runs: int = 10) -> tuple[dict[str, float], list[str]]:
    """Median microseconds of every layer but the inputs, and the names of layers that could not run alone."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "times.json"
        run_keras_child("solver.deploy.keras_timing", [path, runs, out], path, "timing Keras layers")
        doc = read_json(out, "layer times", RuntimeError, dict)
    return doc["times"], doc["failed"]


def write_layer_times(path: str | Path, times: dict[str, float], runs: int, failed: list[str] = ()) -> Path:
    """The layer-times file ``solver.io.keras.read_layer_times`` reads; ``failed`` layers count 0 us."""
    return write_json(path, {"unit": "us", "runs": runs, "times": times, "failed": list(failed)}, indent=1)


def cached_layer_times(path: str | Path, cache_dir: Path, runs: int) -> tuple[Path, bool]:
    """Layer times of a Keras model kept in ``cache_dir``, keyed by its content; measured when missing.

    Returns the file and whether it was measured now (False: it came from the cache).
    """
    out = cache_entry(cache_dir, "layer-times", path, ".json")
    if out.exists():
        return out, False
    times, failed = time_layers(path, runs)
    write_layer_times(out, times, runs, failed)
    return out, True


def _measure(model, runs: int) -> tuple[dict[str, float], list[str]]:
    """Time every layer of a loaded model (in the child process: this uses TensorFlow)."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)

    def sample(x):
        if isinstance(x, keras.KerasTensor):
            shape = tuple(1 if d is None else d for d in x.shape)
            return keras.ops.convert_to_tensor(rng.standard_normal(shape).astype(x.dtype))
        return x

    times: dict[str, float] = {}
    failed: list[str] = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer" or not layer._inbound_nodes:
            continue
        arguments = layer._inbound_nodes[0].arguments
        args = keras.tree.map_structure(sample, arguments.args)
        kwargs = keras.tree.map_structure(sample, arguments.kwargs)
        try:
            layer(*args, **kwargs)
        except Exception:  # a layer that cannot run outside its model (it reads model state)
            failed.append(layer.name)
            times[layer.name] = 0.0
            continue
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            layer(*args, **kwargs)
            samples.append((time.perf_counter() - start) * 1e6)
        times[layer.name] = statistics.median(samples)
    return times, failed


if __name__ == "__main__":
    model_file, count, out_file = sys.argv[1:4]
    found, skipped = _measure(load_model(model_file), int(count))
    write_json(out_file, {"times": found, "failed": skipped})
