"""Read per-op execution times from onert traces and attach them to a model's op graph.

Two formats are accepted (see ../shared/reference/formats.md):

- Chrome traces (``trace.chrome.json``): ``B``/``E`` pairs or complete ``X`` events with ``dur``.
  The op index follows ``@`` (current onert) or ``$`` (older onert); an older name may end in
  ``(+k)`` for a fused sequence of k + 1 consecutive ops, whose time is shared equally among them.
- onert's aggregate ``trace.json``: ``{"Execution_Data": {backend: {"$0 subgraph $12 Conv2D":
  {"Avg_Time": ...}}}}``, one average per op.

A trace written by ``solve profile`` holds several rounds (one fresh process each) one after the other, and
says so in the Chrome format's ``otherData``: ``{"nnpart": {"rounds": [{"warmup": 1, "runs": 10}, ...]}}``
(ONE's readers and Chrome ignore the key). The warm-up runs of every round are left out; in a trace without
that key only the first (preparing) run is, when there are several.

The weight of an op is an estimator over its timed runs, the median by default: ONE's tool keeps the last
run, which is whatever the scheduler did at that moment; the mean follows the outlier runs a busy machine
makes; the minimum of each op, taken independently, comes from different lucky runs and, with few runs,
moves from one profile to the next more than the median does. ``min``, ``mean`` and ``pNN`` (a percentile,
e.g. ``p90`` to plan for a busy device) are there for the user who wants them (``devices.stats``).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from devices.stats import check_estimator, estimate
from solver.errors import TraceError, UsageError
from solver.io.files import read_json
from solver.io.optypes import types_agree
from solver.io.tflite import Model

# "@12 Conv2D", "$12 Conv2D", "$12 Conv2D (+2)"
_OP_NAME = re.compile(r"^[@$](\d+)\s+(\S+)(?:\s+\(\+(\d+)\))?\s*$")
# "$0 subgraph $12 Conv2D" in the aggregate trace.json
_AGGREGATE_NAME = re.compile(r"^\$(\d+)\s+subgraph\s+[@$](\d+)\s+(\S+)")
_SUBGRAPH_IN_TID = re.compile(r"\$(\d+)\s+subg")
_NOT_OPS = ("Permute",)  # runtime copies between backends, not model ops
_NOT_OP_TYPES = ("subg", "Graph")  # whole-subgraph events
_SHOWN = 5  # offenders named in an error message
# No op runs for a day: a longer "duration" is a broken or hostile trace, and would overflow integer weights.
MAX_OP_US = 86_400e6


@dataclass
class OpTimes:
    """Per-op times read from a trace (microseconds)."""

    source: Path
    format: str  # "chrome" or "aggregate"
    samples: dict[int, list[float]]  # op index -> time of each run, in trace order
    types: dict[int, str] = field(default_factory=dict)  # op index -> type name in the trace
    backends: dict[int, str] = field(default_factory=dict)  # op index -> backend that ran it
    rounds: list[tuple[int, int]] | None = None  # (warm-up runs, timed runs) of each round, when the trace says

    def timed(self, op: int) -> list[float]:
        """The op's timed runs in trace order: the warm-up runs of each round left out (see the module docstring)."""
        runs = self.samples[op]
        if self.rounds and len(runs) == sum(w + n for w, n in self.rounds):
            kept, start = [], 0
            for warmup, count in self.rounds:
                kept += runs[start + warmup : start + warmup + count]
                start += warmup + count
            return kept
        return runs[1:] if len(runs) > 1 else runs

    def weight(self, op: int, estimator: str = "median") -> float:
        """The op's time: ``estimator`` (median, min, mean or pNN) over its timed runs."""
        return estimate(self.timed(op), estimator)

    def run_totals(self) -> list[float] | None:
        """The sum over ops of each timed run, in trace order; None when the ops were not timed equally often."""
        runs = [self.timed(op) for op in sorted(self.samples)]
        if not runs or len({len(r) for r in runs}) != 1:
            return None
        return [sum(column) for column in zip(*runs)]

    @property
    def runs(self) -> tuple[int, int]:
        """Fewest and most runs seen for one op."""
        counts = [len(r) for r in self.samples.values()]
        return min(counts), max(counts)


def read_trace(path: str | Path) -> OpTimes:
    """Read an onert Chrome trace or aggregate ``trace.json``.

    Raises
    ------
    TraceError
        The file is missing, is not JSON, or holds no op events of subgraph 0.
    """
    path = Path(path)
    return trace_times(read_json(path, "trace", TraceError), path)


def trace_times(data: object, path: Path) -> OpTimes:
    """The op times of a trace document already read (``path`` names it in messages and notes)."""
    if isinstance(data, dict) and "Execution_Data" in data:
        times = _read_aggregate(path, data["Execution_Data"])
    elif isinstance(data, dict) and isinstance(data.get("traceEvents"), list):
        times = _read_chrome(path, data["traceEvents"])
        times.rounds = _rounds(path, data.get("otherData"))
    elif isinstance(data, list):
        times = _read_chrome(path, data)
    else:
        raise TraceError(f"{path}: not an onert trace (expected 'traceEvents' or 'Execution_Data')")
    if not times.samples:
        raise TraceError(f"{path}: the trace holds no operator events of subgraph 0")
    return times


def _read_chrome(path: Path, events: list) -> OpTimes:
    times = OpTimes(path, "chrome", defaultdict(list))
    open_events: dict[tuple, list[float]] = defaultdict(list)
    for i, event in enumerate(events):
        if not isinstance(event, dict) or not event:
            continue  # onert ends the list with {}
        name, phase, tid = event.get("name"), event.get("ph"), str(event.get("tid", ""))
        if not isinstance(name, str) or phase not in ("B", "E", "X"):
            continue
        match = _OP_NAME.match(name)
        if match is None or not _is_op(name, match[2]) or _subgraph(tid) != 0:
            continue
        try:
            ts = _finite(event["ts"])
            dur = _finite(event["dur"]) if phase == "X" else None
        except (KeyError, TypeError, ValueError) as err:
            raise TraceError(f"{path}: event {i} ({name!r}) has no finite numeric ts/dur") from err
        key = (str(event.get("pid", "")), tid, name)  # ids as text: a hostile {} or [] is no key
        if phase == "B":
            open_events[key].append(ts)
            continue
        if phase == "E":
            if not open_events[key]:
                raise TraceError(f"{path}: event {i} ends {name!r}, which never began")
            dur = ts - open_events[key].pop()
        if not 0 <= dur <= MAX_OP_US:
            what = "a negative duration" if dur < 0 else f"a duration of {dur:.3g} us, more than a day"
            raise TraceError(f"{path}: event {i} ({name!r}) has {what}")
        _add_run(times, match, dur, tid.rsplit(",", 1)[-1].strip())
    unclosed = [key[2] for key, starts in open_events.items() if starts]
    if unclosed:
        raise TraceError(f"{path}: {len(unclosed)} op events never end, e.g. {unclosed[0]!r} (truncated trace?)")
    return times


def _rounds(path: Path, other: object) -> list[tuple[int, int]] | None:
    """The rounds ``otherData.nnpart.rounds`` describes, checked; None when the trace does not say."""
    described = other.get("nnpart", {}).get("rounds") if isinstance(other, dict) else None
    if described is None:
        return None
    try:
        rounds = [(r["warmup"], r["runs"]) for r in described]
    except (TypeError, KeyError) as err:
        raise TraceError(f"{path}: otherData.nnpart.rounds is not a list of {{warmup, runs}}") from err
    if not rounds or any(type(w) is not int or type(n) is not int or w < 0 or n < 1 for w, n in rounds):
        raise TraceError(f"{path}: otherData.nnpart.rounds needs warmup >= 0 and runs >= 1 in every round")
    return rounds


def rounds_trace(traces: list[dict], rounds: list[tuple[int, int]], about: dict | None = None) -> dict:
    """One Chrome trace holding the events of ``traces`` (one per round, in order) and the rounds' layout.

    ``about`` adds facts of the measurement to ``otherData.nnpart`` (stability, when it was measured).
    """
    events = [e for trace in traces for e in (trace.get("traceEvents", []) if isinstance(trace, dict) else trace) if e]
    layout = [{"warmup": w, "runs": n} for w, n in rounds]
    return {"traceEvents": events, "otherData": {"nnpart": {"rounds": layout, **(about or {})}}}


def trace_facts(path: str | Path) -> dict:
    """``otherData.nnpart`` of a trace ``solve profile`` wrote ({} for other traces or unreadable files)."""
    try:
        data = read_json(Path(path), "trace", TraceError)
    except TraceError:
        return {}
    other = data.get("otherData") if isinstance(data, dict) else None
    facts = other.get("nnpart") if isinstance(other, dict) else None
    return facts if isinstance(facts, dict) else {}


def trace_warning(path: str | Path) -> str:
    """What a trace's own verdict (``otherData.nnpart``) says against it, in one line: its profile was UNSTABLE
    or contended; "" for a stable profile and for traces that do not say."""
    facts = trace_facts(path)
    if facts.get("stable") is not False and not facts.get("contended"):
        return ""
    reasons = facts.get("reasons") if isinstance(facts.get("reasons"), list) else []
    why = "; ".join(str(r) for r in reasons[:2]) or "no reason recorded"
    what = "contended (UNSTABLE)" if facts.get("contended") else "UNSTABLE"
    return (f"{path}: the trace's profile was {what}: {why}; its op weights may measure the machine's load, not "
            f"the model (solve profile again, on a quiet machine or with fewer threads)")


def _add_run(times: OpTimes, match: re.Match, dur: float, backend: str) -> None:
    first, op_type, extra = int(match[1]), match[2], int(match[3] or 0)
    # A fused sequence of extra + 1 ops reports one time; share it equally.
    for op in range(first, first + extra + 1):
        times.samples[op].append(dur / (extra + 1))
        times.backends[op] = backend
    times.types[first] = op_type


def _read_aggregate(path: Path, execution: object) -> OpTimes:
    if not isinstance(execution, dict):
        raise TraceError(f"{path}: 'Execution_Data' is not an object")
    times = OpTimes(path, "aggregate", defaultdict(list))
    for backend, ops in execution.items():
        if not isinstance(ops, dict):
            raise TraceError(f"{path}: 'Execution_Data.{backend}' is not an object")
        for name, stats in ops.items():
            match = _AGGREGATE_NAME.match(name)
            if match is None or int(match[1]) != 0 or not _is_op(name, match[3]):
                continue
            try:
                avg = _finite(stats["Avg_Time"])
            except (KeyError, TypeError, ValueError) as err:
                raise TraceError(f"{path}: {name!r} has no finite numeric Avg_Time") from err
            if not 0 <= avg <= MAX_OP_US:
                what = "a negative Avg_Time" if avg < 0 else f"an Avg_Time of {avg:.3g} us, more than a day"
                raise TraceError(f"{path}: {name!r} has {what}")
            op = int(match[2])
            times.samples[op].append(avg)
            times.types[op] = match[3]
            times.backends[op] = backend
    return times


def _finite(value) -> float:
    """``value`` as a finite float; ValueError for NaN, infinities, booleans and what is not a number."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not finite")
    return number


def _is_op(name: str, op_type: str) -> bool:
    return op_type not in _NOT_OP_TYPES and not any(word in name for word in _NOT_OPS)


def _subgraph(tid: str) -> int:
    match = _SUBGRAPH_IN_TID.search(tid)
    return int(match[1]) if match else 0


def attach_weights(graph: nx.DiGraph, model: Model, times: OpTimes, estimator: str = "median") -> list[str]:
    """Set each node's integer ``weight`` (us) from ``times`` after checking they belong to ``model``;
    ``estimator`` (median, min, mean or pNN) turns each op's timed runs into one figure.

    Returns the notes the report should carry (runs seen, fused sequences).

    Raises
    ------
    TraceError
        Ops of the model are missing from the trace, the trace names ops the model does not have, or
        an op's type in the trace disagrees with the model (``Conv2D`` vs ``CONV_2D`` agrees).
    """
    try:
        check_estimator(estimator)
    except ValueError as err:
        raise UsageError(str(err)) from err
    source = times.source
    missing = [op.index for op in model.operators if op.index not in times.samples]
    extra = sorted(i for i in times.samples if i >= model.num_ops)
    if extra:
        raise TraceError(
            f"{source}: the trace has op indices the model ({model.path.name}, {model.num_ops} ops) does not: "
            f"{_first(extra)} (a trace of another model?)"
        )
    if missing:
        raise TraceError(
            f"{source}: {len(missing)} of {model.num_ops} ops of {model.path.name} are missing from the trace: "
            f"{_first(missing)}"
        )
    wrong = [
        f"{i} ({model.operators[i].type} vs {name})"
        for i, name in sorted(times.types.items())
        if not types_agree(model.operators[i].type, name)
    ]
    if wrong:
        raise TraceError(
            f"{source}: op types disagree with {model.path.name} at {len(wrong)} ops: {', '.join(wrong[:_SHOWN])}"
            + (", ..." if len(wrong) > _SHOWN else "")
            + " (a trace of another model?)"
        )
    for op in model.operators:
        graph.nodes[op.index]["weight"] = int(round(times.weight(op.index, estimator)))
    return [f"op weights from {source}: {describe_runs(times, estimator)}"]


def describe_runs(times: OpTimes, estimator: str = "median") -> str:
    """How many runs per op the trace holds, how many of them are timed, and which statistic of them is the weight."""
    if times.format == "aggregate":
        return "weight = onert's Avg_Time"
    seen = _span([len(runs) for runs in times.samples.values()])
    timed = _span([len(times.timed(op)) for op in times.samples])
    rounds = f" in {len(times.rounds)} rounds" if times.rounds else ""
    if seen == timed:
        return f"{seen} run(s) per op{rounds}, all timed, weight = {estimator}"
    dropped = "the warm-up runs of each round" if times.rounds else "the first (preparing) run"
    return f"{seen} run(s) per op{rounds}, {timed} timed ({dropped} left out), weight = {estimator}"


def _span(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low} to {high}"


def _first(items: list[int]) -> str:
    return ", ".join(map(str, items[:_SHOWN])) + (", ..." if len(items) > _SHOWN else "")
