"""The op graph and the session graph of a partition as Graphviz drawings (``dot`` lays them out, top to bottom).

Graphviz's ``dot`` runs as a program (Debian's package ``graphviz``): a layered layout of a DAG is what it was
made for, and its SVG keeps our node ids and classes, so the page can find every op again.

Large graphs stay readable (and dot fast): above ``collapse_above`` ops, each run of ops inside one part (a chain:
every op the only successor of the one before and the only predecessor of the next) becomes one box that lists
its ops. Where that still leaves more than ``MAX_BOXES`` boxes (wide graphs, such as transformers with their
parallel projections), a topological order is cut into windows of equal length and each window's ops of one
part become a box.
"""

from __future__ import annotations

import heapq
import shutil
import subprocess
from collections import Counter

from solver.errors import MissingExtraError, NnpartError
from solver.partitioning.report import op_ranges
from solver.show.view import PartitionView, format_bytes

COLLAPSE_ABOVE = 400  # ops; beyond it, runs of ops inside a part are drawn as one box
MAX_BOXES = 600  # beyond it, windows of a topological order (dot lays out 600 boxes in about a second)
DOT_TIMEOUT = 600.0  # seconds


class LayoutError(NnpartError):
    """Graphviz failed on a drawing (a bug of ours or of dot; the message carries dot's words)."""


def op_groups(view: PartitionView, collapse_above: int = COLLAPSE_ABOVE, max_boxes: int = MAX_BOXES) -> list[list[int]]:
    """The boxes to draw, each a list of ops: one op each, or runs inside a part, or windows (see the module doc)."""
    n = len(view.ops)
    if n <= collapse_above:
        return [[v] for v in range(n)]
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for u, v in view.edges:
        succs[u].append(v)
        preds[v].append(u)

    def joins(v: int) -> bool:
        """v continues the run of its only predecessor."""
        if len(preds[v]) != 1:
            return False
        u = preds[v][0]
        return len(succs[u]) == 1 and view.ops[u].part == view.ops[v].part

    groups = []
    for v in range(n):
        if joins(v):
            continue
        run = [v]
        while len(succs[run[-1]]) == 1 and joins(succs[run[-1]][0]):
            run.append(succs[run[-1]][0])
        groups.append(run)
    return groups if len(groups) <= max_boxes else _windows(view, preds, succs, max_boxes)


def _windows(view: PartitionView, preds: list[list[int]], succs: list[list[int]], max_boxes: int) -> list[list[int]]:
    """A topological order cut into windows of equal length, each window's ops grouped by part."""
    n = len(view.ops)
    waiting = [len(p) for p in preds]
    ready = [v for v in range(n) if not waiting[v]]
    order = []
    while ready:  # Kahn's algorithm, smallest index first: close to the file's order of ops
        v = heapq.heappop(ready)
        order.append(v)
        for w in succs[v]:
            waiting[w] -= 1
            if not waiting[w]:
                heapq.heappush(ready, w)
    size = -(-n // max_boxes)
    groups = []
    for start in range(0, n, size):
        by_part: dict[int, list[int]] = {}
        for v in order[start:start + size]:
            by_part.setdefault(view.ops[v].part, []).append(v)
        groups += [sorted(ops) for ops in by_part.values()]
    return groups


def graph_dot(view: PartitionView, groups: list[list[int]]) -> str:
    """The op graph in the dot language: a cluster per part, boxes filled with the part's colour, cut edges
    drawn bold and labelled with their tensors and bytes."""
    box_of = {v: g[0] for g in groups for v in g}
    lines = [
        "digraph ops {",
        '  graph [rankdir=TB, ranksep=0.3, nodesep=0.2, fontname="Helvetica", fontsize=12, newrank=true];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, margin="0.08,0.03", '
        'penwidth=0.6, color="#333333"];',
        '  edge [color="#777777", arrowsize=0.6, fontname="Helvetica", fontsize=9];',
    ]
    by_part: dict[int, list[list[int]]] = {}
    for group in groups:
        by_part.setdefault(view.ops[group[0]].part, []).append(group)
    for part in view.parts:
        share = f"{part.time} {view.unit}, {part.share:.1%}" + (" ★ bottleneck" if part.bottleneck else "")
        lines += [
            f"  subgraph cluster_part{part.part} {{",
            f'    graph [id="part{part.part}", class="part", label={_quote(part.label + " · " + share)}, '
            f'style="rounded,dashed", color="{part.color}", fontcolor="#222222", penwidth=1.5];',
        ]
        for group in by_part.get(part.part, []):
            ops = [view.ops[v] for v in group]
            lines.append(f'    n{group[0]} [id="n{group[0]}", class="op part{part.part}", '
                         f'fillcolor="{part.color}", label={_quote(_box_label(ops, view.unit))}];')  # fmt: skip
        lines.append("  }")
    cut_at = {(c.source, c.target): c for c in view.cuts}
    drawn = set()
    for u, v in view.edges:
        a, b = box_of[u], box_of[v]
        if a == b or (a, b) in drawn:
            continue
        drawn.add((a, b))
        cut = cut_at.get((u, v))
        if cut is None:
            lines.append(f"  n{a} -> n{b};")
        else:
            lines.append(f'  n{a} -> n{b} [id="e{u}_{v}", class="cut", color="#c0392b", penwidth=2.2, '
                         f'fontcolor="#c0392b", label={_quote(_cut_label(cut))}];')  # fmt: skip
    lines.append("}")
    return "\n".join(lines)


def session_dot(view: PartitionView) -> str:
    """The session graph: one box per part, an edge per pair of parts that exchange tensors, with the bytes."""
    lines = [
        "digraph session {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.3, ranksep=0.5];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, penwidth=0.6];',
        '  edge [fontname="Helvetica", fontsize=10, color="#555555"];',
    ]
    for part in view.parts:
        label = f"{part.label}\n{part.ops} ops, {part.time} {view.unit}" + ("\n★ bottleneck" if part.bottleneck else "")
        lines.append(f'  p{part.part} [id="s{part.part}", fillcolor="{part.color}", label={_quote(label)}];')
    for (a, b), nbytes in sorted(view.session.items()):
        lines.append(f"  p{a} -> p{b} [label={_quote(format_bytes(nbytes))}];")
    lines.append("}")
    return "\n".join(lines)


def render_svg(source: str, what: str) -> str:
    """``source`` laid out by Graphviz's ``dot`` as an SVG element (no XML prologue, ready to inline).

    Raises
    ------
    MissingExtraError
        ``dot`` is not installed.
    LayoutError
        dot failed or ran out of time.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise MissingExtraError(f"drawing {what} needs Graphviz's dot program, which is not installed: "
                                "apt-get install graphviz")  # fmt: skip
    try:
        done = subprocess.run([dot, "-Tsvg"], input=source.encode(), capture_output=True, timeout=DOT_TIMEOUT)
    except subprocess.TimeoutExpired as err:
        raise LayoutError(f"dot took over {DOT_TIMEOUT:.0f} s to lay out {what}") from err
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise LayoutError(f"dot failed on {what}: {message[0] if message else f'exit {done.returncode}'}")
    svg = done.stdout.decode()
    return svg[svg.index("<svg"):]


def _box_label(ops, unit: str) -> str:
    time = sum(op.time for op in ops)
    if len(ops) == 1:
        op = ops[0]
        return f"{op.type}\n#{op.index} · {op.time} {unit}"
    kinds = Counter(op.type for op in ops).most_common(3)
    kinds_text = ", ".join(f"{t} ×{c}" if c > 1 else t for t, c in kinds) + (" …" if len(kinds) < len(set(o.type for o in ops)) else "")
    return f"{len(ops)} ops: {kinds_text}\n#{op_ranges([op.index for op in ops], most=2)} · {time} {unit}"


def _cut_label(cut) -> str:
    shown = [f"{_short(name)} ({format_bytes(nbytes)})" for name, nbytes in cut.tensors[:2]]
    if len(cut.tensors) > 2:
        shown.append(f"+{len(cut.tensors) - 2} more")
    return "\n".join(shown)


def _short(name: str, most: int = 32) -> str:
    """A tensor name cut to its last ``most`` characters (the end of a scoped name says the most)."""
    name = name.split(";")[0]
    return name if len(name) <= most else "…" + name[-(most - 1):]


def _quote(text: str) -> str:
    """A dot string literal (quotes and backslashes escaped, newlines as dot's centred line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
