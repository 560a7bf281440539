"""Placements run as placed: parts on their devices' Dask workers, hand-offs over real (shaped) links."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.netlab import LabDevice, LabLink, NetLab, unavailable
from solver.deploy.linkfit import fit_link
from solver.deploy.placed import probe_sizes
from solver.placement.predicted import shared_period
from solver.deploy.split import split_model
from solver.errors import CheckError, PlatformError, UsageError
from solver.io.linkfile import LinkFit, calibrated, default_path, read_links, write_links
from solver.io.platform import read_platform
from solver.io.tflite import read_model
from tests.commands import parse_command
from tests.traces import write_chrome_trace

NO_LAB = unavailable()
needs_lab = pytest.mark.skipif(NO_LAB is not None, reason=f"network lab: {NO_LAB}")


@pytest.fixture
def two_devices(tflite_model, tmp_path):
    """skip_chain split in two parts placed on a and b, a trace of 100 us per op, a platform with a slow link."""
    model = tflite_model("skip_chain")
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), [[100.0] * 8] * 2)
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}],
                                    "links": [{"from": "a", "to": "b", "bandwidth": 2e5},
                                              {"from": "b", "to": "a", "bandwidth": 2e5}]}))  # fmt: skip
    split_model(model, [0, 0, 0, 1, 1, 1, 1, 1], tmp_path / "split", placement={0: "a", 1: "b"})
    return tmp_path / "split", platform, trace


def test_shared_period_counts_devices_on_one_core_and_unpinned_devices_on_all():
    compute = {"a": 300.0, "b": 500.0, "c": 100.0}
    assert shared_period(compute, {("a", "b"): 450.0}, {"a": 0, "b": 1, "c": 2}, 2) == (500.0, "device b")
    assert shared_period(compute, {}, {"a": 0, "b": 1, "c": 0}, 2) == (500.0, "device b")
    assert shared_period(compute, {}, {"a": 0, "b": 0, "c": 1}, 2) == (800.0, "core 0 (a, b)")
    assert shared_period(compute, {("a", "b"): 900.0}, {"a": 0, "b": 0}, 2) == (900.0, "link a -> b")
    assert shared_period(compute, {}, dict.fromkeys(compute), 1) == (900.0, "1 core(s) (a, b, c)")
    assert shared_period(compute, {}, {}, 1) == (500.0, "device b")  # machines of their own


def test_the_link_fit_recovers_overhead_and_bandwidth_and_refuses_what_it_cannot_fit():
    rng = np.random.default_rng(0)
    samples = [(b, 0.002 + b / 8e5 + rng.normal(0, 1e-5)) for b in probe_sizes(8e5) for _ in range(3)]
    fit = fit_link("a", "b", samples + [(probe_sizes(8e5)[-1], 30.0)])  # one transfer slowed by other work
    assert fit.overhead_us == pytest.approx(2000, rel=0.05) and fit.bandwidth == pytest.approx(8e5, rel=0.02)
    with pytest.raises(CheckError, match="two sizes"):
        fit_link("a", "b", [(100, 0.1), (100, 0.2)])
    with pytest.raises(CheckError, match="do not grow"):
        fit_link("a", "b", [(100, 0.2), (1000, 0.1)])


def test_measured_links_replace_the_platforms_and_bad_files_are_refused(two_devices, tmp_path):
    _, platform_path, _ = two_devices
    platform = read_platform(platform_path)
    path = default_path(platform_path)
    assert path.name == "p.links.json" and path.parent == platform_path.parent
    write_links(path, platform, [LinkFit("a", "b", 1500.0, 1e6, 15, 30.0)])
    fits = read_links(path)
    new = calibrated(platform, fits)
    assert new.link("a", "b").bandwidth == 1e6 and new.link("a", "b").latency_us == 1500.0
    assert new.link("b", "a") == platform.link("b", "a")
    with pytest.raises(PlatformError, match="joins devices"):
        calibrated(platform, [LinkFit("a", "z", 0.0, 1e6, 1, 0.0)], path)
    bad = tmp_path / "bad.links.json"
    bad.write_text(json.dumps({"schema": "nnpart.links/1", "links": [{"from": "a", "to": "b", "bandwidth": -1,
                                                                      "overhead_us": 0}]}))  # fmt: skip
    with pytest.raises(PlatformError, match=r"links\[0\]: 'bandwidth'"):
        read_links(bad)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_a_mutated_links_file_is_read_or_refused_naming_the_file(tmp_path, seed):
    from tests.fuzzing import json_text, mutate_json

    good = {"schema": "nnpart.links/1", "platform": "p.json",
            "links": [LinkFit("a", "b", 850.0, 8.1e5, 15, 40.0).to_json(), LinkFit("b", "a", 0.0, 1e6, 15, 2.5).to_json()]}
    doc, _ = mutate_json(good, random.Random(seed))
    path = tmp_path / f"mutated-{seed}.links.json"
    path.write_text(json_text(doc))
    try:
        read_links(path)
    except PlatformError as err:
        assert str(path) in str(err) and "\n" not in str(err)


def test_place_uses_measured_links(two_devices, tmp_path, capsys):
    split, platform, trace = two_devices
    links = tmp_path / "slow.links.json"
    # A link that costs a second per message: the placement keeps every op on one device.
    write_links(links, read_platform(platform), [LinkFit("a", "b", 1e6, 1e9, 5, 0.0), LinkFit("b", "a", 1e6, 1e9, 5, 0.0)])
    args = parse_command(["place", str(split / "skip_chain.tflite"), str(trace), "--platform", str(platform),
                          "--calibrated-links", str(links), "--json", "--out", str(tmp_path / "m.json")])  # fmt: skip
    assert args.run(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(set(document["placement"].values())) == 1


def test_pipeline_on_a_platform_needs_a_trace_and_known_devices(two_devices, tmp_path):
    split, platform, trace = two_devices
    with pytest.raises(UsageError, match="needs --trace"):
        args = parse_command(["pipeline", str(split), "--platform", str(platform)])
        args.run(args)
    with pytest.raises(UsageError, match="--rounds and --threads-per-stage"):
        args = parse_command(["pipeline", str(split), "--platform", str(platform), "--trace", str(trace),
                              "--rounds", "3"])  # fmt: skip
        args.run(args)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"devices": [{"name": "x"}], "links": []}))
    with pytest.raises(UsageError, match="placed on a, b, which"):
        args = parse_command(["pipeline", str(split), "--platform", str(other), "--trace", str(trace)])
        args.run(args)
    with pytest.raises(UsageError, match="--cluster 'nowhere'"):
        args = parse_command(["pipeline", str(split), "--platform", str(platform), "--trace", str(trace),
                              "--cluster", "nowhere"])  # fmt: skip
        args.run(args)


@pytest.mark.parametrize("options", [["--trace", "t.json"], ["--cluster", "local"], ["--calibrate-links"],
                                     ["--calibrated-links", "l.json", "--trace", "t.json"]])  # fmt: skip
def test_placed_run_options_without_a_platform_are_refused_not_ignored(tmp_path, options):
    args = parse_command(["pipeline", str(tmp_path), *options])
    with pytest.raises(UsageError, match=r"^--[a-z-]+(, --[a-z-]+)* needs? --platform P.json: only a placed run reads them$"):
        args.run(args)


def test_three_parts_on_local_workers_hand_off_only_what_each_part_reads(tflite_model, tmp_path, capsys):
    """skip_chain's first output is read again by the last part: part 0 sends b one tensor and c the other; the
    run moves exactly what the model predicts and computes the whole model's outputs."""
    model = tflite_model("skip_chain")
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), [[100.0] * 8] * 2)
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                                    "default_link": {"bandwidth": 1e8}}))  # fmt: skip
    split_model(model, [0, 0, 0, 1, 1, 1, 2, 2], tmp_path / "split", placement={0: "a", 1: "b", 2: "c"})
    args = parse_command(["pipeline", str(tmp_path / "split"), "--platform", str(platform), "--trace",
                          str(trace), "--cluster", "local", "--requests", "4", "--warmup", "1", "--json"])  # fmt: skip
    assert args.run(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "nnpart.placed/1" and document["outputs_ok"] is True
    assert document["measured_throughput"] > 0 and document["measured_latency_us"] > 0
    links = {(l["from"], l["to"]): l for l in document["links"]}
    assert set(links) == {("a", "b"), ("a", "c"), ("b", "c")}
    for link in links.values():  # Dask's pickled dict of the tensors: their bytes and a small header
        assert link["predicted_bytes"] <= link["measured_bytes"] <= link["predicted_bytes"] + 1024
    assert [d["name"] for d in document["devices"]] == ["a", "b", "c"]
    assert [d["predicted_us"] for d in document["devices"]] == [{"platform": 300.0}, {"platform": 300.0},
                                                                {"platform": 200.0}]  # fmt: skip


@needs_lab
def test_two_devices_in_namespaces_over_a_shaped_link(two_devices, capsys):
    split, platform, trace = two_devices
    args = parse_command(["pipeline", str(split), "--platform", str(platform), "--trace", str(trace),
                          "--requests", "4", "--warmup", "1", "--calibrate-links", "--json"])  # fmt: skip
    assert args.run(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["cluster"] == "netlab" and document["outputs_ok"] is True
    assert [d["core"] is not None for d in document["devices"]] == [True, True]
    (link,) = document["links"]
    assert (link["from"], link["to"]) == ("a", "b")
    assert set(link["predicted_us"]) == {"platform", "calibrated"}
    # What crossed took at least its bytes over the shaped rate (2e5 B/s), less tbf's 4 ms burst.
    assert link["measured_us"] >= link["measured_bytes"] / 2e5 * 1e6 - 4000
    fits = {(f.source, f.target): f for f in read_links(default_path(platform))}
    assert set(fits) == {("a", "b"), ("b", "a")}


@needs_lab
def test_the_link_fit_recovers_the_tbf_rate_within_ten_percent():
    from devices.placed import pingpong

    distributed = pytest.importorskip("distributed")
    rate = 1e6  # bytes/s, 8 Mbit/s
    with NetLab([LabDevice("a", 0), LabDevice("b", 0)], [LabLink("a", "b", rate)]) as lab, \
            distributed.Client(lab.address) as client:  # fmt: skip
        samples = pingpong(client, lab.workers["a"], lab.workers["b"], probe_sizes(rate), repeats=3)
    assert len(samples) == 15
    fit = fit_link("a", "b", samples)
    assert fit.bandwidth == pytest.approx(rate, rel=0.10)


@needs_lab
def test_an_interrupted_placed_run_leaves_nothing(two_devices):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from devices.netlab import lab_namespaces
    from tests.devices.test_netlab import leftovers

    split, platform, trace = two_devices
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "solver", "pipeline", str(split), "--platform", str(platform),
                             "--trace", str(trace), "--requests", "100000"], env=dict(os.environ, PYTHONPATH=str(root)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    tag = f"nnp{proc.pid}"
    try:
        deadline = time.monotonic() + 60
        while len([ns for ns in lab_namespaces() if ns.startswith(f"{tag}-")]) < 2 and proc.poll() is None:
            assert time.monotonic() < deadline, "the lab did not come up"
            time.sleep(0.2)
        time.sleep(3)  # workers up, requests running
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert leftovers(tag) == []


def test_a_replicated_part_runs_round_robin_on_its_devices(tflite_model, tmp_path):
    """skip_chain's second part on two devices: each runs half the requests, the outputs stay the whole model's,
    and the prediction of the replicated model halves that part's load."""
    from devices.placed import PlacedSettings
    from solver.placement.predicted import predict_replicated
    from solver.deploy.placed import compare_placed, placed_workers
    from solver.problem import load_problem
    from solver.placement.problem import placement_problem
    from solver.placement.replicas import evaluate_replicated

    model = tflite_model("skip_chain")
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), [[100.0] * 8] * 2)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"devices": [{"name": n} for n in "abc"], "default_link": {"bandwidth": 1e8}}))
    platform = read_platform(path)
    stage = [0, 0, 0, 1, 1, 1, 1, 1]
    answer = evaluate_replicated(placement_problem(load_problem(model, trace), platform), stage, [0, 1, 1])
    assert answer.device_us == {"a": 300.0, "b": 250.0, "c": 250.0}
    split = split_model(model, stage, tmp_path / "split", placement={0: "a", 1: "b"})
    with placed_workers("local", ["a", "b", "c"], platform) as workers:
        prediction = predict_replicated(answer, "replicated", workers.core_of, 2)
        comparison = compare_placed(split, workers, [prediction], PlacedSettings(requests=6, warmup=2),
                                    replicas={1: ("b", "c")})  # fmt: skip
    assert comparison.ok and comparison.run.devices == [("a",), ("b", "c")]
    assert {d: len(ts) for d, ts in comparison.run.compute_ms.items()} == {"a": 6, "b": 3, "c": 3}
    assert set(comparison.measured_links()) == {("a", "b"), ("a", "c")}
