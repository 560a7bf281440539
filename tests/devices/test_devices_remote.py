"""Remote devices: a real OpenSSH server on 127.0.0.1 plays the board; onert_run reports parsed by label."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devices import open_device
from devices.base import BackendConfig, MeasureSettings
from devices.errors import DeviceError, DeviceSpecError
from devices.remote import parse_onert_run, parse_spec
from devices.workerdevice import file_digest

SSHD = Path("/usr/sbin/sshd")
QUICK = MeasureSettings(warmup=1, repeats=2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with status {proc.returncode}: {proc.stderr.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("sshd did not start listening")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """(user, port, user key) of an sshd on 127.0.0.1 with throw-away host and user keys."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None or shutil.which("scp") is None:
        pytest.skip("no OpenSSH server here (/usr/sbin/sshd); install Debian's openssh-server to run this test")
    tmp = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / key)], check=True)
    (tmp / "authorized_keys").write_text((tmp / "user_key.pub").read_text())
    port = _free_port()
    config = tmp / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'host_key'}\nPidFile {tmp / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\nPasswordAuthentication no\nPubkeyAuthentication yes\n"
        "KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, proc)
    except RuntimeError as err:
        proc.kill()
        pytest.skip(f"cannot start a local sshd: {err}")
    yield getpass.getuser(), port, tmp / "user_key"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture()
def board(sshd, tmp_path):
    user, port, key = sshd
    options = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR")
    device = open_device(
        f"ssh://{user}@127.0.0.1:{port}", cache=False, identity=key, ssh_options=options,
        python=sys.executable, workdir=str(tmp_path / "board"),
    )  # fmt: skip
    return device, tmp_path / "board"


def test_remote_run_over_real_sshd_gives_a_measurement(board, branchy_cnn):
    device, workdir = board
    assert set(device.backends()) >= {"cpu", "ruy"}
    m = device.measure(branchy_cnn, BackendConfig(("cpu", "ruy"), op_indices=((0, "ruy"),)),
                       MeasureSettings(repeats=2, trace=True))  # fmt: skip
    assert m.valid, m.reason
    assert len(m.times_ms) == 2 and m.peak_rss_kb > 10_000
    assert any(e.get("name") == "@0 Conv2D" and e["tid"].endswith("ruy") for e in m.trace["traceEvents"])
    # The model was copied once, named by its content; the agent and the reference live beside it.
    assert (workdir / "models" / f"{file_digest(branchy_cnn)}.tflite").read_bytes() == branchy_cnn.read_bytes()
    assert list(workdir.glob("agent-*/devices/worker.py"))
    assert list((workdir / "references").glob("*.npz"))


def test_remote_invalid_configuration_has_onerts_reason(board, branchy_cnn):
    device, _ = board
    m = device.measure(branchy_cnn, BackendConfig(("cpu", "ruy"), op_indices=((2, "ruy"),)), QUICK)
    assert not m.valid and "NYI for operation 'DepthwiseConv2D'" in m.reason


def test_unreachable_board_is_a_device_error(sshd, tmp_path, branchy_cnn):
    _, port, key = sshd
    device = open_device(f"ssh://nobody-here@127.0.0.1:{port}", cache=False, identity=key,
                         ssh_options=("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"))  # fmt: skip
    with pytest.raises(DeviceError, match="ssh failed"):
        device.measure(branchy_cnn, BackendConfig(), QUICK)


def test_parse_spec():
    assert parse_spec("ssh://root@odroid:2222") == ("ssh", {"host": "odroid", "user": "root", "port": 2222})
    assert parse_spec("ssh://odroid") == ("ssh", {"host": "odroid", "user": None, "port": None})
    assert parse_spec("sdb://0123abcd") == ("sdb", {"serial": "0123abcd"})


# onert_run's report (runtime/libs/benchmark/src/Result.cpp); an extra line shifts no figure.
ONERT_RUN_REPORT = """\
Package Filename /tmp/m.tflite
some log line the runtime printed
===================================
MODEL_LOAD   takes 3.120 ms
PREPARE      takes 20.500 ms
EXECUTE      takes 72.525 ms
- MEAN     :  72.525 ms
- MAX      :  80.100 ms
- MIN      :  70.010 ms
- GEOMEAN  :  72.400 ms
===================================
RSS
- MODEL_LOAD   takes 5000 kb
- PREPARE      takes 50000 kb
- EXECUTE      takes 56388 kb
- PEAK         takes 56388 kb
===================================
HWM
- MODEL_LOAD   takes 5000 kb
- PREPARE      takes 50000 kb
- EXECUTE      takes 60000 kb
- PEAK         takes 60000 kb
===================================
Used Peak Memory : 55000 kb
- HWM after run  : 60000 kb
- HWM before init: 5000 kb
===================================
"""


def test_onert_run_report_is_parsed_by_label():
    figures = parse_onert_run(ONERT_RUN_REPORT)
    assert figures == {"mean_ms": 72.525, "max_ms": 80.1, "min_ms": 70.01, "peak_rss_kb": 56388}


def test_onert_run_report_without_memory_falls_back_to_hwm():
    text = "EXECUTE      takes 9.5 ms\n- HWM after run  : 1234 kb\n"
    assert parse_onert_run(text) == {"mean_ms": 9.5, "peak_rss_kb": 1234}


@pytest.mark.parametrize("spec, what", [
    ("ssh://-oPermitLocalCommand=yes@x", "user name"),
    ("ssh://me@-oProxyCommand=touch", "host name"),
    ("ssh://me@host;reboot", "host name"),
    ("ssh://me$(id)@host", "user name"),
    ("sdb://-s", "serial"),
    ("sdb://abc;rm", "serial"),
])  # fmt: skip
def test_device_specs_that_ssh_or_a_shell_would_read_as_syntax_are_refused(spec, what):
    with pytest.raises(DeviceSpecError, match=f"^{re.escape(repr(spec))}: .* is not a {what} "):
        parse_spec(spec)


def test_a_refused_spec_is_one_line_and_exit_2_through_solve(tmp_path, branchy_cnn):
    done = subprocess.run([sys.executable, "-m", "solver", "profile", str(branchy_cnn), "--device",
                           "ssh://-oProxyCommand=touch@x", "--out", str(tmp_path / "t.json")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "is not a user name" in done.stderr and not (tmp_path / "t.json").exists()
