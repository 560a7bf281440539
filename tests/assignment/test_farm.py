"""The device farm on a real Dask LocalCluster with three local onert devices: the same dump as one device,
one measurement per device at a time, and a worker killed mid-run loses no measurement."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

pytest.importorskip("distributed")

from devices import open_device  # noqa: E402
from devices.base import MeasureSettings  # noqa: E402
from devices.errors import DeviceSpecError  # noqa: E402
from devices.farm import DeviceSpec, Farm, read_devices  # noqa: E402
from solver.assignment.bruteforce import brute_force, build_space  # noqa: E402
from solver.assignment.settings import BruteForceSettings  # noqa: E402

QUICK = MeasureSettings(warmup=0, repeats=1)


@pytest.fixture()
def farm(tmp_path, monkeypatch):
    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    with Farm([DeviceSpec("local")] * 3, "local:3", cache=False) as farm:
        yield farm


def test_devices_file_is_read_and_checked(tmp_path):
    path = tmp_path / "devices.txt"
    path.write_text("# boards\nlocal\n\nssh://pi@10.0.0.2 identity=/k workdir=/tmp/x  # the Pi\n")
    assert read_devices(path) == [DeviceSpec("local"), DeviceSpec("ssh://pi@10.0.0.2", (("identity", "/k"), ("workdir", "/tmp/x")))]
    path.write_text("local\nftp://x\n")
    with pytest.raises(DeviceSpecError, match=r"devices.txt:2: 'ftp://x' is not a device"):
        read_devices(path)
    path.write_text("local colour=red\n")
    with pytest.raises(DeviceSpecError, match=r"devices.txt:1: 'colour=red'"):
        read_devices(path)


def test_three_devices_give_the_dump_of_one(farm, branchy_cnn, tmp_path):
    settings = BruteForceSettings(repeats=1, warmup=0)
    one = brute_force(branchy_cnn, open_device("local", cache=False), tmp_path / "one.json", settings)
    many = brute_force(branchy_cnn, open_device("local", cache=False), tmp_path / "farm.json", settings, farm=farm)
    a, b = (json.loads(r.out.read_text())["solutions"] for r in (one, many))
    assert [s["id"] for s in a] == [s["id"] for s in b] == [0, 1, 64, 65]
    assert [s.get("valid", True) for s in a] == [s.get("valid", True) for s in b]
    assert many.measured == 4 and farm.retries == 0


def test_a_killed_worker_costs_a_retry_elsewhere(farm, branchy_cnn):
    _, space = build_space(branchy_cnn, open_device("local", cache=False), "name", ("cpu", "ruy"))
    configs = [space.config(space.point(i % space.size)) for i in range(9)]
    pids = farm.client.run(os.getpid)
    victim = pids[farm.bound[0]]
    arrived: list[int] = []
    killed = threading.Event()
    for index, measurement in farm.measure_many(branchy_cnn, configs, QUICK):
        arrived.append(index)
        assert measurement.times_ms or not measurement.valid
        if not killed.is_set():
            os.kill(victim, signal.SIGKILL)  # device 0's worker dies while it measures its next configuration
            killed.set()
    assert sorted(arrived) == list(range(9))  # every configuration measured exactly once
    assert len(farm.lost) == 1 and farm.retries >= 1 and farm.bound.keys() == {1, 2}



def test_a_result_whose_worker_died_before_it_was_fetched_is_lost_not_awaited(farm):
    """A task's result lives on its device's worker alone; killed between the task's end and the fetch, the key
    waits for a worker it may not leave, and an unbounded fetch hung the killed-worker test above."""
    worker = farm.bound[0]
    future = farm.client.submit(os.getpid, workers=[worker], allow_other_workers=False, pure=False)
    pid = future.result()
    os.kill(pid, signal.SIGKILL)
    while worker in farm._workers():
        time.sleep(0.05)
    outcome: list = []
    fetch = threading.Thread(target=lambda: outcome.append(farm._result(future, 0)), daemon=True)
    fetch.start()
    fetch.join(60)  # a daemon thread: a fetch that hangs fails the test instead of holding it
    assert outcome == [None]


def test_the_same_model_measured_again_and_again_on_one_farm(farm, branchy_cnn):
    """Rounds hand the farm the same model again and again: every configuration of every call arrives (a model
    scattered anew under the key of the last call's, which was being released, lost its tasks' dependency)."""
    _every_configuration_in_rounds(farm, branchy_cnn, 10)
    assert farm.retries == 0 and not farm.lost


def _every_configuration_in_rounds(farm, model, rounds: int) -> None:
    """Measure every name-mode configuration of ``model`` over cpu/ruy on ``farm`` in ``rounds`` rounds; each
    round gives every configuration once."""
    _, space = build_space(model, open_device("local", cache=False), "name", ("cpu", "ruy"))
    configs = [space.config(space.point(i)) for i in range(space.size)]
    for round_number in range(rounds):
        settings = MeasureSettings(warmup=0, repeats=1, round=round_number)
        assert sorted(i for i, _ in farm.measure_many(model, configs, settings)) == list(range(len(configs)))


def test_local_workers_measure_in_this_process_environment(farm):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_ and OMP_NUM_THREADS=1 in its workers by default; a local device of
    the farm would hand them to onert, whose peak RSS and times then differ from one device's."""
    names = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    seen = farm.client.run(lambda: {n: os.environ.get(n) for n in names})
    assert len(seen) == 3
    assert all(env == {n: os.environ.get(n) for n in names} for env in seen.values())


def test_a_live_worker_is_never_taken_for_lost(branchy_cnn, tmp_path, monkeypatch):
    """The client refreshes its cached scheduler identity with no workers listed; read between a fetch and that
    refresh, a live worker looked lost and its device was dropped. With the refresh every 2 ms (it is 2 s by
    default) the farm still sees every worker, and rounds on it cost no retry."""
    import dask

    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    with dask.config.set({"distributed.client.scheduler-info-interval": "2ms"}):
        with Farm([DeviceSpec("local")] * 3, "local:3", cache=False) as farm:
            for _ in range(300):
                assert farm._workers() == set(farm.bound.values())
            _every_configuration_in_rounds(farm, branchy_cnn, 3)
            assert farm.retries == 0 and not farm.lost
