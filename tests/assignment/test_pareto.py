"""The Pareto search: exact fronts on complete dumps, invalid points, the evaluation cache, the command."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from devices.base import MeasureSettings

from devices.lookup import LookupDevice
import solver.cli
from solver.assignment.front import non_dominated
from solver.assignment.offline import open_dump
from solver.assignment.run import run_pareto
from solver.assignment.evaluator import Evaluator
from solver.assignment.search import search
from solver.assignment.settings import ALGORITHMS, BruteForceSettings, ParetoSettings, SearchSettings
from solver.assignment.synthetic import synthetic_dump
from solver.errors import DumpError, UsageError
from solver.io.files import write_json


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
    assert all(s["id"] % 7 != 3 for s in outcome.estimator_dump()["solutions"])
    assert all(p["id"] % 7 != 3 for p in outcome.to_json()["front"])


class CountingLookup(LookupDevice):
    """The real lookup device, counting how often it is asked."""

    calls = 0

    def measure_id(self, solution_id):
        self.calls += 1
        return super().measure_id(solution_id)


@pytest.mark.parametrize("algorithm", ["nsga2", "hlps", "random"])
def test_the_cache_prevents_repeated_measurements(dump6, algorithm):
    source = open_dump(dump6)
    real = source.device
    device = CountingLookup(real.name, real.backend_names, real.measurements, source.space.id_of_config)
    space = source.space
    evaluator = Evaluator(space, device, None, measure_id=device.measure_id)
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


def test_a_dump_named_as_the_device_is_searched_offline(solve, dump6, capsys):
    runs = [run_pareto(ParetoSettings(**{key: value}, search=SearchSettings("nsga2", 20, None, 4)))
            for key, value in (("offline", dump6), ("device", str(dump6)))]  # fmt: skip
    assert [e.point_id for e in runs[0].result.evaluations] == [e.point_id for e in runs[1].result.evaluations]
    assert runs[0].quality == runs[1].quality
    printed = []
    for option in ("--offline", "--device"):
        assert solve(["pareto", option, str(dump6), "--budget", "20", "--seed", "4", "--json"]) == 0
        printed.append(json.loads(capsys.readouterr().out))
    for document in printed:
        del document["summary"]["wall_s"]
    assert printed[0] == printed[1]
    assert list(printed[0])[0] == "schema" and printed[0]["schema"] == "nnpart.pareto/1"
    assert printed[0]["summary"]["unique_evaluations"] == 20


def test_command_pick_as_json(solve, dump6, capsys):
    assert solve(["pareto", "--offline", str(dump6), "--budget", "64", "--pick", "smallest", "--json"]) == 0
    picked = json.loads(capsys.readouterr().out)
    assert picked["schema"] == "nnpart.pareto_pick/1" and picked["id"] == 0
    assert picked["environment"] == {f"OP_BACKEND_Op{k:02d}": "cpu" for k in range(6)}


SETTINGS_REFUSED = [
    (lambda: SearchSettings(budget=0), ["--budget", "0"], "--budget must be at least 1, not 0"),
    (lambda: SearchSettings(population=1), ["--population", "1"], "--population must be at least 2, not 1"),
    (lambda: SearchSettings(seed=-1), ["--seed", "-1"], "--seed must be at least 0, not -1"),
    (lambda: ParetoSettings(device="local", measure=MeasureSettings(repeats=0)), ["--repeats", "0"],
     "--repeats must be at least 1, not 0"),  # fmt: skip
    (lambda: ParetoSettings(device="local", measure=MeasureSettings(warmup=-1)), ["--warmup", "-1"],
     "--warmup must be at least 0, not -1"),  # fmt: skip
    (lambda: ParetoSettings(device="local", settings=("THREADS",)), ["--settings", "THREADS"],
     "unknown onert setting 'THREADS'; choose from EXECUTOR, CPU_MEMORY_PLANNER, NUM_THREADS"),  # fmt: skip
]


@pytest.mark.parametrize("build, options, message", SETTINGS_REFUSED)
def test_settings_refuse_the_same_through_api_and_command(solve, dump6, capsys, build, options, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        build()
    assert solve(["pareto", "--offline", str(dump6), *options]) == 2
    assert capsys.readouterr().err == f"UsageError: {message}\n"


@pytest.mark.parametrize(
    "kwargs, message",
    [({"backends": ()}, "--backends needs distinct backend names"), ({"mode": "size"}, "unknown --mode 'size'"),
     ({"repeats": 0}, "--repeats must be at least 1"), ({"warmup": -1}, "--warmup must be at least 0"),
     ({"max_points": 0}, "--max-points must be at least 1")],
)  # fmt: skip
def test_brute_force_settings_refuse_bad_values(kwargs, message):
    with pytest.raises(UsageError, match=message):
        BruteForceSettings(**kwargs)

def test_assignment_commands_load_no_heavy_library_until_they_run():
    code = (
        "import sys\n"
        "import solver.commands.pareto, solver.commands.brute_force, solver.commands.oplist, solver.commands.profile\n"
        "heavy = ('pymoo', 'scipy', 'numpy', 'onert', 'matplotlib', 'ortools', 'networkx')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_estimator_dumps_name_their_backends_from_their_configs(tmp_path):
    """ONE's estimator dump: BACKENDS lists acl_cl first, but the ids' digits number cpu 0 and acl_cl 1; the
    configs say so. Without configs or a list the names are ONE's numbering, and the notes say guessed."""
    from solver.assignment.run import run_pareto
    from solver.assignment.settings import ParetoSettings

    env = 'BACKENDS="acl_cl;cpu" OP_BACKEND_Conv2D={} OP_BACKEND_Pool2D={}'
    document = {
        "mode": "name", "oplist": ["Conv2D", "Pool2D"],
        "solutions": [{"id": i, "exec_time": 10.0 - i, "max_rss": 100 + 10 * i} for i in range(4)],
        "configs": {str(i): env.format(("cpu", "acl_cl")[i % 2], ("cpu", "acl_cl")[i // 2]) for i in range(4)},
        "profiling time": 1.0,
    }  # fmt: skip
    path = tmp_path / "estimator.json"
    path.write_text(json.dumps(document))
    outcome = run_pareto(ParetoSettings(offline=path))
    assert outcome.result.space.backends == ("cpu", "acl_cl")
    assert any("backend names read from its configs: cpu, acl_cl" in n for n in outcome.notes)
    del document["configs"]
    path.write_text(json.dumps(document))
    outcome = run_pareto(ParetoSettings(offline=path))
    assert outcome.result.space.backends == ("cpu", "acl_cl") and any("GUESSED" in n for n in outcome.notes)
    named = run_pareto(ParetoSettings(offline=path, backends=("cpu", "npu")))
    assert named.result.space.backends == ("cpu", "npu") and not named.notes


def test_pick_on_a_complete_dump_says_when_a_better_point_exists(tmp_path, capsys):
    from solver import cli
    from solver.assignment.synthetic import synthetic_dump

    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(synthetic_dump(8, 2, seed=3)))
    assert cli.main(["pareto", "--offline", str(dump), "--budget", "3", "--algo", "random", "--pick", "fastest", "--json",
                     "--quiet"]) == 0  # fmt: skip
    few = json.loads(capsys.readouterr().out)
    assert cli.main(["pareto", "--offline", str(dump), "--algo", "brute-force", "--pick", "fastest", "--json", "--quiet"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert every["better_in_dump"] is None and every["decided"]
    assert few["better_in_dump"] == {"id": every["id"], "time_ms": every["time_ms"], "memory_kb": every["memory_kb"]}


def _rounds_dump(tmp_path, memory_rounds: dict[int, list[float]]):
    """A complete name-mode dump of 2 op types over cpu/ruy whose points keep each round's peak memory."""
    solutions = [{"id": i, "time": 10.0 - i, "memory": float(np.median(m)), "runs": [10.0 - i] * 3, "memory_rounds": m}
                 for i, m in memory_rounds.items()]  # fmt: skip
    path = tmp_path / "rounds.json"
    write_json(path, {"mode": "name", "oplist": ["Conv2D", "Add"], "backends": ["cpu", "ruy"], "solutions": solutions})
    return path


def test_pick_smallest_weighs_each_rounds_peak_memory(tmp_path, capsys):
    """--pick smallest names one point only when its rounds' peak memories are told apart from the others'; the
    spread of every round is printed beside the figure, and an offline search carries it from the dump."""
    overlapping = {0: [39000, 39400, 39200], 1: [38900, 39300, 39100], 2: [45000, 45100, 45050], 3: [50000, 50100, 50050]}
    path = _rounds_dump(tmp_path, overlapping)
    outcome = run_pareto(ParetoSettings(offline=path))
    assert {e.point_id: list(e.memories) for e in outcome.result.evaluations} == overlapping
    assert {p["id"]: p["memory_rounds_kb"] for p in outcome.to_json()["front"]} == {1: overlapping[1], 2: overlapping[2],
                                                                                  3: overlapping[3]}  # fmt: skip
    assert solver.cli.main(["pareto", "--offline", str(path), "--pick", "smallest", "--json", "--quiet"]) == 0
    picked = json.loads(capsys.readouterr().out)
    assert picked["id"] == 1 and not picked["decided"] and sorted(c["id"] for c in picked["candidates"]) == [0, 1]
    assert picked["memory_rounds_kb"] == overlapping[1]
    assert solver.cli.main(["pareto", "--offline", str(path), "--pick", "smallest", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "cannot tell ids 1, 0 apart: their rounds' peak memories overlap" in out
    assert "# id 1: 9.000 ms (runs 9.000-9.000, n=3), 38.2 MB (rounds 37.99-38.38, n=3)" in out
    assert solver.cli.main(["pareto", "--offline", str(path), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "memory MB [rounds]" in table and re.search(r"\b1 +9\.000 +38\.2 \[37\.99-38\.38\]", table)
    apart = _rounds_dump(tmp_path, {**overlapping, 0: [41000, 41100, 41200]})
    assert solver.cli.main(["pareto", "--offline", str(apart), "--pick", "smallest", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["decided"]


def test_a_point_whose_lowest_round_would_join_the_front_is_confirmed(tmp_path):
    """The points re-measured to confirm a front include one that its lowest round's peak memory, not its median,
    would put on the front (id i runs in 10 - i ms)."""
    from solver.assignment.search import unclear_candidates

    front = {0: [100, 100, 100], 2: [150, 150, 150], 3: [300, 300, 300]}
    for rounds_of_1, confirmed in (([160, 140, 170], True), ([160, 155, 170], False)):
        path = _rounds_dump(tmp_path, {**front, 1: rounds_of_1})  # id 1 (9 ms, median 160 KB): id 2 dominates it
        evaluations = run_pareto(ParetoSettings(offline=path, search=SearchSettings("brute-force"))).result.evaluations
        assert {e.point_id for e in unclear_candidates(evaluations)} == {0, 2, 3} | ({1} if confirmed else set())


def test_every_algorithm_name_has_its_module_in_the_table():
    from solver.assignment.search import ALGORITHMS as RUNS

    assert set(RUNS) == set(ALGORITHMS) - {"auto"}
