"""Loading a partitioning problem: bundled default, model + trace, model alone (profiled with onert)."""

from __future__ import annotations

import argparse

import networkx as nx
import pytest

from solver.commands._problem import problem_from_args
from solver.errors import UsageError
from solver.io.tflite import read_model
from solver.problem import load_problem
from tests.traces import write_chrome_trace


def test_bundled_default_is_inception_v3_with_its_onert_trace():
    problem = load_problem()
    assert problem.name == "inception_v3.tflite.xz"
    assert problem.num_ops == 125 and nx.is_directed_acyclic_graph(problem.graph)
    assert problem.trace_runs == 11
    assert all(w > 0 for _, w in problem.graph.nodes(data="weight"))
    assert any("dynamic" in note for note in problem.notes)


def test_model_with_trace(branchy_cnn, tmp_path):
    model = read_model(branchy_cnn)
    runs = [[float(i + 1) for i in range(model.num_ops)]] * 3
    problem = load_problem(branchy_cnn, write_chrome_trace(tmp_path / "t.json", model, runs))
    assert [problem.graph.nodes[i]["weight"] for i in range(model.num_ops)] == list(range(1, model.num_ops + 1))
    assert problem.model is not None and problem.trace_runs == 3


def test_model_without_trace_is_refused_loading_never_measures(branchy_cnn):
    with pytest.raises(UsageError, match=r"branchy.*a model needs a trace.*solve profile"):
        load_problem(branchy_cnn)


def test_model_without_trace_is_profiled_by_the_command_then_cached(branchy_cnn, tmp_path, monkeypatch):
    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    args = argparse.Namespace(model=branchy_cnn, trace=None)
    problem = problem_from_args(args)
    assert "measured now, profiling it on the local onert device" in problem.notes[0]
    assert problem.trace is not None and problem.trace.is_relative_to(tmp_path / "cache")
    assert problem.trace_runs >= 2 and problem.total_weight > 0
    again = problem_from_args(args)
    assert again.trace == problem.trace and again.trace.exists()  # the note names a file that exists
    if "UNSTABLE" in problem.notes[0]:
        # An unstable profile (a busy machine) is not reused as if it were good: it is measured again.
        assert "measured now" in again.notes[0]
    else:
        # A stable trace is kept: loading again measures nothing, says so (when, spread), and gives the same weights.
        assert "from the measurement cache, measured 20" in again.notes[0] and "robust CV" in again.notes[0]
        assert dict(again.graph.nodes(data="weight")) == dict(problem.graph.nodes(data="weight"))


def test_graph_file_with_a_trace_is_refused(tmp_path):
    path = tmp_path / "g.IN2"
    path.write_text("2\n3\n4\n1,2\n-1,-1\n")
    with pytest.raises(UsageError, match=r"g.IN2: a graph file carries its own weights"):
        load_problem(path, tmp_path / "trace.json")
