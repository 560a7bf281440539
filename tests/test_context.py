"""The measurement context: where and how a measurement ran, the load beside it, and contention seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from devices.base import BackendConfig
from devices.context import Load, MeasurementContext, measurement_context, others_running, probe_load
from solver import cli
from solver.errors import EXIT_UNSTABLE
from solver.io.trace import trace_facts


@contextmanager
def pinned_busy() -> Iterator[None]:
    """One busy process pinned to each core this process may use (real contention), killed afterwards."""
    procs = []
    try:
        for core in sorted(os.sched_getaffinity(0)):
            code = f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True:\n    pass\n"
            procs.append(subprocess.Popen([sys.executable, "-c", code]))
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_load_and_context_by_construction():
    quiet = Load(cores=2, others=0.1, load_average=0.3, probe_share=0.99, samples=8)
    busy = Load(cores=2, others=1.2, load_average=1.3, probe_share=0.95, samples=8)
    assert quiet.fits(2) and busy.fits(1) and not busy.fits(2)
    assert not Load(2, 0.0, 0.0, probe_share=0.5).fits(1)  # the probe found even one core shared
    default = MeasurementContext("local", "vm", "onert 0.1.0", ("cpu",), (), 2, (busy,))
    one = MeasurementContext("local", "vm", "onert 0.1.0", ("cpu",), (("NUM_THREADS", "1"),), 2, (busy,))
    assert default.effective_threads == 2 and default.contended() is busy and one.contended() is None
    assert default.threads_text() == "onert's default threads (2: every core)"
    assert default.differences(one) == ["threads onert's default threads (2: every core) vs NUM_THREADS=1"]
    assert one.setting_config() == BackendConfig(settings=(("NUM_THREADS", "1"),))
    assert MeasurementContext.from_json(json.loads(json.dumps(one.to_json()))) == one
    assert MeasurementContext.from_json({"device": "local"}) is None


def test_a_context_records_every_setting_and_the_runtime():
    config = BackendConfig(("cpu", "ruy"), op_types=(("Conv2D", "ruy"),), settings=(("EXECUTOR", "Linear"),))
    context = measurement_context("local", config, (probe_load(0.05),))
    assert dict(context.settings) == {"OP_BACKEND_Conv2D": "ruy", "EXECUTOR": "Linear"}
    assert context.runtime.startswith("onert 0.") and context.cores == len(os.sched_getaffinity(0))
    assert context.describe().startswith("local (") and "EXECUTOR=Linear" in context.describe()


def test_busy_processes_pinned_to_the_cores_are_seen(branchy_cnn, tmp_path, capsys):
    out = tmp_path / "t.chrome.json"
    with pinned_busy():
        seen = others_running()
        status = cli.main(["profile", str(branchy_cnn), "--out", str(out), "--runs", "3", "--rounds", "1",
                           "--target-cv", "10", "--no-cache", "--strict", "--json"])  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert seen is not None and seen >= len(os.sched_getaffinity(0))
    assert status == EXIT_UNSTABLE
    assert document["stable"] is False and document["contended"] is True
    assert document["reasons"][0].startswith(f"contended: onert's default threads ({os.cpu_count()}: every core) on ")
    assert "the figures measure contention, not the model" in document["reasons"][0]
    assert document["reasons"][0].endswith("--setting NUM_THREADS=1")
    facts = trace_facts(out)  # the trace says it too, with where and how it ran
    assert facts["stable"] is False and facts["contended"] is True
    assert facts["context"]["threads"] is None and facts["context"]["loads"][0]["free_cores"] < 1


def test_a_profile_records_its_settings_in_the_trace(branchy_cnn, tmp_path, capsys):
    out = tmp_path / "t.chrome.json"
    assert cli.main(["profile", str(branchy_cnn), "--out", str(out), "--runs", "2", "--rounds", "1", "--no-cache",
                     "--setting", "NUM_THREADS=1", "--json"]) in (0,)  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    context = MeasurementContext.from_json(trace_facts(out)["context"])
    assert context is not None and context.threads == 1 and context.backends == ("cpu",)
    assert document["context"]["settings"] == {"NUM_THREADS": "1"}
    assert len(context.loads) == 1 + document["rounds"]  # before, then during each round
