"""The CPU the engine takes from the devices' cores: measured by probes, fitted, stored and charged to the right core."""

from __future__ import annotations

import contextlib
import json
import math
import statistics
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from devices.slowboard import burning_plugin
from solver.deploy.linkfit import fit_core, fit_host
from solver.errors import CheckError, PlatformError
from solver.io.linkfile import CoreCost, DeviceFit, HostFit, LinkFit, read_calibration, write_links
from solver.io.platform import read_platform
from solver.io.tflite import read_model
from solver.placement.engine import Message
from solver.placement.predicted import engine_overhead, predict_parts, shared_period, stage_io


def _burning(task_ms: float, received_ms_per_mb: float):
    """A worker plugin (devices.slowboard) spending ``task_ms`` whenever a probe's stage task finishes, and
    ``received_ms_per_mb`` per MB of every probe tensor fetched from another worker, on every worker."""
    return burning_plugin(task_ms, received_ms_per_mb, lambda key: key.startswith("probe-") and
                          ("-stage-" in key or "-pair-" in key), lambda key: key.startswith("probe-"), name="nnpart-burn")


@contextlib.contextmanager
def _registered(client, plugin) -> Iterator[None]:
    """``plugin`` on every worker while the block runs (None: nothing)."""
    if plugin is None:
        yield
        return
    client.register_plugin(plugin)
    try:
        yield
    finally:
        client.unregister_worker_plugin(plugin.name)


def test_the_cpu_fit_recovers_a_known_cost_per_task_and_per_byte_received(tmp_path):
    """Two local workers probed as a calibration probes them (echo tasks on each, echo hand-offs a -> b), each
    probe plain and again with a plugin burning 20 ms of CPU per stage task and 25 ms per MB received: the fitted
    CPU of a request on either grows by what was burnt (within 15%; the slope alone within 25%, six costs from six
    streams on a shared machine); a, which receives nothing, has no receiving cost."""
    from devices.placed import idle_cpu, probe_device, probe_pair
    from solver.deploy.placed import placed_workers

    task_ms, per_mb = 20.0, 25.0
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}], "default_link": {"bandwidth": 1e8}}))
    plugin = _burning(task_ms, per_mb)
    cpu: dict[bool, dict[str, list]] = {False: {"a": [], "b": []}, True: {"a": [], "b": []}}  # burning -> device
    with placed_workers("local", ["a", "b"], read_platform(path)) as workers:
        client, address = workers.client, workers.address
        idle = idle_cpu(client, list(address.values()))  # 2 s: the median of four slices; no task, nothing burnt
        # Each probe plain then burning, back to back, so that both see the same load: CPU per message grows with
        # contention, and a change of load between a plain and a burning phase 20-40 s apart reads as growth (the
        # misses left after the probes' fixes were all 16-18% low).
        for d in "ab":
            for burning in (False, True):
                with _registered(client, plugin if burning else None):
                    cpu[burning][d] += probe_device(client, address[d], (1 << 10, 1 << 20), requests=16,
                                                    chains=(1, 2), repeats=2, burn_ms=5).cpu  # fmt: skip
        for burning in (False, True):
            with _registered(client, plugin if burning else None):
                pair = probe_pair(client, address["a"], address["b"], (1 << 10, 1 << 20, 2 << 20, 4 << 20),
                                  requests=30, burn_ms=5)  # fmt: skip
            cpu[burning]["a"] += pair.source
            cpu[burning]["b"] += pair.target
    plain, burnt = ({d: fit_core(d, cpu[burning][d], idle.workers[address[d]]) for d in "ab"}
                    for burning in (False, True))  # fmt: skip
    # What a request costs each core, as the prediction charges it, grows by what was burnt (within 15%: CPU times
    # grow with contention, and other work shares these two cores; read over spans of tasks, 2 runs of 9 missed it
    # at load 7.5-10.4, one fetch too many or too few in a span; then a full garbage collection inside one stream;
    # see devices.placed._stream): a stage task on a sending 1 kB or 4 MB (a task), one on b receiving 1 kB or 4 MB
    # (a task and the bytes).
    for d, sent, received in (("a", 1 << 10, 0), ("a", 4 << 20, 0), ("b", 0, 1 << 10), ("b", 0, 4 << 20)):
        request = (1, 2 * (sent + received), bool(sent), sent, bool(received), received)
        grown = burnt[d].busy_us(*request) - plain[d].busy_us(*request)
        assert grown == pytest.approx(task_ms * 1000 + received * 1e-6 * per_mb * 1000, rel=0.15)
    assert burnt["b"].receive_us_per_mb - plain["b"].receive_us_per_mb == pytest.approx(per_mb * 1000, rel=0.25)
    assert plain["a"].receive_us == burnt["a"].receive_us == 0.0 and burnt["a"].receive_us_per_mb == 0.0
    assert burnt["a"].idle_us_per_s > 0


def test_a_probe_streams_cpu_holds_each_requests_hand_off_once_the_first_and_the_last_too(tmp_path):
    """A receiver fetches a request's input ahead of its own task, by a depth that varies: the CPU read over a span
    of its tasks held 18 to 21 fetches for 19 tasks. Read over the whole stream, a plugin burning 600 ms of b's CPU
    on fetching the first and the last request of a stream of 12 adds 100 ms to b's CPU per request: never less
    (the burn is CPU time), and once (a second stream without it beside; the longer stream's background, up to
    8 ms per request at load 8, is in the margin above)."""
    from dask.sizeof import sizeof

    from devices.placed import probe_pair
    from solver.deploy.placed import placed_workers

    requests, burn_ms = 12, 600.0
    ends = ("-pair-0-0-0", f"-pair-0-0-{requests - 1}")  # the first stream's first and last hand-off (tag, step, r)
    nbytes = sizeof({"x": np.ones(1 << 10, dtype=np.uint8)})  # what the plugin burns for: a stage's output as held
    fetches = lambda key: key.startswith("probe-") and key.endswith(ends)  # noqa: E731
    plugin = burning_plugin(0.0, burn_ms / (nbytes * 1e-6), lambda key: False, fetches, name="nnpart-ends")
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}], "default_link": {"bandwidth": 1e8}}))
    with placed_workers("local", ["a", "b"], read_platform(path)) as workers:
        workers.client.register_plugin(plugin)
        pair = probe_pair(workers.client, workers.address["a"], workers.address["b"], (1 << 10, 1 << 10),
                          requests=requests, burn_ms=5)  # fmt: skip
    burnt, plain = pair.target
    share = 2 * burn_ms / requests  # ms per request
    assert burnt.engine_s * 1000 >= share
    assert 0.9 * share < (burnt.engine_s - plain.engine_s) * 1000 < 1.5 * share


def _burst_later(delay_s: float, cpu_s: float) -> None:
    """On a worker: spend ``cpu_s`` of its event loop's CPU once, ``delay_s`` from now."""
    import asyncio

    from devices.slowboard import _spin

    asyncio.get_running_loop().call_later(delay_s, _spin, cpu_s)


def test_the_idle_cpu_is_a_workers_background_not_a_one_off_burst_in_its_window(tmp_path):
    """200 ms of CPU spent once on a's event loop 1.2 s into a 4 s window (a collection, a late clean-up) would read
    50 ms/s more than b's background in the mean; the slices show it ran inside the window (one slice holds all of
    it: the loop cannot read a slice's end during the burst, which load stretches in wall time), and their median,
    idle_cpu's figure, it moves nothing."""
    from devices.placed import IDLE_SLICE_S, _background, idle_cpu
    from solver.deploy.placed import placed_workers

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}], "default_link": {"bandwidth": 1e8}}))
    with placed_workers("local", ["a", "b"], read_platform(path)) as workers:
        a, b = workers.address["a"], workers.address["b"]
        workers.client.run(_burst_later, 1.2, 0.2, workers=[a])
        slices = workers.client.run(_background, IDLE_SLICE_S, 8, workers=[a, b])
        workers.client.run(_burst_later, 1.2, 0.2, workers=[a])
        idle = idle_cpu(workers.client, [a, b], 4.0)
    assert max(slices[a]) > statistics.median(slices[b]) + 0.1  # at least 0.2 s in a slice of at most 2 s
    assert 0 < statistics.median(slices[a]) < statistics.median(slices[b]) + 0.010
    assert 0 < idle.workers[a] < idle.workers[b] + 0.010


def _busy_background(every_s: float, cpu_s: float, dask_worker=None) -> None:
    """On a worker: a periodic callback of its event loop spending ``cpu_s`` every ``every_s``, as Dask's own tick
    does (scaled up); stopped with the worker."""
    from tornado.ioloop import PeriodicCallback

    from devices.slowboard import _spin

    callback = dask_worker.periodic_callbacks["nnpart-busy"] = PeriodicCallback(lambda: _spin(cpu_s), every_s * 1000)
    callback.start()


def test_a_probe_charges_a_workers_background_only_while_its_event_loop_is_free(tmp_path):
    """A worker's background is its event loop's periodic callbacks, and one that falls due while the engine holds
    the loop is skipped. Here a background of 3 ms every 20 ms (150 ms/s, Dask's tick's rhythm, 17 times its CPU)
    and a plugin holding the loop 100 ms at the end of each stage task: the engine's CPU per request, charged the
    idle background only for the loop's free time, grows by the 100 ms burnt (within 8%). Charged for the whole
    period, it read the growth low by the skipped background, at least 15 ms (150 ms/s over 100 ms held)."""
    from devices.placed import idle_cpu, probe_device
    from solver.deploy.placed import placed_workers

    task_ms = 100.0
    plugin = burning_plugin(task_ms, 0.0, lambda key: key.startswith("probe-") and "-stage-" in key,
                            lambda key: False, name="nnpart-hold")  # fmt: skip
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"devices": [{"name": "a"}], "default_link": {"bandwidth": 1e8}}))
    engine = {}
    with placed_workers("local", ["a"], read_platform(path)) as workers:
        client, a = workers.client, workers.address["a"]
        client.run(_busy_background, 0.020, 0.003, workers=[a])
        idle = idle_cpu(client, [a]).workers[a]
        for burning in (False, True):
            with _registered(client, plugin if burning else None):
                sample = probe_device(client, a, (1 << 10,), requests=8, chains=(1,), repeats=1, burn_ms=5).cpu[0]
            engine[burning] = sample.engine_s - idle * sample.background_s
    assert idle > 0.1
    assert (engine[True] - engine[False]) * 1000 == pytest.approx(task_ms, rel=0.08)


def _gc_watch():
    """A worker plugin recording, as each probe stage task starts, Python's collection counts (gc.get_count: the
    allocations since the last collection of generation 0, and the collections of generations 0 and 1 since
    their next generation's last)."""
    import gc

    from distributed import WorkerPlugin

    class GcWatch(WorkerPlugin):
        name = "nnpart-gc-watch"

        def setup(self, worker):
            self.counts = []

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and "-stage-" in str(key):
                self.counts.append(gc.get_count())

    return GcWatch()


def _gc_pending(collections: int, dask_worker=None) -> tuple[int, int, int]:
    """On a worker: a full collection held off (threshold 1000 for generation 2) and ``collections`` collections
    of generation 1 left pending since the last full one, as a worker's own allocations leave them."""
    import gc

    gc.set_threshold(700, 10, 1000)
    keep = dask_worker.nnpart_kept = []
    while gc.get_count()[2] < collections:
        keep.append([])
    return gc.get_count()


def _gc_counts(dask_worker=None) -> list:
    return dask_worker.plugins["nnpart-gc-watch"].counts


def test_a_probe_stream_starts_with_its_workers_garbage_collected(tmp_path):
    """A full collection (46-60 ms of a worker's CPU at load 7-13) falls due at the earliest at the eleventh
    collection of generation 1, about once a run of the CPU fit's test on each worker; inside a probe stream of 30
    requests it adds 1.5-2 ms to each (8-10% of that test's 20 ms). A worker left with 9 collections of generation 1
    pending (a full one held off) starts each probe stream's tasks with none pending: a full collection came first."""
    from devices.placed import probe_device
    from solver.deploy.placed import placed_workers

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"devices": [{"name": "a"}], "default_link": {"bandwidth": 1e8}}))
    with placed_workers("local", ["a"], read_platform(path)) as workers:
        client, a = workers.client, workers.address["a"]
        client.register_plugin(_gc_watch())
        assert client.run(_gc_pending, 9, workers=[a])[a][2] >= 9
        requests, window, warmup = 4, 2, 1
        probe_device(client, a, (1 << 10, 1 << 12), requests=requests, chains=(1,), repeats=1, window=window,
                     warmup=warmup)  # fmt: skip
        counts = client.run(_gc_counts, workers=[a])[a]
    firsts = [counts[0], counts[warmup + requests + window]]  # each stream's first task (a stream runs that many)
    assert [pending for _, _, pending in firsts] == [0, 0]


def test_the_cpu_fit_is_exact_on_its_own_model_and_refuses_too_little():
    from devices.placed import CpuSample, HostSample

    truth = CoreCost(900.0, 300.0, 400.0, 2000.0, 700.0, 2500.0)
    idle = 0.02  # s/s
    rng = np.random.default_rng(0)
    samples = []
    for tasks, pipe, sends, sent, receives, received in [(1, 2e3, 0, 0, 0, 0), (1, 2e6, 0, 0, 0, 0), (1, 8e6, 0, 0, 0, 0),
                                                         (1, 2e3, 1, 1e3, 0, 0), (1, 2e6, 1, 1e6, 0, 0),
                                                         (1, 4e6, 1, 2e6, 0, 0), (1, 2e3, 0, 0, 1, 1e3),
                                                         (1, 2e6, 0, 0, 1, 1e6), (1, 4e6, 0, 0, 1, 2e6)]:  # fmt: skip
        period = rng.uniform(0.01, 0.05)
        engine = truth.busy_us(tasks, pipe, sends, sent, receives, received) * 1e-6 + idle * period
        samples.append(CpuSample(tasks, int(pipe), sends, int(sent), receives, int(received), engine + 0.02, 0.02, period))
    fit = fit_core("a", samples, idle)
    for key in ("task_us", "pipe_us_per_mb", "send_us", "send_us_per_mb", "receive_us", "receive_us_per_mb"):
        assert getattr(fit, key) == pytest.approx(getattr(truth, key), rel=1e-6, abs=1e-6)
    assert fit.idle_us_per_s == pytest.approx(idle * 1e6) and fit.rms_us < 1e-6
    # A device that only ever ran local tasks has nothing to send or receive: those costs are 0, not made up.
    only_local = fit_core("a", samples[:3], idle)
    assert only_local.send_us == only_local.receive_us_per_mb == 0.0
    with pytest.raises(CheckError, match="two probe streams"):
        fit_core("a", samples[:1])
    host = fit_host([HostSample(1, 0.004 + 0.013 * 0.03, 0.03), HostSample(2, 0.007 + 0.013 * 0.05, 0.05)], 0.013)
    assert host.request_us == pytest.approx(1000.0) and host.task_us == pytest.approx(3000.0)
    with pytest.raises(CheckError, match="no probe stream"):
        fit_host([])


def test_the_cpu_probes_need_dasks_tick_count_and_say_so():
    from types import SimpleNamespace

    from devices.placed import PlacedError, _loop_s

    assert _loop_s(SimpleNamespace(_tick_counter=50, _tick_interval=0.02)) == pytest.approx(1.0)
    with pytest.raises(PlacedError, match=r"distributed \S+ has no _tick_counter on its Server"):
        _loop_s(SimpleNamespace(_tick_interval=0.02))


def test_the_cpu_fit_tells_receiving_per_second_on_the_link_from_receiving_per_byte_over_two_rates():
    # Receiving over a 1 Gbit/s and a 6.5 Mbit/s link (0.8 MB/s): 0.7 ms per MB and 30 ms per second on the link,
    # as on the lab's slow link (34-54 ms per MB there, last session). One rate alone leaves the per-MB slope all of it.
    from devices.placed import CpuSample

    truth = CoreCost(900.0, 300.0, 0.0, 0.0, 700.0, 700.0, receive_us_per_s=30_000.0)
    samples, seconds = [], []
    # (bytes through the session, bytes received, the link's bandwidth): local tasks first, as a device probe's.
    for pipe, received, bandwidth in [(2e3, 0, 1), (2e6, 0, 1), (2e3, 1e3, 1.25e8), (1e6, 5e5, 1.25e8),
                                      (2e6, 1e6, 1.25e8), (2e3, 1e3, 8.125e5), (1e5, 5e4, 8.125e5),
                                      (2e5, 1e5, 8.125e5)]:  # fmt: skip
        on_link = received / bandwidth
        cpu = truth.busy_us(1, pipe, 0, 0, int(received > 0), received, on_link) * 1e-6
        samples.append(CpuSample(1, int(pipe), 0, 0, int(received > 0), int(received), cpu, 0.0, 0.05))
        seconds.append(on_link)
    fit = fit_core("b", samples, 0.0, seconds)
    for key in ("task_us", "pipe_us_per_mb", "receive_us", "receive_us_per_mb", "receive_us_per_s"):
        assert getattr(fit, key) == pytest.approx(getattr(truth, key), rel=1e-6, abs=1e-6)
    fast = [0, 1, 2, 3, 4]
    one_rate = fit_core("b", [samples[i] for i in fast], 0.0, [seconds[i] for i in fast])
    assert one_rate.receive_us_per_s == 0.0 and one_rate.receive_us_per_mb > truth.receive_us_per_mb
    # The slow link on its own: 30 ms per second is 36.9 ms per MB there, which the per-MB slope then carries.
    slow = [0, 1, 5, 6, 7]
    alone = fit_core("b", [samples[i] for i in slow], 0.0, [seconds[i] for i in slow])
    assert alone.receive_us_per_s == 0.0
    assert alone.receive_us_per_mb == pytest.approx(700.0 + 30_000.0 / 0.8125, rel=1e-6)


def test_a_calibration_probes_a_devices_far_slower_link_in_besides_its_fastest():
    from solver.deploy.placed import probe_links
    from solver.io.platform import DeviceSpec, Link, Platform

    # Every device sends and receives over a fast link; c also hears b over 6.5 Mbit/s, 154 times slower.
    links = {("a", "b"): Link(1.25e8, 0), ("a", "c"): Link(1.25e8, 0), ("b", "a"): Link(1.25e8, 0),
             ("b", "c"): Link(8.125e5, 0), ("c", "a"): Link(6e7, 0)}  # fmt: skip
    platform = Platform(Path("p.json"), tuple(DeviceSpec(n) for n in "abc"), links, None)
    cover = [("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")]
    assert probe_links(platform, ["a", "b", "c"]) == [*cover, ("b", "c")]
    links["b", "c"] = Link(6e7, 0)  # only twice as slow: nothing new to tell
    assert probe_links(platform, ["a", "b", "c"]) == cover


def test_the_prediction_charges_each_devices_core_what_it_runs_sends_and_receives(three_devices):
    """skip_chain in three parts on a, b, c: each device's overhead is its tasks and session bytes, plus the
    messages and bytes it sends (a: to b and to c) and receives (c: from a and from b), at its own costs, whole
    microseconds per task and message and each tensor's rounded up (the placement's formula); the scheduler's and
    client's CPU goes to the machine's cores, with every worker's background."""
    model, path, split, problem = three_devices.model, three_devices.platform, three_devices.split, three_devices.problem
    parts = [(p.device, p.ops) for p in split.parts]
    costs = {"a": CoreCost(100.0, 1000.0, 10.0, 2000.0, 20.0, 3000.0, idle_us_per_s=10_000.0),
             "b": CoreCost(200.0, 1000.0, 30.0, 4000.0, 40.0, 5000.0, idle_us_per_s=20_000.0),
             "c": CoreCost(300.0, 1000.0, 50.0, 6000.0, 60.0, 7000.0, idle_us_per_s=30_000.0)}  # fmt: skip
    engine = {d: DeviceFit(d, 1e6, 1e9, 0.0, 0.0, 1, 0.0, cost) for d, cost in costs.items()}
    host = HostFit(500.0, 250.0, idle_us_per_s=40_000.0)
    plain = predict_parts(problem, read_platform(path), parts, "platform", {}, 2)
    timed = predict_parts(problem, read_platform(path), parts, "calibrated", {"a": 0, "b": 1, "c": 0}, 2, engine, host)
    ios = stage_io(problem, [ops for _, ops in parts])
    model_file = read_model(model)
    size = {t.name: t.nbytes for t in model_file.tensors}
    sent = {(j, k): [size[t] for t in sorted(set(split.parts[j].outputs) & set(split.parts[k].inputs))]
            for j, k in ((0, 1), (0, 2), (1, 2))}  # fmt: skip
    bandwidth = {pair: read_platform(path).link(*pair).bandwidth for pair in (("a", "b"), ("a", "c"), ("b", "c"))}
    sends = {"a": [(0, 1), (0, 2)], "b": [(1, 2)], "c": []}
    receives = {"a": [], "b": [(0, 1)], "c": [(0, 2), (1, 2)]}
    for io, (d, _) in zip(ios, parts):
        cost = costs[d]

        def rounded(nbytes, per_mb):  # whole microseconds per tensor, rounded up
            return math.ceil(nbytes * 1e-6 * per_mb)

        expected = (io.tasks * cost.task_us + sum(rounded(b, cost.pipe_us_per_mb) for b in io.sizes)
                    + sum(cost.send_us + sum(rounded(b, cost.send_us_per_mb) for b in sent[pair]) for pair in sends[d])
                    + sum(cost.receive_us + sum(rounded(b, cost.receive_us_per_mb) for b in sent[pair])
                          for pair in receives[d]))  # fmt: skip
        assert timed.overhead_us[d] == expected
        names = "abc"
        messages = [[Message(tuple(sent[j, k]), bandwidth[names[j], names[k]]) for j, k in pairs]
                    for pairs in (sends[d], receives[d])]  # fmt: skip
        assert engine_overhead(io, engine[d], *messages) == expected
        assert timed.device_us[d] == pytest.approx(plain.device_us[d] + expected)
    assert timed.host_us == pytest.approx(500.0 + 250.0 * sum(io.tasks for io in ios))
    assert timed.idle == {"a": 0.01, "b": 0.02, "c": 0.03, "": 0.04}
    core0 = (timed.device_us["a"] + timed.device_us["c"]) / (1 - 0.04)
    machine = (sum(timed.device_us.values()) + timed.host_us) / (2 - 0.10)
    assert timed.period_us == pytest.approx(max(core0, machine, timed.device_us["b"] / 0.98))
    # On machines of their own (a farm reached over TCP) the scheduler and client take nothing from the devices.
    remote = predict_parts(problem, read_platform(path), parts, "calibrated", {}, 2, engine, host)
    assert remote.period_us == pytest.approx(max(us / (1 - costs[d].idle_us_per_s * 1e-6)
                                                 for d, us in remote.device_us.items()))  # fmt: skip


def test_shared_period_puts_the_scheduler_and_client_on_any_core_and_backgrounds_on_their_own():
    compute = {"a": 300.0, "b": 500.0}
    assert shared_period(compute, {}, {"a": 0, "b": 1}, 2, host_us=400.0) == (600.0, "2 core(s) (a, b, scheduler and client)")
    assert shared_period(compute, {}, {"a": 0, "b": 1}, 2, host_us=100.0) == (500.0, "device b")
    assert shared_period(compute, {}, {"a": 0, "b": 1}, 2, 0.0, {"b": 0.5}) == (1000.0, "device b")
    assert shared_period(compute, {}, {"a": 0, "b": 0}, 2, 0.0, {"a": 0.2, "b": 0.3}) == (1600.0, "core 0 (a, b)")
    assert shared_period(compute, {}, {"a": 0, "b": 1}, 2, 200.0, {"": 1.5}) == (2000.0, "2 core(s) (a, b, scheduler and client)")
    assert shared_period(compute, {}, {}, 2, host_us=1e6) == (500.0, "device b")  # the devices are machines of their own


def test_a_links_file_keeps_the_cpu_fits_and_older_schemas_are_read(tmp_path):
    platform_path = tmp_path / "p.json"
    platform_path.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}], "default_link": {"bandwidth": 1e8}}))
    platform = read_platform(platform_path)
    cost = CoreCost(900.0, 300.0, 400.0, 2000.0, 700.0, 2500.0, 17000.0, 10, 50.0)
    devices = [DeviceFit("a", 1100.0, 9e8, 2300.0, 1500.0, 80, 60.0, cost), DeviceFit("b", 1000.0, 9e8, 2000.0, 1400.0, 80, 50.0)]
    host = HostFit(1000.0, 2500.0, 13000.0, 12, 300.0)
    path = write_links(tmp_path / "p.links.json", platform, [LinkFit("a", "b", 850.0, 8.1e5, 15, 40.0)], devices, host)
    document = json.loads(path.read_text())
    assert document["schema"] == "nnpart.links/3" and "cpu" not in document["devices"][1]
    calibration = read_calibration(path)
    assert calibration.devices == devices and calibration.host == host
    slow = DeviceFit("b", 1000.0, 9e8, 2000.0, 1400.0, 80, 50.0, CoreCost(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, receive_us_per_s=7.0))
    written = json.loads(write_links(tmp_path / "q.links.json", platform, [], [slow]).read_text())
    assert written["devices"][0]["cpu"]["receive_us_per_s"] == 7.0
    assert read_calibration(tmp_path / "q.links.json").devices == [slow]
    # A file of this schema written before the per-second term reads as 0 per second.
    assert "receive_us_per_s" in document["devices"][0]["cpu"]
    del document["devices"][0]["cpu"]["receive_us_per_s"]
    path.write_text(json.dumps(document))
    assert read_calibration(path).devices == devices
    document["schema"] = "nnpart.links/2"
    del document["host"], document["devices"][0]["cpu"]
    path.write_text(json.dumps(document))
    old = read_calibration(path)
    assert old.host is None and old.devices[0].cpu is None and old.devices[0].task_us == 1100.0
    for where, change in (("devices[0]: cpu: 'send_us'", lambda d: d["devices"][0].update(cpu={**cost.to_json(), "send_us": -1})),
                          ("host: 'task_us'", lambda d: d.update(host={**host.to_json(), "task_us": "x"})),
                          ("host: expected an object", lambda d: d.update(host=[1]))):  # fmt: skip
        bad = json.loads(json.dumps(document))
        change(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(PlatformError, match=where.replace("[", r"\[").replace("]", r"\]")):
            read_calibration(path)
