"""The model-based search against brute force on small complete dumps; auto; invalid points; telling apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from devices import open_device
from devices.base import BackendConfig, MeasureSettings
from solver.assignment.front import told_apart
from solver.assignment.run import run_pareto
from solver.assignment.settings import ParetoSettings, SearchSettings
from solver.assignment.algorithms.surrogate import Features, all_points, features, fit, hypervolume_gain, ordinals
from solver.assignment.synthetic import synthetic_dump
from solver.io.files import write_json


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("dumps")
    out = {}
    for name, ops, backends, per_type in (("b2", 8, 2, 3), ("b3", 5, 3, 3)):
        document = synthetic_dump(ops, backends, seed=ops, ops_per_type=per_type)
        if name == "b3":  # a few configurations fail: they must never reach a front
            for entry in document["solutions"][7::29]:
                entry.update(valid=False, reason="wrong outputs", time=None, memory=None)
        write_json(root / f"{name}.json", document)
        out[name] = root / f"{name}.json"
    return out


def _search(dump, algorithm, budget, seed=0):
    return run_pareto(ParetoSettings(offline=dump, search=SearchSettings(algorithm, budget, None, seed)))


@pytest.mark.parametrize("name", ["b2", "b3"])
def test_finds_the_brute_force_front_with_a_fifth_of_the_space(dumps, name):
    size = _search(dumps[name], "brute-force", None).result.space.size
    for seed in range(3):
        outcome = _search(dumps[name], "surrogate", size // 5, seed)
        assert len(outcome.result.evaluations) == size // 5
        assert outcome.quality.ratio >= 0.99
        invalid = {s["id"] for s in json.loads(dumps[name].read_text())["solutions"] if s.get("valid") is False}
        assert not invalid & {e.point_id for e in outcome.result.front}


def test_auto_is_the_surrogate_below_the_space_and_brute_force_at_it(dumps):
    size = _search(dumps["b2"], "brute-force", None).result.space.size
    assert _search(dumps["b2"], "auto", 20).result.algorithm == "surrogate"
    whole = _search(dumps["b2"], "auto", size)
    assert whole.result.algorithm == "brute-force" and whole.quality.ratio == 1.0


def test_features_express_switch_costs_and_loaded_backends(dumps):
    """Additive + pairwise + loaded-backend features fit a synthetic dump's memory exactly and its time to
    its noise, on every point."""
    from solver.assignment.offline import open_dump

    source = open_dump(dumps["b2"])
    space = source.space
    genes = all_points(space)
    assert list(ordinals(genes, space.cardinalities)) == list(range(space.size))
    featurize: Features = features(space)
    ms = [source.device.measure_id(space.point_id(g)) for g in genes]
    y = np.array([(m.time_ms, m.peak_rss_kb) for m in ms])
    phi = featurize(genes)
    for column, tolerance in ((0, 0.05), (1, 1e-3)):
        model = fit(phi, y[:, column], featurize.penalties)
        error = np.abs(model.mean(phi) - y[:, column]) / y[:, column]
        assert np.median(error) < tolerance / 2 and error.max() < 3 * tolerance


def test_explained_share_is_what_the_fit_predicts_of_new_points():
    """The fit's leave-one-out R^2 matches the R^2 of its predictions on points it never saw: near 1 on an
    additive objective, near 0 on one that no decision explains (noise alone)."""
    rng = np.random.default_rng(0)
    genes = rng.integers(0, 2, size=(400, 8))
    featurize = Features((2,) * 8, tuple((k, 1) for k in range(8)), (), ())
    phi = featurize(genes)
    additive = genes @ rng.uniform(1, 5, 8) + rng.normal(0, 0.3, len(genes))
    for y in (additive, rng.normal(0, 1, len(genes))):
        model = fit(phi[:200], y[:200], featurize.penalties)
        held_out = 1 - np.mean((model.mean(phi[200:]) - y[200:]) ** 2) / np.var(y[200:])
        assert abs(model.explained - held_out) < 0.1
    assert fit(phi[:200], additive[:200], featurize.penalties).explained > 0.95


def test_a_poorly_explained_objective_is_said_and_handed_to_nsga2(dumps, tmp_path, capsys):
    """A dump whose memory no decision explains: the search says its model misses memory, in the text output's
    notes (stderr) and in --json's summary, and once its proposals stop improving the front NSGA-II spends the
    rest of the budget (all of it, each point once). A well-explained dump keeps the model to the end."""
    from solver import cli

    document = json.loads(dumps["b2"].read_text())
    rng = np.random.default_rng(1)
    for entry in document["solutions"]:
        entry["memory"] = float(rng.uniform(1000, 2000))
    write_json(tmp_path / "noise.json", document)
    assert cli.main(["pareto", "--offline", str(tmp_path / "noise.json"), "--budget", "60", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "note: the model-based search's model explains" in err and "better in memory than the model" in err
    assert "NSGA-II, started from the best points measured, explored" in err
    outcome = _search(tmp_path / "noise.json", "surrogate", 60)
    assert outcome.result.model.stalled and outcome.result.model.points < 60
    assert len(outcome.result.evaluations) == len({e.genes for e in outcome.result.evaluations}) == 60
    assert cli.main(["pareto", "--offline", str(dumps["b2"]), "--budget", "60", "--quiet", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["summary"]["notes"]
    assert any("model explains" in n and "exploring" not in n and "NSGA-II" not in n for n in notes)


def test_rank_order_puts_every_point_after_those_that_dominate_it():
    from solver.assignment.front import non_dominated, rank_order

    points = np.random.default_rng(3).integers(0, 6, size=(60, 2)).astype(float)
    order = list(rank_order(points))
    assert sorted(order) == list(range(len(points)))
    front = non_dominated(points)
    assert set(order[: len(front)]) == set(front)
    position = {i: k for k, i in enumerate(order)}
    for i, p in enumerate(points):
        for j, q in enumerate(points):
            if (q <= p).all() and (q < p).any():
                assert position[j] < position[i]


def test_hypervolume_gain_is_the_exact_gain():
    from solver.assignment.front import hypervolume

    front = np.array([[0.2, 0.8], [0.5, 0.4], [0.9, 0.1]])
    points = np.array([[0.3, 0.5], [0.6, 0.6], [0.1, 0.95], [1.2, 0.0]])
    gains = hypervolume_gain(points, front)
    for p, gain in zip(points, gains):
        expected = hypervolume(np.vstack([front, p]), np.ones(2)) - hypervolume(front, np.ones(2))
        assert gain == pytest.approx(expected, abs=1e-12)


def test_the_same_configuration_measured_twice_is_never_told_apart(branchy_cnn, tmp_path, capsys):
    """Two 'configurations' that are the same model and settings, measured in interleaved rounds on the real
    device, are never called different (A B A B ...)."""
    device = open_device("local", cache=False)
    config = BackendConfig(("cpu",))
    runs = {"a": [], "b": []}
    for round_number in range(3):
        for name in runs:
            m = device.measure(branchy_cnn, config, MeasureSettings(warmup=1, repeats=3, round=round_number))
            runs[name] += m.times_ms
    assert len(runs["a"]) == len(runs["b"]) == 9
    assert not told_apart(runs["a"], runs["b"])
    assert told_apart([1.0, 1.1, 1.05], [2.0, 2.1, 2.2]) and not told_apart([1.0], [2.0])
    # As two points of a dump, --pick fastest names neither: it lists both and says why.
    from solver import cli

    dump = tmp_path / "dump.json"
    solutions = [{"id": i, "time": float(np.median(r)), "memory": 1000, "runs": r} for i, r in enumerate(runs.values())]
    dump.write_text(json.dumps({"mode": "name", "oplist": ["Conv2D"], "backends": ["cpu", "ruy"], "solutions": solutions}))
    assert cli.main(["pareto", "--offline", str(dump), "--pick", "fastest", "--json", "--quiet"]) == 0
    picked = json.loads(capsys.readouterr().out)
    assert not picked["decided"] and sorted(c["id"] for c in picked["candidates"]) == [0, 1]
    assert cli.main(["pareto", "--offline", str(dump), "--pick", "fastest", "--quiet"]) == 0
    assert "cannot tell ids" in capsys.readouterr().out


def test_the_same_configuration_is_never_told_apart_by_its_rounds_peak_memory(branchy_cnn, tmp_path, capsys):
    """The same configuration measured as two points in interleaved rounds on the real device: their rounds' peak
    RSS are never called different, and as two points of a dump --pick smallest lists both instead of naming the
    one whose median happened to be lower."""
    device = open_device("local", cache=False)
    config = BackendConfig(("cpu",))
    peaks = {"a": [], "b": []}
    for round_number in range(3):
        for name in peaks:
            peaks[name].append(device.measure(branchy_cnn, config, MeasureSettings(warmup=1, repeats=2,
                                                                                   round=round_number)).peak_rss_kb)
    assert all(p > 0 for p in peaks["a"] + peaks["b"])
    assert not told_apart(peaks["a"], peaks["b"])
    from solver import cli

    dump = tmp_path / "dump.json"
    solutions = [{"id": i, "time": 1.0, "memory": float(np.median(p)), "memory_rounds": p}
                 for i, p in enumerate(peaks.values())]  # fmt: skip
    dump.write_text(json.dumps({"mode": "name", "oplist": ["Conv2D"], "backends": ["cpu", "ruy"], "solutions": solutions}))
    assert cli.main(["pareto", "--offline", str(dump), "--pick", "smallest", "--json", "--quiet"]) == 0
    picked = json.loads(capsys.readouterr().out)
    assert not picked["decided"] and sorted(c["id"] for c in picked["candidates"]) == [0, 1]
