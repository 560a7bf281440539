"""The objectives of the placement problem, one record each (see :mod:`solver.solving.objectives`).

A new objective is a row here: its value on :class:`solver.placement.metrics.PlacementMetrics`, its model on the
exact solver's ``_Model`` (solver/placement/exact.py: ``a[v][d]`` op v on device d, ``compute[d]``, ``links[a,
b]`` the transfer terms of each link, ``crossings[a, b]`` its crossing variables, ``sent`` the bytes of each
crossing, ``busy[d]`` and ``duration[d]`` a device's load and a part's time with the engine's cost, ``pick_hop``,
``out_hop`` and ``request`` the engine's latency terms, ``objective`` the variable minimised, ``horizon`` its upper
end) and its bound from op times alone.

- ``throughput``: ``objective >= busy(d)`` and ``objective >= link(a, b)``: the bottleneck.
- ``latency``: as the run has it (solver.placement.metrics.path_latency): ``F[d] >= duration(d)``; ``e[a][b] >=
  x[i][a][b]`` (some tensor goes a -> b) and, when ``e[a][b]``, ``R[b] >= F[a] + pick_hop(a, b)`` (b starts once
  every part it reads has finished) and ``F[b] >= R[b] + link(a, b) + duration(b)`` (then its inbound tensors
  travel together, the longest link); ``objective >= F[d] + out_hop(d) + request``.
- ``cut`` (secondary): ``k[e] >= a[u][d] - a[v][d]``; minimize the edges between ops on different devices.
- ``bytes`` (secondary): minimize ``sum bytes_i x[i][a][b]``, the bytes sent over links.

Light on purpose: the command parsers read it at start-up.
"""

from __future__ import annotations

from solver.solving.objectives import Objective, primaries, secondaries, table


def _fastest(problem) -> list[int]:
    """Each op's time on its fastest device."""
    return [min(t for t in row if t is not None) for row in problem.times]


def _throughput_bound(problem) -> int:
    """The slowest op, and the total shared evenly by the devices (each op at its fastest device)."""
    fastest = _fastest(problem)
    return max(max(fastest, default=0), -(-sum(fastest) // len(problem.devices)))


def _latency_bound(problem) -> int:
    """The longest op path, each op at its fastest device: a path visits its parts in pipeline order and each part
    counts all its compute."""
    fastest = _fastest(problem)
    longest = [0] * len(fastest)
    for v in problem.dag.order:
        longest[v] = fastest[v] + max((longest[u] for u in problem.dag.preds[v]), default=0)
    return max(longest, default=0)


def _throughput(built) -> None:
    for load in built.busy:
        built.model.add(built.objective >= load)
    for terms in built.links.values():
        built.model.add(built.objective >= sum(terms))


def _latency(built) -> None:
    model = built.model
    # F[d]: the time part d finishes, from the start of the run; R[d]: when every part it reads has finished.
    finish = [model.new_int_var(0, built.horizon, f"F[{d}]") for d in range(built.D)]
    ready = [model.new_int_var(0, built.horizon, f"R[{d}]") for d in range(built.D)]
    for d in range(built.D):
        model.add(finish[d] >= built.duration[d])
        model.add(built.objective >= finish[d] + built.out_hop[d] + built.request)
    for (a, b), crosses in built.crossings.items():
        # e[a][b]: some tensor goes from a to b, so b starts after a's finish, then the tensors travel.
        edge = model.new_bool_var(f"e[{a}][{b}]")
        for cross in crosses:
            model.add_implication(cross, edge)
        model.add(ready[b] >= finish[a] + built.pick_hop.get((a, b), 0)).only_enforce_if(edge)
        model.add(finish[b] >= ready[b] + sum(built.links[a, b]) + built.duration[b]).only_enforce_if(edge)


def _cut(built):
    # k[e]: edge e joins ops on different devices.
    cuts = []
    for u, v in built.problem.graph.edges:
        cut = built.model.new_bool_var(f"k[{u},{v}]")
        for d, on in built.a[u].items():
            built.model.add(cut >= on - built.a[v].get(d, 0))
        cuts.append(cut)
    return sum(cuts)


TABLE = table(
    Objective("throughput", "bottleneck", "default: the slowest device or link", lambda m: m.throughput, _throughput,
              _throughput_bound),
    Objective("latency", "latency", "longest path", lambda m: m.latency, _latency, _latency_bound),
    Objective("cut", "edge_cut", "edges between devices", lambda m: m.edge_cut, _cut, secondary=True),
    Objective("bytes", "transfer_bytes", "sent over links", lambda m: m.transfer_bytes, lambda built: sum(built.sent),
              secondary=True),
)
OBJECTIVES = primaries(TABLE)  # what ``solve place --objective`` minimises
SECONDARY = secondaries(TABLE)  # what ``--secondary`` minimises after it
