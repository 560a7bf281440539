"""A heuristic placement: cut one topological order into consecutive segments along a chain of devices.

For a chain (an order of the devices) and a cap ``B`` on compute, ops are taken in topological order and
put on the current device while it supports them, its compute stays within ``B`` and its memory within its
capacity (under a memory model: the relaxation and the figure of the device's ops so far); otherwise the chain
moves on to the next device that can take the op. Every segment boundary follows the order, so the session
graph is acyclic. Bisection on ``B`` finds the smallest cap the chain can meet; that chain's placement at that cap is scored with the full objective (links included) and the best
one over all chains is kept. Chains: every order of the devices when there are at most six, else the orders by
speed (fastest and slowest first), from every device the walk along the fastest links (a network of many
devices, as seed 002's), and seeded random ones. Beside them, for networks where links decide: cuts
where the fewest bytes cross, laid along the fastest-link walks (``_narrow_cuts``); and, aiming at the
contraction bound (solver.placement.bounds), the groups it ties filled whole along those walks (``_tied``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from heuristics.bisection import least
from solver.errors import CheckError
from solver.placement.bounds import contraction_bound, tied_groups
from solver.placement.metrics import evaluate
from solver.placement.problem import PlacementProblem
from solver.solving.budget import Budget

_ALL_CHAINS_UP_TO = 6
_RANDOM_CHAINS = 100
GREEDY_SHARE = 0.1  # of a time limit, for the chains before an exact solve (greedy_placement's ``until``)


def greedy_placement(problem: PlacementProblem, objective: str, seed: int = 0,
                     until: Budget | None = None) -> list[int] | None:  # fmt: skip
    """The best chain placement found (see the module docstring), or None when no chain fits. With ``until``, no
    further chain is tried once it has ended and a placement is found (on 50 devices the chains take seconds)."""
    order = problem.dag.order
    holds = _holds(problem) if any(problem.memory_cap(d) is not None for d in range(len(problem.devices))) else None
    best, best_value = None, math.inf
    kind = _kinds(problem)
    filled: dict[tuple[int, ...], list[int] | None] = {}  # per chain of device kinds, each op's place in the chain

    def tightest(chain: tuple[int, ...]) -> list[int] | None:
        # Devices of one kind are interchangeable to the fill, so it runs once per sequence of kinds.
        kinds = tuple(kind[d] for d in chain)
        if kinds not in filled:
            filled[kinds] = _tightest(problem, order, kinds, holds)
        places = filled[kinds]
        return None if places is None else [chain[k] for k in places]

    candidates = (tightest(chain) for chain in _chains(problem, seed))
    for assign in itertools.chain(candidates, _narrow_cuts(problem, order)):
        if best is not None and until is not None and until.passed():
            break
        if assign is None:
            continue
        try:
            value = evaluate(problem, assign).objective(objective)
        except CheckError:
            continue  # a missing link between two devices of the chain
        if value < best_value:
            best, best_value = assign, value
    if best is not None:
        # Aim at the contraction bound: keep the groups it ties whole and fill devices with them.
        t = contraction_bound(problem, best_value, until)
        for assign in _tied(problem, order, t, holds):
            if until is not None and until.passed():
                break
            try:
                value = evaluate(problem, assign).objective(objective)
            except CheckError:
                continue  # groups interleaved in the order gave a cycle, or a missing link
            if value < best_value:
                best, best_value = assign, value
    return best


def _tied(problem: PlacementProblem, order: list[int], t: int, holds):
    """Along each fastest-link walk, the groups tied at ``t`` (bounds.tied_groups) in order, each whole on the
    current device while its compute stays within ``t`` and its memory within the capacity."""
    group = tied_groups(problem, t)
    members: dict[int, list[int]] = {}
    for v in order:
        members.setdefault(group[v], []).append(v)
    for chain in _nearest_chains(problem):
        assign = [0] * problem.num_ops
        position, load, held, used = 0, 0, set(), 0
        for ops in members.values():
            while position < len(chain):
                d = chain[position]
                times = [problem.times[v][d] for v in ops]
                extra = {key: nbytes for v in ops for key, nbytes in (holds[v] if holds else ()) if key not in held}
                cap = problem.relaxed_cap(d)
                if None not in times and load + sum(times) <= t and (cap is None or used + sum(extra.values()) <= cap):
                    break
                position, load, held, used = position + 1, 0, set(), 0
            else:
                break
            for v in ops:
                assign[v] = chain[position]
            load += sum(problem.times[v][chain[position]] for v in ops)
            held.update(extra)
            used += sum(extra.values())
        else:
            yield assign


def _chains(problem: PlacementProblem, seed: int):
    count = len(problem.devices)
    if count <= _ALL_CHAINS_UP_TO:
        yield from itertools.permutations(range(count))
        return
    speed = sorted(range(count), key=lambda d: -problem.platform.devices[d].speed)
    yield tuple(speed)
    yield tuple(reversed(speed))
    yield from _nearest_chains(problem)
    rng = np.random.default_rng(seed)
    for _ in range(_RANDOM_CHAINS):
        yield tuple(int(d) for d in rng.permutation(count))


def _nearest_chains(problem: PlacementProblem):
    """From every device, a walk that always goes on to the remaining device with the fastest link to it."""
    count = len(problem.devices)
    # A link's cost: its time for the largest tensor (a missing link never).
    largest = max(range(len(problem.tensors)), key=lambda i: problem.tensors[i].nbytes, default=None)
    if largest is None:
        return

    def cost(a: int, b: int) -> float:
        costs = problem.transfer[a][b]
        return math.inf if costs is None else costs[largest]

    for start in range(count):
        chain, remaining = [start], set(range(count)) - {start}
        while remaining:
            chain.append(min(sorted(remaining), key=lambda b: cost(chain[-1], b)))
            remaining.discard(chain[-1])
        yield tuple(chain)


def _narrow_cuts(problem: PlacementProblem, order: list[int]):
    """Cut the order where the fewest bytes cross, then lay the parts along each fastest-link walk.

    Where links, not compute, decide (a network of boards), the cuts matter more than the balance: the
    smallest threshold ``t`` is found (bisection) such that the order splits into at most as many parts as
    devices, each within the smallest device memory, cutting only where at most ``t`` bytes cross; the k-th
    part goes to the k-th device of a walk. Only for platforms whose devices all run every op.
    """
    if any(t is None for row in problem.times for t in row):
        return
    n = len(order)
    position = {v: p for p, v in enumerate(order)}
    delta = [0] * (n + 2)
    for tensor in problem.tensors:  # a tensor crosses every cut between its producer and its last reader
        first, last = position[tensor.producer] + 1, max(position[c] for c in tensor.consumers)
        if last >= first:
            delta[first] += tensor.nbytes
            delta[last + 1] -= tensor.nbytes
    crossing = list(itertools.accumulate(delta))
    caps = [problem.relaxed_cap(d) for d in range(len(problem.devices))]
    reach = _reach(problem, order, min((c for c in caps if c is not None), default=None))
    if reach is None:
        return

    def segments(t: int) -> list[int] | None:
        cuts, start = [], 0
        while reach[start] < n:
            cut = next((p for p in range(reach[start], start, -1) if crossing[p] <= t), None)
            if cut is None or len(cuts) + 2 > len(problem.devices):
                return None
            cuts.append(cut)
            start = cut
        return cuts

    values = sorted(set(crossing[1:n])) or [0]
    if segments(values[-1]) is None:
        return
    cuts = segments(values[least(0, len(values) - 1, lambda k: segments(values[k]) is not None)])
    bounds = [0, *cuts, n]
    for chain in _nearest_chains(problem):
        assign = [0] * problem.num_ops
        for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
            for v in order[a:b]:
                assign[v] = chain[k]
        yield assign


def _reach(problem: PlacementProblem, order: list[int], cap: int | None) -> list[int] | None:
    """reach[i]: the end of the longest segment ``order[i:end]`` within ``cap`` bytes; None if an op alone overflows."""
    n = len(order)
    if cap is None:
        return [n] * (n + 1)
    holds = _holds(problem)
    count: dict[object, int] = {}
    used, end, reach = 0, 0, []
    for start in range(n):
        while end < n and used + sum(b for key, b in holds[order[end]] if key not in count) <= cap:
            for key, nbytes in holds[order[end]]:
                count[key] = count.get(key, 0) + 1
                used += nbytes if count[key] == 1 else 0
            end += 1
        if end == start:
            return None
        reach.append(end)
        for key, nbytes in holds[order[start]]:
            count[key] -= 1
            if count[key] == 0:
                del count[key]
                used -= nbytes
    return reach + [n]


def _kinds(problem: PlacementProblem) -> list[int]:
    """Per device, the first device with the same op times and memory (to the fill, the same device)."""
    profiles = [(tuple(row[d] for row in problem.times), problem.memory_cap(d)) for d in range(len(problem.devices))]
    return [profiles.index(profile) for profile in profiles]


def _tightest(problem: PlacementProblem, order: list[int], chain: tuple[int, ...], holds) -> list[int] | None:
    """The chain's fill at the smallest compute cap it meets (each op's place in the chain); None when even no
    cap fits (memory)."""
    high = sum(max(t for t in row if t is not None) for row in problem.times)
    if _fill(problem, order, chain, high, holds) is None:
        return None
    cap = least(0, high, lambda cap: _fill(problem, order, chain, cap, holds) is not None)
    return _fill(problem, order, chain, cap, holds)


def _fill(problem: PlacementProblem, order: list[int], chain: tuple[int, ...], cap: int, holds) -> list[int] | None:
    """Fill the chain's devices in turn up to ``cap``: each op's place in the chain; ``holds`` (None: no memory
    caps) as from ``_holds``."""
    times = problem.times
    caps = [problem.relaxed_cap(d) for d in chain]
    assign = [-1] * problem.num_ops
    position, load = 0, 0
    held: set = set()  # what the current device holds, and its bytes
    used = 0
    segment: list[int] = []  # the current device's ops
    for v in order:
        while position < len(chain):
            t = times[v][chain[position]]
            if t is not None and load + t <= cap:
                if holds is None or caps[position] is None:
                    break
                extra = sum(nbytes for key, nbytes in holds[v] if key not in held)
                if used + extra <= caps[position] and problem.holds(chain[position], segment + [v]):
                    break
            position, load, held, used, segment = position + 1, 0, set(), 0, []
        else:
            return None
        assign[v] = position
        segment.append(v)
        load += times[v][chain[position]]
        if holds is not None:
            for key, nbytes in holds[v]:
                if key not in held:
                    held.add(key)
                    used += nbytes
    return assign


def _holds(problem: PlacementProblem) -> list[list[tuple[object, int]]]:
    """Per op, the constants and tensors (key, bytes) its device must hold for it, in bytes of the memory
    model's relaxation (solver.placement.problem.MemoryFigure)."""
    holds: list[list[tuple[object, int]]] = [[] for _ in range(problem.num_ops)]
    for item in problem.memory_items():
        for v in item.ops:
            holds[v].append((item.key, item.relaxed))
    return holds
