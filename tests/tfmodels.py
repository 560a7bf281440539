"""Small real models for the tests, built with Keras and converted to .tflite.

TensorFlow is imported only inside these functions (it is in the ``test`` extra, not a core
dependency). Weights are random with a fixed seed; nothing is downloaded.
"""

from __future__ import annotations

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


BUILDERS: dict[str, Callable] = {
    "branchy_cnn": branchy_cnn,
    "two_output_mlp": two_output_mlp,
    "skip_chain": skip_chain,
}


def write_tflite(name: str, path: Path) -> Path:
    """Build model ``name`` and write it as a float32 .tflite file."""
    keras = _keras()
    import tensorflow as tf

    model = BUILDERS[name]()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path.write_bytes(converter.convert())
    del keras
    return path
