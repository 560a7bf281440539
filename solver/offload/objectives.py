"""The objective of the offloading problem, one record (see :mod:`solver.solving.objectives`).

- ``latency``: the sequential end-to-end latency, each op's time on its backend plus the hand-offs. The exact
  model (solver/offload/exact.py, ``_Model``: ``cost`` the op-time terms ``t(v, b) o[v][b]``, ``handoffs`` the
  paid hand-off terms ``c(i, a, b) h[i][k][a][b]``) minimises ``sum cost + sum handoffs``; its bound from op times
  alone is each op on its fastest allowed backend, without hand-offs.

Light on purpose: the command parsers read it at start-up.
"""

from __future__ import annotations

from solver.solving.objectives import Objective, primaries, table


def _op_times_bound(problem) -> int:
    """Each op on its fastest allowed backend, no hand-offs."""
    return sum(min(problem.time(v, b) for b in problem.allowed[v]) for v in range(problem.num_ops))


def _latency(built):
    return sum(built.cost) + sum(built.handoffs)


TABLE = table(
    Objective("latency", "latency_us", "op times and hand-offs, one part after another", lambda m: m.latency,
              _latency, _op_times_bound),
)
OBJECTIVES = primaries(TABLE)  # what offloading minimises
