"""The memory planner's features of a backend assignment, and the model-based search that regresses on them."""

from __future__ import annotations

import json
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
    """A real brute-force dump of the branchy CNN (index mode over cpu/ruy, measured with onert), its model beside it:
    the space gets the planner's columns, they move with the assignment, and the model-based search finds the true
    front with part of the space. Then the same dump with each point's memory replaced by the planner model's
    figure (plus a session's fixed cost): the fit explains it all, and the search finds the true front every time."""
    dump = tmp_path / "branchy.json"
    shutil.copy(branchy_cnn, tmp_path / branchy_cnn.name)
    brute_force(tmp_path / branchy_cnn.name, open_device("local", cache=False), dump,
                BruteForceSettings(mode="index", warmup=1, repeats=2, rounds=1))  # fmt: skip
    source = open_dump(dump)
    space = source.space
    assert space.planned is not None and space.size >= 8
    featurize = features(space)
    assert list(featurize.penalties).count(PLANNED) == 7
    genes = np.array(list(space.points()))
    planned = featurize(genes)[:, -7:]
    assert np.ptp(planned, axis=0).max() > 0  # the assignment moves the planner's figures
    budget = space.size * 3 // 4

    def ratios(path):
        return [run_pareto(ParetoSettings(offline=path, search=SearchSettings("surrogate", budget, None, seed)))
                for seed in range(3)]  # fmt: skip

    assert max(outcome.quality.ratio for outcome in ratios(dump)) > 0.9
    # The planner's memory (arenas + constants + workspaces, KB) plus 30 MB of runtime, and a time without noise
    # (1 ms, 0.25 ms more per group on ruy): what the planner explains, the search finds.
    document = json.loads(dump.read_text())
    figures = {space.point_id(g): (1 + 0.25 * g.sum(), 30000 + row[:6].sum()) for g, row in zip(genes, planned)}
    for solution in document["solutions"]:
        if solution.get("valid", True):
            time_ms, memory_kb = figures[solution["id"]]
            solution.update(time=float(time_ms), memory=round(float(memory_kb), 3), runs=[float(time_ms)])
            solution.pop("memories", None)
    planned_dump = tmp_path / "planned.json"
    write_json(planned_dump, document)
    outcomes = ratios(planned_dump)
    assert all(o.quality.ratio == 1.0 for o in outcomes), [o.quality.ratio for o in outcomes]
    assert all("100% of the memory" in " ".join(o.notes) for o in outcomes), outcomes[0].notes
