"""Remote boards: measure over ssh (``ssh://user@host[:port]``) or sdb (``sdb://serial``).

A :class:`Transport` runs a shell command on the board and copies a file there; ssh and sdb differ
only in that. The board keeps everything under a work directory (default ``/tmp/nnpart``):

- the agent, ``agent-<hash>/devices/{__init__,inputs,worker}.py``: our worker (stdlib + numpy + onert),
  copied once per version and run as ``python3 -m devices.worker --request <base64 JSON>`` (sdb's shell
  passes no stdin);
- each model once, named by its sha256;
- the all-cpu reference outputs per model and seed.

A board without onert's Python package but with onert's ``onert_run`` (or the older
``nnpackage_run``) is measured by that tool instead: its report is parsed by its labels (``- MEAN``,
``RSS`` ... ``- PEAK``), never by line numbers. It prints only the mean over the timed runs, and it
cannot compare outputs with a reference here, so such measurements say ``outputs not checked``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from devices.base import BackendConfig, Measurement, MeasureSettings
from devices.errors import DeviceError, DeviceSpecError
from devices.workerdevice import STARTUP_SLACK, Completed, WorkerDevice, file_digest, parse_answer, stderr_reason

_AGENT_FILES = ("files.py", "inputs.py", "worker.py")  # worker.py last: its presence means the agent is complete
_HERE = Path(__file__).resolve().parent
ONERT_RUN_TOOLS = ("onert_run", "nnpackage_run")


class Transport(Protocol):
    """How to reach a board."""

    name: str

    def run(self, command: str, timeout: float) -> Completed:
        """Run a shell command line on the board."""

    def push(self, local: Path, remote: str, timeout: float) -> None:
        """Copy a local file to the board (DeviceError when it fails)."""


def _call(argv: list[str], timeout: float) -> Completed:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as err:
        raise DeviceError(f"{argv[0]} is not installed: cannot reach the board") from err
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else err.stdout or ""
        errs = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else err.stderr or ""
        return Completed(None, out, errs, timed_out=True)
    return Completed(done.returncode, done.stdout, done.stderr)


class SshTransport:
    """The system ssh and scp with the user's keys and configuration."""

    def __init__(self, host: str, user: str | None = None, port: int | None = None,
                 identity: str | Path | None = None, ssh_options: tuple[str, ...] = ()):  # fmt: skip
        _check_name("host name", host, _HOST)
        if user is not None:
            _check_name("user name", user, _USER)
        self.destination = f"{user}@{host}" if user else host
        self.name = f"ssh://{self.destination}" + (f":{port}" if port else "")
        # BatchMode: never hang on a password prompt inside a long search. A shared master connection
        # (closed by ssh 60 s after the last use) saves a handshake on every one of the many small commands.
        control = Path(tempfile.gettempdir()) / "nnpart-ssh-%C"
        options = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-o", "ControlMaster=auto",
                   "-o", f"ControlPath={control}", "-o", "ControlPersist=60", *ssh_options]  # fmt: skip
        if identity:
            options += ["-i", str(identity)]
        self._ssh = ["ssh", *options] + (["-p", str(port)] if port else [])
        self._scp = ["scp", "-q", *options] + (["-P", str(port)] if port else [])

    def run(self, command: str, timeout: float) -> Completed:
        # "--": nothing after it is read as an ssh option, whatever the destination looks like.
        done = _call([*self._ssh, "--", self.destination, command], timeout)
        if done.returncode == 255:  # ssh's own failure, not the command's
            raise DeviceError(f"{self.name}: ssh failed: {stderr_reason(done.stderr) or 'no message'}")
        return done

    def push(self, local: Path, remote: str, timeout: float) -> None:
        done = _call([*self._scp, "--", str(local), f"{self.destination}:{remote}"], timeout)
        if done.returncode != 0:
            raise DeviceError(f"{self.name}: copying {local} to {remote} failed: {stderr_reason(done.stderr)}")


class SdbTransport:
    """Tizen's sdb (``sdb -s <serial> shell|push``)."""

    def __init__(self, serial: str):
        _check_name("serial", serial, _SERIAL)
        self.serial = serial
        self.name = f"sdb://{serial}"

    def run(self, command: str, timeout: float) -> Completed:
        return _call(["sdb", "-s", self.serial, "shell", command], timeout)

    def push(self, local: Path, remote: str, timeout: float) -> None:
        done = _call(["sdb", "-s", self.serial, "push", str(local), remote], timeout)
        if done.returncode != 0 or "error" in done.stderr.lower():
            raise DeviceError(f"{self.name}: copying {local} to {remote} failed: {stderr_reason(done.stderr)}")


class RemoteTarget:
    """A board as a worker target: files under ``workdir``, the agent run with ``python``."""

    def __init__(self, transport: Transport, workdir: str = "/tmp/nnpart", python: str = "python3"):
        self.transport = transport
        self.name = transport.name
        self.workdir = workdir.rstrip("/")
        self.python = python
        self._agent: str | None = None
        self._staged: set[str] = set()  # models known to be on the board

    def has_file(self, path: str) -> bool:
        return self.transport.run(f"test -f {shlex.quote(path)} && echo yes", STARTUP_SLACK).stdout.strip() == "yes"

    def _push(self, local: Path, remote: str) -> None:
        q = shlex.quote
        self.transport.run(f"mkdir -p {q(str(Path(remote).parent))}", STARTUP_SLACK)
        # Copy aside and rename, so an interrupted copy is never taken for the file.
        self.transport.push(local, remote + ".part", STARTUP_SLACK + local.stat().st_size / 1e6)
        self.transport.run(f"mv -f {q(remote + '.part')} {q(remote)}", STARTUP_SLACK)

    def agent_dir(self) -> str:
        """The agent's directory on the board, copied there on first use."""
        if self._agent is None:
            digest = hashlib.sha256(b"".join((_HERE / f).read_bytes() for f in _AGENT_FILES)).hexdigest()[:16]
            agent = f"{self.workdir}/agent-{digest}"
            if not self.has_file(f"{agent}/devices/{_AGENT_FILES[-1]}"):
                with tempfile.TemporaryDirectory() as tmp:
                    init = Path(tmp) / "__init__.py"
                    init.write_text('"""nnpart measuring agent."""\n')
                    self._push(init, f"{agent}/devices/__init__.py")
                for name in _AGENT_FILES:
                    self._push(_HERE / name, f"{agent}/devices/{name}")
            self._agent = agent
        return self._agent

    def stage_model(self, model: Path, digest: str) -> str:
        remote = f"{self.workdir}/models/{digest}{model.suffix}"
        if remote not in self._staged:
            if not self.has_file(remote):
                self._push(model, remote)
            self._staged.add(remote)
        return remote

    def reference_path(self, digest: str, seed: int) -> str:
        return f"{self.workdir}/references/{digest}-seed{seed}.npz"

    def run_worker(self, request: dict, env: dict[str, str], timeout: float) -> Completed:
        q = shlex.quote
        encoded = base64.b64encode(json.dumps(request).encode()).decode()
        assignments = " ".join(q(f"{k}={v}") for k, v in env.items())
        command = (f"cd {q(self.agent_dir())} && env {assignments} {q(self.python)} -m devices.worker "
                   f"--request {encoded}")  # fmt: skip
        return self.transport.run(command, timeout + STARTUP_SLACK)

    def onert_run_tool(self) -> str | None:
        """The path of ``onert_run`` or ``nnpackage_run`` on the board, if any."""
        tools = " ".join(ONERT_RUN_TOOLS)
        done = self.transport.run(f"for t in {tools}; do command -v $t && break; done", STARTUP_SLACK)
        return done.stdout.strip().splitlines()[0] if done.stdout.strip() else None


def parse_onert_run(text: str) -> dict[str, float]:
    """The figures of an ``onert_run``/``nnpackage_run`` report, found by their labels.

    Returns ``mean_ms``, ``min_ms``, ``max_ms`` (EXECUTE phase) and ``peak_rss_kb`` (the ``PEAK`` line of
    the ``RSS`` section, else ``HWM after run``), each only when the report has it.
    """
    figures: dict[str, float] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if re.fullmatch(r"[A-Z]+", line):  # a memory section header: RSS, HWM, PSS
            section = line
            continue
        if m := re.match(r"-\s*(MEAN|MIN|MAX)\s*:\s*([\d.]+)\s*ms", line):
            figures[f"{m.group(1).lower()}_ms"] = float(m.group(2))
        elif (m := re.match(r"EXECUTE\s+takes\s+([\d.]+)\s*ms", line)) and "mean_ms" not in figures:
            figures["mean_ms"] = float(m.group(1))
        elif (m := re.match(r"-\s*PEAK\s+takes\s+(\d+)\s*kb", line)) and section == "RSS":
            figures["peak_rss_kb"] = float(m.group(1))
        elif (m := re.match(r"-\s*HWM after run\s*:\s*(\d+)\s*kb", line)) and "peak_rss_kb" not in figures:
            figures["peak_rss_kb"] = float(m.group(1))
    return figures


class RemoteDevice(WorkerDevice):
    """onert on a board: through our agent when the board's Python has onert, else through onert_run."""

    def __init__(self, transport: Transport, workdir: str = "/tmp/nnpart", python: str = "python3"):
        super().__init__(RemoteTarget(transport, workdir, python))
        self._tool: str | None = None  # onert_run's path when the agent cannot run

    def backends(self) -> dict[str, frozenset[str] | None]:
        try:
            return super().backends()
        except DeviceError as err:
            self._tool = self.target.onert_run_tool()
            if self._tool is None:
                raise DeviceError(f"{err}; the board has neither onert's Python package nor onert_run") from err
            # onert_run cannot tell which backends it has: offer the one every onert build has.
            self._backends = {"cpu": None}
            return self._backends

    def measure(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
        self.backends()  # decides between the agent and onert_run
        if self._tool is None:
            return super().measure(model, config, settings)
        return self._measure_onert_run(Path(model), config, settings)

    def _measure_onert_run(self, model: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
        q = shlex.quote
        staged = self.target.stage_model(model, file_digest(model))
        env = {"BACKENDS": ";".join(config.backends), **config.environment()}
        trace_dir = f"{self.target.workdir}/trace-{hashlib.sha256(repr(config).encode()).hexdigest()[:12]}"
        if settings.trace:
            env.update(TRACING_MODE="1", WORKSPACE_DIR=trace_dir)
        assignments = " ".join(q(f"{k}={v}") for k, v in env.items())
        command = (f"mkdir -p {q(trace_dir)} && env {assignments} {q(self._tool)} -w {max(settings.warmup, 1)} "
                   f"-r {settings.repeats} -m 1 {q(staged)}")  # fmt: skip
        done = self.target.transport.run(command, settings.timeout + STARTUP_SLACK)
        figures = parse_onert_run(done.stdout)
        if done.timed_out or done.returncode not in (0, None) or "mean_ms" not in figures:
            return Measurement(False, parse_answer(done, settings.timeout)["error"])
        trace = None
        if settings.trace:
            fetched = self.target.transport.run(f"cat {q(trace_dir)}/trace.chrome.json; rm -rf {q(trace_dir)}",
                                                STARTUP_SLACK)  # fmt: skip
            trace = json.loads(fetched.stdout) if fetched.stdout.strip() else None
        return Measurement(True, "outputs not checked (onert_run)", [figures["mean_ms"]],
                           int(figures.get("peak_rss_kb", 0)), trace)  # fmt: skip


# What a host name (or IP address), a user name and a device serial may hold: nothing a shell or ssh reads as
# syntax, and no leading "-", which ssh, scp and sdb would take for an option.
_HOST = re.compile(r"[A-Za-z0-9_.:%][A-Za-z0-9_.:%-]*")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
_SERIAL = re.compile(r"[A-Za-z0-9_.:][A-Za-z0-9_.:-]*")


def _check_name(what: str, value: str, allowed: re.Pattern, where: str = "device") -> None:
    if not isinstance(value, str) or not allowed.fullmatch(value):
        raise DeviceSpecError(f"{where}: {value!r} is not a {what} (letters, digits and . _ - only, no leading -)")


def parse_spec(spec: str) -> tuple[str, dict]:
    """``ssh://user@host[:port]`` or ``sdb://serial`` -> (scheme, transport arguments)."""
    parts = urlsplit(spec)
    if parts.scheme == "ssh":
        if not parts.hostname:
            raise DeviceSpecError(f"{spec!r}: an ssh device needs a host (ssh://user@host[:port])")
        try:
            port = parts.port
        except ValueError as err:
            raise DeviceSpecError(f"{spec!r}: bad port ({err})") from err
        _check_name("host name", parts.hostname, _HOST, repr(spec))
        if parts.username is not None:
            _check_name("user name", parts.username, _USER, repr(spec))
        return "ssh", {"host": parts.hostname, "user": parts.username, "port": port}
    if parts.scheme == "sdb":
        if not parts.netloc:
            raise DeviceSpecError(f"{spec!r}: an sdb device needs a serial (sdb://serial)")
        _check_name("serial", parts.netloc, _SERIAL, repr(spec))
        return "sdb", {"serial": parts.netloc}
    raise DeviceSpecError(f"{spec!r}: not an ssh:// or sdb:// device (devices.schemes lists the kinds)")
