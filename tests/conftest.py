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
