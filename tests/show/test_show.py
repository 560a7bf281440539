"""Seeing a partition: the HTML report opened in real headless Chromium, Model Explorer's node data checked with
the package's own adapter and loader, and the text report's op ranges."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from solver import cli
from solver.partitioning.partition import PartitionSettings, partition
from solver.partitioning.report import format_report, op_ranges
from solver.problem import load_problem

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or shutil.which("dot") is None,
    reason="needs Debian's chromium and graphviz (.ci/run installs both: apt-get install chromium graphviz)",
)

PLATFORM = {
    "devices": [
        {"name": "npu", "speed": 4.0, "supports": ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"]},
        {"name": "cpu", "speed": 1.0},
        {"name": "gpu", "speed": 2.0},
    ],
    "default_link": {"bandwidth": 2.0e9, "latency_us": 20},
}


def browser(page: Path, *, screenshot: Path | None = None, size: str = "1400,1800") -> str:
    """The page's DOM after its scripts ran, as headless Chromium sees it (and a screenshot when asked)."""
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={size}"]
    done = subprocess.run([*base, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if screenshot is not None:
        shot = subprocess.run([*base, f"--screenshot={screenshot}", page.resolve().as_uri()], capture_output=True,
                              timeout=120)  # fmt: skip
        assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr
    return done.stdout


class Drawing(HTMLParser):
    """The op graph as the DOM has it: each box's ops, part and fill; each cut edge's id, tensors and label."""

    def __init__(self):
        super().__init__()
        self.boxes: list[dict] = []
        self.cuts: list[dict] = []
        self.legend: list[str] = []
        self.ready = False
        self._open: list[tuple[str, dict | None]] = []  # the <g> elements we are inside

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.ready = a.get("data-ready") == "1"
        if tag == "i" and "background:" in (a.get("style") or ""):
            self.legend.append(a["style"].split("background:")[1].strip(" ;"))
        if tag == "g":
            classes = (a.get("class") or "").split()
            item = None
            if "node" in classes and "data-ops" in a:
                item = {"ops": [int(x) for x in a["data-ops"].split(",")], "part": int(a["data-part"]), "fill": None}
                self.boxes.append(item)
            elif "edge" in classes and "cut" in classes:
                item = {"id": a["id"], "tensors": a.get("data-tensors"), "text": ""}
                self.cuts.append(item)
            self._open.append((tag, item))
        elif tag in ("polygon", "path") and self._open and self._open[-1][1] is not None:
            item = self._open[-1][1]
            if "fill" in item and item["fill"] is None:
                item["fill"] = a.get("fill")

    def handle_endtag(self, tag):
        if tag == "g" and self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._open and self._open[-1][1] is not None and "text" in self._open[-1][1]:
            self._open[-1][1]["text"] += data


def drawing(dom: str) -> Drawing:
    parsed = Drawing()
    parsed.feed(dom)
    return parsed


def check_drawing(dom: str, parts: list[int], graph, colors: list[str]) -> Drawing:
    """Every op drawn once, in its part's colour; every cut between boxes marked with its tensors."""
    seen = drawing(dom)
    assert seen.ready, "the page's script did not run"
    drawn = sorted(v for box in seen.boxes for v in box["ops"])
    assert drawn == list(range(len(parts))), "each op must be drawn exactly once"
    for box in seen.boxes:
        assert {parts[v] for v in box["ops"]} == {box["part"]}
        assert box["fill"].lower() == colors[box["part"]].lower(), box
    box_of = {v: box["ops"][0] for box in seen.boxes for v in box["ops"]}
    cut_pairs = {(box_of[u], box_of[v]) for u, v in graph.edges if parts[u] != parts[v]}
    assert len(seen.cuts) == len(cut_pairs) > 0
    for cut in seen.cuts:
        u, v = map(int, cut["id"][1:].split("_"))
        assert parts[u] != parts[v] and graph.has_edge(u, v)
        assert int(cut["tensors"]) == len(graph.edges[u, v]["tensors"])
        assert re.search(r"\d+(\.\d)? (B|KB|MB)", cut["text"]), cut  # the label names bytes
    return seen


@needs_browser
def test_report_of_inception_at_four_parts_in_chromium(tmp_path, capsys):
    out = tmp_path / "map.json"
    assert cli.main(["partition", "-k", "4", "--out", str(out)]) == 0
    page = tmp_path / "report.html"
    assert cli.main(["show", str(out), "--html", str(page)]) == 0
    assert f"wrote {page}" in capsys.readouterr().out
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # opens offline
    problem = load_problem()
    parts = json.loads(out.read_text())["partition_map"]
    from solver.show.view import part_color

    dom = browser(page, screenshot=tmp_path / "report.png")
    seen = check_drawing(dom, parts, problem.graph, [part_color(k) for k in range(4)])
    assert seen.legend[:4] == [part_color(k) for k in range(4)]
    assert dom.count("<tr class=\"bottleneck\">") == 1 and "ONE MinMax" in dom and "order search" in dom
    assert len(seen.boxes) == problem.num_ops  # 125 ops: small enough to draw one box each


class WebDriver:
    """Chromium driven through Debian's chromedriver with the W3C WebDriver protocol (plain HTTP, no client library)."""

    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        options = {"binary": CHROMIUM, "args": ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800"]}
        answer = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
        self.session = f"/session/{answer['sessionId']}"

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())["value"]

    def run(self, script: str, *args):
        return self.call("POST", f"{self.session}/execute/sync", {"script": script, "args": list(args)})

    def hover(self, css: str) -> None:
        element = self.call("POST", f"{self.session}/element", {"using": "css selector", "value": css})
        self.run("arguments[0].scrollIntoView({block: 'center'});", element)
        move = {"type": "pointerMove", "duration": 0, "origin": element, "x": 0, "y": 0}
        self.call("POST", f"{self.session}/actions", {"actions": [
            {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [move]}]})  # fmt: skip


@needs_browser
@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs Debian's chromium-driver (apt-get install chromium-driver)")
def test_hovering_an_op_shows_its_name_type_time_and_part(tmp_path):
    out, page = tmp_path / "map.json", tmp_path / "report.html"
    assert cli.main(["partition", "-k", "3", "--out", str(out), "--html", str(page)]) == 0
    parts = json.loads(out.read_text())["partition_map"]
    problem = load_problem()
    port = free_port()
    driver = subprocess.Popen([shutil.which("chromedriver"), f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "chromedriver did not start"
                time.sleep(0.2)
        session = WebDriver(port)
        try:
            session.call("POST", f"{session.session}/url", {"url": page.resolve().as_uri()})
            for v in (0, 57, problem.num_ops - 1):
                session.run("document.getElementById('tip').hidden = true;")
                session.hover(f"#graph g.node[data-ops='{v}']")
                tip = session.run("const t = document.getElementById('tip'); return t.hidden ? null : t.textContent;")
                node = problem.graph.nodes[v]
                name = problem.model.tensors[problem.model.operators[v].outputs[0]].name
                assert tip is not None and f"#{v} {name}" in tip, tip
                assert f"{node['type']}, {node['weight']} us, part {parts[v]}" in tip, tip
            cut = session.run("return document.querySelector('#graph g.edge.cut').id;")
            session.run("document.getElementById('tip').hidden = true;")
            session.hover(f"#{cut} text")  # its label: the curve's centre need not lie on the stroke
            tip = session.run("const t = document.getElementById('tip'); return t.hidden ? null : t.textContent;")
            u, v = map(int, cut[1:].split("_"))
            assert tip.startswith(f"cut edge {u} -> {v}\n") and " B" in tip, tip
        finally:
            session.call("DELETE", session.session)
    finally:
        driver.terminate()
        driver.wait(timeout=30)


@needs_browser
def test_report_of_a_placement_colours_by_device(tmp_path, capsys):
    platform = tmp_path / "platform.json"
    platform.write_text(json.dumps(PLATFORM))
    out = tmp_path / "map.json"
    page = tmp_path / "placed.html"
    assert cli.main(["place", "--platform", str(platform), "--out", str(out)]) == 0
    assert cli.main(["show", str(out), "--platform", str(platform), "--html", str(page)]) == 0
    doc = json.loads(out.read_text())
    parts, devices = doc["partition_map"], doc["placement"]
    from solver.show.view import part_color

    dom = browser(page, screenshot=tmp_path / "placed.png")
    check_drawing(dom, parts, load_problem().graph, [part_color(k) for k in range(len(devices))])
    for k, name in devices.items():
        assert f"part {k} · {name}" in dom
    assert "coloured by device" in dom and "latency" in dom


@needs_browser
def test_a_large_graph_draws_runs_of_ops_as_one_box(tmp_path):
    """1500 ops in chains with side branches: boxes stand for runs inside a part, and still every op once."""
    n, ops, edges = 1500, [], []
    for v in range(n):
        ops.append({"id": v, "type": "ADD" if v % 3 else "CONV_2D", "weight": 1 + v % 7})
        if v:
            edges.append({"from": v - 1, "to": v, "bytes": 64})
        if v % 50 == 10 and v + 25 < n:
            edges.append({"from": v, "to": v + 25, "bytes": 32})
    graph_file = tmp_path / "long.json"
    graph_file.write_text(json.dumps({"name": "long", "ops": ops, "edges": edges}))
    out = tmp_path / "map.json"
    assert cli.main(["partition", str(graph_file), "-k", "6", "--out", str(out)]) == 0
    page = tmp_path / "long.html"
    assert cli.main(["show", str(graph_file), str(out), "--html", str(page)]) == 0
    parts = json.loads(out.read_text())["partition_map"]
    from solver.show.view import part_color

    dom = browser(page, size="1400,1000")
    seen = check_drawing(dom, parts, load_problem(graph_file).graph, [part_color(k) for k in range(6)])
    assert len(seen.boxes) < n / 5, len(seen.boxes)


def test_a_wide_graph_is_cut_into_windows_of_a_topological_order():
    """Transformer blocks (parallel projections) leave too many chains: windows bound the boxes, every op once."""
    from benchmarks.transformer import transformer_graph
    from solver.problem import PartitionProblem
    from solver.show.graph import MAX_BOXES, op_groups
    from solver.show.view import partition_view

    problem = PartitionProblem(transformer_graph(3000, seed=1), "transformer", Path("transformer.json"))
    n = problem.num_ops
    assert all(u < v for u, v in problem.graph.edges)  # numbered in a topological order: blocks are a partition
    parts = [v * 5 // n for v in range(n)]
    groups = op_groups(partition_view(problem, parts, 5))
    assert sorted(v for g in groups for v in g) == list(range(problem.num_ops))
    assert all(len({parts[v] for v in g}) == 1 for g in groups)
    assert len(groups) <= MAX_BOXES + 5 * 5  # a window holds ops of a few parts at most where parts meet
    # Windows follow a topological order (here the ops' own numbering is one): no edge goes to an earlier box.
    box = {v: i for i, g in enumerate(groups) for v in g}
    first = [min(g) for g in groups]
    assert all(first[box[u]] <= first[box[v]] for u, v in problem.graph.edges)


def test_without_dot_one_line_names_the_package(tmp_path):
    out = tmp_path / "map.json"
    assert cli.main(["partition", "-k", "2", "--out", str(out)]) == 0
    page = tmp_path / "r.html"
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    done = subprocess.run([sys.executable, "-m", "solver", "show", str(out), "--html", str(page)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "MissingExtraError: drawing the op graph of inception_v3.tflite.xz needs Graphviz's dot program, which is "
        "not installed: apt-get install graphviz"
    ]
    assert not page.exists()


def test_show_needs_an_output_and_a_fitting_map(tmp_path, capsys):
    out = tmp_path / "map.json"
    out.write_text(json.dumps({"partition_map": [0, 1], "num_partitions": 2}))
    assert cli.main(["show", str(out)]) == 2
    assert "nothing to show" in capsys.readouterr().err
    assert cli.main(["show", str(out), "--html", str(tmp_path), "--backends", str(out)]) == 2
    assert "--backends is an overlay for Model Explorer" in capsys.readouterr().err
    assert cli.main(["show", str(out), "--html", str(tmp_path)]) == 2
    assert "is a directory; --html takes the file to write" in capsys.readouterr().err
    assert cli.main(["show", str(out), "--html", str(tmp_path / "r.html")]) == 2
    assert "the model has 125 operators" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


# -- Model Explorer ----------------------------------------------------------------------------------------


def explorer_node_ids(model: Path) -> set[str]:
    """The node ids Model Explorer's own TFLite adapter gives the operators of ``model``."""
    adapter = pytest.importorskip("ai_edge_model_explorer_adapter")
    graphs = json.loads(adapter.ConvertFlatbufferDirectlyToJson(adapter.VisualizeConfig(), str(model)))
    main = graphs[0]["subgraphs"][0]
    return {node["id"] for node in main["nodes"] if node["label"] not in ("GraphInputs", "GraphOutputs", "pseudo_const")}


def test_model_explorer_node_data_fits_its_adapter_and_loader(tmp_path, capsys):
    pytest.importorskip("model_explorer", reason="Model Explorer is the 'explorer' extra")
    from dacite import Config, from_dict
    from model_explorer.node_data_builder import GraphNodeData

    out = tmp_path / "map.json"
    assert cli.main(["partition", "-k", "3", "--out", str(out)]) == 0
    pick = tmp_path / "pick.txt"
    pick.write_text('# id 5\nBACKENDS="cpu;ruy"\nOP_BACKEND_Conv2D=ruy\nOP_BACKEND_MAP="0=cpu;3=cpu"\n')
    files = tmp_path / "me"
    files.mkdir()
    from solver.io.optypes import onert_type
    from solver.show import explorer
    from solver.show.view import partition_view

    problem = load_problem()
    parts = json.loads(out.read_text())["partition_map"]
    overlays = explorer.partition_node_data(partition_view(problem, parts))
    backends, environment = explorer.read_assignment(pick)
    types = [onert_type(problem.graph.nodes[v]["type"]) for v in range(problem.num_ops)]
    overlays.append(explorer.backend_node_data(explorer.backends_per_op(backends, environment, types), backends))
    paths = explorer.write_node_data(files, "map", overlays)
    assert [p.name for p in paths] == ["map.part.json", "map.time_us.json", "map.backend.json"]
    model = tmp_path / "inception_v3.tflite"
    from solver.io.tflite import read_model_bytes

    model.write_bytes(read_model_bytes(problem.source))
    ids = explorer_node_ids(model)
    for path in paths:
        doc = json.loads(path.read_text())
        loaded = from_dict(GraphNodeData, doc, config=Config(strict=True))  # the package's own dataclasses
        assert set(loaded.results) == ids == {str(v) for v in range(problem.num_ops)}
    part_doc, time_doc, backend_doc = (json.loads(p.read_text())["results"] for p in paths)
    assert all(part_doc[str(v)]["value"] == parts[v] for v in range(problem.num_ops))
    assert all(time_doc[str(v)]["value"] == problem.graph.nodes[v]["weight"] for v in range(problem.num_ops))
    types = [problem.graph.nodes[v]["type"] for v in range(problem.num_ops)]
    expected = ["cpu" if v in (0, 3) else "ruy" if types[v] == "CONV_2D" else "cpu" for v in range(problem.num_ops)]
    assert [backends[backend_doc[str(v)]["value"]] for v in range(problem.num_ops)] == expected


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_model_explorer_serves_the_model_with_the_overlays(tmp_path):
    pytest.importorskip("model_explorer", reason="Model Explorer is the 'explorer' extra")
    out = tmp_path / "map.json"
    assert cli.main(["partition", "-k", "4", "--out", str(out)]) == 0
    port = free_port()
    command = [sys.executable, "-m", "solver", "show", str(out), "--model-explorer", "--no-browser", "--port", str(port)]
    # Its output goes to a file, read below to know when it is ready.
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/check_health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                started = server.poll() is None and time.monotonic() < deadline
                assert started, f"Model Explorer did not start: {(tmp_path / 'server.log').read_text()}"
                time.sleep(0.5)
        # Model Explorer's own readiness loop swallows every exception (a bare except), a SIGTERM's too: stop it
        # only once it says it serves, when its Ctrl-C handling has begun.
        while "Press Ctrl+C to stop" not in (tmp_path / "server.log").read_text():
            assert server.poll() is None and time.monotonic() < deadline, "Model Explorer did not say it serves"
            time.sleep(0.2)
        part_file = tmp_path / "map.part.json"
        url = f"http://127.0.0.1:{port}/api/v1/read_text_file?path={part_file}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            served = json.loads(json.loads(answer.read())["content"])
        parts = json.loads(out.read_text())["partition_map"]
        assert {k: r["value"] for k, r in served["results"].items()} == {str(v): p for v, p in enumerate(parts)}
        assert (tmp_path / "inception_v3.tflite").exists()  # the compressed model, written plain for it
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        finally:  # a server that did not stop fails the test, and is not left running
            server.kill()
            server.wait()
            log.close()


def test_explorer_files_and_instructions_without_the_package(tmp_path):
    """With model_explorer shadowed by a module that fails to import, the files are written and the way to open
    them told."""
    out = tmp_path / "map.json"
    assert cli.main(["partition", "-k", "2", "--out", str(out)]) == 0
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "model_explorer.py").write_text("raise ImportError('hidden for the test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hide), os.getcwd()])}
    done = subprocess.run([sys.executable, "-m", "solver", "show", str(out), "--model-explorer"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pip install 'nnpart[explorer]', then: model-explorer" in done.stdout
    parts = json.loads(out.read_text())["partition_map"]
    served = json.loads((tmp_path / "map.part.json").read_text())["results"]
    assert [served[str(v)]["value"] for v in range(len(parts))] == parts
    assert len(json.loads((tmp_path / "map.time_us.json").read_text())["results"]) == len(parts)


# -- the text report ----------------------------------------------------------------------------------------


def test_text_report_names_every_op_range_of_a_part():
    problem = load_problem()
    result = partition(problem, PartitionSettings(num_parts=4))
    report = format_report(problem, result)
    for k in range(4):
        ops = [v for v, p in enumerate(result.parts) if p == k]
        assert op_ranges(ops) in report
    assert op_ranges([7, 1, 2, 3, 9, 10]) == "1-3, 7, 9-10"
    assert op_ranges(list(range(0, 20, 2)), most=3) == "0, 2, 4, ... (7 more ranges)"


# -- plots --------------------------------------------------------------------------------------------------


def svg_text_plots():
    """Plots write their text as SVG text (not glyph outlines), so a test can read labels."""
    import matplotlib

    return matplotlib.rc_context({"svg.fonttype": "none"})


def test_compare_plot_has_a_marker_per_k_and_method_and_the_bound(tmp_path):
    from solver.partitioning.compare import CompareSettings, compare
    from solver.partitioning.report import comparison_figure, plot_comparison
    from tests.partitioning.test_compare import diamond_chain
    from solver.problem import PartitionProblem

    problem = PartitionProblem(diamond_chain(), "diamonds", tmp_path / "diamonds.json")
    comparison = compare(problem, CompareSettings(num_parts=(2, 3, 4), time_limit=10, workers=1))
    figure = comparison_figure(comparison)
    for ax in figure.axes:
        drawn = [line for line in ax.get_lines() if len(line.get_xdata())]
        points = [line for line in drawn if line.get_linestyle() == "None"]
        # The only drawn line is the bound (ratio 1 on the right); every value is a lone marker, none joined.
        assert [line.get_label() for line in drawn if line not in points] == ([] if ax is figure.axes[0] else ["proven lower bound"])
        assert all(len(line.get_xdata()) == 1 for line in points) and len(points) == 3 * 3
        for k in (2, 3, 4):  # the three methods of one K side by side, apart
            xs = sorted(line.get_xdata()[0] for line in points if abs(line.get_xdata()[0] - k) < 0.5)
            assert len(xs) == 3 and min(b - a for a, b in zip(xs, xs[1:])) > 0.1
    bars = [c for c in figure.axes[0].collections if c.get_label() == "proven lower bound (optimum where filled)"]
    assert len(bars) == 1 and len(bars[0].get_segments()) == 3
    figure.clear()
    with svg_text_plots():
        svg = plot_comparison(comparison, tmp_path / "compare.svg").read_text()
    assert "proven lower bound" in svg and "ONE MinMax (fixed)" in svg
    pdf = plot_comparison(comparison, tmp_path / "compare.pdf").read_bytes()
    png = plot_comparison(comparison, tmp_path / "compare.png").read_bytes()
    assert pdf[:5] == b"%PDF-" and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_plot_file_with_another_extension_is_refused_before_any_work(tmp_path, capsys):
    started = time.monotonic()
    assert cli.main(["compare", "--plot", str(tmp_path / "compare.jpg")]) == 2
    assert capsys.readouterr().err.strip() == f"UsageError: {tmp_path / 'compare.jpg'}: a plot is written as png, svg, pdf, named by the file's extension"
    assert time.monotonic() - started < 30  # no solve ran (the bundled model's compare takes minutes)


def test_pareto_plot_labels_front_points_and_gives_the_hypervolume_ratio(tmp_path):
    import numpy as np

    from solver.assignment.front import TruePoint, assess, plot_front

    evaluated = np.array([[10.0, 90000.0], [20.0, 70000.0], [30.0, 95000.0], [25.0, 60000.0]])
    found, ids = evaluated[:2], [17, 42]
    truth = [TruePoint(i, t, m) for i, (t, m) in zip((17, 99, 5), evaluated[[0, 3, 1]])]
    quality = assess(found, evaluated, truth)
    with svg_text_plots():
        svg = plot_front(tmp_path / "front.svg", evaluated, found, evaluated[[0, 3]], title="t", front_ids=ids,
                         quality=quality).read_text()  # fmt: skip
    assert ">17<" in svg and ">42<" in svg
    assert f"hypervolume found / true = {quality.ratio:.4f}" in svg and quality.ratio < 1


def test_show_on_a_placement_map_compares_it_with_the_greedy_and_the_bound(tmp_path):
    from solver.io.platform import read_platform
    from solver.show.html import report_html
    from solver.show.view import placed_view

    platform = tmp_path / "platform.json"
    platform.write_text(json.dumps(PLATFORM))
    out = tmp_path / "map.json"
    assert cli.main(["place", "--platform", str(platform), "--out", str(out), "--exact", "--time-limit", "20"]) == 0
    doc = json.loads(out.read_text())
    parts, placement = doc["partition_map"], {int(k): v for k, v in doc["placement"].items()}
    view = placed_view(load_problem(), read_platform(platform), parts, placement)
    methods = [m.method for m in view.comparison]
    assert methods[0] == "this placement (throughput)" and "greedy chain" in methods
    first = view.comparison[0]
    assert first.remark == "optimal: meets the proven bound" or first.remark.startswith("proven bound ")
    assert "no comparison available" not in report_html(view)
