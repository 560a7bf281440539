"""What a placement predicts for a run of its parts: per device and per link the time per request, the period.

Used by ``solve pipeline --platform`` beside what it measures (``solver.deploy.placed``, which reads these
figures without importing this room).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.io.platform import Platform
from solver.placement.metrics import evaluate
from solver.placement.problem import placement_problem
from solver.placement.replicas import Replicated


@dataclass(frozen=True)
class PlacedPrediction:
    """What a placement model predicts for a run: per device compute and per link bytes and time (us)."""

    label: str  # which link model: "platform" (the platform file's links), "calibrated" (measured links)
    device_us: dict[str, float]
    link_us: dict[tuple[str, str], float]
    link_bytes: dict[tuple[str, str], int]
    latency_us: float
    period_us: float  # with the cores the devices share
    bottleneck: str  # "device NAME", "link A -> B" or "cores C (A, B)"

    @property
    def throughput(self) -> float:
        return 1e6 / self.period_us if self.period_us > 0 else float("inf")

    def to_json(self) -> dict:
        return {
            "label": self.label, "predicted_throughput": self.throughput, "predicted_latency_us": self.latency_us,
            "period_us": self.period_us, "bottleneck": self.bottleneck,
            "devices": {d: us for d, us in self.device_us.items()},
            "links": [{"from": a, "to": b, "bytes": self.link_bytes[a, b], "us": us} for (a, b), us in self.link_us.items()],
        }  # fmt: skip


def shared_period(device_us: dict[str, float], link_us: dict[tuple[str, str], float],
                  core_of: dict[str, int | None], cores: int) -> tuple[float, str]:  # fmt: skip
    """The pipeline's period and what sets it: the largest device or link time, or a group sharing cores.

    Model: a device pinned to CPU c (``core_of[d] == c``) runs only there, so the devices pinned to c need their
    summed compute of it per request; unpinned devices of this machine (``core_of[d] is None``) share all
    ``cores`` CPUs, so they need their summed compute over ``cores`` (and over every CPU the pinned ones leave
    them, which this does not credit: a bound from below); a device not in ``core_of`` has a machine of its own.
    """
    candidates = [(us, f"device {d}") for d, us in device_us.items()]
    candidates += [(us, f"link {a} -> {b}") for (a, b), us in link_us.items()]
    pinned: dict[int, list[str]] = {}
    for d, c in core_of.items():
        if c is not None and d in device_us:
            pinned.setdefault(c, []).append(d)
    for c, names in sorted(pinned.items()):
        if len(names) > 1:
            candidates.append((sum(device_us[d] for d in names), f"core {c} ({', '.join(names)})"))
    free = [d for d in device_us if d in core_of and core_of[d] is None]
    if len(free) > 1:
        candidates.append((sum(device_us[d] for d in free) / cores, f"{cores} core(s) ({', '.join(free)})"))
    return max(candidates, key=lambda c: c[0]) if candidates else (0.0, "nothing")


def predict_parts(problem, platform: Platform, parts: Sequence[tuple[str, Sequence[int]]], label: str,
                  core_of: dict[str, int | None], cores: int) -> PlacedPrediction:  # fmt: skip
    """``solve place``'s model of a map (``parts``: per part in pipeline order its device and its ops; ``problem``
    a ``solver.problem.PartitionProblem``) on ``platform``, with the hand-offs as ``devices.placed`` sends them:
    the tensors a part sends a later part on another device travel as one message, paying the link's overhead
    (``latency_us``) once, then their bytes over its bandwidth. Per device its compute, per link the sum of its
    messages; the latency is the longest path through the parts (compute, then messages); the period counts
    the cores the devices share (:func:`shared_period`). CheckError when the map is not a valid placement."""
    placed = placement_problem(problem, platform)
    index = {name: d for d, name in enumerate(platform.names)}
    part_of = {v: k for k, (_, ops) in enumerate(parts) for v in ops}
    devices = [device for device, _ in parts]
    assign = [index[devices[part_of[v]]] for v in range(placed.num_ops)]
    metrics = evaluate(placed, assign, memory=False)  # the checker: support, links, acyclic
    device_us = {d: float(metrics.compute[index[d]]) for d in dict.fromkeys(devices)}
    sent: dict[tuple[int, int], int] = {}  # (part, later part on another device) -> bytes of one request
    for tensor in placed.tensors:
        j = part_of[tensor.producer]
        for k in sorted({part_of[c] for c in tensor.consumers}):
            if devices[k] != devices[j]:
                sent[j, k] = sent.get((j, k), 0) + tensor.nbytes
    link_us: dict[tuple[str, str], float] = {}
    link_bytes: dict[tuple[str, str], int] = {}
    message_us = {}
    for (j, k), nbytes in sent.items():
        pair = (devices[j], devices[k])
        message_us[j, k] = platform.link(*pair).transfer_us(nbytes)
        link_us[pair] = link_us.get(pair, 0.0) + message_us[j, k]
        link_bytes[pair] = link_bytes.get(pair, 0) + nbytes
    finish: list[float] = []
    for k, (device, ops) in enumerate(parts):
        ready = max((finish[j] + message_us.get((j, k), 0.0) for j in range(k)), default=0.0)
        finish.append(ready + sum(placed.times[v][index[device]] for v in ops))
    period, at = shared_period(device_us, link_us, core_of, cores)
    return PlacedPrediction(label, device_us, link_us, link_bytes, max(finish, default=0.0), period, at)


def predict_replicated(answer: Replicated, label: str, core_of: dict[str, int | None], cores: int) -> PlacedPrediction:
    """The prediction of a replicated placement, the shared cores counted."""
    period, at = shared_period(answer.device_us, answer.link_us, core_of, cores)
    link_bytes = {pair: round(b) for pair, b in answer.link_bytes.items()}
    return PlacedPrediction(label, dict(answer.device_us), dict(answer.link_us), link_bytes, answer.latency_us, period, at)
