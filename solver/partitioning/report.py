"""Text reports of the partitioning room: the partition report, the comparison table and its plot.

JSON comes from the results themselves (``to_json()``); ONE's ``partition_map.json`` from
:mod:`solver.io.partition_map`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from solver.io.files import write_atomic
from solver.partitioning.compare import METHODS
from solver.solving.outcome import OPTIMAL

if TYPE_CHECKING:
    from solver.partitioning.compare import Comparison
    from solver.partitioning.partition import PartitionResult
    from solver.partitioning.robust import RobustReport
    from solver.problem import PartitionProblem

METHOD_NAMES = {"minmax": "ONE MinMax (fixed)", "orders": "order search", "exact": "exact (CP-SAT)",
                "robust": "robust over the trace's runs (CP-SAT)"}
HEURISTIC_NAMES = {"minmax": "ONE MinMax", "orders": "order search"}


def format_report(problem: PartitionProblem, result: PartitionResult) -> str:
    """The readable report: parts, session graph, metrics, how the answer was found and how good it is."""
    m, unit = result.metrics, problem.weight_unit
    lines = [f"{problem.name}: {problem.num_ops} ops, total weight {m.total} {unit}, {m.num_parts} parts"]
    lines += [f"note: {note}" for note in result.notes]
    lines += ["", f"{'part':>4} {'ops':>5} {'weight':>10} {'share':>6} {'constants':>12}  op indices"]
    ops_of: list[list[int]] = [[] for _ in range(m.num_parts)]  # one pass: a million ops x 64 parts is seconds
    for v, k in enumerate(result.parts):
        ops_of[k].append(v)
    for row in result.part_rows:
        ops = ops_of[row.part]
        lines.append(f"{row.part:>4} {row.ops:>5} {row.weight:>10} {row.share:>6.1%} {row.constant_bytes:>10} B  "
                     f"{op_ranges(ops)}")  # fmt: skip
    lines += ["", "session graph (1: some tensor goes from the row's part to the column's):"]
    lines.append("     " + " ".join(f"{j:>3}" for j in range(m.num_parts)))
    lines += [f"{i:>4} " + " ".join(f"{x:>3}" for x in row) for i, row in enumerate(m.session_graph)]
    lines += [
        "",
        f"bottleneck        {m.bottleneck} {unit}",
        f"lower bound       {m.lower_bound} {unit}  (the strongest of ceil(total / K), the largest op, "
        "bin packing and station windows)",
        f"bottleneck / lower bound  {m.ratio:.4f}",
        f"edge cut          {m.edge_cut} op pairs across parts",
        f"memory overhead   {m.memory_overhead} B (ONE's definition: tensor bytes per cut edge)",
        f"transfer bytes    {m.transfer_bytes} B (each tensor once per consuming part)",
        f"session graph     {'acyclic' if m.acyclic else 'CYCLIC'}",
        "",
        *_method_lines(result, unit),
        "heuristics:",
    ]
    for name, run in result.heuristics.items():
        bottleneck = run.metrics.bottleneck
        ratio = bottleneck / m.lower_bound if m.lower_bound else 1.0
        lines.append(f"  {HEURISTIC_NAMES[name]:<14} bottleneck {bottleneck:>10} {unit}  ({ratio:.4f} x lower bound)  "
                     f"{run.seconds:.3f} s")
    if result.robust is not None:
        lines += _robust_lines(result.robust, unit)
    lines.append(f"time              {result.time:.2f} s")
    return "\n".join(lines)


def _method_lines(result: PartitionResult, unit: str) -> list[str]:
    """How the answer was found and its status, with the bound and gap of the model that was solved."""
    if result.robust is None:
        return [f"method            {METHOD_NAMES[result.method]}, {result.status}",
                f"proven bound      {result.bound} {unit}, gap {result.gap:.2%}"]  # fmt: skip
    r = result.robust.result
    what = "the worst run" if r.level == 1 else f"the {r.level:g} quantile of the runs"
    return [f"method            {METHOD_NAMES[result.method]}, {r.status} for {what} (bound {r.bound} {unit}, gap "
            f"{r.gap:.2%})",
            f"median weights    bound {result.bound} {unit}: this partition's median-weight bottleneck is "
            f"{result.gap:.2%} above it, the price of planning for {what}"]  # fmt: skip


PER_RUN_ROWS = 12  # more runs than this: the summary only (every run is in --json's per_run)


def _robust_lines(report: RobustReport, unit: str) -> list[str]:
    """The robust value and bound, then both partitions' bottleneck on every run (up to ``PER_RUN_ROWS`` runs)
    and over the runs."""
    r, table = report.result, report.runs
    what = "worst run" if r.level == 1 else f"quantile {r.level:g}"
    median, robust = table.bottlenecks["median"], table.bottlenecks["robust"]
    shown = "per run and " if len(median) <= PER_RUN_ROWS else ""
    lines = [f"robust ({what} of {r.scenarios} runs): bottleneck {r.value} {unit}, bound {r.bound} {unit}, "
             f"{r.status} for the {what}; bottleneck {shown}over the runs of the median-weight optimum and of the "
             "robust partition" + ("" if shown else " (each run's in --json, per_run)") + ":",
             f"  {'run':<10} {'median-weight':>14} {'robust':>10}"]  # fmt: skip
    if shown:
        lines += [f"  run {i + 1:<6} {a:>14} {b:>10}" for i, (a, b) in enumerate(zip(median, robust))]
    summaries = table.summary("median"), table.summary("robust")
    for key in ("median", "mean", "worst") + (("quantile",) if r.level < 1 else ()):
        label = f"q {r.level:g}" if key == "quantile" else key
        lines.append(f"  {label:<10} {summaries[0][key]:>14.0f} {summaries[1][key]:>10.0f}")
    return lines


def op_ranges(ops: Sequence[int], most: int = 6) -> str:
    """Sorted op indices as ranges, ``0-12, 15, 17-20``, the first ``most`` of them and how many more.

    Every op of a part is named: a part need not be contiguous in op order, so its first and last op alone
    would say nothing of the ops between them that belong elsewhere.
    """
    runs: list[list[int]] = []
    for v in sorted(ops):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:most])
    return text + (f", ... ({len(runs) - most} more ranges)" if len(runs) > most else "") if runs else "-"


def format_table(comparison: Comparison) -> str:
    """One line per K and method: bottleneck, ratio to the optimum (or bound), proven, time."""
    lines = [
        f"{comparison.name}: {comparison.num_ops} ops, bottleneck in {comparison.weight_unit}; ratio = "
        "bottleneck / optimum (or / proven lower bound when not proven, marked <=)",
        f"{'K':>3}  {'method':<7} {'bottleneck':>11} {'ratio':>9} {'proven':>6} {'time s':>8}  status",
    ]
    for r in comparison.rows:
        exact_row = next(x for x in comparison.rows if x.num_parts == r.num_parts and x.method == "exact")
        mark = "" if exact_row.status == OPTIMAL else "<="
        lines.append(f"{r.num_parts:>3}  {r.method:<7} {r.bottleneck:>11} {mark + f'{r.ratio:.4f}':>9} "
                     f"{'yes' if r.proven else 'no':>6} {r.seconds:>8.2f}  {r.status}")
    if comparison.interrupted:
        lines.append("interrupted: the last K holds the best answer found so far; later K were not solved")
    return "\n".join(lines)


_STYLES = {"minmax": ("s", "tab:orange"), "orders": ("^", "tab:green"), "exact": ("o", "tab:blue")}


def plot_comparison(comparison: Comparison, path: str | Path, methods: Sequence[str] = METHODS) -> Path:
    """Draw :func:`comparison_figure` into ``path``; the format (png, svg, pdf) follows the file name."""
    from solver.extras import plot_format, pyplot

    fmt = plot_format(path)
    plt = pyplot("plotting the comparison")
    fig = comparison_figure(comparison, methods)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return write_atomic(path, buffer.getvalue())


def comparison_figure(comparison: Comparison, methods: Sequence[str] = METHODS):
    """Bottleneck per K for each method beside the proven bound, and each method's ratio to it (a figure).

    K is discrete: one marker per K and method, no lines between K. Methods sit side by side around each K
    (a small horizontal offset, each with its own marker), so coinciding values stay visible. The proven lower
    bound of each K is a black bar; the exact answer is filled where it is proven optimal, hollow where not.
    """
    from solver.extras import pyplot

    plt = pyplot("plotting the comparison")
    fig, (absolute, relative) = plt.subplots(1, 2, figsize=(11, 4.2))
    exact = {r.num_parts: r for r in comparison.rows_for("exact")}
    ks = sorted(exact)
    width = 0.22
    for i, method in enumerate(methods):
        rows = comparison.rows_for(method)
        offset = (i - (len(methods) - 1) / 2) * width
        marker, color = _STYLES.get(method, ("D", None))
        xs = [r.num_parts + offset for r in rows]
        hollow = [method == "exact" and not r.proven for r in rows]
        for ax, ys in ((absolute, [r.bottleneck for r in rows]), (relative, [r.ratio for r in rows])):
            for x, y, open_ in zip(xs, ys, hollow):
                ax.plot([x], [y], linestyle="none", marker=marker, markersize=7, color=color,
                        markerfacecolor="white" if open_ else color)  # fmt: skip
            ax.plot([], [], linestyle="none", marker=marker, color=color, label=METHOD_NAMES.get(method, method))
    bounds = [exact[k].reference for k in ks]  # the optimum where proven, else the exact solver's bound: both proven
    absolute.hlines(bounds, [k - 0.45 for k in ks], [k + 0.45 for k in ks], colors="black", linewidth=1.6, zorder=1,
                    label="proven lower bound (optimum where filled)")  # fmt: skip
    relative.axhline(1.0, color="black", linewidth=1.2, zorder=1, label="proven lower bound")
    if any(not exact[k].proven for k in ks):
        absolute.plot([], [], linestyle="none", marker="o", markerfacecolor="white", color="tab:blue",
                      label="exact, not proven optimal")  # fmt: skip
    absolute.set(xlabel="parts K", ylabel=f"bottleneck ({comparison.weight_unit})", title=comparison.name)
    relative.set(xlabel="parts K", ylabel="bottleneck / proven lower bound", title="distance from the bound")
    for ax in (absolute, relative):
        ax.set_xticks(ks)
        ax.set_xlim(min(ks) - 0.6, max(ks) + 0.6)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    return fig
