"""Shared fixtures: real .tflite models built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import tfmodels


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Measurements, references and traces of the test session stay out of the user's cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("NNPART_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tflite_model(model_dir):
    """A function name -> path of that test model as .tflite, built on first use."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = tfmodels.write_tflite(name, model_dir / f"{name}.tflite")
        return cache[name]

    return get


@pytest.fixture(scope="session")
def branchy_cnn(tflite_model) -> Path:
    return tflite_model("branchy_cnn")


@pytest.fixture()
def heavy_second_half(tflite_model, tmp_path) -> tuple[Path, Path, Path]:
    """(model, trace, platform) of skip_chain with a heavy fifth op on a, b, c, where b and c cannot hold the whole
    model (1828 B in the upper memory model, its second half 708 B): a case for replicating the second half."""
    import json

    from solver.io.tflite import read_model
    from tests.traces import write_chrome_trace

    model = tflite_model("skip_chain")
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), [[100.0, 100, 100, 100, 600, 100, 100, 100]] * 2)
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b", "memory": 800}, {"name": "c", "memory": 800}],
                                    "default_link": {"bandwidth": 1e8}}))  # fmt: skip
    return model, trace, platform
