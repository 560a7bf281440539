"""Option checks live in the settings: Python callers and the command line are refused with the same words."""

from __future__ import annotations

import re

import pytest

from solver import cli
from solver.errors import UsageError
from solver.partitioning.settings import CompareSettings, PartitionSettings

PARTITION_CASES = [
    ({"num_parts": 0}, ["-k", "0"], "the number of parts must be an integer of at least 1, not 0"),
    ({"num_parts": 2, "runs": 0}, ["--runs", "0"], "the number of MinMax runs must be at least 1, not 0"),
    ({"num_parts": 2, "seed": -1}, ["--seed", "-1"], "the seed must be an integer of at least 0, not -1"),
    ({"num_parts": 2, "exact": True, "secondary": ("latency",)}, ["--exact", "--secondary", "latency"],
     "unknown secondary objective 'latency'; choose from cut, bytes"),
    ({"num_parts": 2, "exact": True, "slack": -0.5}, ["--exact", "--slack", "-0.5"],
     "slack must be a finite number of at least 0, not -0.5"),
    ({"num_parts": 2, "exact": True, "slack": float("nan")}, ["--exact", "--slack", "nan"],
     "slack must be a finite number of at least 0, not nan"),
    ({"num_parts": 2, "time_limit": 0.0}, ["--time-limit", "0"],
     "the time limit must be a finite number of seconds above 0, not 0.0"),
    ({"num_parts": 2, "time_limit": float("inf")}, ["--time-limit", "inf"],
     "the time limit must be a finite number of seconds above 0, not inf"),
    ({"num_parts": 2, "workers": 0}, ["--workers", "0"], "the number of workers must be at least 1, not 0"),
    ({"num_parts": 2, "memory_cap": -1}, ["--memory-cap", "-1"],
     "the memory cap must be an integer of at least 0 bytes, not -1"),
    ({"num_parts": 2, "secondary": ("cut",)}, ["--secondary", "cut"],
     "secondary objectives and slack need the exact solver (--exact)"),
]  # fmt: skip

COMPARE_CASES = [
    ({"num_parts": (2, 0)}, ["-k", "2,0"], "the number of parts must be an integer of at least 1, not 0"),
    ({"num_parts": ()}, ["-k", ","], "give at least one number of parts"),
    ({"runs": 0}, ["--runs", "0"], "the number of MinMax runs must be at least 1, not 0"),
    ({"seed": -1}, ["--seed", "-1"], "the seed must be an integer of at least 0, not -1"),
    ({"time_limit": -1.0}, ["--time-limit", "-1"], "the time limit must be a finite number of seconds above 0, not -1.0"),
    ({"workers": 0}, ["--workers", "0"], "the number of workers must be at least 1, not 0"),
]  # fmt: skip


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "g.IN2"
    path.write_text("3\n1\n2\n3\n1,2\n2,3\n-1,-1\n")
    return path


@pytest.mark.parametrize(("options", "argv", "message"), PARTITION_CASES)
def test_partition_settings_refuse_bad_options_in_python_and_on_the_command_line(
    options, argv, message, graph_file, capsys, tmp_path
):
    with pytest.raises(UsageError, match=f"^{re.escape(message)}$"):
        PartitionSettings(**options)
    assert cli.main(["partition", str(graph_file), "--out", str(tmp_path / "map.json"), *argv]) == 2
    assert capsys.readouterr().err == f"UsageError: {message}\n"
    assert not (tmp_path / "map.json").exists()


@pytest.mark.parametrize(("options", "argv", "message"), COMPARE_CASES)
def test_compare_settings_refuse_bad_options_in_python_and_on_the_command_line(
    options, argv, message, graph_file, capsys
):
    with pytest.raises(UsageError, match=f"^{re.escape(message)}$"):
        CompareSettings(**options)
    assert cli.main(["compare", str(graph_file), *argv]) == 2
    assert capsys.readouterr().err == f"UsageError: {message}\n"


def test_good_settings_are_kept():
    settings = PartitionSettings(num_parts=3, exact=True, secondary=["cut", "bytes"], slack=0.02, memory_cap=0)
    assert settings.secondary == ("cut", "bytes") and settings.seed == 0
    assert CompareSettings(num_parts=[2, 4]).num_parts == (2, 4)


def test_offload_settings_are_exact_options_with_exact_from_the_algorithm():
    from solver.offload.settings import OffloadSettings

    assert OffloadSettings().exact and not OffloadSettings("greedy").exact
    for options, words in [({"algo": "best"}, "unknown offloading algorithm 'best'"),
                           ({"time_limit": 0}, "the time limit must be a finite number of seconds above 0, not 0"),
                           ({"workers": 0}, "the number of workers must be at least 1, not 0"),
                           ({"slack": 0.1}, "secondary objectives and slack are not used when offloading")]:  # fmt: skip
        with pytest.raises(UsageError, match=re.escape(words)):
            OffloadSettings(**options)


def test_commands_import_no_heavy_library():
    # `solve partition --help` must start fast: the parsers need only the light settings module.
    import subprocess
    import sys

    code = ("import sys; import solver.commands.partition, solver.commands.compare; "
            "print(sorted(m for m in ('numpy', 'networkx', 'ortools', 'matplotlib', 'scipy', 'pymoo') "
            "if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
