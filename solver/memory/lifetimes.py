"""The claims and releases a backend's tensor builder sends its memory planner, as onert derives them.

Model (onert 1.30: ``ExecutorFactory::createBackendContexts``, ``basic::planTensors``, ``basic::genTensors``)
--------------------------------------------------------------------------------------------------------
- A tensor belongs to the backend of the op that defines it. Model inputs and outputs belong to no backend's
  arena: they are I/O tensors whose buffers the caller provides (``external``). Constants are held apart
  (the model's data), never planned. An op on another backend reads a tensor in place (a migrant tensor: cpu
  and ruy share the layout, so no copy is made).
- The op order is the executor's: onert sorts the ops topologically (a depth-first search's reverse post-order,
  ``Graph::topolSortOperations``) and each backend keeps its own ops in that order. The search starts from
  the ops as onert's hash map of operations yields them, the last inserted first (libstdc++), so from the
  last op of the file back: for a file whose ops are in a topological order the result is the file's order.
  Measured: onert's traces of MobileNetV2 and InceptionV3 (Linear executor) run the ops in the file's order.
- With the ``Linear`` executor, for each op in order: its outputs owned here are claimed (first definition);
  then each input owned here loses one use (uses = this backend's ops reading it) and is released at zero.
  Tensors no op of this backend reads (hand-offs to another backend, unused outputs) are released only after
  the last op: they live to the end. With ``Dataflow`` and ``Parallel`` every owned tensor is claimed at the
  start and never released (onert's "static memory planner" workaround): the arena is their sum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from solver.memory.planner import CLAIM, RELEASE, Event

LINEAR = "Linear"


@dataclass(frozen=True)
class OpTensors:
    """One op: the tensors it reads and writes (TFLite tensor indices, absent optional inputs left out)."""

    index: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    type: str = ""  # TFLite builtin name (CONV_2D)


@dataclass(frozen=True)
class Graph:
    """What the memory model needs of a model: ops, tensor sizes, constants, model inputs and outputs."""

    ops: tuple[OpTensors, ...]
    sizes: Mapping[int, int]  # tensor -> bytes
    shapes: Mapping[int, tuple[int, ...]]  # tensor -> shape
    constants: frozenset[int]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


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
