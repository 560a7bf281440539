"""The local onert device: every measurement in a fresh ``python -m devices.worker`` subprocess.

Peak memory is the worker's own peak resident set (``ru_maxrss``), so it includes the Python
interpreter and numpy (about 30 MB) besides onert; all configurations carry the same overhead.
The all-cpu reference outputs are kept under ``<cache dir>/references`` per model hash and seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devices.cache import default_cache_dir
from devices.errors import require
from devices.workerdevice import STARTUP_SLACK, Completed, WorkerDevice

# The repository root, so that the worker imports this very copy of devices/.
_ROOT = Path(__file__).resolve().parent.parent

# onert variables the user's shell may hold: a measurement sees only its own configuration.
_ONERT_VARIABLES = ("BACKENDS", "EXECUTOR", "NUM_THREADS", "CPU_MEMORY_PLANNER", "TRACING_MODE", "WORKSPACE_DIR",
                    "TRACE_FILEPATH", "ONERT_LOG_ENABLE", "GRAPH_DOT_DUMP")  # fmt: skip


def clean_environment(config_env: dict[str, str]) -> dict[str, str]:
    """This process's environment without onert variables, plus ``config_env`` and our PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OP_BACKEND_") and k not in _ONERT_VARIABLES}
    env.update(config_env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return env


class LocalTarget:
    """This machine, with onert's Python package installed."""

    name = "local"

    def __init__(self, cache_dir: Path | None = None):
        # The measurements run in subprocesses; a missing runtime is said here, in one line, instead.
        require("onert", "onert", "measuring on this machine")
        self.reference_dir = Path(cache_dir or default_cache_dir()) / "references"

    def stage_model(self, model: Path, digest: str) -> str:
        return str(Path(model).resolve())

    def reference_path(self, digest: str, seed: int) -> str:
        return str(self.reference_dir / f"{digest}-seed{seed}.npz")

    def has_file(self, path: str) -> bool:
        return Path(path).is_file()

    def run_worker(self, request: dict, env: dict[str, str], timeout: float) -> Completed:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "devices.worker"],
                input=json.dumps(request), capture_output=True, text=True,
                env=clean_environment(env), timeout=timeout + STARTUP_SLACK,
            )  # fmt: skip
        except subprocess.TimeoutExpired as err:
            return Completed(None, _text(err.stdout), _text(err.stderr), timed_out=True)
        return Completed(done.returncode, done.stdout, done.stderr)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


class LocalDevice(WorkerDevice):
    """onert on this machine (see the module docstring)."""

    def __init__(self, cache_dir: Path | None = None):
        super().__init__(LocalTarget(cache_dir))
