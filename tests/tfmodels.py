"""Small real models for the tests, built with Keras and converted to .tflite or saved as .keras.

TensorFlow runs only in a child process (``python -m tests.tfmodels KIND NAME PATH``): it is in the ``test``
extra, not a core dependency, and a CP-SAT solve in a process that has imported it can crash (a segmentation
fault seen here). Weights are random with a fixed seed; nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def _keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return tf.keras


def branchy_cnn():
    """Conv, depthwise conv, two branches joined by a concat, a residual add, pooling, dense, softmax."""
    keras = _keras()
    layers = keras.layers
    x = inputs = keras.Input((16, 16, 3), batch_size=1, name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(x)
    a = layers.Conv2D(8, 1, activation="relu", name="branch_a")(x)
    b = layers.DepthwiseConv2D(3, padding="same", name="branch_b_dw")(x)
    b = layers.Conv2D(8, 1, name="branch_b_pw")(b)
    x2 = layers.Concatenate(name="join")([a, b])
    x2 = layers.Conv2D(8, 1, name="reduce")(x2)
    x = layers.Add(name="residual")([x, x2])
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(10, name="logits")(x)
    outputs = layers.Softmax(name="probs")(x)
    return keras.Model(inputs, outputs, name="branchy_cnn")


def two_output_mlp():
    """A model with two inputs and two outputs, one of them produced mid-graph."""
    keras = _keras()
    layers = keras.layers
    a = keras.Input((12,), batch_size=1, name="a")
    b = keras.Input((12,), batch_size=1, name="b")
    h = layers.Dense(16, activation="relu", name="h")(a)
    mid = layers.Dense(4, name="mid")(h)
    g = layers.Concatenate(name="cat")([h, b])
    g = layers.Dense(16, activation="tanh", name="g")(g)
    out = layers.Add(name="sum")([layers.Dense(4, name="proj")(g), mid])
    return keras.Model([a, b], [mid, out], name="two_output_mlp")


def skip_chain():
    """A chain of dense layers whose first output is used again at the end (a long skip connection)."""
    keras = _keras()
    layers = keras.layers
    x = inputs = keras.Input((8,), batch_size=1, name="x")
    first = layers.Dense(8, activation="relu", name="d0")(x)
    h = first
    for i in range(1, 6):
        h = layers.Dense(8, activation="relu", name=f"d{i}")(h)
    out = layers.Add(name="skip")([h, first])
    return keras.Model(inputs, out, name="skip_chain")


def wide_activations():
    """1x1 convolutions on 2 MB activations with two long skips: the memory planner's arena decides its memory."""
    keras = _keras()
    layers = keras.layers
    x = inputs = keras.Input((128, 128, 8), batch_size=1, name="x")
    first = layers.Conv2D(32, 1, name="c0")(x)
    h = layers.Conv2D(32, 1, name="c1")(first)
    second = layers.Conv2D(32, 1, name="c2")(h)
    h = layers.Conv2D(32, 1, name="c3")(second)
    h = layers.Add(name="skip1")([h, first])
    h = layers.Conv2D(32, 1, name="c4")(h)
    h = layers.Add(name="skip2")([h, second])
    outputs = layers.Conv2D(4, 1, name="out")(h)
    return keras.Model(inputs, outputs, name="wide_activations")


BUILDERS: dict[str, Callable] = {
    "branchy_cnn": branchy_cnn,
    "two_output_mlp": two_output_mlp,
    "skip_chain": skip_chain,
    "wide_activations": wide_activations,
}


def write_tflite(name: str, path: Path) -> Path:
    """Build model ``name`` and write it as a float32 .tflite file (in a child process)."""
    return _in_child("tflite", name, path)


def write_keras(name: str, path: Path) -> Path:
    """Build model ``name`` and save it as a Keras file (in a child process)."""
    return _in_child("keras", name, path)


def _in_child(kind: str, name: str, path: Path) -> Path:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "tests.tfmodels", kind, name, str(path)], cwd=root,
                          capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"building {name} as {kind} failed: {done.stderr.strip()[-2000:]}")
    return path


def _build(kind: str, name: str, path: Path) -> None:
    """In the child: build and write."""
    model = BUILDERS[name]()
    if kind == "keras":
        model.save(path)
        return
    import tensorflow as tf

    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


if __name__ == "__main__":
    _build(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
