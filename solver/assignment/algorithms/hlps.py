"""ONE's Hamming local Pareto search, and the Hamming neighbourhoods it (and NSGA-II's polish) walks."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

from solver.assignment.algorithms.sampling import random_unmeasured
from solver.assignment.evaluator import Evaluator
from solver.assignment.settings import SearchSettings
from solver.assignment.space import SearchSpace


def hlps(space: SearchSpace, evaluator: Evaluator, rng: np.random.Generator, queue_cap: int = 2000) -> None:
    """ONE's Hamming local Pareto search (tools/pareto_profiler/estimator/Hlps.py), on genes.

    Model (ONE's): a FIFO queue of points to measure starts with one random point. After each
    measurement the Pareto archive is updated; every archive member not yet expanded this round is
    expanded once: a member that entered by dominating others is *exploited* (all its Hamming-distance-1
    neighbours are queued, then it is marked explored), a member that entered without dominating anyone
    is *explored* (for every distance hd = 1..n, the point with hd random genes shifted, for each shift).
    A round ends when the queue is empty (or after ``queue_cap`` insertions, ONE's ``--samples``); the
    next round queues the distance-1 neighbours of the archive. Runs until the budget is spent.

    Defects of ONE's code fixed here: points were re-measured when queued twice (the evaluator measures
    each point once, and nothing measured or queued is queued again); the archive kept points that tie or
    weakly dominate others and could hold one point under several keys (here a proper non-dominated
    archive); digits assumed every decision may take every backend (here shifts are modulo each gene's
    own number of values); it imported Python 2's ``Queue``. When a round queues nothing new, ONE stopped;
    here the next round restarts from a random unmeasured point so the budget is used. ONE's index mode
    first searched the name-mode space and then extended its front; this searches the index space directly.
    """
    cards = np.array(space.cardinalities)
    archive: dict[tuple[int, ...], bool] = {}  # front member -> explored (True: wide search next)
    queue: deque[tuple[int, ...]] = deque(random_unmeasured(space, evaluator, rng))
    queued = set(queue)
    while not evaluator.exhausted:
        visited: set[tuple[int, ...]] = set()
        inserted = 0

        def push(candidates: Iterable[tuple[int, ...]]) -> None:
            nonlocal inserted
            for genes in candidates:
                if inserted < queue_cap and genes not in queued and genes not in evaluator:
                    queue.append(genes)
                    queued.add(genes)
                    inserted += 1

        if not queue:
            for member in list(archive):
                push(hamming_one(member, cards))
            if not queue:
                push(random_unmeasured(space, evaluator, rng))
        while queue:
            genes = queue.popleft()
            evaluation = evaluator.evaluate(genes)
            if evaluation.valid:
                _update_archive(archive, evaluator, genes)
            for member in list(archive):
                if member in visited:
                    continue
                visited.add(member)
                if archive[member]:
                    for hd in range(1, len(cards) + 1):
                        push(_hamming(member, hd, cards, rng))
                else:
                    push(hamming_one(member, cards))
                    archive[member] = True


def _update_archive(archive: dict[tuple[int, ...], bool], evaluator: Evaluator, genes: tuple[int, ...]) -> None:
    """ONE's ParetoData.update_pareto_solutions on a proper archive: a newcomer that dominates members
    replaces them and is exploited next; one that dominates nobody joins and is explored next."""
    new = evaluator.cache[genes]
    point = (new.time_ms, new.memory_kb)
    members = {m: (evaluator.cache[m].time_ms, evaluator.cache[m].memory_kb) for m in archive}
    if any(o[0] <= point[0] and o[1] <= point[1] for o in members.values()):
        return
    dominated = [m for m, o in members.items() if point[0] <= o[0] and point[1] <= o[1]]
    for m in dominated:
        del archive[m]
    archive[genes] = not dominated


def hamming_one(genes: tuple[int, ...], cards: np.ndarray) -> list[tuple[int, ...]]:
    """ONE's gen_hamming_one: every point that differs from ``genes`` in exactly one gene."""
    out = []
    for shift in range(1, int(cards.max(initial=1))):
        for k, card in enumerate(cards):
            if shift < card:
                neighbour = list(genes)
                neighbour[k] = (genes[k] - shift) % card
                out.append(tuple(neighbour))
    return out


def _hamming(genes: tuple[int, ...], hd: int, cards: np.ndarray, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """ONE's gen_hamming: ``hd`` random genes shifted together by r = 1..(most values - 1)."""
    positions = rng.permutation(len(genes))[:hd]
    out = []
    for shift in range(1, int(cards.max(initial=1))):
        candidate = list(genes)
        for k in positions:
            candidate[k] = (genes[k] - shift) % cards[k]
        out.append(tuple(int(g) for g in candidate))
    return out


def run(space: SearchSpace, evaluator: Evaluator, settings: SearchSettings, parallel: int = 1, on_fit=None) -> None:
    """``hlps``: :func:`hlps` seeded with the settings' seed."""
    hlps(space, evaluator, np.random.default_rng(settings.seed))
