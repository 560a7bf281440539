"""What the engine that runs a placement costs a device per request beyond its compute: the one formula that
``solve place`` optimises and ``solve pipeline`` predicts with (``solver.placement.predicted``).

A device d running part P (its ops; one part per device, parts in pipeline order) is occupied per request by
(``solver.io.linkfile.DeviceFit``, measured by ``solve pipeline --calibrate-links``)::

    busy(d) = task_us(d) * (1 + picks(P)) + sum over the tensors through P's session of pipe_us(d, bytes)

- the tensors through P's session are its *inputs* (data tensors its ops read and do not write, model inputs
  among them) and its *outputs* (tensors its ops write that another part or the model's outputs read);
- ``picks(P)``: the readers (a later part, or the client for the model's outputs) that take only some of P's
  outputs, each a picking task of the run (``devices.placed``);
- ``pipe_us(d, b) = ceil(b * 1e6 / pipe_bandwidth(d))``, whole microseconds per tensor (as link transfers are).

A request's latency adds, per part, its device's ``hop_us`` (the hand-off to its task) and the session bytes
above (``through``), a ``hop_us`` of the writer per picking task on the way, and once the largest
``request_us`` of the devices used (submission and completion notice at the client).
A device not measured costs nothing of this.

A device whose core's CPU was measured (``DeviceFit.cpu``, a ``solver.io.linkfile.CoreCost``) is charged, instead
of its occupancy, the CPU the engine takes from its core, as ``solve pipeline`` predicts it::

    busy(d) = task(d) * (1 + picks(P)) + sum over the tensors through P's session of pipe(d, bytes)
              + sum over the messages d sends of (send(d) + sum over their tensors of sending(d, bytes))
              + sum over the messages d receives of (receive(d) + sum over their tensors of
                                                     receiving(d, bytes, bandwidth of the message's link))

- a *message* is a hand-off as ``devices.placed`` makes it: for each part j and each later part k on another
  device that reads some of j's outputs, one Dask dependency (j's task itself, or a pick of the tensors k reads)
  moved from j's worker to k's, carrying exactly the tensors crossing from j to k. With one part per device that is
  one message per link (a, b) some tensor crosses, holding every tensor crossing it (the client receives none per
  request: only the last request's outputs are gathered);
- ``task``, ``send`` and ``receive`` are whole microseconds (the fit rounded); per tensor ``pipe``, ``sending``
  and ``receiving`` are whole microseconds rounded up (as link transfers are): ``ceil(bytes * per_mb / 1e6)``,
  and for receiving ``ceil(bytes * receive_per_mb / 1e6 + bytes / bandwidth * receive_per_s)``: a slow link
  trickles its bytes in, and the receiving event loop wakes per trickle, so receiving costs CPU per second the
  bytes spend on the link (``CoreCost.receive_us_per_s``);
- every rate is >= 0, so this cost is never negative and a placement costs at least its compute: the optimum
  blind to the engine bounds the optimum with it from below (solver.placement.exact).

What the solver models of a machine's cores: each device is the core (or machine) it is measured on, its own.
Where a lab pins several devices to the cores of one machine and runs the Dask scheduler and the client there
(``solve pipeline --platform`` in network namespaces), the cores they share and the scheduler's and client's CPU
(``HostFit``) are a property of that run, not of the platform: ``solve pipeline`` predicts them
(solver.placement.predicted.shared_period), ``solve place`` optimises and predicts every device on a core of its
own, without the host (its value is ``predict_parts(..., core_of={}, host=None)``'s period).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CLIENT = -1  # the reader of the model's outputs


@dataclass(frozen=True)
class CoreRates:
    """The CPU a device's core spends on the engine per request (a ``solver.io.linkfile.CoreCost`` with whole
    microseconds per task and message; per tensor the rates are rounded up, module docstring)."""

    task_us: int
    pipe_us_per_mb: float
    send_us: int
    send_us_per_mb: float
    receive_us: int
    receive_us_per_mb: float
    receive_us_per_s: float = 0.0  # per second the received bytes spend on their link

    @classmethod
    def of(cls, cost) -> CoreRates:
        """From a ``solver.io.linkfile.CoreCost``."""
        return cls(round(cost.task_us), float(cost.pipe_us_per_mb), round(cost.send_us), float(cost.send_us_per_mb),
                   round(cost.receive_us), float(cost.receive_us_per_mb), float(cost.receive_us_per_s))  # fmt: skip

    def pipe(self, nbytes: int) -> int:
        """A tensor through the session (in or out)."""
        return math.ceil(nbytes * 1e-6 * self.pipe_us_per_mb)

    def sending(self, nbytes: int) -> int:
        """A tensor of a message sent."""
        return math.ceil(nbytes * 1e-6 * self.send_us_per_mb)

    def receiving(self, nbytes: int, bandwidth: float) -> int:
        """A tensor of a message received over a link of ``bandwidth`` bytes/s."""
        return math.ceil(nbytes * 1e-6 * self.receive_us_per_mb + nbytes / bandwidth * self.receive_us_per_s)


@dataclass(frozen=True)
class DeviceEngine:
    """One device's measured engine cost, in whole microseconds (a ``DeviceFit`` rounded); ``cpu``: its core's
    CPU, when measured, which its load per request then counts instead of its occupancy (module docstring)."""

    task_us: int
    hop_us: int
    request_us: int
    pipe_bandwidth: float  # bytes/s through a session
    cpu: CoreRates | None = None

    @classmethod
    def of(cls, fit) -> DeviceEngine:
        """From a ``solver.io.linkfile.DeviceFit``."""
        cpu = None if fit.cpu is None else CoreRates.of(fit.cpu)
        return cls(round(fit.task_us), round(fit.hop_us), round(fit.request_us), float(fit.pipe_bandwidth), cpu)

    def pipe_us(self, nbytes: int) -> int:
        """A tensor of ``nbytes`` through a session (in or out): its occupancy (and the latency's)."""
        return math.ceil(nbytes * 1e6 / self.pipe_bandwidth)

    @property
    def task_cost(self) -> int:
        """What a task adds to the device's load: its core's CPU when measured, else its occupancy."""
        return self.task_us if self.cpu is None else self.cpu.task_us

    def pipe_cost(self, nbytes: int) -> int:
        """What a tensor through the session adds to the device's load (as :attr:`task_cost`)."""
        return self.pipe_us(nbytes) if self.cpu is None else self.cpu.pipe(nbytes)


@dataclass(frozen=True)
class Message:
    """A hand-off between two devices per request (module docstring): its tensors' sizes and its link's bandwidth
    (bytes/s)."""

    sizes: tuple[int, ...]
    bandwidth: float


@dataclass(frozen=True)
class Flow:
    """A data tensor as the engine moves it: its bytes, the op writing it (None: a model input), the ops reading
    it and whether the model's outputs hold it."""

    nbytes: int
    producer: int | None
    readers: tuple[int, ...]
    output: bool = False


@dataclass(frozen=True)
class StageIO:
    """What the engine does per request for a stage besides its compute: the sizes of its inputs and outputs
    (through its session) and its tasks (the stage's, and one per reader taking only some of its outputs)."""

    sizes: tuple[int, ...]
    picked: frozenset[int]  # the readers (later stages; CLIENT: the model's outputs) that take only some outputs

    @property
    def nbytes(self) -> int:
        return sum(self.sizes)

    @property
    def tasks(self) -> int:
        return 1 + len(self.picked)


def flows(problem) -> list[Flow]:
    """The data tensors of a ``solver.problem.PartitionProblem``: of its TFLite model when it has one (model inputs
    and outputs included), else of its graph's tensors and each op's ``input_bytes`` and ``output_bytes`` (the
    model inputs it reads and outputs it writes, docs/graph-format.md)."""
    model = getattr(problem, "model", None)
    if model is None:
        nodes = problem.graph.nodes
        return ([Flow(nbytes, u, tuple(vs)) for nbytes, u, vs in problem.dag.tensors.values()]
                + [Flow(nodes[v]["input_bytes"], None, (v,)) for v in nodes if nodes[v].get("input_bytes")]
                + [Flow(nodes[v]["output_bytes"], v, (), True) for v in nodes if nodes[v].get("output_bytes")])
    readers: dict[int, list[int]] = {}
    for op in model.operators:
        for t in dict.fromkeys(op.inputs):
            if not model.tensors[t].is_constant:
                readers.setdefault(t, []).append(op.index)
    outputs = set(model.outputs)
    producers = model.producers
    return [Flow(model.tensors[t].nbytes, producers.get(t), tuple(readers.get(t, ())), t in outputs)
            for t in sorted(readers.keys() | outputs)]  # fmt: skip


def stage_io(flow: Sequence[Flow], stages: Sequence[Sequence[int]]) -> list[StageIO]:
    """Per stage (its ops, in pipeline order) the tensors through its session and its picking readers (module
    docstring), as ``devices.placed`` runs it."""
    stage_of = {v: k for k, ops in enumerate(stages) for v in ops}
    sizes: list[list[int]] = [[] for _ in stages]
    takers: list[dict[int, set[int]]] = [{} for _ in stages]  # stage -> reader -> the outputs it takes
    outputs: list[set[int]] = [set() for _ in stages]
    for t, f in enumerate(flow):
        made = None if f.producer is None else stage_of[f.producer]
        read = {stage_of[c] for c in f.readers} | ({CLIENT} if f.output else set())
        for k in read - {made, CLIENT}:
            sizes[k].append(f.nbytes)  # an input of k
        if made is not None and read - {made}:
            sizes[made].append(f.nbytes)  # an output of its stage
            outputs[made].add(t)
            for reader in read - {made}:
                takers[made].setdefault(reader, set()).add(t)
    return [StageIO(tuple(sizes[k]), frozenset(r for r, taken in takers[k].items() if taken != outputs[k]))
            for k in range(len(stages))]  # fmt: skip


def busy_us(io: StageIO, engine: DeviceEngine | None, sends: Sequence[Message] = (),
            receives: Sequence[Message] = ()) -> int:  # fmt: skip
    """A device's load per request by a stage beyond its compute, the messages it ``sends`` and ``receives``
    counted (module docstring; 0 for a device not measured)."""
    if engine is None:
        return 0
    tasks = io.tasks * engine.task_cost + sum(engine.pipe_cost(b) for b in io.sizes)
    return tasks + sum(send_us(m, engine) for m in sends) + sum(receive_us(m, engine) for m in receives)


def send_us(message: Message, engine: DeviceEngine | None) -> int:
    """What sending ``message`` adds to a device's load (0 unless its core's CPU was measured)."""
    if engine is None or engine.cpu is None:
        return 0
    return engine.cpu.send_us + sum(engine.cpu.sending(b) for b in message.sizes)


def receive_us(message: Message, engine: DeviceEngine | None) -> int:
    """What receiving ``message`` adds to a device's load (as :func:`send_us`)."""
    if engine is None or engine.cpu is None:
        return 0
    return engine.cpu.receive_us + sum(engine.cpu.receiving(b, message.bandwidth) for b in message.sizes)


def through_us(io: StageIO, engine: DeviceEngine | None) -> int:
    """The stage's inputs and outputs through its session (0 for a device not measured)."""
    return 0 if engine is None else sum(engine.pipe_us(b) for b in io.sizes)


def hop_us(engine: DeviceEngine | None) -> int:
    return 0 if engine is None else engine.hop_us


def request_us(engines: Sequence[DeviceEngine | None]) -> int:
    """A request's own latency on the devices ``engines`` of its parts: the largest ``request_us``."""
    return max((e.request_us for e in engines if e is not None), default=0)


def engines_of(names: Sequence[str], fits: Mapping[str, object] | None) -> tuple[DeviceEngine | None, ...] | None:
    """Per device (by name, in order) its engine from ``fits`` (``DeviceFit`` by name), None where not measured;
    None when nothing is measured."""
    if not fits or not any(name in fits for name in names):
        return None
    return tuple(DeviceEngine.of(fits[name]) if name in fits else None for name in names)
