"""The memory model's per-object form, as it was before the array form (solver.memory.lifetimes, planner): kept
only as the oracle the array form is tested against (tests/memory/test_memory_arrays.py). Python objects per
op, tensor and event: fine for the small random graphs of the tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx

from solver.memory.lifetimes import LINEAR, Graph, OpTensors
from solver.memory.model import MemoryTerms, filter_bytes, im2col_bytes
from solver.memory.planner import CLAIM, DEFAULT_PLANNER, RELEASE, Event, Plan


def plan_memory(events, planner: str) -> Plan:
    events = list(events)
    if planner == "Bump":
        return _bump(events)
    if planner == "FirstFit":
        return _first_fit(events)
    return _wic(events)

def _bump(events: Sequence[Event]) -> Plan:
    offsets, sizes, capacity = {}, {}, 0
    for e in events:
        if e.kind == CLAIM:
            offsets[e.tensor], sizes[e.tensor] = capacity, e.size
            capacity += e.size
    return Plan(capacity, offsets, sizes)


def _first_fit(events: Sequence[Event]) -> Plan:
    offsets: dict[int, int] = {}
    sizes: dict[int, int] = {}
    table: dict[int, int] = {}  # offset -> tensor, of the live tensors (onert's std::map _claim_table)
    capacity = 0
    for e in events:
        if e.kind == CLAIM:
            nxt = 0
            for base in sorted(table):
                if nxt + e.size <= base:
                    break
                nxt = base + sizes[table[base]]
            table[nxt] = e.tensor
            offsets[e.tensor], sizes[e.tensor] = nxt, e.size
            capacity = max(capacity, nxt + e.size)
        else:
            for base in sorted(table):
                if table[base] == e.tensor:
                    del table[base]
                    break
    return Plan(capacity, offsets, sizes)


def _wic(events: Sequence[Event]) -> Plan:
    live: list[int] = []  # claim order; onert's unordered_set order only matters for ties of equal offsets
    interferes: dict[int, list[int]] = {}
    claimed: list[tuple[int, int]] = []  # (size, tensor) in claim order
    for e in events:
        if e.kind == CLAIM:
            interferes.setdefault(e.tensor, []).extend(live)
            for other in live:
                interferes[other].append(e.tensor)
            live.append(e.tensor)
            claimed.append((e.size, e.tensor))
        elif e.tensor in live:
            live.remove(e.tensor)
    offsets: dict[int, int] = {}
    sizes: dict[int, int] = {}
    capacity = 0
    # std::multimap with std::greater: descending size, equal sizes in insertion (claim) order (a stable sort).
    for size, tensor in sorted(claimed, key=lambda st: -st[0]):
        nxt = 0
        placed = sorted(((offsets[o], sizes[o]) for o in interferes[tensor] if o in offsets), key=lambda b: b[0])
        for base, other_size in placed:
            if nxt + size <= base:
                break
            if nxt < base + other_size:
                nxt = base + other_size
        offsets[tensor], sizes[tensor] = nxt, size
        capacity = max(capacity, nxt + size)
    return Plan(capacity, offsets, sizes)


def live_peak(events: Iterable[Event]) -> int:
    """The largest sum of sizes of tensors live at once (claimed, not yet released): no planner does better."""
    live: dict[int, int] = {}
    peak = 0
    for e in events:
        if e.kind == CLAIM:
            live[e.tensor] = e.size
            peak = max(peak, sum(live.values()))
        else:
            live.pop(e.tensor, None)
    return peak

def onert_order(graph: Graph) -> list[int]:
    """Positions of ``graph.ops`` in the order onert's executor runs them (see the module docstring)."""
    readers: dict[int, list[int]] = {}
    for k, op in enumerate(graph.ops):
        for t in dict.fromkeys(op.inputs):
            readers.setdefault(t, []).append(k)
    seen: set[int] = set()
    post: list[int] = []
    for start in reversed(range(len(graph.ops))):
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(_consumers(graph.ops[start], readers)))]
        while stack:  # iterative DFS: post-order without recursion limits on deep models
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(_consumers(graph.ops[child], readers))))
                    break
            else:
                stack.pop()
                post.append(node)
    return post[::-1]


def _consumers(op: OpTensors, readers: Mapping[int, list[int]]) -> list[int]:
    return sorted({c for t in dict.fromkeys(op.outputs) for c in readers.get(t, ())})


def backend_events(
    graph: Graph, order: Sequence[int], backend_of: Sequence[str], backend: str, executor: str = LINEAR
) -> list[Event]:
    """The planner events of ``backend``'s arena: ``order`` the positions of ``graph.ops`` in run order,
    ``backend_of[k]`` the backend of op ``k`` (see the module docstring)."""
    external = set(graph.inputs) | set(graph.outputs) | graph.constants
    mine = [k for k in order if backend_of[k] == backend]
    owned = [t for k in mine for t in dict.fromkeys(graph.ops[k].outputs) if t not in external]
    owned = list(dict.fromkeys(owned))
    if executor != LINEAR:
        return [Event(CLAIM, t, graph.sizes[t]) for t in sorted(owned)]
    owned_set = set(owned)
    uses = dict.fromkeys(owned, 0)
    for k in mine:
        for t in dict.fromkeys(graph.ops[k].inputs):
            if t in owned_set:
                uses[t] += 1
    until_end = [t for t in owned if uses[t] == 0]  # read by no op of this backend
    events: list[Event] = []
    defined: set[int] = set()
    for k in mine:
        op = graph.ops[k]
        for t in dict.fromkeys(op.outputs):
            if t in owned_set and t not in defined:
                defined.add(t)
                events.append(Event(CLAIM, t, graph.sizes[t]))
        for t in dict.fromkeys(op.inputs):
            if t in owned_set and uses[t] > 0:
                uses[t] -= 1
                if uses[t] == 0:
                    events.append(Event(RELEASE, t))
    return events + [Event(RELEASE, t) for t in until_end]


def part_graph(graph: Graph, ops: Sequence[int]) -> Graph:
    """The ops at positions ``ops`` of ``graph`` as their own model (see the module docstring)."""
    inside = sorted(set(ops))
    members = set(inside)
    written = {t for k in inside for t in graph.ops[k].outputs}
    read_outside = {t for k in range(len(graph.ops)) if k not in members for t in graph.ops[k].inputs}
    inputs = [t for k in inside for t in graph.ops[k].inputs if t not in written and t not in graph.constants]
    outputs = [t for t in sorted(written) if t in read_outside or t in graph.outputs]
    return Graph(
        ops=tuple(graph.ops[k] for k in inside), sizes=graph.sizes, shapes=graph.shapes, constants=graph.constants,
        inputs=tuple(dict.fromkeys(inputs)), outputs=tuple(outputs),
    )  # fmt: skip


def memory_terms(
    graph: Graph,
    backend_of: Sequence[str] | None = None,
    planner: str = DEFAULT_PLANNER,
    executor: str = LINEAR,
    order: Sequence[int] | None = None,
) -> MemoryTerms:
    """The terms of ``graph``'s session: ``backend_of[k]`` the backend of op ``k`` (all ``cpu`` by default),
    ``order`` the run order of the ops (positions; :func:`~solver.memory.lifetimes.onert_order` by default)."""
    backend_of = list(backend_of) if backend_of is not None else ["cpu"] * len(graph.ops)
    order = list(order) if order is not None else onert_order(graph)
    arena = {b: plan_memory(backend_events(graph, order, backend_of, b, executor), planner).capacity
             for b in dict.fromkeys(backend_of)}  # fmt: skip
    io = set(graph.inputs) | set(graph.outputs)
    constants = {t for op in graph.ops for t in op.inputs if t in graph.constants}
    written = {t for op in graph.ops for t in op.outputs if t not in io and t not in graph.constants}
    return MemoryTerms(
        constants=sum(graph.sizes[t] for t in constants), arena=arena, io=sum(graph.sizes[t] for t in io),
        workspace=max((im2col_bytes(graph, op) for op in graph.ops), default=0),
        all_tensors=sum(graph.sizes[t] for t in written),
        inputs=sum(graph.sizes[t] for t in set(graph.inputs)),
        outputs=sum(graph.sizes[t] for t in set(graph.outputs) - set(graph.inputs)),
        filter=max((filter_bytes(graph, op) for op in graph.ops), default=0),
        largest_constant=max((graph.sizes[t] for t in constants), default=0),
        activation=max((graph.sizes[t] for op in graph.ops for t in (*op.inputs, *op.outputs)
                        if t in graph.sizes and t not in graph.constants), default=0),
    )  # fmt: skip


def parts_terms(
    graph: Graph, parts: Sequence[int], num_parts: int, backend_of: Sequence[str] | None = None,
    planner: str = DEFAULT_PLANNER, executor: str = LINEAR,
) -> list[MemoryTerms]:  # fmt: skip
    """The terms of each part's session, ``parts[k]`` the part of op ``k`` (a partition map)."""
    out = []
    for p in range(num_parts):
        ops = [k for k, q in enumerate(parts) if q == p]
        sub = part_graph(graph, ops)
        backends = None if backend_of is None else [backend_of[k] for k in ops]
        out.append(memory_terms(sub, backends, planner, executor))
    return out


def problem_graph(op_graph: nx.DiGraph) -> Graph:
    sizes: dict[int, int] = {}
    ins: dict[int, list[int]] = {v: list(op_graph.nodes[v].get("constants", {})) for v in op_graph}
    outs: dict[int, list[int]] = {v: [] for v in op_graph}
    constants = set()
    for v in op_graph:
        for t, nbytes in op_graph.nodes[v].get("constants", {}).items():
            sizes[t] = int(nbytes)
            constants.add(t)
    for u, v, data in op_graph.edges(data=True):
        for t, nbytes in data.get("tensors", {}).items():
            sizes[t] = int(nbytes)
            ins[v].append(t)
            if t not in outs[u]:
                outs[u].append(t)
    ops = tuple(OpTensors(v, tuple(dict.fromkeys(ins[v])), tuple(outs[v]), op_graph.nodes[v].get("type", ""))
                for v in range(op_graph.number_of_nodes()))  # fmt: skip
    return Graph(ops, sizes, {}, frozenset(constants), (), ())
