"""The measuring agent: one model, one configuration, one fresh process.

Run as ``python -m devices.worker`` with a JSON request on stdin (or ``--request <base64 JSON>``); it answers with one line
``NNPART-RESULT {...}`` on stdout. It runs here for the local device and is copied (with
``devices/inputs.py`` and ``devices/files.py``) to boards for the remote devices, so it needs only the standard library,
numpy and the onert Python package.

Why a fresh process per measurement: onert reads its configuration (``OP_BACKEND_*``, ``EXECUTOR``,
...) from the environment when a session is created, and its trace writer keeps the first
``WORKSPACE_DIR`` of a process. The caller puts the configuration into this process's environment;
the worker adds the tracing variables itself.

Request keys: ``model`` (path), ``backends`` (``"cpu;ruy"``), ``warmup``, ``repeats``, ``seed``,
``trace`` (bool), ``timeout`` (s), ``reference`` (path of an .npz of reference outputs to compare
with, or null), ``save_outputs`` (path to write this run's outputs as .npz, or null).

Answer keys: ``status`` (``ok`` | ``prepare-failed`` | ``run-failed`` | ``mismatch``), ``error``,
``times_ms`` (onert's ``run_time_ms`` of each timed run), ``peak_rss_kb`` (peak resident set of the
process that ran the session), ``memory`` (``before_kb``: the resident set with onert imported, before the
session; ``peak_kb``: the peak from then to the end of the timed runs; null where ``/proc`` does not say),
``trace`` (the Chrome trace dict or null), ``max_abs_diff``. Status
``crashed`` and ``timed-out`` come from a measuring process killed by a signal.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import numpy as np

from devices.files import atomic_file
from devices.inputs import onert_input_specs, seeded_inputs

RESULT_PREFIX = "NNPART-RESULT "

# Outputs agree when |out - ref| <= ATOL_SCALE * max|ref| + RTOL * |ref| elementwise: cpu and ruy
# kernels sum in different orders (differences ~1e-6 relative), while the shared-constant trap of
# onert changes results by percents or yields NaN.
RTOL = 1e-3
ATOL_SCALE = 1e-4


def probe() -> dict:
    """What this machine's onert offers: the backend libraries in the wheel."""
    import onert

    root = Path(onert.__file__).parent
    names = sorted(p.name[len("libbackend_") : -len(".so")] for p in root.rglob("libbackend_*.so"))
    return {"status": "ok", "backends": names}


def compare_outputs(outputs: list[np.ndarray], reference: list[np.ndarray]) -> tuple[bool, str, float]:
    """Whether ``outputs`` agree with ``reference`` (NaN never agrees), a reason and the largest difference."""
    if len(outputs) != len(reference):
        return False, f"{len(outputs)} outputs, the reference has {len(reference)}", float("inf")
    worst = 0.0
    for k, (out, ref) in enumerate(zip(outputs, reference)):
        out = np.asarray(out, dtype=np.float64)
        ref = np.asarray(ref, dtype=np.float64)
        if out.shape != ref.shape:
            return False, f"output {k} has shape {out.shape}, the reference {ref.shape}", float("inf")
        bad = np.isnan(out) & ~np.isnan(ref)
        if bad.any():
            return False, f"output {k} has {int(bad.sum())} NaN values where the all-cpu reference has none", float("nan")
        if out.size == 0:
            continue
        diff = np.abs(out - ref)
        diff[np.isnan(out) & np.isnan(ref)] = 0.0
        worst = max(worst, float(diff.max()))
        limit = ATOL_SCALE * float(np.nanmax(np.abs(ref))) + RTOL * np.abs(np.nan_to_num(ref))
        if (diff > limit).any():
            return False, f"output {k} differs from the all-cpu reference (max abs diff {diff.max():.3g})", worst
    return True, "", worst


def measure(request: dict) -> dict:
    """Measure in a forked child and collect its trace, as the module docstring describes."""
    trace_dir = tempfile.mkdtemp(prefix="nnpart-trace-") if request.get("trace") else None
    try:
        result = _in_child(request, trace_dir)
        if trace_dir is not None and result["status"] != "prepare-failed":
            result["trace"] = _read_trace(Path(trace_dir))
        return result
    finally:
        if trace_dir is not None:
            shutil.rmtree(trace_dir, ignore_errors=True)


def _in_child(request: dict, trace_dir: str | None) -> dict:
    """Run :func:`_run` in a forked child and return its answer.

    Why a child: onert completes trace.chrome.json only in its static destructors at process exit,
    so the trace can be read only after the process that ran the session has exited. The child's
    peak RSS comes from ``wait4``; a child killed by a signal (a crash, or SIGALRM at the time-out)
    is reported as such.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        if trace_dir is not None:
            os.environ["TRACING_MODE"] = "1"
            os.environ["WORKSPACE_DIR"] = trace_dir
        # The default action of SIGALRM ends the process even inside a native onert call.
        if request.get("timeout"):
            signal.alarm(max(int(request["timeout"] + 0.999), 1))
        try:
            answer = _run(request)
        except Exception as err:  # report, do not unwind into the parent's code
            answer = {"status": "run-failed", "error": f"{type(err).__name__}: {err}"}
        with os.fdopen(write_fd, "w") as pipe:
            json.dump(answer, pipe)
        # libc exit (not os._exit) runs the static destructors that flush onert's trace.
        sys.stdout.flush()
        sys.stderr.flush()
        ctypes.CDLL(None).exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        data = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGALRM:
            return {"status": "timed-out", "error": f"timed out after {request['timeout']:g} s"}
        return {"status": "crashed", "error": f"crashed ({signal.Signals(sig).name})"}
    if not data:
        return {"status": "crashed", "error": f"the measuring process exited with status {os.WEXITSTATUS(status)}"}
    answer = json.loads(data)
    answer["peak_rss_kb"] = usage.ru_maxrss  # KB on Linux
    return answer


def _status_kb(*fields: str) -> list[int] | None:
    """Fields of ``/proc/self/status`` in KB (``VmRSS``, ``VmHWM``), or None where there is no such file."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    values = {line.split(":")[0]: int(line.split()[1]) for line in lines if line.split(":")[0] in fields}
    return [values[f] for f in fields] if len(values) == len(fields) else None


def _memory_before() -> int | None:
    """The resident set now, after resetting the peak to it (``clear_refs`` 5, Linux >= 4.0) so that the
    high-water mark read later is the session's, not an earlier spike of the interpreter's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # the peak then covers the time before too; it is never below the session's
    figures = _status_kb("VmRSS")
    return None if figures is None else figures[0]


def _memory_after(before: int | None) -> dict | None:
    figures = _status_kb("VmHWM")
    return None if before is None or figures is None else {"before_kb": before, "peak_kb": max(figures[0], before)}


def _run(request: dict) -> dict:
    import onert

    result: dict = {"status": "ok", "error": "", "times_ms": [], "peak_rss_kb": 0, "trace": None}
    before = _memory_before()
    try:
        session = onert.infer.session(request["model"], backends=request["backends"])
        inputs = seeded_inputs(onert_input_specs(session), request.get("seed", 0))
        outputs, _ = session.infer(inputs, measure=True)  # the first call prepares
    except Exception as err:  # onert raises its own OnertError; the reason is on stderr
        return {**result, "status": "prepare-failed", "error": str(err)}
    try:
        for _ in range(max(request.get("warmup", 1) - 1, 0)):
            session.infer(inputs)
        for _ in range(request.get("repeats", 3)):
            outputs, metrics = session.infer(inputs, measure=True)
            result["times_ms"].append(float(metrics["run_time_ms"]))
    except Exception as err:
        return {**result, "status": "run-failed", "error": str(err)}
    result["memory"] = _memory_after(before)
    outputs = [np.array(o, copy=True) for o in outputs]
    if request.get("save_outputs"):
        # Another measurement may be reading this reference: it must see the old file or the whole new one.
        with atomic_file(request["save_outputs"]) as f:
            np.savez(f, *outputs)
    if request.get("reference"):
        with np.load(request["reference"]) as ref:
            reference = [ref[f"arr_{k}"] for k in range(len(ref.files))]
        ok, reason, diff = compare_outputs(outputs, reference)
        result["max_abs_diff"] = diff
        if not ok:
            result.update(status="mismatch", error=reason)
    return result


def _read_trace(trace_dir: Path) -> dict | None:
    path = trace_dir / "trace.chrome.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def main(argv: list[str]) -> int:
    # sdb shell passes no stdin, so boards get the request as base64 in the arguments.
    if len(argv) == 2 and argv[0] == "--request":
        request = json.loads(base64.b64decode(argv[1]))
    else:
        request = json.loads(sys.stdin.read())
    answer = probe() if request.get("probe") else measure(request)
    sys.stdout.write(RESULT_PREFIX + json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
