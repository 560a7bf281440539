"""The memory planner's features of a backend assignment, and the model-based search that regresses on them."""

from __future__ import annotations

import shutil

import numpy as np

from devices import open_device
from solver.assignment.algorithms.surrogate import PLANNED, features
from solver.assignment.bruteforce import brute_force
from solver.assignment.offline import open_dump
from solver.assignment.planned import PlannerModel, feature_names, planner_features, point_features
from solver.assignment.run import run_pareto
from solver.assignment.settings import BruteForceSettings, ParetoSettings, SearchSettings
from solver.assignment.space import index_space
from solver.assignment.synthetic import synthetic_dump
from solver.io.files import write_json
from solver.memory.lifetimes import Graph, OpTensors


def tiny() -> PlannerModel:
    """x -> conv (w0) -> a -> conv3x3 (w1) -> b; add(a, b) -> y. float32."""
    ops = (OpTensors(0, (0, 10), (1,), "CONV_2D"), OpTensors(1, (1, 11), (2,), "CONV_2D"), OpTensors(2, (1, 2), (3,), "ADD"))
    shapes = {0: (1, 4, 4, 2), 10: (2, 1, 1, 2), 1: (1, 4, 4, 2), 11: (3, 3, 3, 2), 2: (1, 4, 4, 3), 3: (1, 4, 4, 3)}
    sizes = {t: 4 * int(np.prod(s)) for t, s in shapes.items()}
    graph = Graph(ops, sizes, shapes, frozenset({10, 11}), (0,), (3,))
    return PlannerModel(graph, (0, 1, 2), (0, 1, 2))


def test_features_of_a_tiny_model_by_hand():
    planned = tiny()
    assert feature_names(("cpu", "ruy")) == ["arena[cpu]", "constants[cpu]", "workspace[cpu]", "arena[ruy]",
                                             "constants[ruy]", "workspace[ruy]", "handoff"]  # fmt: skip
    # conv 0 and the add on cpu, the 3x3 conv on ruy. cpu owns a (128 B; its add releases it), ruy owns b (192 B;
    # no ruy op reads it: it lives to the end); y is the model's output, no arena's. cpu reads w0 (16 B), ruy
    # w1 (216 B); ruy's 3x3 conv builds a 4x4 x 2 x 3x3 float im2col (1152 B); a goes cpu -> ruy, b ruy -> cpu.
    row = point_features(planned, ["cpu", "ruy", "cpu"], ("cpu", "ruy"))
    assert row == [128 / 1024, 16 / 1024, 0.0, 192 / 1024, 216 / 1024, 1152 / 1024, (128 + 192) / 1024]
    # Everything on cpu: a and b are live together when the add reads them (WIC: 128 + 192), no hand-off.
    row = point_features(planned, ["cpu"] * 3, ("cpu", "ruy"))
    assert row == [320 / 1024, 232 / 1024, 1152 / 1024, 0.0, 0.0, 0.0, 0.0]
    # Bump never reuses; the Dataflow executor claims every owned tensor and releases none.
    assert point_features(planned, ["cpu"] * 3, ("cpu", "ruy"), planner="Bump")[0] == 320 / 1024
    # As a space's rows: one point per assignment, the same numbers.
    space = index_space((0, 1, 2), ("Conv2D", "Conv2D", "BinaryArithmetic"), {"cpu": None, "ruy": None})
    rows = planner_features(planned, space, np.array([[0, 1, 0], [0, 0, 0]]))
    assert rows[0].tolist() == point_features(planned, ["cpu", "ruy", "cpu"], ("cpu", "ruy"))
    assert rows[1].tolist() == point_features(planned, ["cpu"] * 3, ("cpu", "ruy"))


def test_synthetic_dumps_have_no_planner_columns(tmp_path):
    dump = tmp_path / "syn.json"
    write_json(dump, synthetic_dump(6, seed=6))
    space = open_dump(dump).space
    assert space.planned is None and PLANNED not in features(space).penalties


def test_the_search_regresses_on_the_planner_and_finds_the_true_front_of_a_real_dump(branchy_cnn, tmp_path):
    """A real brute-force dump of the branchy CNN (index mode over cpu/ruy, measured with onert): its model beside
    it gives the search the planner's columns, and the model-based search finds the true front with part of it."""
    dump = tmp_path / "branchy.json"
    shutil.copy(branchy_cnn, tmp_path / branchy_cnn.name)
    brute_force(tmp_path / branchy_cnn.name, open_device("local", cache=False), dump,
                BruteForceSettings(mode="index", warmup=1, repeats=2, rounds=1))  # fmt: skip
    source = open_dump(dump)
    assert source.space.planned is not None and source.space.size >= 8
    featurize = features(source.space)
    assert list(featurize.penalties).count(PLANNED) == 7
    phi = featurize(np.array(list(source.space.points())))
    assert np.ptp(phi[:, -7:], axis=0).max() > 0  # the assignment moves the planner's figures
    budget = source.space.size * 3 // 4
    ratios = [run_pareto(ParetoSettings(offline=dump, search=SearchSettings("surrogate", budget, None, seed))).quality.ratio
              for seed in range(3)]  # fmt: skip
    assert max(ratios) == 1.0 and min(ratios) > 0.9, ratios
