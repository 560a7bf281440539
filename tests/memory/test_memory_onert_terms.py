"""The calibrated memory model against onert: fitted on small generated models it reproduces their sessions and
predicts one it was not fitted on; a model whose one large buffer makes its load the peak is predicted by the
load's figure; a file read cold loads with less peak than the same file just written."""

from __future__ import annotations

import numpy as np
import pytest

from devices.base import BackendConfig, MeasureSettings
from devices.local import LocalDevice
from solver.deploy.coldfile import measure_cold
from solver.io.tflite import read_model
from solver.memory.calibration import MemorySample, fit_memory
from solver.memory.model import memory_terms, model_graph
from tests.fbmodels import T, write_model

SETTINGS = MeasureSettings(warmup=1, repeats=1, check_outputs=False)


def _weights(shape, seed=0) -> bytes:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32).tobytes()


def conv_fc(path, size: int, channels: int, classes: int):
    """A 3x3 convolution of a size x size x 8 image to ``channels``, a mean over the image, a fully connected
    layer to ``classes``: activations, a filter and a weight matrix that grow apart with the arguments."""
    from ai_edge_litert import schema_py_generated as schema

    conv = schema.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW = schema.Padding.SAME, 1, 1
    conv.dilationHFactor = conv.dilationWFactor = 1
    mean = schema.ReducerOptionsT()
    tensors = [T("x", (1, size, size, 8)), T("w", (channels, 3, 3, 8), data=_weights((channels, 3, 3, 8))),
               T("b", (channels,), data=_weights((channels,), 1)), T("y", (1, size, size, channels)),
               T("axes", (2,), "INT32", np.array([1, 2], np.int32).tobytes()), T("m", (1, channels)),
               T("fw", (classes, channels), data=_weights((classes, channels), 2)), T("out", (1, classes))]  # fmt: skip
    ops = [("CONV_2D", [0, 1, 2], [3], conv), ("MEAN", [3, 4], [5], mean),
           ("FULLY_CONNECTED", [5, 6, -1], [7], schema.FullyConnectedOptionsT())]  # fmt: skip
    return write_model(path, tensors, ops, inputs=[0], outputs=[7])


# (image size, channels, classes): activations of 2-12 MB against weights of 0.5-12 MB, the last one held out
SHAPES = {"a": (224, 64, 2000), "b": (112, 128, 20000), "c": (56, 256, 12000), "d": (160, 96, 5000),
          "e": (96, 192, 10000), "f": (192, 32, 16000), "g": (64, 320, 3000), "h": (128, 128, 15000)}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Each generated model's terms and its measured session (bytes), the file read cold."""
    out = tmp_path_factory.mktemp("models")
    device = LocalDevice(tmp_path_factory.mktemp("cache"))
    samples = {}
    for name, shape in SHAPES.items():
        path = conv_fc(out / f"{name}.tflite", *shape)
        measured = measure_cold(device, path, BackendConfig(), SETTINGS)
        assert measured.valid and measured.memory is not None, measured.reason
        samples[name] = MemorySample(name, memory_terms(model_graph(read_model(path))),
                                     measured.memory.session_kb * 1024)  # fmt: skip
    return samples


def test_a_calibration_reproduces_its_sessions_and_predicts_another(sessions):
    fitted_on = [sessions[n] for n in "abcdefg"]
    calibration = fit_memory("local", fitted_on)
    assert calibration.fixed > 1e6  # a session costs megabytes of its own
    for sample in fitted_on:
        assert calibration.predict(sample.terms) == pytest.approx(sample.measured, rel=0.10)
    held_out = sessions["h"]
    assert calibration.predict(held_out.terms) == pytest.approx(held_out.measured, rel=0.10)


def test_one_large_buffer_makes_the_load_the_peak(sessions, tmp_path):
    """A fully connected layer of 16 MB weights and nothing else of size: loading maps the buffer's file pages
    while it copies them, so the load holds the weights twice; the run holds them once."""
    from ai_edge_litert import schema_py_generated as schema

    tensors = [T("x", (1, 2048)), T("w", (2048, 2048), data=_weights((2048, 2048))), T("y", (1, 2048))]
    path = write_model(tmp_path / "fc.tflite", tensors, [("FULLY_CONNECTED", [0, 1, -1], [2],
                                                          schema.FullyConnectedOptionsT())], inputs=[0], outputs=[2])  # fmt: skip
    terms = memory_terms(model_graph(read_model(path)))
    assert terms.largest_constant == terms.constants == 2048 * 2048 * 4
    calibration = fit_memory("local", list(sessions.values()))
    assert calibration.load(terms) > calibration.run(terms)
    measured = measure_cold(LocalDevice(tmp_path / "cache"), path, BackendConfig(), SETTINGS)
    assert measured.valid and measured.memory is not None, measured.reason
    assert calibration.predict(terms) == pytest.approx(measured.memory.session_kb * 1024, rel=0.10)


def test_a_just_written_model_costs_more_while_loading_than_the_same_file_read_cold(tmp_path):
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("page cache folios are Linux's")
    from devices.workerdevice import file_digest

    path = conv_fc(tmp_path / "m.tflite", 28, 512, 4000)  # 8 MB of weights
    device = LocalDevice(tmp_path / "cache")
    file_digest(path)  # read in one sequential pass, as a device's digest reads it
    warm = device.measure(path, BackendConfig(), SETTINGS)
    cold = measure_cold(device, path, BackendConfig(), SETTINGS)
    assert warm.valid and cold.valid
    # Never less; on a kernel with large folios in the page cache (ext4 since Linux 6.16) megabytes more.
    assert warm.memory.session_kb >= cold.memory.session_kb - 256



def test_a_model_read_for_its_digest_is_measured_as_read_cold(tmp_path):
    """InceptionV3 (95 MB): read in 1 MB blocks and left in the page cache, its session peaks near 166 MB against
    118 MB read cold (Linux 6.18, ext4); the small generated models above do not show it."""
    import lzma
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("page cache folios are Linux's")
    from devices.workerdevice import file_digest
    from solver.data import DEFAULT_MODEL
    from solver.io.files import drop_page_cache

    path = tmp_path / "inception_v3.tflite"
    path.write_bytes(lzma.decompress(DEFAULT_MODEL.read_bytes()))
    drop_page_cache(path)  # written back and clean, so that reading it is what fills the cache
    device = LocalDevice(tmp_path / "cache")
    file_digest(path)  # one sequential pass, which must not leave the file's pages cached in large folios
    after_digest = device.measure(path, BackendConfig(), SETTINGS)
    cold = measure_cold(device, path, BackendConfig(), SETTINGS)
    assert after_digest.valid and cold.valid
    assert abs(after_digest.memory.session_kb - cold.memory.session_kb) <= 2048
