"""The search space: ONE's id encoding both ways, allowed backends per decision, settings variables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.base import BackendConfig
from solver.assignment.oneids import id_to_digits
from solver.errors import UsageError
from solver.assignment.settings import SETTINGS, settings_from_names
from solver.assignment.space import env_lines, index_space, name_space

# ONE's README (tools/pareto_profiler): the estimator dump's oplist and the configs it printed per id,
# backends numbered 0 = cpu, 1 = acl_cl.
ONE_OPLIST = ["Pool2D", "DepthwiseConv2D", "Reshape", "Conv2D", "BinaryArithmetic"]
ONE_CONFIGS = {
    4: {"Reshape"},
    10: {"DepthwiseConv2D", "Conv2D"},
    14: {"DepthwiseConv2D", "Reshape", "Conv2D"},
    16: {"BinaryArithmetic"},
    20: {"Reshape", "BinaryArithmetic"},
    21: {"Pool2D", "Reshape", "BinaryArithmetic"},
    31: set(ONE_OPLIST),
}
ALL = {"cpu": None, "acl_cl": None}
CPU_RUY = {"cpu": None, "ruy": frozenset({"Conv2D", "FullyConnected"})}


@pytest.mark.parametrize("point_id, on_acl", sorted(ONE_CONFIGS.items()))
def test_one_readme_ids(point_id, on_acl):
    space = name_space(ONE_OPLIST, ALL)
    config = space.config(space.genes_of_id(point_id))
    assert {t for t, b in config.op_types if b == "acl_cl"} == on_acl
    assert {t for t, b in config.op_types if b == "cpu"} == set(ONE_OPLIST) - on_acl
    assert space.point_id(space.genes_of_id(point_id)) == point_id


def test_one_readme_id_4_puts_only_reshape_on_the_second_backend():
    space = name_space(ONE_OPLIST, ALL)
    assert space.digits(space.genes_of_id(4)) == [0, 0, 1, 0, 0]
    assert space.config(space.genes_of_id(4)).env_string() == (
        'BACKENDS="cpu;acl_cl" OP_BACKEND_Pool2D=cpu OP_BACKEND_DepthwiseConv2D=cpu OP_BACKEND_Reshape=acl_cl '
        "OP_BACKEND_Conv2D=cpu OP_BACKEND_BinaryArithmetic=cpu"
    )
    assert space.size == 32


def test_index_mode_has_one_digit_per_group():
    # ONE's index mode used max(opmap) digits: the last group (2) could never leave backend 0.
    space = index_space([0, 1, 2, 1], ["Conv2D", "Conv2D", "Conv2D", "Conv2D"], ALL)
    assert len(space.decisions) == 3 and space.size == 8
    last_group_moved = space.genes_of_id(4)
    assert dict(space.config(last_group_moved).op_indices) == {0: "cpu", 1: "cpu", 2: "acl_cl", 3: "cpu"}


def test_backends_a_device_cannot_run_are_never_proposed():
    oplist = ["Conv2D", "DepthwiseConv2D", "FullyConnected", "Reshape"]
    space = name_space(oplist, CPU_RUY)
    assert space.free == (0, 2) and space.size == 4
    for ordinal in range(space.size):
        config = space.config(space.point(ordinal))
        assert all(b == "cpu" for t, b in config.op_types if t not in ("Conv2D", "FullyConnected"))
    with pytest.raises(ValueError, match="DepthwiseConv2D on a backend it cannot run"):
        space.genes_of_id(2)


def test_index_group_allows_only_backends_that_run_all_its_types():
    space = index_space([0, 0, 1], ["Conv2D", "Reshape", "Conv2D"], CPU_RUY)
    assert [d.allowed for d in space.decisions] == [(0,), (0, 1)]


def test_no_backend_for_an_op_type_is_a_usage_error():
    with pytest.raises(UsageError, match="can run op type Softmax"):
        name_space(["Softmax"], {"ruy": frozenset({"Conv2D"})})


def test_settings_variables_extend_the_id_above_the_backend_digits():
    space = name_space(["Conv2D"], CPU_RUY, settings_from_names(["EXECUTOR", "NUM_THREADS"]))
    assert space.cardinalities == (2, 3, 2) and space.size == 12
    genes = (1, 2, 1)  # ruy, Parallel, one thread
    assert space.point_id(genes) == 1 + 2 * (2 + 3 * 1)
    config = space.config(genes)
    assert config.environment() == {"OP_BACKEND_Conv2D": "ruy", "EXECUTOR": "Parallel", "NUM_THREADS": "1"}
    assert env_lines(config) == ['BACKENDS="cpu;ruy"', "OP_BACKEND_Conv2D=ruy", "EXECUTOR=Parallel", "NUM_THREADS=1"]


def test_unknown_setting_is_refused():
    with pytest.raises(UsageError, match="unknown onert setting 'THREADS'"):
        settings_from_names(["THREADS"])


def test_index_config_lists_every_op():
    space = index_space([0, 1, 0], ["Conv2D", "FullyConnected", "Conv2D"], CPU_RUY)
    config = space.config((1, 0))
    assert config.environment() == {"OP_BACKEND_MAP": "0=ruy;1=cpu;2=ruy"}


@st.composite
def spaces(draw):
    num_types = draw(st.integers(1, 5))
    types = [f"T{k}" for k in range(num_types)]
    backends = draw(st.lists(st.sampled_from(["cpu", "ruy", "acl_cl", "npu"]), min_size=1, max_size=3, unique=True))
    capabilities = {b: None if b == backends[0] else frozenset(draw(st.sets(st.sampled_from(types)))) for b in backends}
    names = draw(st.lists(st.sampled_from(sorted(SETTINGS)), max_size=2, unique=True))
    return name_space(types, capabilities, settings_from_names(names))


@given(spaces())
@settings(max_examples=60, deadline=None)
def test_ids_round_trip_and_are_distinct(space):
    ids = set()
    for ordinal in range(space.size):
        genes = space.point(ordinal)
        point_id = space.point_id(genes)
        assert space.genes_of_id(point_id) == genes
        assert space.id_of_config(space.config(genes)) == point_id
        base = len(space.backends)
        assert id_to_digits(point_id % base ** len(space.decisions), base, len(space.decisions)) == space.digits(genes)
        ids.add(point_id)
    assert len(ids) == space.size


def test_id_of_any_index_configuration():
    space = index_space([0, 1, 0], ["Conv2D", "FullyConnected", "Conv2D"], CPU_RUY)
    for genes in space.points():
        assert space.id_of_config(space.config(genes)) == space.point_id(genes)
    # by op type, with an op index taking precedence as in onert
    assert space.id_of_config(BackendConfig(("cpu", "ruy"), op_types=(("Conv2D", "ruy"),))) == 1
    assert space.id_of_config(BackendConfig(("cpu", "ruy"), op_types=(("Conv2D", "ruy"),), op_indices=((1, "ruy"),))) == 3
    with pytest.raises(ValueError, match="splits op group 0"):
        space.id_of_config(BackendConfig(("cpu", "ruy"), op_indices=((0, "ruy"),)))
    with pytest.raises(ValueError, match="no backend 'npu'"):
        space.id_of_config(BackendConfig(("npu",)))
    with pytest.raises(ValueError, match="no onert setting EXECUTOR"):
        space.id_of_config(BackendConfig(settings=(("EXECUTOR", "Dataflow"),)))


def test_points_enumerate_the_space_in_order():
    space = name_space(["Conv2D", "FullyConnected"], CPU_RUY, settings_from_names(["NUM_THREADS"]))
    assert list(space.points()) == [space.point(k) for k in range(space.size)] and space.size == 8
