"""The terms the calibrated memory model adds (I/O copies, a Conv2D filter's transposed copy, the load's peak),
computed by hand on a small graph, and a fit that recovers them."""

from __future__ import annotations

import pytest

from solver.memory.calibration import MemoryCalibration, MemorySample, fit_memory
from solver.memory.lifetimes import Graph, OpTensors
from solver.memory.model import MemoryTerms, memory_terms

# x (1,4,4,1) -> CONV_2D 3x3, filter w1 (2,3,3,1) and bias b2 -> t3 (1,4,4,2) -> FULLY_CONNECTED w4 (3,32) -> y5
SHAPES = {0: (1, 4, 4, 1), 1: (2, 3, 3, 1), 2: (2,), 3: (1, 4, 4, 2), 4: (3, 32), 5: (1, 3)}


def conv_fc() -> Graph:
    sizes = {t: 4 * _count(s) for t, s in SHAPES.items()}
    ops = (OpTensors(0, (0, 1, 2), (3,), "CONV_2D"), OpTensors(1, (3, 4), (5,), "FULLY_CONNECTED"))
    return Graph(ops, sizes, SHAPES, frozenset({1, 2, 4}), (0,), (5,))


def _count(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def test_the_new_terms_by_hand():
    t = memory_terms(conv_fc())
    assert t.constants == 72 + 8 + 384 and t.largest_constant == 384  # w4 is the largest buffer the loader copies
    assert t.filter == 72  # only the Conv2D's filter is transposed (FULLY_CONNECTED keeps its weights)
    assert (t.inputs, t.outputs, t.io) == (64, 12, 76)
    assert t.copies == 64 + 2 * 12  # the API's copy of each input; each output twice more (get_output, last run)
    assert t.arena == {"cpu": 128} and t.workspace == 4 * 4 * 1 * 9 * 4  # im2col: 16 pixels x 9 taps x 1 channel
    assert t.activation == 128  # t3, the largest tensor it reads or writes that is not a constant
    assert t.planned == 464 + 128 + 76 + 576  # the planner model is unchanged: constants + arena + io + workspace


def test_the_calibrated_peak_is_the_larger_of_the_load_and_the_run():
    t = memory_terms(conv_fc())
    c = MemoryCalibration("dev", fixed=1000, constant_scale=2, workspace_scale=0.5, samples=(), filter_scale=3,
                          copies_scale=0.5)  # fmt: skip
    # run: 1000 + 2 * 464 + 128 + 76 + 0.5 * 88 + 3 * 72 + 0.5 * 576; load: 2 * 464 + 384
    assert c.run(t) == 1000 + 928 + 128 + 76 + 44 + 216 + 288 and c.load(t) == 928 + 384
    assert c.predict(t) == c.run(t)
    bare = MemoryCalibration("dev", fixed=0, constant_scale=1, workspace_scale=0, samples=(), filter_scale=0)
    assert bare.run(t) == 464 + 128 + 76 + 88 and bare.predict(t) == bare.load(t) == 464 + 384


def test_a_fit_recovers_the_run_terms_and_leaves_out_a_session_that_peaked_while_loading():
    truth = MemoryCalibration("dev", fixed=5_000, constant_scale=1.1, workspace_scale=0.25, samples=(),
                              filter_scale=0.8, copies_scale=0.4, activation_scale=0.3)  # fmt: skip

    def terms(constants, filter_, workspace, inputs, outputs, arena, activation, largest=0) -> MemoryTerms:
        return MemoryTerms(constants, {"cpu": arena}, inputs + outputs, workspace, arena, inputs, outputs, filter_,
                           largest or constants // 4, activation)  # fmt: skip

    sessions = [terms(100, 10, 0, 30, 5, 50, 50), terms(3_000, 400, 900, 10, 10, 20, 20),
                terms(10, 0, 4_000, 70, 1, 7, 70), terms(700, 300, 50, 5, 60, 500, 300),
                terms(2_000, 0, 0, 3, 3, 40, 3_000), terms(50, 900, 20, 800, 0, 5, 800),
                terms(400, 30, 600, 20, 20, 900, 10)]  # fmt: skip
    samples = [MemorySample(f"s{k}", t, truth.predict(t)) for k, t in enumerate(sessions)]
    # One large buffer: the load (1.1 * 20,000 + 20,000) is above the run (5,000 + 22,000 + ...): it peaked loading.
    loading = terms(20_000, 0, 0, 1, 1, 10, 10, largest=20_000)
    assert truth.load(loading) > truth.run(loading)
    samples.append(MemorySample("loading", loading, truth.load(loading)))
    fitted = fit_memory("dev", samples)
    assert fitted.fixed == pytest.approx(5_000) and fitted.constant_scale == pytest.approx(1.1)
    assert fitted.filter_scale == pytest.approx(0.8) and fitted.workspace_scale == pytest.approx(0.25)
    assert fitted.copies_scale == pytest.approx(0.4) and fitted.activation_scale == pytest.approx(0.3)
    assert max(abs(r) for r in fitted.residuals) < 1e-6  # the loading session too, through the load's figure
    assert MemoryCalibration.from_json(fitted.to_json()) == fitted


def test_a_calibration_stored_before_these_terms_is_not_read():
    from solver.errors import UsageError

    fitted = fit_memory("dev", [MemorySample("s", memory_terms(conv_fc()), 10_000.0)])
    old = fitted.to_json()
    del old["filter_scale"]
    with pytest.raises(UsageError, match="not a memory calibration"):
        MemoryCalibration.from_json(old)
