"""The Pareto search: exact fronts on complete dumps, invalid points, the evaluation cache, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from devices.lookup import LookupDevice
from solver.assignment.run import ParetoSettings, dump_space, run_pareto
import solver.cli
from solver.errors import DumpError, UsageError
from solver.io.files import write_json
from solver.assignment.front import non_dominated
from solver.assignment.search import ALGORITHMS, Evaluator, SearchSettings, search
from solver.assignment.synthetic import synthetic_dump


@pytest.fixture
def dump6(tmp_path):
    """A complete synthetic dump of 2**6 points where some points are invalid."""
    dump = synthetic_dump(6, seed=3)
    for entry in dump["solutions"]:
        if entry["id"] % 7 == 3:  # invalid points, some of them the fastest of all
            entry.update(time=0.001 if entry["id"] % 2 else None, memory=1, valid=False, reason="mismatch")
    path = tmp_path / "dump6.json"
    write_json(path, dump)
    return path


@pytest.fixture
def solve():
    """The ``solve`` entry point."""
    return solver.cli.main


def _true_front_ids(path) -> set[int]:
    solutions = [s for s in json.loads(path.read_text())["solutions"] if s.get("valid", True)]
    objectives = np.array([(s["time"], s["memory"]) for s in solutions])
    return {solutions[i]["id"] for i in non_dominated(objectives)}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_budget_equal_to_the_space_finds_the_exact_front(dump6, algorithm):
    outcome = run_pareto(ParetoSettings(offline=dump6, search=SearchSettings(algorithm, 64, None, 1)))
    assert {e.point_id for e in outcome.result.front} == _true_front_ids(dump6)
    assert outcome.quality.ratio == pytest.approx(1.0)
    assert outcome.quality.igd_plus == pytest.approx(0.0)
    assert len(outcome.result.evaluations) == 64


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_invalid_points_never_on_the_front(dump6, algorithm):
    outcome = run_pareto(ParetoSettings(offline=dump6, search=SearchSettings(algorithm, 30, None, 2)))
    assert all(e.valid for e in outcome.result.front)
    assert outcome.result.front and any(not e.valid for e in outcome.result.evaluations)
    dumped = outcome.to_json()
    assert all(s["id"] % 7 != 3 for s in dumped["solutions"])


class CountingLookup(LookupDevice):
    """The real lookup device, counting how often it is asked."""

    calls = 0

    def measure(self, model, config, settings):
        self.calls += 1
        return super().measure(model, config, settings)


@pytest.mark.parametrize("algorithm", ["nsga2", "hlps", "random"])
def test_the_cache_prevents_repeated_measurements(dump6, algorithm):
    device = CountingLookup(dump6)
    space = dump_space(device, ParetoSettings(offline=dump6))
    evaluator = Evaluator(space, device, None)
    result = search(space, evaluator, SearchSettings(algorithm, 40, 8, 0))
    assert device.calls == len(result.evaluations) == 40
    assert len({e.genes for e in result.evaluations}) == 40
    evaluator.budget = 40
    for e in result.evaluations:
        assert evaluator.evaluate(e.genes) is e
    assert device.calls == 40


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_seeded_search_repeats(dump6, algorithm):
    runs = [run_pareto(ParetoSettings(offline=dump6, search=SearchSettings(algorithm, 20, None, 5))) for _ in range(2)]
    assert [e.point_id for e in runs[0].result.evaluations] == [e.point_id for e in runs[1].result.evaluations]


def test_nsga2_beats_random_on_a_larger_dump(tmp_path):
    path = tmp_path / "dump12.json"
    write_json(path, synthetic_dump(12, seed=12))
    medians = {}
    for algorithm in ("nsga2", "random"):
        ratios = [run_pareto(ParetoSettings(offline=path, search=SearchSettings(algorithm, 400, None, s))).quality.ratio
                  for s in range(3)]  # fmt: skip
        medians[algorithm] = float(np.median(ratios))
    assert medians["nsga2"] > medians["random"]
    assert medians["nsga2"] >= 0.98


def test_command_offline_writes_ones_estimator_dump_and_plot(solve, dump6, tmp_path, capsys):
    out, plot = tmp_path / "result.json", tmp_path / "front.png"
    assert solve(["pareto", "--offline", str(dump6), "--budget", "64", "--out", str(out), "--plot", str(plot)]) == 0
    dumped = json.loads(out.read_text())
    assert dumped["mode"] == "name" and dumped["oplist"] == [f"Op{k:02d}" for k in range(6)]
    assert {s["id"] for s in dumped["solutions"]} == _true_front_ids(dump6)
    assert set(dumped["configs"]) == {str(s["id"]) for s in dumped["solutions"]}
    assert dumped["configs"]["0"].startswith('BACKENDS="cpu;acl_cl" OP_BACKEND_Op00=cpu')
    assert dumped["summary"]["unique_evaluations"] == 64 and dumped["summary"]["hypervolume_ratio"] == 1.0
    assert "profiling time" in dumped
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert "hypervolume ratio 1.0000" in capsys.readouterr().out


def test_command_pick_prints_environment_lines(solve, dump6, capsys):
    assert solve(["pareto", "--offline", str(dump6), "--budget", "64", "--pick", "smallest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# id 0:")
    assert lines[1:] == ['BACKENDS="cpu;acl_cl"'] + [f"OP_BACKEND_Op{k:02d}=cpu" for k in range(6)]
    assert solve(["pareto", "--offline", str(dump6), "--pick", "memory<=1KB"]) == 3
    assert "InfeasibleError: no point of the front has memory <= 1 KB" in capsys.readouterr().err


def test_command_refuses_bad_combinations(solve, dump6, capsys):
    assert solve(["pareto", "--offline", str(dump6), "--device", "local"]) == 2
    assert "UsageError: give either --offline DUMP or --device SPEC, not both" in capsys.readouterr().err
    assert solve(["pareto", "--offline", str(dump6), "--settings", "EXECUTOR"]) == 2
    assert "a dump holds no onert settings" in capsys.readouterr().err
    assert solve(["pareto", "--offline", str(dump6), "--pick", "cheapest"]) == 2


def test_offline_dump_of_another_model_is_refused_with_the_difference(dump6, branchy_cnn):
    with pytest.raises(DumpError, match=r"only in the dump \['Op00'.*only in the model \['Conv2D'"):
        run_pareto(ParetoSettings(model=branchy_cnn, offline=dump6))


def test_unknown_algorithm_is_refused(dump6):
    with pytest.raises(UsageError, match="unknown algorithm 'sa'"):
        run_pareto(ParetoSettings(offline=dump6, search=SearchSettings("sa")))
