"""The real command line: bad input is one line on stderr, exit status 2, no traceback, no output file; help is
fast and complete; a closed pipe, the umask and a missing extra are handled."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import devices.errors
import solver
from devices.files import atomic_file
from solver import cli
from solver.cli import COMMANDS
from solver.deploy.split import split_model
from solver.errors import EXIT_BROKEN_PIPE, EXIT_CODES, EXIT_OK, MissingExtraError
from solver.extras import require
from solver.io.files import write_atomic
from solver.io.tflite import read_model
from tests.traces import write_chrome_trace


def solve(*argv, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "solver", *map(str, argv)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def good(branchy_cnn, tmp_path):
    """A model and a matching trace in a fresh directory."""
    model = tmp_path / "m.tflite"
    model.write_bytes(branchy_cnn.read_bytes())
    runs = [[10.0] * read_model(model).num_ops] * 2
    return model, write_chrome_trace(tmp_path / "t.json", read_model(model), runs)


def _bad_inputs(good, tmp_path, case):
    model, trace = good
    if case == "not a model":
        bad = tmp_path / "bad.tflite"
        bad.write_text("not a model at all")
        return [bad, trace], r"^ModelError: .*bad.tflite: not a TFLite model"
    if case == "truncated model":
        bad = tmp_path / "cut.tflite"
        bad.write_bytes(model.read_bytes()[:3000])
        return [bad, trace], r"^ModelError: .*cut.tflite: truncated or corrupt"
    if case == "trace of another model":
        other = json.loads(trace.read_text())
        for event in other["traceEvents"]:
            if event.get("name", "").startswith("@2 "):
                event["name"] = "@2 Softmax"
        trace.write_text(json.dumps(other))
        return [model, trace], r"^TraceError: .*t.json: op types disagree .* 2 \(DEPTHWISE_CONV_2D vs Softmax\)"
    if case == "malformed trace":
        trace.write_text('{"traceEvents": [')
        return [model, trace], r"^TraceError: .*t.json: not a JSON trace"
    if case == "K < 1":
        return [model, trace, "-k", "0"], r"^UsageError: the number of parts must be an integer of at least 1, not 0$"
    if case == "K > ops":
        return [model, trace, "-k", "12"], r"^GraphError: m.tflite: cannot split 11 ops into 12 non-empty parts"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["not a model", "truncated model", "trace of another model", "malformed trace", "K < 1", "K > ops"]
)
def test_bad_input_is_one_line_and_exit_2(good, tmp_path, case):
    args, message = _bad_inputs(good, tmp_path, case)
    result = solve("partition", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("partition_map.json")) and not list(tmp_path.glob(".*.tmp"))


def test_main_job_runs_on_the_bundled_default(tmp_path):
    result = solve("partition", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "inception_v3.tflite.xz: 125 ops" in result.stdout and "ONE MinMax" in result.stdout
    written = json.loads((tmp_path / "partition_map.json").read_text())
    assert written["num_partitions"] == 4 and len(written["partition_map"]) == 125


def test_the_bundled_model_named_on_the_command_line_gets_its_map_in_the_current_directory(tmp_path):
    from solver.data import DATA_DIR, DEFAULT_MODEL, DEFAULT_TRACE

    before = sorted(DATA_DIR.iterdir())
    result = solve("partition", str(DEFAULT_MODEL), str(DEFAULT_TRACE), "-k", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads((tmp_path / "partition_map.json").read_text())["partition_map"]) == 125
    assert sorted(DATA_DIR.iterdir()) == before  # nothing written into the installed package


# --- the command line itself: start-up, help, version, exit codes, pipes, file modes, extras -----------------

HEAVY = ("ortools", "pymoo", "scipy", "onert", "matplotlib", "tensorflow", "pandas")
ROOT = Path(__file__).resolve().parents[1]


def imported_by(*argv) -> tuple[str, set[str]]:
    """stdout of ``solve ARGV`` run in a fresh interpreter, and the top-level packages it imported."""
    code = (
        "import sys\nfrom solver.cli import main\n"
        f"try:\n    main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    text, _, modules = out.rpartition("MODULES ")
    return text, {m.split(".")[0] for m in modules.split()}


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in COMMANDS])
def test_help_imports_no_heavy_library(argv):
    text, modules = imported_by(*argv)
    assert "usage: solve" in text
    assert not modules & set(HEAVY), f"solve {' '.join(argv)} imports {sorted(modules & set(HEAVY))}"


def test_help_lists_every_command_and_the_exit_codes():
    text, _ = imported_by("--help")
    flat = " ".join(text.split())
    for name, command in COMMANDS.items():
        assert f"{name} {command.help}" in flat, name
    for code, meaning in EXIT_CODES.items():
        assert re.search(rf"^\s+{code}\s+{re.escape(meaning)}$", text, re.M), code


def test_command_table_matches_the_command_modules():
    """Every command module is in the table, with the help its parser registers."""
    modules = {p.stem for p in (ROOT / "solver" / "commands").glob("*.py") if not p.stem.startswith("_")}
    assert {c.module.rpartition(".")[2] for c in COMMANDS.values()} == modules
    for name, command in COMMANDS.items():
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(command.module).register(subparsers)
        (action,) = subparsers._choices_actions
        assert (action.dest, action.help) == (name, command.help)


def test_version():
    result = solve("--version", cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == f"solve (nnpart) {solver.__version__}"
    assert importlib.metadata.version("nnpart") == solver.__version__


def test_readme_lists_the_exit_codes():
    readme = (ROOT / "README.md").read_text()
    for code, meaning in EXIT_CODES.items():
        assert re.search(rf"^\| {code} \| {re.escape(meaning)} \|$", readme, re.M), code


@pytest.mark.parametrize(
    "argv, status",
    [
        (["partition", "--num-parts", "3"], {EXIT_BROKEN_PIPE}),
        (["oplist", "--help"], {EXIT_OK, EXIT_BROKEN_PIPE}),  # argparse's help ignores a failed write and exits 0
        (["--version"], {EXIT_OK, EXIT_BROKEN_PIPE}),
    ],
)
def test_a_closed_output_pipe_ends_quietly(tmp_path, argv, status):
    proc = subprocess.Popen(
        [sys.executable, "-m", "solver", *argv], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # the reader goes away before the first line, like `solve ... | head -0`
    stderr = proc.stderr.read().decode()
    assert proc.wait() in status
    assert stderr == "", stderr


def test_a_pipe_to_head_takes_the_first_line(tmp_path):
    result = subprocess.run(
        f"{sys.executable} -m solver partition --num-parts 3 | head -1", shell=True, cwd=tmp_path,
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.stdout.count("\n") == 1 and result.stderr == ""


def test_output_files_follow_the_umask(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "solver", "partition"], cwd=tmp_path, capture_output=True, text=True,
        preexec_fn=lambda: os.umask(0o027),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "partition_map.json").stat().st_mode) == 0o640


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_write_atomic_uses_the_umask_and_leaves_no_temporary(tmp_path, mask):
    old = os.umask(mask)
    try:
        path = write_atomic(tmp_path / "sub" / "out.json", "{}\n")
    finally:
        os.umask(old)
    assert path.read_text() == "{}\n" and stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    with pytest.raises(ZeroDivisionError):
        with atomic_file(path) as f:
            f.write(b"half")
            1 / 0
    assert path.read_text() == "{}\n" and [p.name for p in path.parent.iterdir()] == ["out.json"]


def hiding(tmp_path, *modules) -> dict[str, str]:
    """An environment whose Python cannot import ``modules`` (a sitecustomize marks them missing)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(f"import sys\nfor name in {list(modules)!r}:\n    sys.modules[name] = None\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_the_core_install_partitions_the_bundled_default(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "solver", "partition", "--exact", "--time-limit", "20"], cwd=tmp_path,
        capture_output=True, text=True, env=hiding(tmp_path, "onert", "matplotlib", "tensorflow"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "partition_map.json").read_text())["num_partitions"] == 4


def test_a_missing_extra_is_one_line_naming_it(tflite_model, tmp_path):
    split_model(tflite_model("skip_chain"), [0, 0, 0, 0, 1, 1, 1, 1], tmp_path / "parts")
    env = hiding(tmp_path, "onert")
    result = subprocess.run(
        [sys.executable, "-m", "solver", "verify", str(tmp_path / "parts")], cwd=tmp_path, capture_output=True,
        text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == "MissingExtraError: running a model needs onert, which is not installed: pip install 'nnpart[onert]'\n"
    pmap = tmp_path / "partition_map.json"
    pmap.write_text(json.dumps({"partition_map": [0] * 4 + [1] * 4, "num_partitions": 2}))
    argv = ["split", tflite_model("skip_chain"), pmap, "--out", tmp_path / "again"]
    result = subprocess.run(
        [sys.executable, "-m", "solver", *map(str, argv)], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert (result.returncode, result.stderr) == (2, "MissingExtraError: verifying the parts needs onert, which is "
                                                      "not installed: pip install 'nnpart[onert]'\n")  # fmt: skip
    assert not (tmp_path / "again").exists()  # refused before writing


def test_solver_and_devices_word_a_missing_extra_alike():
    with pytest.raises(MissingExtraError) as ours:
        require("nnpart_no_such_module", "plot", "plotting")
    with pytest.raises(devices.errors.MissingExtraError) as theirs:
        devices.errors.require("nnpart_no_such_module", "plot", "plotting")
    assert str(ours.value) == str(theirs.value) == (
        "plotting needs nnpart_no_such_module, which is not installed: pip install 'nnpart[plot]'"
    )
    assert ours.value.exit_code == theirs.value.exit_code == 2


def test_readme_names_every_core_dependency():
    import tomllib

    readme = (ROOT / "README.md").read_text()
    core = readme.split("The core install", 1)[1].split("\n\n", 1)[0]
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name = re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0]
        assert f"`{name}`" in core or name in core.lower(), name


@pytest.mark.parametrize("command",
                         [["partition", "-k", "2"], ["compare", "-k", "2"], ["show", "m.json", "--html", "r.html"]])
def test_a_missing_model_or_a_directory_is_bad_input_without_a_trace(command, tmp_path, capsys):
    for model, message in ((tmp_path / "nope.tflite", "no such file"), (tmp_path, "is a directory, not a model file")):
        assert cli.main([command[0], str(model), *command[1:]]) == 2
        assert capsys.readouterr().err == f"ModelError: {model}: {message}\n"


def test_place_writes_placement_map_json_by_default(tmp_path, capsys, monkeypatch):
    platform = tmp_path / "p.json"
    platform.write_text(json.dumps({"devices": [{"name": "cpu"}, {"name": "npu", "speed": 2}],
                                    "default_link": {"bandwidth": 1e9, "latency_us": 5}}))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert cli.main(["place", "--platform", str(platform)]) == 0
    assert f"wrote {tmp_path / 'placement_map.json'}" in capsys.readouterr().out
    assert (tmp_path / "placement_map.json").exists() and not (tmp_path / "partition_map.json").exists()


def test_a_thread_count_that_is_no_number_is_refused_before_any_session(tmp_path):
    # onert failed on it deep inside a session (exit 5, RunError) after the command had started measuring
    done = solve("run", tmp_path, "--setting", "NUM_THREADS=abc", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "UsageError: --setting 'NUM_THREADS=abc': NUM_THREADS takes a whole number" in done.stderr
