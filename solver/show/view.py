"""What a picture of a partition shows, as plain data: ops with their part, parts, cut tensors, the session graph.

:func:`partition_view` builds it from a problem and a partition (ONE's map, a ``PartitionResult``); a placement
names a device per part and, with the platform, gives each op its time on that device
(:func:`placement_view`). The drawing (``solver.show.graph``), the HTML page (``solver.show.html``) and Model
Explorer's node data (``solver.show.explorer``) all read this one view.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from solver.errors import UsageError
from solver.partitioning.metrics import evaluate
from solver.placement.metrics import evaluate as evaluate_placement
from solver.placement.problem import placement_problem

if TYPE_CHECKING:
    from solver.partitioning.partition import HeuristicRun, PartitionResult
    from solver.io.platform import Platform
    from solver.problem import PartitionProblem
    from solver.placement.metrics import PlacementMetrics
    from solver.placement.place import PlacementResult
    from solver.placement.problem import PlacementProblem
    from solver.placement.replicas import Replicated

# Tableau's ten, then five more of ColorBrewer's Set3: distinct on screen and in print.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#8dd3c7", "#bebada", "#80b1d3", "#fdb462", "#b3de69")  # fmt: skip


def part_color(k: int) -> str:
    """The colour of part ``k``: the palette, then evenly spread hues."""
    if k < len(PALETTE):
        return PALETTE[k]
    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.62, 0.55)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


@dataclass(frozen=True)
class OpView:
    """One op: its index (TFLite operator index, or graph position), name, type, time and part."""

    index: int
    name: str
    type: str
    time: int
    part: int


@dataclass(frozen=True)
class PartView:
    """One part as the table shows it."""

    part: int
    device: str | None
    ops: int
    time: int
    share: float
    constant_bytes: int
    color: str
    bottleneck: bool

    @property
    def label(self) -> str:
        return f"part {self.part}" + (f" · {self.device}" if self.device else "")


@dataclass(frozen=True)
class CutEdge:
    """An edge between parts and the tensors it carries: (name, bytes) each."""

    source: int
    target: int
    tensors: tuple[tuple[str, int], ...]

    @property
    def nbytes(self) -> int:
        return sum(b for _, b in self.tensors)


@dataclass(frozen=True)
class MethodLine:
    """One line of the comparison: a method, its objective value, its ratio to the bound, and a remark."""

    method: str
    value: int
    ratio: float
    remark: str = ""


@dataclass
class PartitionView:
    """Everything the report draws and lists (see the module doc)."""

    title: str
    unit: str
    ops: list[OpView]
    edges: list[tuple[int, int]]
    parts: list[PartView]
    cuts: list[CutEdge]
    session: dict[tuple[int, int], int]  # (part a, part b) -> bytes sent, each tensor once per consuming part
    facts: list[tuple[str, str]]
    comparison: list[MethodLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def colored_by(self) -> str:
        return "device" if any(p.device for p in self.parts) else "part"


def partition_view(
    problem: PartitionProblem,
    parts: list[int],
    num_parts: int | None = None,
    *,
    placement: dict[int, str] | None = None,
    result: PartitionResult | None = None,
    heuristics: dict[str, HeuristicRun] | None = None,
    op_times: list[int] | None = None,
) -> PartitionView:
    """The view of ``parts`` (one part per op) of ``problem``.

    ``placement`` names the device of each part; ``result`` (``solve partition``) or ``heuristics`` (the
    heuristics run for comparison) fill the comparison; ``op_times`` replaces the trace's weights (the times on
    the placed devices). The partition is measured, not checked: a map with a cycle is drawn and says so.
    """
    k = num_parts if num_parts is not None else max(parts, default=-1) + 1
    graph, dag = problem.graph, problem.dag
    times = list(op_times) if op_times is not None else list(dag.weights)
    metrics = evaluate(dag, parts, k)
    loads = [0] * k
    for v, p in enumerate(parts):
        loads[p] += times[v]
    total = sum(loads)
    worst = max(loads, default=0)
    names = _op_names(problem)
    ops = [OpView(v, names[v], str(graph.nodes[v].get("type", "")), times[v], parts[v]) for v in range(len(parts))]
    part_views = [
        PartView(p, (placement or {}).get(p), metrics.op_counts[p], loads[p], loads[p] / total if total else 0.0,
                 metrics.memory[p], part_color(p), loads[p] == worst and worst > 0)
        for p in range(k)
    ]  # fmt: skip
    tensor_names = _tensor_names(problem)
    cuts = [
        CutEdge(u, v, tuple((tensor_names(t), b) for t, b in _edge_tensors(graph, u, v)))
        for u, v in dag.edges
        if parts[u] != parts[v]
    ]
    session: dict[tuple[int, int], int] = {}
    for nbytes, producer, consumers in dag.tensors.values():
        for target in sorted({parts[c] for c in consumers} - {parts[producer]}):
            key = (parts[producer], target)
            session[key] = session.get(key, 0) + nbytes
    unit = problem.weight_unit
    facts = [
        ("ops", str(len(parts))),
        ("parts", str(k)),
        ("bottleneck", f"{worst} {unit}" + (f" (part {loads.index(worst)})" if loads else "")),
        ("lower bound", f"{metrics.lower_bound} {unit}" if op_times is None else "-"),
        ("edge cut", f"{metrics.edge_cut} op pairs"),
        ("transfer", f"{format_bytes(metrics.transfer_bytes)} (each tensor once per consuming part)"),
        ("session graph", "acyclic" if metrics.acyclic else "CYCLIC: no pipeline runs these parts in order"),
    ]
    view = PartitionView(problem.name, unit, ops, list(dag.edges), part_views, cuts, session, facts,
                         notes=list(result.notes if result else problem.notes))  # fmt: skip
    view.comparison = _comparison(worst, metrics.lower_bound, result, heuristics if result is None else result.heuristics)
    if empty := [p for p in range(k) if metrics.op_counts[p] == 0]:
        view.notes.append(f"parts {empty} are empty")
    return view


def placement_view(problem: PartitionProblem, placed: PlacementResult) -> PartitionView:
    """The view of ``solve place``'s answer, with the greedy and the proven bound to compare."""
    view = _placed(problem, placed.problem, placed.assign, placed.metrics)
    bound = placed.bound
    ratio = lambda value: value / bound if bound else 1.0  # noqa: E731
    view.comparison = [MethodLine(f"answer ({placed.objective})", placed.value, ratio(placed.value),
                                  f"{placed.status}, proven bound {bound}, gap {placed.gap:.2%}")]  # fmt: skip
    if placed.heuristic is not None:
        view.comparison.append(MethodLine("greedy chain", placed.heuristic, ratio(placed.heuristic)))
    view.notes = list(placed.notes)
    return view


def replicated_view(problem: PartitionProblem, built: PlacementProblem, answer: Replicated, proven: bool) -> PartitionView:
    """The view of ``solve place --replicate``'s answer: each stage a part named by its replicas (``b + c``), each op
    timed on the stage's first replica, and per replica and link its load per request (its time over the requests
    it serves)."""
    names = answer.devices
    replicas = {s: [names[d] for d in answer.replicas(s)] for s in range(len(answer.stages))}
    times = [built.times[v][answer.replicas(s)[0]] for v, s in enumerate(answer.stage)]
    view = partition_view(problem, list(answer.stage), len(replicas), placement={s: " + ".join(r) for s, r in
                                                                                   replicas.items()},
                          op_times=times)  # fmt: skip
    unit = problem.weight_unit
    view.facts[2:4] = [
        ("period", f"{answer.period} {unit} ({answer.throughput:.2f} inferences/s), at the {answer.bottleneck_at}"),
        ("latency", f"{answer.latency_us:.0f} {unit} (each stage on its slowest replica)"),
    ]
    view.facts += [(f"stage {s} on {d}" + (f" ({k + 1}/{len(r)})" if len(r) > 1 else ""),
                    f"{answer.device_us[d]:.1f} {unit} per request" + (f", every {len(r)}th request" if len(r) > 1
                                                                         else ""))
                   for s, r in replicas.items() for k, d in enumerate(r)]  # fmt: skip
    view.facts += [(f"link {a} -> {b}", f"{format_bytes(round(answer.link_bytes[a, b]))} and {us:.1f} {unit} per "
                                        "request")
                   for (a, b), us in answer.link_us.items()]  # fmt: skip
    view.comparison = [MethodLine("answer (period, replicated)", answer.period, 1.0,
                                  "OPTIMAL" if proven else "FEASIBLE (not proven optimal in the time)")]  # fmt: skip
    view.notes.append("a stage on several devices is dealt the requests round robin; its ops are timed on its first "
                      "replica")  # fmt: skip
    return view


def placed_view(problem: PartitionProblem, platform: Platform, parts: list[int], placement: dict[int, str]) -> PartitionView:
    """The view of a partition map with a placement, on ``platform``: each op timed on its part's device.

    Raises
    ------
    UsageError
        The placement names a device the platform does not have.
    CheckError
        The placement is not valid on the platform (an op its device cannot run, a missing link, memory).
    """
    built = placement_problem(problem, platform)
    index = {name: d for d, name in enumerate(built.devices)}
    unknown = sorted(set(placement.values()) - set(index))
    if unknown:
        raise UsageError(f"{platform.source}: the placement names device {unknown[0]!r}, which the platform lacks")
    assign = [index[placement[p]] for p in parts]
    metrics = evaluate_placement(built, assign)
    view = _placed(problem, built, assign, metrics)
    view.comparison = _placed_comparison(built, metrics.throughput)
    return view


def _placed_comparison(built: PlacementProblem, value: int) -> list[MethodLine]:
    """A placement map's throughput against the greedy chain and the strongest bound we prove on the platform
    (the map does not say how it was found, so the bound says whether it is optimal)."""
    from solver.placement.bounds import lower_bound, op_bound
    from solver.placement.greedy import greedy_placement

    greedy = greedy_placement(built, "throughput")
    heuristic = evaluate_placement(built, greedy).throughput if greedy is not None else None
    bound = min(lower_bound(built, "throughput", heuristic) if heuristic is not None else op_bound(built, "throughput"),
                value)  # fmt: skip
    ratio = value / bound if bound else 1.0
    remark = ("optimal: meets the proven bound" if value == bound
              else f"proven bound {bound}, gap {1 - bound / value:.2%}")  # fmt: skip
    lines = [MethodLine("this placement (throughput)", value, ratio, remark)]
    if heuristic is not None:
        lines.append(MethodLine("greedy chain", heuristic, heuristic / bound if bound else 1.0))
    return lines


def _placed(problem: PartitionProblem, built: PlacementProblem, assign: list[int], m: PlacementMetrics) -> PartitionView:
    """Parts in pipeline order named by device, each op timed on its device; the bottleneck, latency and links."""
    times = [built.times[v][d] for v, d in enumerate(assign)]
    devices = {k: built.devices[d] for k, d in enumerate(m.order)}
    view = partition_view(problem, m.parts(assign), len(devices), placement=devices, op_times=times)
    view.comparison = []  # the trace's bound says nothing of times on devices; placement_view adds the solver's
    view.facts[2:4] = [
        ("bottleneck", f"{m.throughput} {problem.weight_unit}, at the {m.bottleneck_at}"),
        ("latency", f"{m.latency} {problem.weight_unit} (longest path, links included)"),
    ]
    view.facts += [(f"link {built.devices[l.source]} -> {built.devices[l.target]}",
                    f"{l.tensors} tensors, {format_bytes(l.nbytes)}, {l.time} us") for l in m.links]  # fmt: skip
    return view


def _comparison(value: int, lower: int, result: PartitionResult | None, heuristics) -> list[MethodLine]:
    """This answer, the exact solver's proof and the heuristics, each against the strongest bound known."""
    bound = max(lower, result.bound if result is not None else 0)
    ratio = lambda x: x / bound if bound else 1.0  # noqa: E731
    if result is not None:
        remark = f"{result.method}, {result.status}, proven bound {result.bound}, gap {result.gap:.2%}"
        lines = [MethodLine("this answer", value, ratio(value), remark)]
    else:
        lines = [MethodLine("this map", value, ratio(value), f"lower bound {lower}")]
    names = {"minmax": "ONE MinMax", "orders": "order search"}
    for name, run in (heuristics or {}).items():
        lines.append(MethodLine(names.get(name, name), run.metrics.bottleneck, ratio(run.metrics.bottleneck),
                                f"{run.seconds:.2f} s"))  # fmt: skip
    return lines


def _op_names(problem: PartitionProblem) -> list[str]:
    """Each op's name: the node's ``name``, else (TFLite) its first output tensor's name, else ``op <index>``."""
    graph, model = problem.graph, problem.model
    names = []
    for v in range(problem.num_ops):
        name = graph.nodes[v].get("name")
        if not name and model is not None and model.operators[v].outputs:
            name = model.tensors[model.operators[v].outputs[0]].name
        names.append(str(name) if name else f"op {v}")
    return names


def _tensor_names(problem: PartitionProblem):
    model = problem.model

    def name(t) -> str:
        if model is not None and isinstance(t, int) and 0 <= t < len(model.tensors):
            return model.tensors[t].name
        return f"tensor {t}"

    return name


def _edge_tensors(graph, u: int, v: int) -> list[tuple[object, int]]:
    data = graph.edges[u, v]
    tensors = data.get("tensors")
    return list(tensors.items()) if tensors else [(f"{u}->{v}", int(data.get("bytes", 0)))]


def format_bytes(n: int) -> str:
    """``812 B``, ``12.3 KB``, ``4.1 MB`` (powers of 1024)."""
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KB" if n < 1024**2 else f"{n / 1024**2:.1f} MB"
