"""The objectives of the placement problem, one record each (see :mod:`solver.solving.objectives`).

A new objective is a row here: its value on :class:`solver.placement.metrics.PlacementMetrics`, its model on the
exact solver's ``_Model`` (solver/placement/exact.py: ``a[v][d]`` op v on device d, ``compute[d]``, ``links[a,
b]`` the transfer terms of each link, ``crossings[a, b]`` its crossing variables, ``sent`` the bytes of each
crossing, ``objective`` the variable minimised, ``horizon`` its upper end) and its bound from op times alone.

- ``throughput``: ``objective >= compute(d)`` and ``objective >= link(a, b)``: the bottleneck.
- ``latency``: ``F[d] >= compute(d)``; ``e[a][b] >= x[i][a][b]`` (some tensor goes a -> b) and
  ``F[b] >= F[a] + link(a, b) + compute(b)`` when ``e[a][b]``; ``objective >= F[d]``: the longest path
  through the session graph.
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
    for load in built.compute:
        built.model.add(built.objective >= load)
    for terms in built.links.values():
        built.model.add(built.objective >= sum(terms))


def _latency(built) -> None:
    model = built.model
    # F[d]: the time part d finishes, from the start of the run.
    finish = [model.new_int_var(0, built.horizon, f"F[{d}]") for d in range(built.D)]
    for d in range(built.D):
        model.add(finish[d] >= built.compute[d])
        model.add(built.objective >= finish[d])
    for (a, b), crosses in built.crossings.items():
        # e[a][b]: some tensor goes from a to b, so b starts after a's finish plus the transfer.
        edge = model.new_bool_var(f"e[{a}][{b}]")
        for cross in crosses:
            model.add_implication(cross, edge)
        model.add(finish[b] >= finish[a] + sum(built.links[a, b]) + built.compute[b]).only_enforce_if(edge)


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
