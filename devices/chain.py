"""Run a model, or a chain of part models handing tensors along by name, in this process with onert.

Each model is its own ``onert.infer.session`` (the 0.1.0 Python API crashes on multi-model
nnpackages). onert prints the real reason of a failure on stderr only, so session creation and the
first inference capture the process's stderr and put it in the :class:`RunError` message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from devices.errors import DeviceError, require
from devices.inputs import InputSpec, onert_input_specs


def installed_backends() -> frozenset[str]:
    """The backends the installed onert can load: its ``native/nnfw/backend/libbackend_<name>.so`` files
    (``train`` is not an inference backend); empty when onert is not installed. onert refuses a session whose
    backends are all missing ("No loaded backends available")."""
    import importlib.util

    spec = importlib.util.find_spec("onert")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    found = set()
    for location in spec.submodule_search_locations:
        for lib in (Path(location) / "native" / "nnfw" / "backend").glob("libbackend_*.so"):
            found.add(lib.name[len("libbackend_"):-len(".so")])
    return frozenset(found - {"train"})


class RunError(DeviceError):
    """onert could not load or run a model (the message holds onert's own stderr)."""


@dataclass(frozen=True)
class Stage:
    """A part model and the names of its inputs and outputs, in the model's I/O order."""

    path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    backends: str | None = None  # onert backends of this stage alone (None: the chain's)


@contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Redirect file descriptor 2 (native code writes there) and yield a list that receives its text."""
    sys.stderr.flush()
    saved = os.dup(2)
    text: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text.append(tmp.read().decode(errors="replace").strip())


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` in ``os.environ`` for the duration (onert reads its settings at session creation and prepare)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class ModelRunner:
    """One onert session over one model file; ``run`` returns copies of the outputs.

    ``env`` holds onert settings (``EXECUTOR``, ``NUM_THREADS``, ...) applied while the session is
    created and prepared.
    """

    def __init__(self, path: str | Path, backends: str = "cpu", env: Mapping[str, str] | None = None):
        # Imported here so that merely importing devices/ never loads the runtime (an extra).
        onert = require("onert", "onert", "running a model")

        self.path = Path(path)
        self.env = dict(env or {})
        self._prepared = False
        with environment(self.env), captured_stderr() as err:
            try:
                self.session = onert.infer.session(str(self.path), backends=backends)
            except Exception as exc:  # onert raises its own OnertError or a RuntimeError
                failure = exc
            else:
                failure = None
        if failure is not None:
            raise RunError(f"{self.path}: onert cannot load the model ({_reason(failure, err)})") from failure

    def input_specs(self) -> list[InputSpec]:
        return onert_input_specs(self.session)

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Outputs for ``inputs``; the session's internal output buffers are copied, since the next run reuses them."""
        if self._prepared:
            return [np.array(o, copy=True) for o in self.session.infer(list(inputs))]
        with environment(self.env), captured_stderr() as err:
            try:
                outputs = [np.array(o, copy=True) for o in self.session.infer(list(inputs))]
            except Exception as exc:
                failure = exc
            else:
                failure = None
        if failure is not None:
            raise RunError(f"{self.path}: onert cannot run the model ({_reason(failure, err)})") from failure
        self._prepared = True
        return outputs


def _reason(exc: Exception, stderr: list[str]) -> str:
    lines = [line for line in "\n".join(stderr).splitlines() if line.strip()]
    return "; ".join(lines[-3:]) if lines else f"{type(exc).__name__}: {exc}"


class ChainRunner:
    """Part models run one after the other in this process; tensors are handed along by name."""

    def __init__(self, stages: Sequence[Stage], backends: str = "cpu", env: Mapping[str, str] | None = None):
        self.stages = list(stages)
        self.runners = [ModelRunner(s.path, s.backends or backends, env) for s in self.stages]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """All tensors the chain produces (and the feeds), by name."""
        tensors = dict(feeds)
        for stage, runner in zip(self.stages, self.runners):
            missing = [n for n in stage.inputs if n not in tensors]
            if missing:
                raise RunError(f"{stage.path}: inputs {missing} are produced by no earlier stage")
            outputs = runner.run([tensors[n] for n in stage.inputs])
            tensors.update(zip(stage.outputs, outputs))
        return tensors


def probe_load(path: str | Path, timeout: float = 120.0) -> tuple[bool, str]:
    """Load ``path`` (a model or an nnpackage directory) with onert in a child process and run it once.

    A child process, because onert 0.1.0 can crash the whole interpreter on multi-model packages.
    Returns (whether it worked, what happened in one line).
    """
    code = (
        "import sys, onert\n"
        "from devices.inputs import seeded_inputs, onert_input_specs\n"
        "s = onert.infer.session(sys.argv[1], backends='cpu')\n"
        "outs = s.infer(seeded_inputs(onert_input_specs(s), 0))\n"
        "print('ran:', len(outs), 'outputs')\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    if proc.returncode == 0:
        return True, proc.stdout.strip()
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    what = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
    return False, f"{what}: {lines[-1] if lines else 'no message'}"
