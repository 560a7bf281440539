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
  last op of the file back: for a file whose ops are in a topological order the result is the file's order
  (each start's descendants come after it, so are already visited). Measured: onert's traces of MobileNetV2
  and InceptionV3 (Linear executor) run the ops in the file's order.
- With the ``Linear`` executor, for each op in order: its outputs owned here are claimed (first definition);
  then each input owned here loses one use (uses = this backend's ops reading it) and is released at zero.
  Tensors no op of this backend reads (hand-offs to another backend, unused outputs) are released only after
  the last op: they live to the end. With ``Dataflow`` and ``Parallel`` every owned tensor is claimed at the
  start and never released (onert's "static memory planner" workaround): the arena is their sum.

The graph is held as arrays (:class:`TensorArrays`: tensors numbered ``0..T-1``, each op's inputs and outputs
as index ranges), so a million-op graph file's parts are modelled without a Python object per op; the
lifetimes are computed on them with numpy. :class:`Graph` keeps its per-object fields for small models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from heuristics.arrays import unique_sorted
from solver.memory.planner import CLAIM, RELEASE, Event, Lifetimes

LINEAR = "Linear"


@dataclass(frozen=True)
class OpTensors:
    """One op: the tensors it reads and writes (TFLite tensor indices, absent optional inputs left out)."""

    index: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    type: str = ""  # TFLite builtin name (CONV_2D)


@dataclass(frozen=True)
class TensorArrays:
    """A graph as arrays. Tensor t (``0..T-1``) is the graph's tensor ``ids[t]`` of ``sizes[t]`` bytes; op k
    reads the tensors ``in_t[in_ptr[k]:in_ptr[k + 1]]`` and writes ``out_t[out_ptr[k]:out_ptr[k + 1]]``, each
    once, in the op's order; ``position[k]`` is its place among the ops of the graph it was cut from."""

    ids: Sequence
    sizes: np.ndarray  # int64[T]
    constant: np.ndarray  # bool[T]
    model_input: np.ndarray  # bool[T]: the graph's inputs (I/O buffers)
    model_output: np.ndarray  # bool[T]: the graph's outputs
    position: np.ndarray  # int64[n]
    in_ptr: np.ndarray  # int64[n + 1]
    in_t: np.ndarray
    out_ptr: np.ndarray
    out_t: np.ndarray

    @property
    def n(self) -> int:
        return len(self.position)

    @cached_property
    def reader(self) -> np.ndarray:
        """The op of each entry of ``in_t``."""
        return np.repeat(np.arange(self.n), np.diff(self.in_ptr))

    @cached_property
    def writer(self) -> np.ndarray:
        """The op of each entry of ``out_t``."""
        return np.repeat(np.arange(self.n), np.diff(self.out_ptr))

    @cached_property
    def read_count(self) -> np.ndarray:
        """How many ops read each tensor."""
        return np.bincount(self.in_t, minlength=len(self.sizes))

    def id_of(self, tensors: np.ndarray) -> list:
        return [self.ids[t] for t in tensors.tolist()]


@dataclass(frozen=True)
class Graph:
    """What the memory model needs of a model: ops, tensor sizes, constants, model inputs and outputs.

    Held as :class:`TensorArrays` (``arrays``); a graph made from arrays (:meth:`from_arrays`, :meth:`part`)
    gives its ops and sizes as views built on demand."""

    ops: Sequence[OpTensors]
    sizes: Mapping[int, int]  # tensor -> bytes
    shapes: Mapping[int, tuple[int, ...]]  # tensor -> shape
    constants: frozenset[int]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    @cached_property
    def arrays(self) -> TensorArrays:
        ids = list(dict.fromkeys([*self.sizes, *(t for op in self.ops for t in (*op.inputs, *op.outputs)),
                                  *self.constants, *self.inputs, *self.outputs]))  # fmt: skip
        number = {t: k for k, t in enumerate(ids)}

        def flags(tensors) -> np.ndarray:
            out = np.zeros(len(ids), dtype=bool)
            out[[number[t] for t in tensors]] = True
            return out

        def ranges(lists) -> tuple[np.ndarray, np.ndarray]:
            lists = [[number[t] for t in dict.fromkeys(x)] for x in lists]
            ptr = np.concatenate(([0], np.cumsum([len(x) for x in lists], dtype=np.int64)))
            return ptr.astype(np.int64), np.asarray([t for x in lists for t in x], dtype=np.int64)

        in_ptr, in_t = ranges(op.inputs for op in self.ops)
        out_ptr, out_t = ranges(op.outputs for op in self.ops)
        return TensorArrays(ids, np.asarray([self.sizes.get(t, 0) for t in ids], dtype=np.int64),
                            flags(self.constants), flags(self.inputs), flags(self.outputs),
                            np.arange(len(self.ops), dtype=np.int64), in_ptr, in_t, out_ptr, out_t)  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: TensorArrays, root: Graph | None = None) -> Graph:
        """The graph of ``arrays``; ``root``: the per-object graph its ``position`` points into (its op objects,
        sizes and shapes are kept)."""
        a = arrays
        ops = _Ops(a, root.ops if root is not None else None)
        sizes = root.sizes if root is not None else _Sizes(a)
        constants = root.constants if root is not None else frozenset(a.id_of(np.flatnonzero(a.constant)))
        inputs = a.id_of(np.flatnonzero(a.model_input))
        graph = cls(ops, sizes, root.shapes if root is not None else {}, constants,
                    tuple(_sorted(inputs)), tuple(_sorted(a.id_of(np.flatnonzero(a.model_output)))))  # fmt: skip
        graph.__dict__["arrays"] = a
        graph.__dict__["root"] = root
        return graph

    def part(self, ops: Sequence[int]) -> Graph:
        """The ops at positions ``ops`` as their own model (:func:`solver.memory.model.part_graph`): its inputs
        the non-constant tensors its ops read and none writes, its outputs those they write that another op
        reads, or the model's outputs. Its tensors are numbered anew, so its arrays are as long as the part's (a
        million-op graph's 64 parts cost one pass over it, not 64)."""
        a = self.arrays
        inside = unique_sorted(np.asarray(ops, dtype=np.int64))
        in_t, in_counts = _rows(a.in_ptr, a.in_t, inside)
        out_t, out_counts = _rows(a.out_ptr, a.out_t, inside)
        tensors = unique_sorted(np.concatenate((in_t, out_t)))
        in_t, out_t = np.searchsorted(tensors, in_t), np.searchsorted(tensors, out_t)
        written = np.zeros(len(tensors), dtype=bool)
        written[out_t] = True
        read_outside = a.read_count[tensors] > np.bincount(in_t, minlength=len(tensors))  # each op reads once
        constant = a.constant[tensors]
        inputs = np.zeros(len(tensors), dtype=bool)
        inputs[in_t[~written[in_t] & ~constant[in_t]]] = True
        part = TensorArrays(
            _Ids(a.ids, tensors), a.sizes[tensors], constant, inputs,
            written & (read_outside | a.model_output[tensors]), a.position[inside],
            _ptr(in_counts), in_t, _ptr(out_counts), out_t,
        )  # fmt: skip
        return Graph.from_arrays(part, self.__dict__.get("root", self))  # a per-object graph is its own root

    def constant_bytes(self) -> int:
        """Bytes of the constant tensors its ops read, each once."""
        a = self.arrays
        return int(a.sizes[unique_sorted(a.in_t[a.constant[a.in_t]])].sum())

    def io_bytes(self) -> int:
        """Bytes of its input and output buffers."""
        a = self.arrays
        return int(a.sizes[a.model_input | a.model_output].sum())

    def input_bytes(self) -> int:
        """Bytes of its input buffers."""
        a = self.arrays
        return int(a.sizes[a.model_input].sum())

    def output_bytes(self) -> int:
        """Bytes of its output buffers that are not also inputs."""
        a = self.arrays
        return int(a.sizes[a.model_output & ~a.model_input].sum())

    def largest_constant(self) -> int:
        """Bytes of the largest constant tensor its ops read (0 if none)."""
        a = self.arrays
        read = a.in_t[a.constant[a.in_t]]
        return int(a.sizes[read].max()) if len(read) else 0

    def largest_activation(self) -> int:
        """Bytes of the largest non-constant tensor its ops read or write (0 if none)."""
        a = self.arrays
        touched = np.concatenate((a.in_t, a.out_t))
        touched = touched[~a.constant[touched]]
        return int(a.sizes[touched].max()) if len(touched) else 0

    def written_bytes(self) -> int:
        """Bytes of the non-constant tensors its ops write, I/O left out."""
        a = self.arrays
        written = np.zeros(len(a.sizes), dtype=bool)
        written[a.out_t] = True
        return int(a.sizes[written & ~a.constant & ~a.model_input & ~a.model_output].sum())


class _Ops(Sequence):
    """The ops of a graph made from arrays, as :class:`OpTensors` made when asked (the root's own objects)."""

    def __init__(self, arrays: TensorArrays, root_ops: Sequence[OpTensors] | None) -> None:
        self.arrays, self.root_ops = arrays, root_ops

    def __len__(self) -> int:
        return self.arrays.n

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        a = self.arrays
        if self.root_ops is not None:
            return self.root_ops[int(a.position[k])]
        ins, outs = a.in_t[a.in_ptr[k]:a.in_ptr[k + 1]], a.out_t[a.out_ptr[k]:a.out_ptr[k + 1]]
        return OpTensors(int(a.position[k]), tuple(a.id_of(ins)), tuple(a.id_of(outs)))


class _Sizes(Mapping):
    """Tensor id -> bytes of a graph made from arrays whose ids are its tensor numbers."""

    def __init__(self, arrays: TensorArrays) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays.sizes)

    def __iter__(self):
        return iter(self.arrays.ids)

    def __getitem__(self, t) -> int:
        if not isinstance(t, (int, np.integer)) or not 0 <= t < len(self.arrays.sizes):
            raise KeyError(t)
        return int(self.arrays.sizes[t])


def _ptr(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def _rows(ptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries ``values[ptr[k]:ptr[k + 1]]`` of the rows ``k`` in ``rows``, one after another, and each
    row's count."""
    counts = ptr[rows + 1] - ptr[rows]
    at = np.repeat(ptr[rows] - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    return values[at], counts


def _sorted(ids: list) -> list:
    try:
        return sorted(ids)
    except TypeError:  # ids of several kinds: their order as numbered
        return ids


def onert_order(graph: Graph) -> list[int]:
    """Positions of ``graph.ops`` in the order onert's executor runs them (see the module docstring)."""
    a = graph.arrays
    last_writer = np.full(len(a.sizes), -1, dtype=np.int64)
    np.maximum.at(last_writer, a.out_t, a.writer)
    if (last_writer[a.in_t] <= a.reader).all():  # every tensor read after its writers: the file's order
        return list(range(a.n))
    by_tensor = np.argsort(a.in_t, kind="stable")
    starts = np.searchsorted(a.in_t[by_tensor], np.arange(len(a.sizes) + 1)).tolist()
    readers, out_ptr, out_t = a.reader[by_tensor].tolist(), a.out_ptr.tolist(), a.out_t.tolist()

    def consumers(k: int) -> list[int]:
        return sorted({c for t in out_t[out_ptr[k]:out_ptr[k + 1]] for c in readers[starts[t]:starts[t + 1]]})

    seen: set[int] = set()
    post: list[int] = []
    for start in reversed(range(a.n)):
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(consumers(start)))]
        while stack:  # iterative DFS: post-order without recursion limits on deep models
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(consumers(child))))
                    break
            else:
                stack.pop()
                post.append(node)
    return post[::-1]


@dataclass(frozen=True)
class _Timeline:
    """A backend's events as arrays: tensor ``claimed[i]`` claimed at event position ``claim_at[i]`` (in claim
    order), tensor ``released[j]`` released at ``release_at[j]`` (before its claim too, which does nothing)."""

    claimed: np.ndarray
    claim_at: np.ndarray
    released: np.ndarray
    release_at: np.ndarray


def _timeline(graph: Graph, order: Sequence[int], backend_of: Sequence[str], backend: str,
              executor: str) -> _Timeline:  # fmt: skip
    """The planner events of ``backend``'s arena (see the module docstring) as arrays."""
    a = graph.arrays
    order = np.asarray(order, dtype=np.int64)
    on = np.fromiter((b == backend for b in backend_of), dtype=bool, count=a.n)
    mine = order[on[order]]
    step = np.full(a.n, -1, dtype=np.int64)
    step[mine] = np.arange(len(mine))
    external = a.constant | a.model_input | a.model_output
    # the outputs of this backend's ops, in run order and the op's order: each tensor claimed at the first
    entries = np.flatnonzero((step[a.writer] >= 0) & ~external[a.out_t])
    entries = entries[np.argsort(step[a.writer[entries]], kind="stable")]
    _, first = np.unique(a.out_t[entries], return_index=True)
    first = np.sort(first)
    claimed, claim_step = a.out_t[entries[first]], step[a.writer[entries[first]]]
    if executor != LINEAR:
        by_id = sorted(range(len(claimed)), key=lambda i: _key(a.ids[claimed[i]]))
        none = np.zeros(0, dtype=np.int64)
        return _Timeline(claimed[by_id], np.arange(len(claimed)), none, none)
    owned = np.zeros(len(a.sizes), dtype=bool)
    owned[claimed] = True
    # the reads of owned tensors by this backend's ops: the last in run order releases (the op's order within it)
    reads = np.flatnonzero((step[a.reader] >= 0) & owned[a.in_t])
    reads = reads[np.lexsort((reads, step[a.reader[reads]]))]
    tensors = a.in_t[reads]
    _, latest = np.unique(tensors[::-1], return_index=True)
    last = np.zeros(len(reads), dtype=bool)
    last[len(reads) - 1 - latest] = True
    read_here = np.zeros(len(a.sizes), dtype=bool)
    read_here[tensors] = True
    released, release_step = tensors[last], step[a.reader[reads[last]]]
    # event positions: at each step its claims, then its releases; after the last, the tensors never read here
    claims_per = np.bincount(claim_step, minlength=len(mine))
    releases_per = np.bincount(release_step, minlength=len(mine))
    base = np.concatenate(([0], np.cumsum(claims_per + releases_per)))
    claim_at = base[claim_step] + _rank_within(claim_step)
    release_at = base[release_step] + claims_per[release_step] + _rank_within(release_step)
    unread = claimed[~read_here[claimed]]
    released = np.concatenate((released, unread))
    release_at = np.concatenate((release_at, base[-1] + np.arange(len(unread))))
    return _Timeline(claimed, claim_at, released, release_at)


def _rank_within(steps: np.ndarray) -> np.ndarray:
    """For entries grouped by (ascending) step: each entry's rank within its step."""
    if not len(steps):
        return steps
    starts = np.flatnonzero(np.concatenate(([True], steps[1:] != steps[:-1])))
    return np.arange(len(steps)) - np.repeat(starts, np.diff(np.concatenate((starts, [len(steps)]))))


def _key(t):
    return (0, t) if isinstance(t, (int, np.integer)) else (1, str(t))


def backend_lifetimes(graph: Graph, order: Sequence[int], backend_of: Sequence[str], backend: str,
                      executor: str = LINEAR) -> Lifetimes:  # fmt: skip
    """The lifetimes of the tensors of ``backend``'s arena (the events of :func:`backend_events`, as arrays)."""
    a = graph.arrays
    line = _timeline(graph, order, backend_of, backend, executor)
    releases = np.full(len(a.sizes), np.iinfo(np.int64).max, dtype=np.int64)
    at = np.full(len(a.sizes), -1, dtype=np.int64)
    at[line.claimed] = line.claim_at
    after = line.release_at > at[line.released]  # a release before the claim does nothing
    releases[line.released[after]] = line.release_at[after]
    return Lifetimes(_Ids(a.ids, line.claimed), a.sizes[line.claimed], line.claim_at, releases[line.claimed])


class _Ids(Sequence):
    """The ids of some tensors of a graph, looked up when asked."""

    def __init__(self, ids: Sequence, tensors: np.ndarray) -> None:
        self.ids, self.tensors = ids, tensors

    def __len__(self) -> int:
        return len(self.tensors)

    def __getitem__(self, i):
        return self.ids[int(self.tensors[i])]


def backend_events(
    graph: Graph, order: Sequence[int], backend_of: Sequence[str], backend: str, executor: str = LINEAR
) -> list[Event]:
    """The planner events of ``backend``'s arena: ``order`` the positions of ``graph.ops`` in run order,
    ``backend_of[k]`` the backend of op ``k`` (see the module docstring)."""
    a = graph.arrays
    line = _timeline(graph, order, backend_of, backend, executor)
    sizes = a.sizes.tolist()
    timed = [(p, Event(CLAIM, a.ids[t], sizes[t])) for p, t in zip(line.claim_at.tolist(), line.claimed.tolist())]
    timed += [(p, Event(RELEASE, a.ids[t])) for p, t in zip(line.release_at.tolist(), line.released.tolist())]
    return [e for _, e in sorted(timed, key=lambda pe: pe[0])]
