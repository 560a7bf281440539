"""Measuring through the worker agent, wherever it runs: the logic local and remote devices share.

A :class:`Target` is a machine that can run ``python -m devices.worker``: this one (``devices.local``)
or a board reached over ssh or sdb (``devices.remote``). :class:`WorkerDevice` turns a
(model, configuration, settings) into worker requests, keeps an all-cpu reference of the outputs per
model and seed on the target, and turns the worker's answer, exit status and stderr into a
:class:`Measurement`. Failures of a configuration come back as invalid measurements; only a target
that cannot be used raises :class:`DeviceError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from devices.base import BackendConfig, Measurement, MeasureSettings, SessionMemory, now
from devices.errors import DeviceError
from devices.worker import RESULT_PREFIX

# Op types each onert backend can run (None: every type). Measured with onert 1.30: ruy has kernels
# for Conv2D and FullyConnected only. Backends not listed here are offered with None; a
# configuration they cannot prepare still comes back invalid with onert's reason.
BACKEND_OP_TYPES: dict[str, frozenset[str] | None] = {
    "cpu": None,
    "ruy": frozenset({"Conv2D", "FullyConnected"}),
    "xnnpack": frozenset({"Conv2D", "DepthwiseConv2D", "FullyConnected"}),
}
# Backends in the wheel that are not inference backends.
NOT_INFERENCE = frozenset({"train"})

# Seconds the target may take beyond the measurement's time-out (interpreter start, imports, copying).
STARTUP_SLACK = 60.0


@dataclass
class Completed:
    """How one worker process ended."""

    returncode: int | None  # None when it was killed for the time-out
    stdout: str
    stderr: str
    timed_out: bool = False


class Target(Protocol):
    """A machine that runs the worker."""

    name: str

    def stage_model(self, model: Path, digest: str) -> str:
        """The model's path on the target, copying it there once."""

    def reference_path(self, digest: str, seed: int) -> str:
        """Where the target keeps the all-cpu reference outputs of a model and seed."""

    def has_file(self, path: str) -> bool:
        """Whether ``path`` exists on the target."""

    def run_worker(self, request: dict, env: dict[str, str], timeout: float) -> Completed:
        """Run the worker with ``request`` and the onert variables ``env``."""


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
        # A file read in one sequential pass stays cached in large folios, which onert's loader then maps whole:
        # up to the file's size of peak memory in every session measured after (docs/memory.md). Leave it cold.
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes (remembered per path, modification time and size)."""
    try:
        st = Path(path).stat()
    except OSError as err:
        raise DeviceError(f"{path}: cannot read the model ({err.strerror})") from err
    return _digest(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


def stderr_reason(stderr: str) -> str:
    """The line of onert's stderr that says what went wrong (not a Python traceback line)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
    lines = [ln for ln in lines if not ln.startswith(("Traceback", "The above exception", "During handling"))]
    for line in reversed(lines):
        if re.search(r"error|fail|nyi|unsupported|not supported", line, re.IGNORECASE):
            if not line.startswith("onert.native") and "NNFW_STATUS_ERROR" not in line:
                return line
    return lines[-1] if lines else ""


def parse_answer(done: Completed, timeout: float) -> dict:
    """The worker's answer, or a failure answer built from its exit status and stderr."""
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    reason = stderr_reason(done.stderr)
    if done.timed_out:
        status = f"timed out after {timeout:g} s"
    elif done.returncode is not None and done.returncode < 0:
        status = f"the worker crashed ({signal.Signals(-done.returncode).name})"
    else:
        status = f"the worker failed (exit status {done.returncode})"
    return {"status": "crashed", "error": f"{status}: {reason}" if reason else status}


def to_measurement(answer: dict, stderr: str) -> Measurement:
    """A :class:`Measurement` from a worker answer; onert's stderr explains a failed prepare or run."""
    status = answer["status"]
    if status == "ok":
        return Measurement(True, "", answer["times_ms"], answer["peak_rss_kb"], answer.get("trace"), now(),
                           memory=session_memory(answer))
    if status in ("prepare-failed", "run-failed"):
        stage = "prepare" if status == "prepare-failed" else "run"
        reason = f"{stage} failed: {stderr_reason(stderr) or answer['error']}"
    elif status == "crashed":
        reason = f"{answer['error']}: {stderr_reason(stderr)}" if stderr_reason(stderr) else answer["error"]
    else:
        reason = answer["error"]
    return Measurement(False, reason, answer.get("times_ms", []), answer.get("peak_rss_kb", 0), answer.get("trace"), now())


def session_memory(answer: dict) -> SessionMemory | None:
    """The session's memory from a worker answer (None from a worker that does not measure it)."""
    memory = answer.get("memory")
    return None if memory is None else SessionMemory(int(memory["before_kb"]), int(memory["peak_kb"]))


LAYOUT_VARIABLE = "NNPART_LAYOUT"  # read by nobody: its size alone moves the process's allocation history


def layout_environment(env: dict[str, str], layout: int) -> dict[str, str]:
    """``env`` for a worker measuring under process layout ``layout`` (``MeasureSettings.layout``): padded
    with ``layout`` KB in a variable nobody reads; unchanged for layout 0."""
    return {**env, LAYOUT_VARIABLE: "." * (1024 * layout)} if layout else env


class WorkerDevice:
    """A device that measures by running the worker on a :class:`Target` (see the module docstring)."""

    def __init__(self, target: Target):
        self.target = target
        self.name = target.name
        self._backends: dict[str, frozenset[str] | None] | None = None

    def backends(self) -> dict[str, frozenset[str] | None]:
        """The inference backends the target's onert ships, with the op types each can run."""
        if self._backends is None:
            done = self.target.run_worker({"probe": True}, {}, STARTUP_SLACK)
            answer = parse_answer(done, STARTUP_SLACK)
            if answer["status"] != "ok":
                raise DeviceError(f"{self.name}: cannot start onert ({answer['error']})")
            names = [b for b in answer["backends"] if b not in NOT_INFERENCE]
            self._backends = {b: BACKEND_OP_TYPES.get(b) for b in names}
        return self._backends

    def measure(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
        """Measure ``model`` under ``config`` in a fresh worker process on the target."""
        digest = file_digest(model)
        staged = self.target.stage_model(Path(model), digest)
        request = {
            "model": staged, "backends": ";".join(config.backends), "warmup": settings.warmup,
            "repeats": settings.repeats, "seed": settings.seed, "trace": settings.trace,
            "timeout": settings.timeout, "reference": None, "save_outputs": None,
        }  # fmt: skip
        if settings.check_outputs:
            reference = self._reference(staged, digest, settings)
            if isinstance(reference, Measurement):
                return reference
            request["reference"] = reference
        done = self.target.run_worker(request, layout_environment(config.environment(), settings.layout),
                                      settings.timeout)  # fmt: skip
        return to_measurement(parse_answer(done, settings.timeout), done.stderr)

    def _reference(self, staged: str, digest: str, settings: MeasureSettings) -> str | Measurement:
        """The path of the all-cpu outputs for this model and seed, computed once per target."""
        path = self.target.reference_path(digest, settings.seed)
        if self.target.has_file(path):
            return path
        request = {
            "model": staged, "backends": "cpu", "warmup": 1, "repeats": 0, "seed": settings.seed,
            "timeout": settings.timeout, "reference": None, "save_outputs": path,
        }  # fmt: skip
        done = self.target.run_worker(request, {}, settings.timeout)
        measurement = to_measurement(parse_answer(done, settings.timeout), done.stderr)
        if not measurement.valid:
            return Measurement(False, f"the all-cpu reference run failed: {measurement.reason}")
        return path
