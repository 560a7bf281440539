"""The network lab: devices in namespaces joined by rate-limited veths, removed again whatever happens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from devices.netlab import NETS, LabDevice, LabLink, NetLab, NetLabError, free_net, lab_namespaces, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"network lab: {unavailable()}")
distributed = pytest.importorskip("distributed", reason="the farm extra (Dask distributed) is not installed")

ROOT = Path(__file__).resolve().parents[2]


def leftovers(tag: str, net: int | None) -> list[str]:
    """Namespaces, links, processes and folders of the lab ``tag`` on network ``net`` that still exist."""
    found = [ns for ns in lab_namespaces() if ns.startswith(f"{tag}-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [line.split(":")[1].strip() for line in links.splitlines() if f" nnp{net}h" in line]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"/{tag}-" in text or f"tcp://10.{net}.255.254:" in text:  # scheduler, workers
            found.append(f"process {cmdline.parent.name}: {text[:80]}")
    found += [str(p) for p in Path("/tmp").glob(f"{tag}-*")]
    return found


def lab_net(tag: str) -> int:
    """The network (``10.<net>``) of the running lab ``tag``, from its first device's address."""
    out = subprocess.run(["ip", "-n", f"{tag}-0", "-4", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                         text=True).stdout  # fmt: skip
    return int(out.split(" 10.")[1].split(".")[0])


def test_a_link_carries_what_its_rate_allows_one_way_only():
    with NetLab([LabDevice("a", 0), LabDevice("b", 1)], [LabLink("a", "b", 1e6)]) as lab:
        tag, net = lab.tag, lab.net
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
    assert leftovers(tag, net) == []


def test_a_worker_that_cannot_start_leaves_nothing():
    lab = NetLab([LabDevice("a"), LabDevice("b")], [], python=str(ROOT / "no-such-python"))
    with pytest.raises(NetLabError, match="scheduler"):
        with lab:
            pass
    assert leftovers(lab.tag, lab.net) == []


def test_an_interrupted_lab_leaves_nothing():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devices.netlab", "up", "--device", "a@0", "--device", "b@1", "--link", "a,b,1e6"],
        stdout=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    try:
        up = json.loads(proc.stdout.readline())
        assert set(up["workers"]) == {"a", "b"}
        tag, net = f"nnp{proc.pid}-0", int(up["scheduler"].split(".")[1])
        assert len([ns for ns in lab_namespaces() if ns.startswith(f"{tag}-")]) == 2
        os.kill(proc.pid, signal.SIGTERM)
        os.killpg(proc.pid, signal.SIGTERM)  # a second signal, as timeout(1) sends, must not stop the cleanup
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert leftovers(tag, net) == []


def test_two_labs_started_at_once_in_one_process_get_their_own_networks():
    """Two labs of one process (same pid: the old pid-based address was the same) built at the same moment, in two
    threads: each gets a network of its own, its devices answer on it, and both are removed whole."""
    barrier, labs, errors = threading.Barrier(2), [None, None], []

    def build(k: int, ready: threading.Event, done: threading.Event) -> None:
        try:
            barrier.wait()
            with NetLab([LabDevice("a", 0), LabDevice("b", 1)], [LabLink("a", "b", 1e6)]) as lab:
                labs[k] = lab
                with distributed.Client(lab.address) as client:
                    x = client.submit(np.ones, 1000, dtype=np.uint8, workers=[lab.workers["a"]], pure=False)
                    assert client.submit(np.sum, x, workers=[lab.workers["b"]]).result() == 1000
                ready.set()
                done.wait(60)  # both labs up at once before either goes
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)
            ready.set()

    ready, done = [threading.Event(), threading.Event()], threading.Event()
    threads = [threading.Thread(target=build, args=(k, ready[k], done)) for k in range(2)]
    for t in threads:
        t.start()
    for event in ready:
        event.wait(120)
    both_up = [lab is not None and lab.namespaces != [] for lab in labs]
    done.set()
    for t in threads:
        t.join(60)
    assert errors == [] and both_up == [True, True]
    first, second = labs
    assert first.net != second.net and first.tag != second.tag
    assert first.address.split(":")[1] != second.address.split(":")[1]
    assert leftovers(first.tag, first.net) == [] and leftovers(second.tag, second.net) == []


def test_a_labs_network_is_the_first_free_one_from_its_pids_on():
    used = "inet 10.20.255.254/32 scope global nnp20h0\n10.21.0.1 dev nnp21h0 src 10.21.255.254\n110.22.0.1 via x"
    assert free_net(used, 4) == 22  # 20 and 21 taken, 110.22 is not 10.22
    assert free_net("192.10.23.1 dev eth0", 7) == 23
    assert free_net("", 240 + 5) == 21
    last = NETS.stop - 1
    assert free_net(f"10.{last}.0.1 dev x", len(NETS) - 1) == NETS.start  # round to the first
    with pytest.raises(NetLabError, match="no free network"):
        free_net(" ".join(f"10.{n}.0.1" for n in NETS), 0)
