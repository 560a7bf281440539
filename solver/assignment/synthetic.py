"""Synthetic complete brute-force dumps: every id of a name-mode space with correlated per-op costs.

Real brute-force dumps need one measurement per point, so they stay small (a few thousand points). To
measure search quality on 2**10..2**16 points we generate dumps from a cost model shaped like the
measured ones: an accelerator backend speeds up heavy ops and slows light ones, costs memory once when
loaded and per op it runs, and every switch between backends along the network costs a copy.

Model, for n op types k = 0..n-1 (in network order) and backends j = 0..b-1 (0 = cpu), a point being
the digits d_k of its id (base b, least significant first):

- base time of op type k on cpu: ``t_k ~ LogNormal(log 2 ms, 0.9)``; ``z_k`` its standardized log.
- time on backend j >= 1: ``t_k * exp(-0.6 z_k + 0.15 + N(0, 0.35))``: heavy ops gain, light ops lose
  (the correlation between an op's cost and its speed-up that makes fronts non-trivial).
- memory of op type k on backend j >= 1: ``m_k * (0.5 + U(0, 1)) * j_scale`` KB with ``m_k`` proportional
  to ``t_k`` (bigger ops hold bigger buffers), 0 on cpu.
- loading backend j >= 1 at all costs ``L_j ~ U(15, 40)`` MB once.
- the model runs ``ops_per_type`` ops of each type, in network order: with 1, op type k is op k; with more,
  the types interleave as in a real network (conv, add, conv, pool, ...): a seeded shuffle, so a switch
  can tie any two decisions, not only neighbours in the op list. Each op costs ``t_k / ops_per_type``.
- a copy between consecutive ops on different backends costs ``0.08 (t_a + t_b)`` ms (their op costs).
- time(d) = sum of op times + copies, times ``1 + N(0, noise)`` (measurement noise, fixed per id);
  memory(d) = 50 MB + loaded backends + per-op memory.

The dump has the brute-force format (``oplist``, ``backends``, ``solutions`` with ``id``, ``time`` in ms and
``memory`` in KB) plus ``generator`` with these parameters, and is a function of them only.
"""

from __future__ import annotations

import numpy as np

BASE_MEMORY_KB = 50 * 1024
BACKEND_NAMES = ("cpu", "acl_cl", "acl_neon", "npu")


def synthetic_dump(num_ops: int, num_backends: int = 2, seed: int = 0, noise: float = 0.02,
                   ops_per_type: int = 1) -> dict:  # fmt: skip
    """A complete name-mode brute-force dump of ``num_backends ** num_ops`` points (see the module docstring)."""
    if not 1 <= num_backends <= len(BACKEND_NAMES):
        raise ValueError(f"num_backends must be 1..{len(BACKEND_NAMES)}")
    if ops_per_type < 1:
        raise ValueError("ops_per_type must be at least 1")
    rng = np.random.default_rng(seed)
    times, memories, loads = _op_costs(num_ops, num_backends, rng)
    sequence = np.arange(num_ops) if ops_per_type == 1 else rng.permutation(np.repeat(np.arange(num_ops), ops_per_type))
    op_time = times[:, 0][sequence] / ops_per_type
    copies = 0.08 * (op_time[:-1] + op_time[1:])
    ids = np.arange(num_backends**num_ops)
    digits = (ids[:, None] // num_backends ** np.arange(num_ops)[None, :]) % num_backends
    cols = np.arange(num_ops)[None, :]
    on = digits[:, sequence]  # backend of every op of the network
    time = times[cols, digits].sum(axis=1) + (copies[None, :] * (on[:, 1:] != on[:, :-1])).sum(axis=1)
    time *= 1 + rng.normal(0, noise, size=len(ids))
    used = np.stack([(digits == j).any(axis=1) for j in range(num_backends)], axis=1)
    memory = BASE_MEMORY_KB + used @ loads + memories[cols, digits].sum(axis=1)
    return {
        "mode": "name",
        "oplist": [f"Op{k:02d}" for k in range(num_ops)],
        "backends": list(BACKEND_NAMES[:num_backends]),
        "solutions": [
            {"id": int(i), "time": round(float(t), 3), "memory": int(m)} for i, t, m in zip(ids, time, memory)
        ],
        "generator": {"model": "solver.assignment.synthetic", "num_ops": num_ops, "num_backends": num_backends,
                      "seed": seed, "noise": noise, "ops_per_type": ops_per_type},  # fmt: skip
    }


def _op_costs(num_ops: int, num_backends: int, rng: np.random.Generator):
    """Per (op type, backend) time (ms) and memory (KB), and load cost per backend."""
    base = np.exp(rng.normal(np.log(2.0), 0.9, size=num_ops))
    z = (np.log(base) - np.log(base).mean()) / (np.log(base).std() or 1.0)
    times = np.empty((num_ops, num_backends))
    memories = np.zeros((num_ops, num_backends))
    times[:, 0] = base
    for j in range(1, num_backends):
        times[:, j] = base * np.exp(-0.6 * z + 0.15 + rng.normal(0, 0.35, size=num_ops))
        memories[:, j] = base / base.mean() * 4096 * (0.5 + rng.random(num_ops)) * (1 + 0.3 * (j - 1))
    loads = np.concatenate([[0.0], rng.uniform(15, 40, size=num_backends - 1) * 1024])
    return times, memories, loads
