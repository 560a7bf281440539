"""The network lab: devices in namespaces joined by rate-limited veths, removed again whatever happens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from devices.netlab import LabDevice, LabLink, NetLab, NetLabError, lab_namespaces, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"network lab: {unavailable()}")
distributed = pytest.importorskip("distributed", reason="the farm extra (Dask distributed) is not installed")

ROOT = Path(__file__).resolve().parents[2]


def leftovers(tag: str) -> list[str]:
    """Namespaces, links, processes and folders of the lab ``tag`` that still exist."""
    found = [ns for ns in lab_namespaces() if ns.startswith(f"{tag}-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [line.split(":")[1].strip() for line in links.splitlines() if f" {tag}h" in line]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"/{tag}-" in text or f"tcp://10.{int(tag[3:]) % 200 + 16}.255.254:" in text:  # scheduler, workers
            found.append(f"process {cmdline.parent.name}: {text[:80]}")
    found += [str(p) for p in Path("/tmp").glob(f"{tag}-*")]
    return found


def test_a_link_carries_what_its_rate_allows_one_way_only():
    with NetLab([LabDevice("a", 0), LabDevice("b", 1)], [LabLink("a", "b", 1e6)]) as lab:
        tag = lab.tag
        with distributed.Client(lab.address) as client:
            seconds = {}
            for source, target in (("a", "b"), ("b", "a")):
                x = client.submit(np.ones, 400_000, dtype=np.uint8, workers=[source], pure=False)
                x.result()
                start = time.perf_counter()
                client.submit(np.sum, x, workers=[target]).result()
                seconds[source, target] = time.perf_counter() - start
    assert 0.3 < seconds["a", "b"] < 0.8  # 400 kB at 1 MB/s
    assert seconds["b", "a"] < 0.2  # no link b -> a: the reverse direction is not shaped
    assert leftovers(tag) == []


def test_a_worker_that_cannot_start_leaves_nothing():
    lab = NetLab([LabDevice("a"), LabDevice("b")], [], python=str(ROOT / "no-such-python"))
    with pytest.raises(NetLabError, match="scheduler"):
        with lab:
            pass
    assert leftovers(lab.tag) == []


def test_an_interrupted_lab_leaves_nothing():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devices.netlab", "up", "--device", "a@0", "--device", "b@1", "--link", "a,b,1e6"],
        stdout=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    try:
        up = json.loads(proc.stdout.readline())
        assert set(up["workers"]) == {"a", "b"}
        tag = f"nnp{proc.pid}"
        assert len([ns for ns in lab_namespaces() if ns.startswith(f"{tag}-")]) == 2
        os.kill(proc.pid, signal.SIGTERM)
        os.killpg(proc.pid, signal.SIGTERM)  # a second signal, as timeout(1) sends, must not stop the cleanup
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert leftovers(tag) == []
