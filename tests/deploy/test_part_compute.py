"""Each part's compute timed where a placed run computes it, and the calibrated prediction that uses it."""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.netlab import unavailable
from devices.placed import PlacedSettings, PlacedRun, _link_times, time_parts
from solver.deploy.partcompute import (DRIFT_TOLERANCE, RETIME, LatencyCheck, digest, measure_parts, measured_problem,
                                       part_sources)  # fmt: skip
from solver.deploy.placed import compare_placed, placed_stages, placed_workers
from solver.deploy.report import placed_text
from solver.deploy.split import split_model
from solver.errors import PlatformError, UsageError
from solver.io.linkfile import LinkFit, read_calibration, write_links
from solver.io.platform import read_platform
from solver.io.tflite import read_model
from solver.placement.predicted import predict_split
from solver.problem import load_problem
from tests.traces import write_chrome_trace

pytest.importorskip("distributed")

NO_LAB = unavailable()
TRACE_US = 100.0  # per op: far below what wide_activations' 2 MB convolutions take, so the trace is visibly wrong


def _direct_cpu_ms(step, path: str, runs: int) -> float:
    """The median CPU time (ms) of ``runs`` inferences of ``path`` in this process, pinned to one core, after a
    warm-up."""
    import os
    import time

    from devices.chain import ModelRunner
    from devices.inputs import seeded_inputs
    from devices.placed import steady_heap

    # One core: unpinned, onert's Eigen pool threads wait for each other across cores, and when another process
    # holds a core that waiting burns CPU: the same part read 2.2 or 4.5-4.8 ms from one process to the next
    # (CI's failure), while a fixed Python and numpy workload in the same process stayed within 5%. Pinned, the
    # part read 2.3-2.7 ms with or without a busy loop beside it: the reference the band needs.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    steady_heap()  # as the session process: no page faults of freed buffers in the inference's CPU
    runner = ModelRunner(path, env={"NUM_THREADS": "1"})
    inputs = seeded_inputs(runner.input_specs(), 0)
    runner.run(inputs)
    times = []
    for _ in range(runs):
        start = time.process_time()
        runner.run(inputs)
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


@pytest.fixture
def wide_split(tflite_model, tmp_path):
    """wide_activations (1x1 convolutions on 2 MB activations, milliseconds a part) in two parts on a and b, a
    trace of 100 us per op, a platform of two devices joined by fast links."""
    model = tflite_model("wide_activations")
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), [[TRACE_US] * 8] * 2)
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}], "default_link": {"bandwidth": 1e9}}))
    split = split_model(model, [0, 0, 0, 0, 1, 1, 1, 1], tmp_path / "split", placement={0: "a", 1: "b"})
    return split, read_platform(platform), load_problem(model, trace)


def test_the_calibration_times_each_part_in_the_runs_session_and_the_prediction_uses_it(wide_split, tmp_path):
    """The calibration's CPU per inference of each part is within a sane band of the same part timed directly
    (onert alone in a process of its own); the calibrated prediction's compute per device is that measurement,
    not the trace's op sum, and a part without a measurement falls back to the trace, saying why; the run
    re-times the parts after its timed requests (the drift) and starts timing once its window is full."""
    from devices.isolated import run_isolated

    split, platform, problem = wide_split
    with placed_workers("local", ["a", "b"], platform) as workers:
        records = measure_parts(workers.client, placed_stages(split, workers), "Linear", counts=(2, 8, 5))
        sources = part_sources(split, platform, records, problem)
        busy, alone = measured_problem(problem, split, sources, "busy"), measured_problem(problem, split, sources, "alone")
        calibrated = predict_split(busy, platform, split, "calibrated", workers.core_of, 2)
        comparison = compare_placed(split, workers, [calibrated], PlacedSettings(requests=6, warmup=1), compute=sources)
    assert [(r.part, r.device, r.busy.runs, r.alone.runs) for r in records] == [
        (split.parts[0].file, "a", 8, 5), (split.parts[1].file, "b", 8, 5)]  # fmt: skip
    for record, part in zip(records, split.parts):
        direct = run_isolated(_direct_cpu_ms, str(split.out_dir / part.file), 8)
        # Both on this busy 2-core machine: a sane band, not a tolerance; the trace's 0.4 ms is far outside it.
        assert 0.5 * direct <= record.busy.cpu_us / 1000 <= 2.0 * direct
        assert 0.5 * direct <= record.alone.cpu_us / 1000 <= 2.0 * direct
        assert record.busy.cpu_us > 4 * 4 * TRACE_US and record.busy.cpu_iqr_us >= 0
        # Unpinned local workers: onert's float convolutions run on Eigen's pool (a thread per core) beside the
        # inference's thread, so the session's CPU (every thread) can exceed its wall time here; only a device
        # pinned to one core bounds CPU by wall.
        assert record.busy.wall_us > 0 and record.alone.wall_us > 0
    assert [(s.used_us, s.trace_us, s.reason) for s in sources] == [(r.busy.cpu_us, 4 * TRACE_US, "") for r in records]
    # The prediction's compute per device is the measured CPU (rounded to whole us per op, the sum rounded once).
    for device, record in zip("ab", records):
        assert calibrated.device_us[device] == pytest.approx(record.busy.cpu_us, abs=1)
    lone = predict_split(alone, platform, split, "alone", workers.core_of, 2)
    trace = predict_split(problem, platform, split, "trace", workers.core_of, 2)
    walls = sum(r.alone.wall_us for r in records)  # the latency's figure: what a one-in-flight run waits for
    assert lone.latency_us - trace.latency_us == pytest.approx(walls - 8 * TRACE_US, abs=2)
    # Part 1 not measured: the trace's op sum stays, and the source says so.
    partial = part_sources(split, platform, records[:1], problem)
    assert [s.measured is None for s in partial] == [False, True] and "not measured" in partial[1].reason
    mixed = predict_split(measured_problem(problem, split, partial), platform, split, "mixed", {}, 2)
    assert mixed.device_us == {"a": pytest.approx(records[0].busy.cpu_us, abs=1), "b": 4 * TRACE_US}
    # Drift: both parts timed again after the timed run, four inferences each, against the calibration's figure.
    assert [(d.part_id, d.device, d.before, d.after.runs) for d in comparison.drifts] == [
        (0, "a", records[0].busy, 4), (1, "b", records[1].busy, 4)]  # fmt: skip
    scale = max(r.busy.cpu_us for r in records)
    assert comparison.drifted == any(abs(d.after.cpu_us - d.before.cpu_us) > DRIFT_TOLERANCE * scale
                                     for d in comparison.drifts)  # fmt: skip
    document = comparison.to_json()
    assert [c["used"] for c in document["compute"]] == ["session", "session"] and len(document["drift"]) == 2
    moved = max(comparison.drifts, key=lambda d: abs(d.after.cpu_us - d.before.cpu_us))
    assert document["max_drift"] == moved.after.cpu_us / moved.before.cpu_us - 1
    # Steady state: a window of 3 (two stages + 1), so 3 requests before the timed 6 and 2 after them.
    run = comparison.run
    assert (run.warmup, run.window, len(run.finished_s), len(run.latencies_ms)) == (3, 3, 6, 6)
    assert document["links"][0]["bytes_ratio"] == pytest.approx(1.0, abs=0.01)


def _inference_faults(step, path: str, steady: bool, runs: int) -> int:
    """The page faults of ``runs`` inferences of ``path`` (outputs copied, as a session does), after two warm-up
    ones, in this fresh process, with or without a steady heap."""
    import resource

    from devices.chain import ModelRunner
    from devices.inputs import seeded_inputs
    from devices.placed import steady_heap

    if steady:
        assert steady_heap()
    runner = ModelRunner(path, env={"NUM_THREADS": "1"})
    inputs = seeded_inputs(runner.input_specs(), 0)
    for _ in range(2):
        runner.run(inputs)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(runs):
        runner.run(inputs)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_steady_heap_serves_freed_tensor_buffers_again_without_faulting_them_in(wide_split):
    """By default glibc hands a freed buffer of a few MB back to the kernel, and a later inference faults it in
    again page by page (a part of 2 MB activations: 1000-3000 faults, 2-4 ms of system time, in some inferences
    and not others): the system time that made a part's CPU read 2x from one process to the next. With the
    session process's steady heap the same inferences (almost) never fault."""
    from devices.isolated import run_isolated

    split, _, _ = wide_split
    path, runs = str(split.out_dir / split.parts[0].file), 10
    page = (2 << 20) // 4096  # the pages of one 2 MB activation
    plain = run_isolated(_inference_faults, path, False, runs)
    steady = run_isolated(_inference_faults, path, True, runs)
    assert plain >= runs * page  # an activation's worth of faults per inference, on average
    assert steady <= page  # less than one activation's over all of them


def test_a_measurement_applies_only_to_its_own_part_file(wide_split, tmp_path):
    """A record of another file of the same name (another split) is not used: the trace stays, and says why."""
    from solver.io.linkfile import ComputeTiming, PartCompute

    split, platform, problem = wide_split
    timing = ComputeTiming(5000.0, 50.0, 5100.0, 60.0, 10)
    records = [PartCompute(split.parts[0].file, "0" * 64, "a", timing),  # another content
               PartCompute(split.parts[1].file, digest(split.out_dir / split.parts[1].file), "a", timing)]  # another device
    sources = part_sources(split, platform, records, problem)
    assert [s.measured for s in sources] == [None, None]
    assert "sha256 differs" in sources[0].reason and "not measured" in sources[1].reason
    assert measured_problem(problem, split, sources).graph.nodes(data="weight") == problem.graph.nodes(data="weight")
    with pytest.raises(UsageError, match="unknown compute figure 'alone_cpu'"):
        measured_problem(problem, split, sources, "alone_cpu")  # a typo is not the busy figure in disguise


def test_a_device_with_a_core_of_its_own_predicts_its_parts_busy_wall_and_a_shared_core_its_cpu(wide_split):
    """On a core no other device of the map is pinned to, a part's busy wall is what that core spends on it (with
    the time the VM takes beyond the CPU); on a shared core the wall also holds the other device's turns, which
    the prediction's core bound adds itself, so the CPU; unpinned, the CPU. The latency takes the alone wall on
    every core (one request in flight: no device shares its core with another's turn), ``alone-cpu`` the CPU."""
    from solver.deploy.partcompute import own_cores
    from solver.io.linkfile import ComputeTiming, PartCompute

    split, platform, problem = wide_split
    records = [PartCompute(p.file, digest(split.out_dir / p.file), d, ComputeTiming(cpu, 10.0, wall, 20.0, 8),
                           ComputeTiming(cpu - 100, 10.0, wall + 500, 20.0, 5))
               for p, d, cpu, wall in zip(split.parts, "ab", (5000.0, 3000.0), (6500.0, 3300.0))]  # fmt: skip
    cases = (({"a": 0, "b": 1}, [True, True]), ({"a": 0, "b": 0}, [False, False]), ({"a": None, "b": 1}, [False, True]),
             (None, [False, False]))  # fmt: skip
    for core_of, walls in cases:
        sources = part_sources(split, platform, records, problem, core_of=core_of)
        assert [s.wall for s in sources] == walls
        assert [s.used_us for s in sources] == [r.busy.wall_us if w else r.busy.cpu_us for r, w in zip(records, walls)]
        busy = predict_split(measured_problem(problem, split, sources, "busy"), platform, split, "cal", core_of or {}, 2)
        assert busy.device_us == {d: pytest.approx(s.used_us, abs=1) for d, s in zip("ab", sources)}
        lone = predict_split(measured_problem(problem, split, sources, "alone"), platform, split, "cal", {}, 2)
        assert lone.device_us == {d: pytest.approx(r.alone.wall_us, abs=1) for d, r in zip("ab", records)}
        former = predict_split(measured_problem(problem, split, sources, "alone-cpu"), platform, split, "cal", {}, 2)
        assert former.device_us == {d: pytest.approx(r.alone.cpu_us, abs=1) for d, r in zip("ab", records)}
    assert own_cores(["a", "b", "c"], {"a": 0, "b": 1, "c": 0}) == {"b"}
    assert own_cores(["a", "b"], {"a": 0, "b": 1, "c": 0}) == {"a", "b"}  # a device off the map shares nothing


@pytest.mark.skipif(NO_LAB is not None, reason=f"network lab: {NO_LAB}")
def test_the_latency_is_predicted_from_each_parts_wall_timed_alone_right_before_the_latency_run(wide_split):
    """A busy loop shares device a's core (its lab worker is pinned there) throughout: a's part spends its CPU on
    that core but waits about as long again for the loop's turns, alone and in the latency run alike. The latency
    run pays the wall, so the parts are timed alone again right before it and the calibrated latency is predicted
    from their wall (the trace's op sums replaced by it, nothing else changed); the calibration's CPU alone (the
    former figure) falls far short of a's onert time in the latency run, the wall alone does not."""
    split, platform, problem = wide_split
    with placed_workers("netlab", ["a", "b"], platform) as workers:
        loop = subprocess.Popen(["taskset", "-c", str(workers.core_of["a"]), sys.executable, "-c", "while True: pass"])
        try:
            records = measure_parts(workers.client, placed_stages(split, workers), "Linear", counts=(2, 8, 5))
            sources = part_sources(split, platform, records, problem, core_of=workers.core_of)

            def predict(parts, mode: str):
                return predict_split(measured_problem(problem, split, parts, mode), platform, split, "calibrated",
                                     workers.core_of, 2)  # fmt: skip

            calibrated = dataclasses.replace(predict(sources, "busy"), latency_us=predict(sources, "alone").latency_us)
            check = LatencyCheck(calibrated, lambda parts, links: predict(parts, "alone").latency_us)
            comparison = compare_placed(split, workers, [calibrated], PlacedSettings(requests=6, warmup=1),
                                        compute=sources, latency=check)  # fmt: skip
        finally:
            loop.kill()
            loop.wait()
        trace = predict_split(problem, platform, split, "trace", workers.core_of, 2)
    retimed = comparison.alone
    assert [(s.part_id, s.device, s.measured.busy, s.measured.alone.runs) for s in retimed] == [
        (0, "a", records[0].busy, RETIME), (1, "b", records[1].busy, RETIME)]  # fmt: skip
    assert comparison.calibration_latency_us == calibrated.latency_us
    (predicted,) = comparison.predictions
    assert predicted.period_us == calibrated.period_us
    wall = sum(s.measured.alone.wall_us for s in retimed)
    assert predicted.latency_us - trace.latency_us == pytest.approx(wall - 8 * TRACE_US, abs=2)
    # The cause on the loop's core: the wall alone well above the CPU, and the latency run's onert time on a is
    # the wall's (a generous band: both on this shared machine), the calibration's CPU far below it.
    alone, run_us = retimed[0].measured.alone, statistics.median(comparison.single.compute_ms["a"]) * 1000
    assert alone.wall_us > 1.4 * alone.cpu_us
    assert 0.6 < run_us / alone.wall_us < 1.6
    assert records[0].alone.cpu_us < 0.75 * run_us
    # Every timing holds the machine probe on the part's core (after each inference): the calibration's, the
    # re-timing's after the run (so each drift has its probe's move) and the alone one's before the latency run.
    assert all(r.busy.machine_ms > 0 and r.alone.machine_ms > 0 for r in records)
    assert [(d.part_id, d.after.machine_ms > 0, d.machine_change is not None) for d in comparison.drifts] == [
        (0, True, True), (1, True, True)]  # fmt: skip
    assert all(s.measured.alone.machine_ms > 0 for s in retimed)
    assert len(re.findall(r"machine probe \d+\.\d\d / \d+\.\d\d ms", placed_text(comparison))) == 2  # a drift each


def test_parts_timed_alone_can_be_spaced_as_a_latency_run_spaces_them(wide_split):
    """With ``every_s`` the alone inferences start that far apart (the session idles between, as a device of a
    latency run does), with no busy phase when it has no inferences; without it they run back to back."""
    import time

    split, platform, _ = wide_split
    with placed_workers("local", ["a", "b"], platform) as workers:
        stages = placed_stages(split, workers)
        start = time.perf_counter()
        spaced = time_parts(workers.client, stages, 0, 0, 4, "Linear", every_s=0.5)
        took = time.perf_counter() - start
    assert spaced.busy == [{}, {}]
    assert [[len(t) for t in stage.values()] for stage in spaced.alone] == [[4], [4]]
    assert took >= 2 * 4 * 0.5  # each part's four inferences, half a second apart after its warm-up


@pytest.mark.skipif(NO_LAB is not None, reason=f"network lab: {NO_LAB}")
def test_the_after_run_prediction_takes_its_latency_from_the_parts_timed_again_and_the_links_fitted_again(wide_split,
                                                                                                         tmp_path):
    """The calibration's parts are said to take 1 ms alone (they take several): the parts timed alone again right
    before the latency run replace that in the calibrated latency and in the after-run prediction's, which is made
    with the links fitted again after the run (a 16 MB/s link a -> b: 2 MB a request), not the calibration's."""
    from solver.deploy.linkdrift import AFTER_RUN, LinkCheck, replaced
    from solver.deploy.placed import calibrate_links
    from solver.io.linkfile import ComputeTiming, PartCompute, calibrated

    split, _, problem = wide_split
    path = tmp_path / "slow.json"
    path.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}],
                                "links": [{"from": "a", "to": "b", "bandwidth": 1.6e7}]}))  # fmt: skip
    platform = read_platform(path)
    told = ComputeTiming(1000.0, 10.0, 1000.0, 10.0, 5)
    records = [PartCompute(p.file, digest(split.out_dir / p.file), d, told, told) for p, d in zip(split.parts, "ab")]
    sources = part_sources(split, platform, records, problem)

    def predict(parts, links, mode: str, label: str = "calibrated"):
        return predict_split(measured_problem(problem, split, parts, mode), calibrated(platform, links), split, label,
                             {}, 2)  # fmt: skip

    with placed_workers("netlab", ["a", "b"], platform) as workers:
        fits = calibrate_links(workers, platform, ["a", "b"])
        alone = predict(sources, fits, "alone").latency_us
        before = dataclasses.replace(predict(sources, fits, "busy"), latency_us=alone)
        links = LinkCheck(platform, fits, before, lambda new: dataclasses.replace(
            predict(sources, new, "busy", AFTER_RUN), latency_us=predict(sources, new, "alone").latency_us))
        latency = LatencyCheck(before, lambda parts, new: predict(parts, new or fits, "alone").latency_us)
        comparison = compare_placed(split, workers, [before], PlacedSettings(requests=4, warmup=1), compute=sources,
                                    links=links, latency=latency)  # fmt: skip
    retimed, after = comparison.alone, comparison.relinked
    refitted = replaced(fits, [d.after for d in comparison.link_drifts])
    assert after is not None and [d.before for d in comparison.link_drifts] == fits
    walls = [s.measured.alone.wall_us for s in retimed]
    assert min(walls) > 1500  # the parts' real compute, well above the 1 ms the calibration was told
    assert comparison.predictions[0].latency_us == pytest.approx(predict(retimed, fits, "alone").latency_us)
    assert after.latency_us == pytest.approx(predict(retimed, refitted, "alone").latency_us)
    assert after.latency_us - predict(sources, refitted, "alone").latency_us == pytest.approx(sum(walls) - 2000, abs=2)


def test_part_compute_is_kept_in_the_links_file_and_older_files_still_read(wide_split, tmp_path):
    from solver.io.linkfile import ComputeTiming, PartCompute

    split, platform, _ = wide_split
    parts = (PartCompute("part_0_a.tflite", "ab" * 32, "a", ComputeTiming(5000.0, 50.0, 5100.0, 60.0, 10, 1.25),
                         ComputeTiming(4800.0, 40.0, 4850.0, 45.0, 8)),
             PartCompute("part_1_b.tflite", "cd" * 32, "b", ComputeTiming(6000.0, 70.0, 6100.0, 80.0, 10)))  # fmt: skip
    path = tmp_path / "p.links.json"
    write_links(path, platform, [LinkFit("a", "b", 1500.0, 1e6, 15, 30.0)], parts=parts)
    assert read_calibration(path).parts == parts
    document = json.loads(path.read_text())
    del document["parts"]  # a links file of the last stop: no parts
    path.write_text(json.dumps(document))
    assert read_calibration(path).parts == ()
    document["parts"] = [{"part": "x.tflite", "sha256": "00", "device": "a", "busy": {"cpu_us": -1, "cpu_iqr_us": 0,
                                                                                       "wall_us": 1, "wall_iqr_us": 0,
                                                                                       "runs": 3}}]  # fmt: skip
    path.write_text(json.dumps(document))
    with pytest.raises(PlatformError, match=r"parts\[0\]: busy: 'cpu_us'"):
        read_calibration(path)
    document["parts"] = [{"part": "x.tflite", "sha256": "00", "device": "a"}]
    path.write_text(json.dumps(document))
    with pytest.raises(PlatformError, match=r"parts\[0\]: expected its 'busy' timing"):
        read_calibration(path)


def test_a_transfer_of_several_requests_is_counted_per_request_and_steadiness_compares_the_halves():
    """Dask may fetch two requests' tensors in one transfer: each key's bytes go to its own request (the first
    key's request took them all before, and a link looked to carry twice its bytes)."""
    device_of = {"wa": "a", "wb": "b"}
    reports = {"wb": {"times": {}, "transfers": [
        ("wa", {"run-stage-0-3": 1000}, 0.5, 10.0, 10.5),  # a warm-up request: not counted
        ("wa", {"run-stage-0-4": 1000, "run-stage-0-5": 1000}, 1.0, 11.0, 12.0),  # two timed requests at once
        ("wa", {"run-stage-0-6": 1000}, 0.5, 12.0, 12.5)]}}  # fmt: skip
    links, batched = _link_times(reports, device_of, range(4, 7))
    assert batched == 1
    assert links["a", "b"].nbytes == [1000, 1000, 1000] and links["a", "b"].seconds == [0.5, 0.5, 0.5]
    assert links["a", "b"].busy_s == pytest.approx(1.5)
    even = PlacedRun([("a",)], 8, 7.0, [], {}, {}, finished_s=[float(t) for t in range(8)])
    assert even.steadiness() == pytest.approx(0.0)
    slowing = PlacedRun([("a",)], 8, 7.0, [], {}, {}, finished_s=[0, 1, 2, 3, 4, 6, 8, 10])
    assert slowing.steadiness() == pytest.approx(-0.5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30), st.floats(0.01, 100.0))
def test_scaling_a_parts_ops_rounds_its_sum_once_and_each_op_within_one(weights, factor):
    """A part's scaled op weights sum to its target rounded once (not a rounding per op), each within 1 us of its
    exact share."""
    import networkx as nx

    from solver.deploy.partcompute import _scale

    graph = nx.DiGraph()
    graph.add_nodes_from((v, {"weight": w}) for v, w in enumerate(weights))
    _scale(graph, range(len(weights)), factor)
    scaled = [graph.nodes[v]["weight"] for v in range(len(weights))]
    assert sum(scaled) == round(sum(weights) * factor)
    assert all(abs(s - w * factor) <= 1 for s, w in zip(scaled, weights))
