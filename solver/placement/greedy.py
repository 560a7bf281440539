"""A heuristic placement: cut one topological order into consecutive segments along a chain of devices.

For a chain (an order of the devices) and a cap ``B`` on compute, ops are taken in topological order and
put on the current device while it supports them, its compute stays within ``B`` and its memory within its
capacity; otherwise the chain moves on to the next device that can take the op. Every segment boundary
follows the order, so the session graph is acyclic. Bisection on ``B`` finds the smallest cap the chain can
meet; that chain's placement at that cap is scored with the full objective (links included) and the best
one over all chains is kept. Chains: every order of the devices when there are at most six, else the orders by
speed (fastest and slowest first) and seeded random ones.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from heuristics.bisection import least
from solver.errors import CheckError
from solver.placement.metrics import evaluate
from solver.placement.problem import PlacementProblem

_ALL_CHAINS_UP_TO = 6
_RANDOM_CHAINS = 100


def greedy_placement(problem: PlacementProblem, objective: str, seed: int = 0) -> list[int] | None:
    """The best chain placement found (see the module docstring), or None when no chain fits."""
    order = problem.dag.order
    holds = _holds(problem) if any(problem.memory_cap(d) is not None for d in range(len(problem.devices))) else None
    best, best_value = None, math.inf
    for chain in _chains(problem, seed):
        assign = _tightest(problem, order, chain, holds)
        if assign is None:
            continue
        try:
            value = evaluate(problem, assign).objective(objective)
        except CheckError:
            continue  # a missing link between two devices of the chain
        if value < best_value:
            best, best_value = assign, value
    return best


def _chains(problem: PlacementProblem, seed: int):
    count = len(problem.devices)
    if count <= _ALL_CHAINS_UP_TO:
        yield from itertools.permutations(range(count))
        return
    speed = sorted(range(count), key=lambda d: -problem.platform.devices[d].speed)
    yield tuple(speed)
    yield tuple(reversed(speed))
    rng = np.random.default_rng(seed)
    for _ in range(_RANDOM_CHAINS):
        yield tuple(int(d) for d in rng.permutation(count))


def _tightest(problem: PlacementProblem, order: list[int], chain: tuple[int, ...], holds) -> list[int] | None:
    """The chain's placement at the smallest compute cap it meets; None when even no cap fits (memory)."""
    high = sum(max(t for t in row if t is not None) for row in problem.times)
    if _fill(problem, order, chain, high, holds) is None:
        return None
    cap = least(0, high, lambda cap: _fill(problem, order, chain, cap, holds) is not None)
    return _fill(problem, order, chain, cap, holds)


def _fill(problem: PlacementProblem, order: list[int], chain: tuple[int, ...], cap: int, holds) -> list[int] | None:
    """Fill the chain's devices in turn up to ``cap``; ``holds`` (None: no memory caps) as from ``_holds``."""
    times = problem.times
    caps = [problem.memory_cap(d) for d in range(len(problem.devices))]
    assign = [-1] * problem.num_ops
    position, load = 0, 0
    held: set = set()  # what the current device holds, and its bytes
    used = 0
    for v in order:
        while position < len(chain):
            d = chain[position]
            t = times[v][d]
            if t is not None and load + t <= cap:
                if holds is None or caps[d] is None:
                    break
                extra = sum(nbytes for key, nbytes in holds[v] if key not in held)
                if used + extra <= caps[d]:
                    break
            position, load, held, used = position + 1, 0, set(), 0
        else:
            return None
        d = chain[position]
        assign[v] = d
        load += times[v][d]
        if holds is not None:
            for key, nbytes in holds[v]:
                if key not in held:
                    held.add(key)
                    used += nbytes
    return assign


def _holds(problem: PlacementProblem) -> list[list[tuple[object, int]]]:
    """Per op, the constants and tensors (key, bytes) its device must hold for it."""
    holds: list[list[tuple[object, int]]] = [[] for _ in range(problem.num_ops)]
    for c, (nbytes, readers) in problem.constants.items():
        for v in readers:
            holds[v].append((("constant", c), nbytes))
    for i, tensor in enumerate(problem.tensors):
        for v in (tensor.producer, *tensor.consumers):
            holds[v].append((("tensor", i), tensor.nbytes))
    return holds
