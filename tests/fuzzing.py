"""Hostile inputs for the real ``solve`` command, and the promise every run must keep.

The promise (issue 16): bad input ends with exit status 2 (or 3: well formed but infeasible), exactly one line on
stderr naming the file or option at fault, no traceback, and no output file written, replaced or left half
written. An input a mutation happened to leave valid may also succeed (exit 0).

:func:`good_inputs` writes one small valid file of every kind the command line reads (a TFLite model written with
the flatbuffer writer, its Chrome trace, a JSON graph, a SALBP .IN2 file, a brute-force dump, a platform file and
a partition map). :func:`draw_case` turns a seeded ``random.Random`` into one :class:`Case`: a command line over a
mutated copy of one of them (truncated or flipped bytes, a hostile JSON value at a random place, deep nesting),
a hostile option value, or an output target that cannot or must not be written. :func:`run_case` runs it (in a
child process like a user would, or in this process, which is ten times faster and lets an escaping exception
show itself) and :func:`broken_promises` lists what went wrong. tests/test_fuzz.py and benchmarks/fuzz.py use
them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from solver.assignment.synthetic import synthetic_dump
from solver.deploy.split import SPLIT_JSON, split_model
from solver.io.graphs import graph_to_json
from solver.io.tflite import read_model
from tests.fbmodels import T, write_model
from tests.traces import write_chrome_trace

KINDS = ("model", "trace", "graph", "in2", "dump", "platform", "map", "split", "option", "output")
ROOT = Path(__file__).resolve().parents[1]
NOT_ROOT = os.geteuid() != 0  # root writes into read-only directories: that case only means something for others


@dataclass(frozen=True)
class Inputs:
    """One valid file of every kind, in ``root``."""

    root: Path
    model: Path
    trace: Path
    graph: Path
    in2: Path
    dump: Path
    platform: Path
    map: Path
    clash: Path  # a valid model whose boundary tensors share one name: it partitions, but cannot be split
    split: Path  # the directory 'solve split' wrote for ``model`` and ``map``

    def copied_to(self, root: Path) -> Inputs:
        """The same files copied into ``root``."""
        root.mkdir(parents=True, exist_ok=True)
        copies = {}
        for name, path in vars(self).items():
            if name != "root":
                copies[name] = root / path.name
                if path.is_dir():
                    shutil.copytree(path, copies[name], dirs_exist_ok=True)
                else:
                    shutil.copyfile(path, copies[name])
        return Inputs(root, **copies)


@dataclass
class Case:
    """A command line and what it must respect."""

    kind: str
    what: str  # the mutation, for reports
    argv: list[str]
    named: tuple[str, ...]  # the error line must contain one of these (file names, option names)
    watched: tuple[Path, ...]  # files and directories that must be left as they were when the run fails
    must_fail: bool = True  # False: the mutation may have left the input valid
    cwd: Path | None = None
    codes: tuple[int, ...] = (2, 3)  # the exit statuses of a refusal


@dataclass
class Outcome:
    status: int
    stderr: str
    snapshot_before: dict = field(default_factory=dict)
    snapshot_after: dict = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)


# --- the valid inputs ------------------------------------------------------------------------------------------


def good_inputs(root: Path) -> Inputs:
    """Write the valid inputs into ``root`` (6 ops: two branches joined by an add; onert runs the model)."""
    root.mkdir(parents=True, exist_ok=True)
    weights = np.full((8, 8), 0.125, dtype=np.float32).tobytes()
    tensors = [T("x", (1, 8)), T("w0", (8, 8), data=weights), T("a", (1, 8)), T("w1", (8, 8), data=weights),
               T("b", (1, 8)), T("c", (1, 8)), T("d", (1, 8)), T("e", (1, 8)), T("y", (1, 8))]  # fmt: skip
    ops = [("FULLY_CONNECTED", [0, 1, -1], [2]), ("FULLY_CONNECTED", [0, 3, -1], [4]), ("RELU", [2], [5]),
           ("LOGISTIC", [4], [6]), ("ADD", [5, 6], [7]), ("TANH", [7], [8])]  # fmt: skip
    model = _with_options(write_model(root / "model.tflite", tensors, ops, inputs=[0], outputs=[8]))
    parsed = read_model(model)
    trace = write_chrome_trace(root / "trace.json", parsed, [[10.0, 20.0, 5.0, 7.0, 3.0, 4.0]] * 2)
    clash_tensors = [T("t", t.shape, t.dtype, t.data) for t in tensors]
    clash = _with_options(write_model(root / "clash.tflite", clash_tensors, ops, inputs=[0], outputs=[8]))
    graph_doc = graph_to_json(_weighted(parsed.op_graph(), [10, 20, 5, 7, 3, 4]), name="g")
    graph = root / "graph.json"
    graph.write_text(json.dumps(graph_doc))
    in2 = root / "tasks.IN2"
    in2.write_text("5\n3\n4\n2\n6\n1\n1,2\n1,3\n2,4\n3,4\n4,5\n-1,-1\n")
    dump = root / "dump.json"
    dump.write_text(json.dumps(synthetic_dump(4, seed=1)))
    platform = root / "platform.json"
    platform.write_text(json.dumps({
        "devices": [{"name": "npu", "speed": 4.0, "memory": 1 << 20, "supports": ["FULLY_CONNECTED", "ADD"]},
                    {"name": "cpu", "speed": 1.0}],
        "links": [{"from": "npu", "to": "cpu", "bandwidth": 1e8, "latency_us": 5},
                  {"from": "cpu", "to": "npu", "bandwidth": 1e8}],
    }))  # fmt: skip
    pmap = root / "map.json"
    pmap.write_text(json.dumps({"partition_map": [0, 0, 0, 1, 1, 1], "num_partitions": 2}))
    split = split_model(model, [0, 0, 0, 1, 1, 1], root / "split").out_dir
    return Inputs(root, model, trace, graph, in2, dump, platform, pmap, clash, split)


def _with_options(path: Path) -> Path:
    """Give ADD and FULLY_CONNECTED the options tables onert needs to load them (tests/fbmodels writes none)."""
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    for op in model.subgraphs[0].operators:
        name = names[model.operatorCodes[op.opcodeIndex].builtinCode]
        if name in _OPTIONS:
            op.builtinOptionsType = getattr(schema.BuiltinOptions, _OPTIONS[name].__name__[:-1])
            op.builtinOptions = _OPTIONS[name]()
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


_OPTIONS = {"ADD": schema.AddOptionsT, "FULLY_CONNECTED": schema.FullyConnectedOptionsT}


def _weighted(graph, weights):
    for v, w in enumerate(weights):
        graph.nodes[v]["weight"] = w
    return graph


# --- mutations -------------------------------------------------------------------------------------------------

HOSTILE_VALUES = (float("nan"), float("inf"), float("-inf"), -1, 0, 1e300, 2**63, 2**64, -(2**63), 0.5, 1e9, True,
                  False, None, "", "x", [], {}, [[]], {"": None})  # fmt: skip
DEEP = "__nnpart_deep__"  # replaced by a deeply nested list in the written text


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Truncate, flip, insert or delete bytes."""
    how = rng.choice(("truncate", "flip", "flip", "flips", "insert", "delete", "empty"))
    if how == "truncate":
        n = rng.randrange(len(data))
        return data[:n], f"truncated to {n} bytes"
    if how == "empty":
        return b"", "empty"
    out = bytearray(data)
    if how in ("flip", "flips"):
        for _ in range(1 if how == "flip" else rng.randint(2, 16)):
            i = rng.randrange(len(out))
            out[i] = rng.randrange(256) if rng.random() < 0.5 else out[i] ^ (1 << rng.randrange(8))
        return bytes(out), f"{how} (seeded)"
    i = rng.randrange(len(out))
    if how == "insert":
        out[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    else:
        del out[i : i + rng.randint(1, 8)]
    return bytes(out), f"{how} at byte {i}"


def mutate_json(doc, rng: random.Random) -> tuple[object, str]:
    """Replace, delete or deeply nest one value somewhere in ``doc`` (a copy), or replace the whole document."""
    doc = json.loads(json.dumps(doc))
    places = list(_places(doc, ()))
    if not places or rng.random() < 0.05:
        return rng.choice(HOSTILE_VALUES + (DEEP,)), "the whole document replaced"
    path = rng.choice(places)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    how = rng.random()
    if how < 0.15:
        del parent[key]
        return doc, f"{'/'.join(map(str, path))} deleted"
    value = DEEP if how < 0.2 else rng.choice(HOSTILE_VALUES)
    parent[key] = value
    return doc, f"{'/'.join(map(str, path))} = {value!r:.40}"


def _places(value, path):
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield path + (key,)
        yield from _places(child, path + (key,))


def json_text(doc) -> str:
    """``doc`` as JSON text, NaN and infinities as Python writes them, :data:`DEEP` as 100,000 nested lists."""
    return json.dumps(doc).replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000)


def mutate_lines(text: str, rng: random.Random) -> tuple[str, str]:
    """A SALBP file with one line replaced, dropped, or a cycle added."""
    lines = text.splitlines()
    i = rng.randrange(len(lines))
    how = rng.choice(("replace", "drop", "cycle"))
    if how == "drop":
        del lines[i]
    elif how == "cycle":
        lines.insert(len(lines) - 1, "5,1")
    else:
        lines[i] = rng.choice(("nan", "inf", "-5", "1e400", "99999999999999999999999", "x", "", "1,", ",",
                               "3,3", "0,1", "1,99", "-1", str(10**9)))  # fmt: skip
    return "\n".join(lines) + "\n", f"{how} line {i + 1}"


# --- the cases -------------------------------------------------------------------------------------------------


def draw_case(good: Inputs, work: Path, rng: random.Random, kind: str | None = None) -> Case:
    """One hostile command line; its files are written into ``work`` (a fresh directory)."""
    kind = kind or rng.choice(KINDS)
    good = good.copied_to(work / "in")  # a case that breaks its promise must not spoil the next one
    out = _existing_output(work / "out.json")
    if kind == "model":
        data, what = mutate_bytes(good.model.read_bytes(), rng)
        model = work / "model.tflite"
        model.write_bytes(data)
        command = rng.choice(("partition", "oplist", "split"))
        if command == "partition":
            argv = ["partition", model, good.trace, "-k", "2", "--out", out]
        elif command == "oplist":
            argv = ["oplist", model, "--out", out]
        else:
            argv = ["split", model, good.map, "--out", work / "parts", "--no-verify"]
        return Case(kind, f"{command}: {what}", _strs(argv), (model.name, good.trace.name, good.map.name),
                    (out, model, work / "parts"), must_fail=False)  # fmt: skip
    if kind in ("trace", "graph", "dump", "platform", "map"):
        source = getattr(good, kind)
        doc, what = mutate_json(json.loads(source.read_text()), rng)
        bad = work / source.name
        bad.write_text(json_text(doc))
        argv = {
            "trace": ["partition", good.model, bad, "-k", "2", "--out", out],
            "graph": ["partition", bad, "-k", "2", "--out", out],
            "dump": ["pareto", "--offline", bad, "--budget", "12", "--out", out],
            "platform": ["place", good.model, good.trace, "--platform", bad, "--out", out],
            "map": ["split", good.model, bad, "--out", work / "parts", "--no-verify"],
        }[kind]
        return Case(kind, what, _strs(argv), (bad.name,), (out, bad, work / "parts"), must_fail=False)
    if kind == "split":
        # A split directory whose record, conn.json or MANIFEST was edited: malformed is exit 2; well formed but
        # no longer matching its parts is a failed check, exit 4 (tests/io/test_connections.py).
        split = good.split
        target = rng.choice([split / SPLIT_JSON, split / f"{good.model.stem}.conn.json", split / "metadata" / "MANIFEST"])
        doc, what = mutate_json(json.loads(target.read_text()), rng)
        target.write_text(json_text(doc))
        return Case(kind, f"{target.name}: {what}", _strs(["verify", split]), (str(split),), (split,),
                    must_fail=False, codes=(2, 3, 4))  # fmt: skip
    if kind == "in2":
        text, what = mutate_lines(good.in2.read_text(), rng)
        bad = work / good.in2.name
        bad.write_text(text)
        return Case(kind, what, _strs(["partition", bad, "-k", "2", "--out", out]), (bad.name,), (out, bad),
                    must_fail=False)  # fmt: skip
    if kind == "option":
        return _option_case(good, out, rng)
    return output_case(good, work, rng.choice(OUTPUT_CASES))


def _strs(argv) -> list[str]:
    return [str(a) for a in argv]


def _existing_output(path: Path) -> Path:
    """An output file that exists before the run (a failed run must leave it as it is)."""
    path.write_text('{"earlier": "output"}\n')
    return path


# (command line after the inputs, the option the error must name); the values make no sense.
OPTION_CASES = (
    (["partition", "{graph}", "-k", "0"], "number of parts"),
    (["partition", "{graph}", "-k", "1000000000"], "parts"),
    (["partition", "{graph}", "--time-limit", "nan", "--exact"], "time limit"),
    (["partition", "{graph}", "--time-limit", "-1", "--exact"], "time limit"),
    (["partition", "{graph}", "--time-limit", "inf", "--exact"], "time limit"),
    (["partition", "{graph}", "--slack", "nan", "--exact", "--secondary", "cut"], "slack"),
    (["partition", "{graph}", "--slack", "-1", "--exact", "--secondary", "cut"], "slack"),
    (["partition", "{graph}", "--seed", "-1"], "seed"),
    (["partition", "{graph}", "--runs", "0"], "runs"),
    (["partition", "{graph}", "--workers", "0", "--exact"], "workers"),
    (["partition", "{graph}", "--memory-cap", "-1", "--exact"], "memory"),
    (["partition", "{graph}", "--secondary", "speed", "--exact"], "secondary"),
    (["compare", "{graph}", "-k", "0,2"], "parts"),
    (["compare", "{graph}", "-k", ","], "parts"),
    (["compare", "{graph}", "--time-limit", "nan"], "time limit"),
    (["compare", "{graph}", "--time-limit", "-1"], "time limit"),
    (["pareto", "--offline", "{dump}", "--budget", "0"], "budget"),
    (["pareto", "--offline", "{dump}", "--budget", "-5"], "budget"),
    (["pareto", "--offline", "{dump}", "--population", "0"], "population"),
    (["pareto", "--offline", "{dump}", "--population", "1"], "population"),
    (["pareto", "--offline", "{dump}", "--seed", "-1"], "seed"),
    (["pareto", "--offline", "{dump}", "--repeats", "0"], "repeats"),
    (["pareto", "--offline", "{dump}", "--pick", "time<=nanms"], "pick"),
    (["pareto", "--offline", "{dump}", "--pick", "memory<=-1KB"], "pick"),
    (["place", "{model}", "{trace}", "--platform", "{platform}", "--time-limit", "nan", "--exact"], "time limit"),
    (["place", "{model}", "{trace}", "--platform", "{platform}", "--seed", "-1"], "seed"),
    (["place", "{model}", "{trace}", "--platform", "{platform}", "--workers", "-2", "--exact"], "workers"),
)


def _option_case(good: Inputs, out: Path, rng: random.Random) -> Case:
    words, option = rng.choice(OPTION_CASES)
    argv = [w.format(**{k: getattr(good, k) for k in ("graph", "dump", "model", "trace", "platform")}) for w in words]
    if argv[0] in ("partition", "place", "pareto"):
        argv += ["--out", str(out)]
    return Case("option", " ".join(words[2:]), argv, (option,), (out,))


# Output targets that cannot or must not be written, for each command that writes.
OUTPUT_CASES = (
    "out is a directory", "parent is a file", "in /proc", "name too long", "out is the model", "out is the trace",
    "out is the graph", "out is the dump", "plot is a directory", "split dir is a file", "split fails after the solve",
    "split out is a file", "oplist out is the model", "place out is the platform", "out is a pipe",
    "read-only directory",
)  # fmt: skip


def output_case(good: Inputs, work: Path, name: str) -> Case:
    """The output case ``name`` (one of :data:`OUTPUT_CASES`)."""
    work.mkdir(parents=True, exist_ok=True)
    out = _existing_output(work / "out.json")
    a_dir = work / "a_dir"
    a_dir.mkdir(exist_ok=True)
    (a_dir / "inside.txt").write_text("keep\n")
    partition = ["partition", good.model, good.trace, "-k", "2", "--out"]
    target = {
        "out is a directory": a_dir,
        "parent is a file": out / "map.json",
        "in /proc": Path("/proc/nnpart-fuzz/map.json"),
        "name too long": work / ("n" * 300 + ".json"),
        "out is the model": good.model,
        "out is the trace": good.trace,
        "out is a pipe": _fifo(work / "pipe"),  # not /dev/null: a regression would replace it, as root
    }
    if name in target:
        argv = partition + [target[name]]
        named = (str(target[name])[:60],)
        return Case("output", name, _strs(argv), named, (out, a_dir, good.model, good.trace, work / "pipe"))
    if name == "out is the graph":
        argv = ["partition", good.graph, "-k", "2", "--out", good.graph]
        return Case("output", name, _strs(argv), (str(good.graph),), (good.graph,))
    if name == "out is the dump":
        argv = ["pareto", "--offline", good.dump, "--budget", "12", "--out", good.dump]
        return Case("output", name, _strs(argv), (str(good.dump),), (good.dump,))
    if name == "plot is a directory":
        argv = ["pareto", "--offline", good.dump, "--budget", "12", "--out", out, "--plot", a_dir]
        return Case("output", name, _strs(argv), (str(a_dir),), (out, a_dir))
    if name == "split dir is a file":
        argv = partition + [out, "--split", good.model]
        return Case("output", name, _strs(argv), (str(good.model),), (out, good.model))
    if name == "split fails after the solve":
        argv = ["partition", good.clash, good.trace, "-k", "2", "--out", out, "--split", work / "parts"]
        return Case("output", name, _strs(argv), (good.clash.name,), (out,))
    if name == "split out is a file":
        argv = ["split", good.model, good.map, "--out", out, "--no-verify"]
        return Case("output", name, _strs(argv), (str(out),), (out,))
    if name == "oplist out is the model":
        argv = ["oplist", good.model, "--out", good.model]
        return Case("output", name, _strs(argv), (str(good.model),), (good.model,))
    if name == "place out is the platform":
        argv = ["place", good.model, good.trace, "--platform", good.platform, "--out", good.platform]
        return Case("output", name, _strs(argv), (str(good.platform),), (good.platform,))
    if name == "read-only directory":
        locked = work / "locked"
        locked.mkdir(exist_ok=True)
        (locked / "map.json").write_text("old\n")
        locked.chmod(0o500)
        argv = partition + [locked / "map.json"]
        return Case("output", name, _strs(argv), (str(locked),), (locked,), must_fail=NOT_ROOT)
    raise ValueError(f"unknown output case {name!r}")


# --- running and judging ---------------------------------------------------------------------------------------


def _fifo(path: Path) -> Path:
    if not path.exists():
        os.mkfifo(path)
    return path


def snapshot(paths) -> dict:
    """Bytes and modification time of each watched file, the listing of each watched directory."""
    state = {}
    for path in paths:
        path = Path(path)
        try:
            if path.is_dir():
                state[str(path)] = sorted((p.name, p.stat().st_mtime_ns, p.read_bytes()) for p in path.iterdir()
                                          if p.is_file())  # fmt: skip
            elif path.is_file():
                state[str(path)] = (path.read_bytes(), path.stat().st_mtime_ns)
            else:
                state[str(path)] = stat.S_IFMT(path.stat().st_mode) if path.exists() else None  # a pipe stays one
        except OSError:
            state[str(path)] = "unreadable"
    return state


def _leftovers(case: Case) -> list[str]:
    dirs = {Path(p).parent for p in case.watched} | {Path(p) for p in case.watched if Path(p).is_dir()}
    found = []
    for d in dirs:
        with contextlib.suppress(OSError):
            found += [str(p) for p in d.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".nnpart-probe")]
    return found


def run_case(case: Case, *, subprocess_: bool = True, timeout: float = 120.0) -> Outcome:
    """Run ``case``: ``solve`` in a child process (as a user does) or ``solver.cli.main`` in this one."""
    before = snapshot(case.watched)
    if subprocess_:
        try:
            done = subprocess.run([sys.executable, "-m", "solver", *case.argv], capture_output=True, text=True,
                                  timeout=timeout, cwd=case.cwd or ROOT, stdin=subprocess.DEVNULL)  # fmt: skip
            status, stderr = done.returncode, done.stderr
        except subprocess.TimeoutExpired:
            status, stderr = -1, f"timed out after {timeout} s"
    else:
        status, stderr = _run_here(case.argv)
    return Outcome(status, stderr, before, snapshot(case.watched), _leftovers(case))


def _run_here(argv: list[str]) -> tuple[int, str]:
    from solver.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse
            status = exit_.code if isinstance(exit_.code, int) else 2
        except BaseException:  # noqa: BLE001 - what the promise forbids, reported as a traceback
            return 1, err.getvalue() + traceback.format_exc()
    return status, err.getvalue()


ARGPARSE_ERROR = re.compile(r"^solve [\w-]+: error: ")


def broken_promises(case: Case, outcome: Outcome) -> list[str]:
    """The kinds of promise ``outcome`` broke (empty: kept): traceback, exit, lines, unnamed, touched, leftover, hang."""
    broken = []
    if outcome.status == -1:
        return ["hang"]
    if "Traceback" in outcome.stderr:
        broken.append("traceback")
    if outcome.leftovers:
        broken.append("leftover")
    if outcome.status == 0:
        return broken + (["exit"] if case.must_fail else [])
    if outcome.status not in case.codes:
        broken.append("exit")
    lines = outcome.stderr.strip().splitlines()
    if lines and ARGPARSE_ERROR.match(lines[-1]) and outcome.status == 2:
        lines = lines[-1:]  # argparse's usage lines and its one error line
    if len(lines) != 1:
        broken.append("lines")
    elif not any(name.lower() in lines[0].lower() for name in case.named):
        broken.append("unnamed")
    if outcome.snapshot_before != outcome.snapshot_after:
        broken.append("touched")
    return broken


def describe(case: Case, outcome: Outcome, broken: list[str]) -> str:
    """One paragraph for a failure report."""
    return (f"[{case.kind}: {case.what}] broke {', '.join(broken)}\n  solve {' '.join(case.argv)}\n"
            f"  exit {outcome.status}; stderr: {outcome.stderr.strip()[-800:]}")  # fmt: skip
