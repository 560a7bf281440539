"""The objectives of the partition problem, one record each (see :mod:`solver.solving.objectives`).

The bottleneck is the objective; the exact solver (solver/partitioning/exact.py) models it by its bisection on
the cycle time C, each part's load at most C in the feasibility model F(C). The secondary objectives are
modelled here on that model (``_FeasibilityModel``: order-encoded ``y[v][b] <=> p(v) <= b``, ``x(v, s)`` the
op-in-part expression, each op's window of stations):

- ``cut``: ``cut_e >= y[u][b] - y[v][b]`` for every b; minimize ``sum_e cut_e``;
- ``bytes`` (each tensor once per consuming part other than its producer's):
  ``z[t][s] >= x(v, s) - x(u, s)`` for each consumer v of t written by u; minimize ``sum bytes_t z[t][s]``.

Light on purpose: the command parsers read it at start-up.
"""

from __future__ import annotations

from solver.solving.objectives import Objective, secondaries, table


def _bottleneck_bound(dag, num_parts: int) -> int:
    """:func:`heuristics.dag.lower_bound`, the strongest bound we have on the bottleneck of K parts."""
    from heuristics.dag import lower_bound

    return lower_bound(dag, num_parts)


def _edge_cut(built):
    # cut[e] >= y[u][b] - y[v][b] for every b: the edge crosses parts iff some b separates u, v.
    cuts = []
    for u, v in built.dag.edges:
        cut = built.model.new_bool_var(f"cut[{u},{v}]")
        for b in range(built.early[u], built.late[v]):
            built.model.add(cut >= built.y_expr(u, b) - built.y_expr(v, b))
        cuts.append(cut)
    return sum(cuts)


def _transfer_bytes(built):
    # z[t][s]: tensor t is sent to part s, which holds a consumer but not the producer.
    terms = []
    for t, (nbytes, producer, consumers) in built.dag.tensors.items():
        stations = sorted({s for v in consumers for s in built.stations(v)})
        for s in stations:
            sent = built.model.new_bool_var(f"z[{t}][{s}]")
            for v in consumers:
                if s in built.stations(v):
                    built.model.add(sent >= built.x_expr(v, s) - built.x_expr(producer, s))
            terms.append(nbytes * sent)
    return sum(terms)


TABLE = table(
    Objective("bottleneck", "bottleneck", "the slowest part's load", lambda m: m.bottleneck, None, _bottleneck_bound),
    Objective("cut", "edge_cut", "edge cut", lambda m: m.edge_cut, _edge_cut, secondary=True),
    Objective("bytes", "transfer_bytes", "transfer bytes", lambda m: m.transfer_bytes, _transfer_bytes, secondary=True),
)
# Secondary objectives of the exact solver: option name -> the metric it minimises.
SECONDARY = {name: TABLE[name].metric for name in secondaries(TABLE)}
