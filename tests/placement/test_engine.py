"""The engine's measured cost per request in the placement: the exact model against brute force, the checker
against the run's prediction, and the latency as Dask runs the parts."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.errors import CheckError, PlatformError
from solver.io.linkfile import CoreCost, DeviceFit
from solver.io.platform import DeviceSpec, Link, Platform
from solver.placement.engine import CLIENT, CoreRates, DeviceEngine, Flow, Message, StageIO, busy_us, stage_io
from solver.placement.exact import solve_placement
from solver.placement.greedy import greedy_placement
from solver.placement.metrics import evaluate
from solver.placement.place import PlaceSettings, place
from solver.placement.predicted import predict_parts
from solver.placement.problem import placement_problem
from solver.problem import PartitionProblem
from solver.solving.outcome import OPTIMAL
from tests.placement.test_placement import assert_solved_to, brute_force, instances, placeable


# A core's CPU per request: whole us per task and message, us per MB (tensors of up to 4 kB: up to 80 us each) and
# per second on the link (up to 4 ms a tensor on a 1 MB/s link).
RATES = st.sampled_from([0.0, 1e3, 2e4])
CORES = st.builds(CoreRates, st.integers(0, 30), RATES, st.integers(0, 30), RATES, st.integers(0, 30), RATES,
                  st.sampled_from([0.0, 1e4, 1e6]))  # fmt: skip


@st.composite
def measured(draw, ops=(2, 5), devices=(2, 3)):
    """A drawn instance with some devices measured (some of them with their core's CPU, which counts messages),
    and model inputs and outputs among its tensors."""
    built = None
    while built is None:
        built = placeable(draw(instances(ops, devices)))
    engine = st.builds(DeviceEngine, st.integers(0, 30), st.integers(0, 30), st.integers(0, 30),
                       st.sampled_from([1e6, 1e7, 1e8]), st.one_of(st.none(), CORES))  # fmt: skip
    engines = tuple(draw(st.one_of(st.none(), engine)) for _ in built.devices)
    n = built.num_ops
    flows = [Flow(t.nbytes, t.producer, t.consumers, draw(st.booleans())) for t in built.tensors]
    # Model inputs read by some ops, and outputs no op reads.
    flows += [Flow(draw(st.integers(0, 4000)), None, tuple(sorted(draw(st.sets(st.integers(0, n - 1), min_size=1)))))
              for _ in range(draw(st.integers(0, 2)))]  # fmt: skip
    flows += [Flow(draw(st.integers(0, 4000)), draw(st.integers(0, n - 1)), (), True)
              for _ in range(draw(st.integers(0, 2)))]  # fmt: skip
    return dataclasses.replace(built, engine=engines, flows=flows)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(measured(), st.sampled_from(["throughput", "latency"]), st.booleans())
def test_with_the_engines_cost_the_exact_placement_equals_brute_force(built, objective, search_prefixes):
    # With the prefix search, the throughput's proof may come from the blind optimum costing no more with the engine.
    expected = brute_force(built, objective)
    hint = greedy_placement(built, objective)
    if expected is None:
        return
    assert_solved_to(expected, built, objective, hint=hint, search_prefixes=search_prefixes)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(measured())
def test_the_optimum_blind_to_the_engine_never_passes_the_optimum_with_it(built):
    """The prefix search's bound (solver.placement.exact): the same placements cost at least as much with the
    engine, messages included, so the blind optimum is a lower bound; and each placement's load grows by exactly
    its engine overhead."""
    blind = dataclasses.replace(built, engine=None, flows=None)
    seen, unseen = brute_force(built, "throughput"), brute_force(blind, "throughput")
    assert (seen is None) == (unseen is None)
    if seen is not None:
        assert unseen <= seen


def test_a_message_costs_each_end_its_cores_cpu_per_message_per_tensor_and_per_second_on_the_link():
    # Two ops of 10 us on a and b, one 2000-byte tensor a -> b over 10 MB/s (200 us on the link): a sends one message,
    # b receives it, each at its own rates.
    graph = nx.DiGraph(name="pair")
    for v in range(2):
        graph.add_node(v, weight=10, type="ADD", constants={})
    graph.add_edge(0, 1, tensors={"t0": 2000}, bytes=2000)
    platform = Platform(Path("p.json"), (DeviceSpec("a"), DeviceSpec("b")),
                        {("a", "b"): Link(1e7, 0), ("b", "a"): Link(1e7, 0)}, None)  # fmt: skip
    problem = PartitionProblem(graph=graph, name="pair", source=Path("pair.json"))
    core = CoreCost(100.0, 0.0, 300.0, 1000.0, 500.0, 3000.0, receive_us_per_s=200_000.0)
    fits = {d: DeviceFit(d, 7.0, 1e15, 0.0, 0.0, 1, 0.0, core) for d in "ab"}
    built = placement_problem(problem, platform, engine=fits)
    split = evaluate(built, [0, 1])
    # a: a task, the message (300) and its tensor (2 us); b: a task, the message (500), the tensor's 6 us per byte
    # count and 40 us for its 200 us on the link.
    assert split.overhead == [100 + 300 + 2, 100 + 500 + 6 + 40]
    assert busy_us(StageIO((), frozenset()), DeviceEngine.of(fits["b"]), (), [Message((2000,), 1e7)]) == 100 + 546
    assert split.throughput == 10 + 646 and evaluate(built, [0, 0]).throughput == 20 + 100
    solved = solve_placement(built, "throughput", time_limit=20, workers=2)
    assert solved.value == 120 and solved.assign == [0, 0]


def _tasks_by_hand(flows: list[Flow], stages: list[list[int]]) -> list[tuple[int, int]]:
    """Per stage, its tensors' bytes through its session and its tasks, counted tensor by tensor and reader by
    reader (the oracle of stage_io)."""
    stage_of = {v: k for k, ops in enumerate(stages) for v in ops}
    out = []
    for k in range(len(stages)):
        nbytes = 0
        mine = [t for t, f in enumerate(flows) if f.producer is not None and stage_of[f.producer] == k]
        sent = [t for t in mine if any(stage_of[c] != k for c in flows[t].readers) or flows[t].output]
        for f in flows:
            reads_it = any(stage_of[c] == k for c in f.readers)
            if reads_it and (f.producer is None or stage_of[f.producer] != k):
                nbytes += f.nbytes
        nbytes += sum(flows[t].nbytes for t in sent)
        tasks = 1
        for reader in [*range(len(stages)), CLIENT]:
            if reader == k:
                continue
            taken = {t for t in sent if (reader == CLIENT and flows[t].output)
                     or any(stage_of[c] == reader for c in flows[t].readers)}  # fmt: skip
            tasks += bool(taken) and taken != set(sent)
        out.append((nbytes, tasks))
    return out


@settings(max_examples=200, deadline=None)
@given(measured(), st.data())
def test_stage_io_counts_each_stages_session_bytes_and_picking_tasks(built, data):
    stages = [[] for _ in range(data.draw(st.integers(1, 3)))]
    for v in built.dag.order:  # any chain of ideals: each op in its predecessors' latest stage or later
        first = max((k for k, ops in enumerate(stages) for u in built.dag.preds[v] if u in ops), default=0)
        stages[data.draw(st.integers(first, len(stages) - 1))].append(v)
    stages = [ops for ops in stages if ops]
    ios = stage_io(built.flows, stages)
    assert [(io.nbytes, io.tasks) for io in ios] == _tasks_by_hand(built.flows, stages)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(ops=(2, 6), devices=(2, 3)), st.data())
def test_the_checker_and_the_runs_prediction_agree_with_the_engines_cost(instance, data):
    # One formula: per device its compute and overhead, and the latency, as solve pipeline predicts the same map.
    problem, platform = instance
    # Links of latency 0: a message costs what its tensors cost one by one (whole microseconds); of two speeds, for
    # the CPU a core spends receiving per second on the link.
    links = {pair: Link(data.draw(st.sampled_from([1e5, 1e6])), 0) for pair in platform.links}
    platform = dataclasses.replace(platform, links=links)
    rate = st.floats(0, 5e4)
    cores = st.builds(CoreCost, st.floats(0, 50), rate, st.floats(0, 50), rate, st.floats(0, 50), rate,
                      receive_us_per_s=st.floats(0, 1e5))  # fmt: skip
    fits = {d.name: DeviceFit(d.name, data.draw(st.floats(0, 50)), data.draw(st.sampled_from([1e6, 1e8])),
                              data.draw(st.floats(0, 50)), data.draw(st.floats(0, 50)), 1, 0.0,
                              data.draw(st.one_of(st.none(), cores)))
            for d in platform.devices if data.draw(st.booleans())}  # fmt: skip
    try:
        built = placement_problem(problem, platform, engine=fits)
    except PlatformError:  # an op no device runs: a test of its own
        return
    assign = data.draw(st.lists(st.integers(0, len(platform.devices) - 1), min_size=built.num_ops,
                                max_size=built.num_ops))  # fmt: skip
    try:
        metrics = evaluate(built, assign, memory=False)
    except CheckError:  # not a placement (the checker's own tests)
        return
    names = platform.names
    parts = [(names[d], [v for v, a in enumerate(assign) if a == d]) for d in metrics.order]
    predicted = predict_parts(problem, platform, parts, "calibrated", {}, 1, fits)
    assert predicted.device_us == {names[d]: float(metrics.busy(d)) for d in metrics.order}
    assert predicted.latency_us == metrics.latency
    assert predicted.period_us == metrics.throughput


def _fork_join() -> tuple[PartitionProblem, Platform]:
    """Ops 0 and 1 feed op 2; op 0 is quick with a dear output, op 1 slow with a cheap one."""
    graph = nx.DiGraph(name="fork")
    for v, w in enumerate((10, 100, 1)):
        graph.add_node(v, weight=w, type="ADD", constants={})
    graph.add_edge(0, 2, tensors={"t0": 100}, bytes=100)
    graph.add_edge(1, 2, tensors={"t1": 5}, bytes=5)
    devices = tuple(DeviceSpec(name, supports=frozenset({"ADD"}) if name != "c" else None) for name in "abc")
    links = {(a, b): Link(1e6, 0) for a, b in itertools.permutations("abc", 2)}
    return PartitionProblem(graph=graph, name="fork", source=Path("fork.json")), Platform(Path("p.json"), devices,
                                                                                          links, None)  # fmt: skip


def test_a_part_starts_when_every_part_it_reads_has_finished():
    # Ops 0, 1, 2 on a, b, c: c starts at 100 (b finished), then both tensors travel together (100 us, the
    # dearest), then it computes 1 us: 201, not max(10 + 100, 100 + 5) + 1 = 111 (a tensor leaving before the
    # other producer finished).
    problem, platform = _fork_join()
    built = placement_problem(problem, platform)
    assert evaluate(built, [0, 1, 2]).latency == 201
    expected = brute_force(built, "latency")
    solved = solve_placement(built, "latency", time_limit=20, workers=2)
    assert solved.value == expected == evaluate(built, solved.assign).latency


def test_a_device_that_costs_more_per_request_is_left_out_of_the_optimum():
    # Three ops of 10 us in a chain on two equal devices; b is measured with 1000 us per task: the optimum without
    # the engine splits the chain (bottleneck 20), with it runs all on a (30) and tells b's cost.
    graph = nx.DiGraph(name="chain")
    for v in range(3):
        graph.add_node(v, weight=10, type="ADD", constants={})
    graph.add_edge(0, 1, tensors={"t0": 1}, bytes=1)
    graph.add_edge(1, 2, tensors={"t1": 1}, bytes=1)
    platform = Platform(Path("p.json"), (DeviceSpec("a"), DeviceSpec("b")),
                        {("a", "b"): Link(1e9, 0), ("b", "a"): Link(1e9, 0)}, None)  # fmt: skip
    problem = PartitionProblem(graph=graph, name="chain", source=Path("chain.json"))
    settings = PlaceSettings(exact=True, time_limit=20)
    blind = place(problem, platform, settings)
    assert blind.value == 20
    fits = {"b": DeviceFit("b", 1000.0, 1e9, 0.0, 0.0, 1, 0.0)}
    seen = place(problem, platform, settings, engine=fits)
    assert seen.status == OPTIMAL and seen.value == 30 and set(seen.assign) == {0}
    assert evaluate(seen.problem, blind.assign).throughput == 1000 + 1 + 10 * sum(d == 1 for d in blind.assign)


def test_a_reader_taking_only_some_outputs_costs_a_picking_task():
    flows = [Flow(10, 0, (1,)), Flow(20, 0, (2,)), Flow(30, 1, (2,), True)]
    ios = stage_io(flows, [[0], [1], [2]])
    assert ios == [StageIO((10, 20), frozenset({1, 2})), StageIO((10, 30), frozenset()),
                   StageIO((20, 30), frozenset())]  # fmt: skip
    engine = DeviceEngine(task_us=7, hop_us=0, request_us=0, pipe_bandwidth=1e6)
    assert busy_us(ios[0], engine) == 3 * 7 + 10 + 20


def test_solve_place_chooses_with_the_measured_engine_and_its_value_is_the_runs_prediction(tflite_model, tmp_path,
                                                                                           capsys):  # fmt: skip
    import json

    from solver.cli import main
    from solver.io.linkfile import LinkFit, write_links
    from solver.io.platform import read_platform
    from solver.io.tflite import read_model
    from tests.traces import write_chrome_trace

    model = tflite_model("skip_chain")
    trace = write_chrome_trace(tmp_path / "trace.json", read_model(model), [[100.0] * 8] * 2)
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "a"}, {"name": "b"}], "default_link": {"bandwidth": 1e8}}))
    links = tmp_path / "p.links.json"
    # b pays 5 ms a task: the blind optimum splits the model over a and b, the one with the engine keeps it on a.
    write_links(links, read_platform(platform), [LinkFit("a", "b", 50.0, 1e8, 5, 0.0), LinkFit("b", "a", 50.0, 1e8, 5, 0.0)],
                [DeviceFit("a", 300.0, 1e8, 900.0, 400.0, 9, 0.0), DeviceFit("b", 5000.0, 1e8, 900.0, 400.0, 9, 0.0)])
    argv = ["place", str(model), str(trace), "--platform", str(platform), "--exact", "--json", "--out",
            str(tmp_path / "m.json")]  # fmt: skip
    assert main(argv) == 0
    blind = json.loads(capsys.readouterr().out)
    assert main([*argv, "--calibrated-links", str(links)]) == 0
    seen = json.loads(capsys.readouterr().out)
    assert len(blind["placement"]) == 2 and list(seen["placement"].values()) == ["a"]
    assert seen["status"] == "OPTIMAL" and seen["value"] == seen["engine"]["period_us"] == seen["bottleneck"]
    overhead = {d["name"]: d["overhead_us"] for d in seen["devices"]}
    assert overhead["b"] == 0 and overhead["a"] == seen["engine"]["overhead_us"]["a"] > 300
    # With each core's CPU measured, the same occupancy on both, but b's receiving dear (5 ms a message): the value
    # is still the prediction, messages counted, and b runs the first part, sending and never receiving.
    cores = {d: CoreCost(300.0, 100.0, 200.0, 100.0, 5000.0 if d == "b" else 200.0, 100.0,
                         receive_us_per_s=50_000.0) for d in "ab"}  # fmt: skip
    write_links(links, read_platform(platform), [LinkFit("a", "b", 50.0, 1e8, 5, 0.0), LinkFit("b", "a", 50.0, 1e8, 5, 0.0)],
                [DeviceFit(d, 300.0, 1e8, 900.0, 400.0, 9, 0.0, cores[d]) for d in "ab"])  # fmt: skip
    assert main([*argv, "--calibrated-links", str(links)]) == 0
    cpu = json.loads(capsys.readouterr().out)
    assert cpu["status"] == "OPTIMAL" and cpu["value"] == cpu["engine"]["period_us"] == cpu["bottleneck"]
    assert list(cpu["placement"].values()) == ["b", "a"]
    write_links(links, read_platform(platform), [LinkFit("a", "b", 50.0, 1e8, 5, 0.0), LinkFit("b", "a", 50.0, 1e8, 5, 0.0)],
                [DeviceFit(d, 300.0, 1e8, 900.0, 400.0, 9, 0.0, CoreCost(300.0, 100.0, 200.0, 100.0, 200.0, 100.0))
                 for d in "ab"])  # fmt: skip
    assert main([*argv, "--calibrated-links", str(links)]) == 0
    cheap = json.loads(capsys.readouterr().out)  # receiving as cheap on b as on a: split again
    assert cheap["value"] == cheap["engine"]["period_us"] and len(cheap["placement"]) == 2
