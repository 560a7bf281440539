"""onert's static memory planners, simulated: the arena a backend allocates for its non-constant tensors.

Model (onert ``runtime/onert/core/src/backend/basic/MemoryPlanner.cc``, 1.30)
----------------------------------------------------------------------------
A backend's tensor builder sends its planner a sequence of ``claim(tensor, size)`` and ``release(tensor)``
events (:mod:`solver.memory.lifetimes` derives them as onert's ``planTensors`` does); the planner gives each
tensor an offset in one arena and the arena's capacity is the largest ``offset + size``. The arena is one
allocation made when the session is prepared, so its capacity is what the session holds.

- ``Bump``: each claim goes at the current end; releases do nothing. Capacity = the sum of the sizes.
- ``FirstFit``: the tensors live now are kept sorted by offset; a claim scans them from offset 0 and takes the
  first gap before a live block that fits (``next + size <= offset``), else the end of the last block scanned.
  The table is keyed by offset, so a claim at an offset already in it replaces that entry (zero-size tensors);
  a release removes the tensor's entry if it is still there.
- ``WIC`` (weighted interval colouring, onert's default): claims and releases only record interference (two
  tensors interfere when one is claimed while the other is live); at the end the tensors are placed in
  descending size (ties in claim order), each at the lowest offset where it overlaps no placed tensor it
  interferes with, scanning those by offset like FirstFit (the scan finds the lowest such offset, so the order
  of equal offsets does not matter).

onert picks the planner from ``CPU_MEMORY_PLANNER`` (default ``WIC``) for every backend built on its basic
tensor manager (cpu, ruy); an unknown name gets ``FirstFit`` (its factory's fallback): :func:`planner_for`.

The events are held as :class:`Lifetimes` (arrays: a million tensors without an object each): each tensor
claimed once, at its event's position, and released at a later position or never. Tensor j is live when i is
claimed when j was claimed before i and is released after i's claim, so i's interferers claimed after it are
the claims before its release: a range of the claim order; those claimed before it lie after the first tensor
still live at its claim.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from solver.errors import UsageError

PLANNERS = ("WIC", "FirstFit", "Bump")
DEFAULT_PLANNER = "WIC"  # onert's Config.lst default of CPU_MEMORY_PLANNER
CLAIM, RELEASE = "claim", "release"
NEVER = np.iinfo(np.int64).max  # the release of a tensor no event releases


@dataclass(frozen=True)
class Event:
    """One call of a planner: ``claim`` (with the tensor's size in bytes) or ``release``."""

    kind: str
    tensor: int
    size: int = 0


@dataclass(frozen=True)
class Plan:
    """A planner's answer: the arena's capacity in bytes and each tensor's offset in it."""

    capacity: int
    offsets: dict[int, int]
    sizes: dict[int, int]


@dataclass(frozen=True)
class Lifetimes:
    """Claimed tensors in claim order: ``tensors[i]`` (its id) of ``sizes[i]`` bytes, claimed at the event
    position ``claims[i]`` (ascending) and released at ``releases[i] > claims[i]`` (:data:`NEVER`: not released)."""

    tensors: Sequence
    sizes: np.ndarray
    claims: np.ndarray
    releases: np.ndarray

    def __len__(self) -> int:
        return len(self.sizes)


def lifetimes_of(events: Iterable[Event]) -> Lifetimes:
    """The lifetimes of a sequence of events, each tensor claimed at most once (a release of a tensor not live
    does nothing, as in every planner)."""
    tensors, sizes, claims, releases, at = [], [], [], [], {}
    for position, e in enumerate(events):
        if e.kind == CLAIM:
            at[e.tensor] = len(tensors)
            tensors.append(e.tensor)
            sizes.append(e.size)
            claims.append(position)
            releases.append(NEVER)
        elif e.tensor in at and releases[at[e.tensor]] == NEVER:
            releases[at[e.tensor]] = position
    as_array = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return Lifetimes(tensors, as_array(sizes), as_array(claims), as_array(releases))


def planner_for(name: str | None) -> str:
    """The planner onert uses for ``CPU_MEMORY_PLANNER=name`` (None: unset)."""
    if name is None:
        return DEFAULT_PLANNER
    return name if name in PLANNERS else "FirstFit"


def check_planner(name: str) -> str:
    """``name`` if it is one of onert's planners, else ``UsageError``."""
    if name not in PLANNERS:
        raise UsageError(f"unknown memory planner {name!r} (onert has {', '.join(PLANNERS)})")
    return name


def plan_memory(events: Iterable[Event] | Lifetimes, planner: str = DEFAULT_PLANNER) -> Plan:
    """Run ``planner`` (one of :data:`PLANNERS`) on ``events`` as onert does (see the module docstring)."""
    lives = events if isinstance(events, Lifetimes) else lifetimes_of(events)
    capacity, offsets = _plan(lives, planner)
    tensors = list(lives.tensors)
    return Plan(capacity, dict(zip(tensors, offsets)), dict(zip(tensors, lives.sizes.tolist())))


class PlanningStopped(Exception):
    """A planner's simulation reached its deadline before it placed every tensor (control flow: the caller says
    what it shows instead)."""


def arena_bytes(lives: Lifetimes, planner: str = DEFAULT_PLANNER, deadline: float | None = None) -> int:
    """The capacity of ``planner``'s arena for ``lives`` (:func:`plan_memory`'s, without the offsets' table);
    :class:`PlanningStopped` once ``time.monotonic()`` passes ``deadline`` (None: no deadline)."""
    return _plan(lives, planner, _Clock(deadline))[0]


class _Clock:
    """The deadline of a simulation, looked at every :data:`EVERY` tensors placed (a look costs a system call)."""

    EVERY = 256

    def __init__(self, deadline: float | None):
        self.deadline = deadline

    def check(self, placed: int) -> None:
        if self.deadline is not None and placed % self.EVERY == 0 and time.monotonic() > self.deadline:
            raise PlanningStopped(f"stopped after {placed} tensors")


def _plan(lives: Lifetimes, planner: str, clock: _Clock = _Clock(None)) -> tuple[int, list[int]]:
    check_planner(planner)
    if not len(lives):
        return 0, []
    clock.check(0)
    if planner == "Bump":
        offsets = np.concatenate(([0], np.cumsum(lives.sizes)[:-1]))
        return int(lives.sizes.sum()), offsets.tolist()
    if planner == "FirstFit":
        return _first_fit(lives, clock)
    return _wic(lives, clock)


def _first_fit(lives: Lifetimes, clock: _Clock) -> tuple[int, list[int]]:
    sizes = lives.sizes.tolist()
    claims = lives.claims.tolist()
    by_release = np.argsort(lives.releases, kind="stable").tolist()
    releases = lives.releases.tolist()
    offsets = [0] * len(sizes)
    bases: list[int] = []  # offsets of the live tensors, sorted (onert's std::map _claim_table) ...
    owner: dict[int, int] = {}  # ... and the tensor at each
    capacity = gone = 0
    for i, size in enumerate(sizes):
        clock.check(i)
        while gone < len(by_release) and releases[by_release[gone]] < claims[i]:
            j = by_release[gone]
            gone += 1
            base = offsets[j]
            if owner.get(base) == j:  # else a later claim at its offset (a zero-size tensor) replaced it
                del owner[base]
                bases.pop(bisect.bisect_left(bases, base))
        nxt = 0
        for base in bases:
            if nxt + size <= base:
                break
            nxt = base + sizes[owner[base]]
        if nxt not in owner:
            bisect.insort(bases, nxt)
        owner[nxt] = i
        offsets[i] = nxt
        capacity = max(capacity, nxt + size)
    return capacity, offsets


WINDOW = 48  # up to this many claims in a tensor's window, its placed interferers are listed up front


def _wic(lives: Lifetimes, clock: _Clock) -> tuple[int, list[int]]:
    """WIC's offsets. Tensor i's interferers lie in the claim order between the first tensor still live at its
    claim and the last claimed before its release (its window); the placed ones are those before i in the
    placing order. Small windows are filtered for all tensors at once with numpy and scanned in Python; a large
    one (long-lived tensors, wide graphs) is scanned with numpy when its tensor is placed."""
    m = len(lives)
    # std::multimap with std::greater: descending size, equal sizes in claim order (a stable sort).
    by_size = np.argsort(-lives.sizes, kind="stable")
    rank = np.empty(m, dtype=np.int64)
    rank[by_size] = np.arange(m)
    first = np.searchsorted(np.maximum.accumulate(lives.releases), lives.claims, side="right")
    last = np.searchsorted(lives.claims, lives.releases)  # exclusive
    small = last - first <= WINDOW
    starts, placed_before = _placed_interferers(lives, rank, first, last, small)
    offsets = np.zeros(m, dtype=np.int64)
    sizes_l, offsets_l, small_l = lives.sizes.tolist(), [0] * m, small.tolist()
    first_l, last_l, rank_l, claims_l = first.tolist(), last.tolist(), rank.tolist(), lives.claims.tolist()
    for placed_count, i in enumerate(by_size.tolist()):
        clock.check(placed_count)
        size = sizes_l[i]
        if small_l[i]:
            lo, hi = starts[i], starts[i + 1]
            if lo == hi:
                continue
            if hi - lo == 1:  # one block: below it if it fits, else above it
                j = placed_before[lo]
                nxt = 0 if size <= offsets_l[j] else offsets_l[j] + sizes_l[j]
            else:
                nxt = 0
                for base, other in sorted([(offsets_l[j], sizes_l[j]) for j in placed_before[lo:hi]]):
                    if nxt + size <= base:
                        break
                    if nxt < base + other:
                        nxt = base + other
        else:  # placed before i, and live at its claim if claimed before it
            a, b = first_l[i], last_l[i]
            placed = rank[a:b] < rank_l[i]
            placed[: i - a] &= lives.releases[a:i] > claims_l[i]
            nxt = _lowest_gap(offsets[a:b][placed], lives.sizes[a:b][placed], size)
        offsets[i] = offsets_l[i] = nxt
    return int((offsets + lives.sizes).max()), offsets_l


def _placed_interferers(lives: Lifetimes, rank: np.ndarray, first: np.ndarray, last: np.ndarray,
                        small: np.ndarray) -> tuple[list[int], list[int]]:  # fmt: skip
    """For the tensors of ``small`` windows: their interferers placed before them, as index ranges (lists)."""
    owners = np.flatnonzero(small)
    counts = (last - first)[owners]
    owner = np.repeat(owners, counts)
    j = np.repeat(first[owners] - np.cumsum(counts) + counts, counts) + np.arange(len(owner))
    keep = (rank[j] < rank[owner]) & ((j > owner) | (lives.releases[j] > lives.claims[owner]))
    starts = np.concatenate(([0], np.cumsum(np.bincount(owner[keep], minlength=len(lives)))))
    return starts.tolist(), j[keep].tolist()


def _lowest_gap(bases: np.ndarray, sizes: np.ndarray, size: int) -> int:
    """The lowest offset >= 0 where ``size`` bytes overlap none of the blocks (FirstFit's scan by offset: the
    scan's offset before block k is the furthest end of the blocks before it)."""
    if not len(bases):
        return 0
    by_base = bases.argsort()  # the order of equal offsets does not matter
    bases = bases[by_base]
    before = np.maximum.accumulate(np.concatenate(([0], bases + sizes[by_base])))
    fits = before[:-1] + size <= bases
    k = int(fits.argmax())
    return int(before[k] if fits[k] else before[-1])


def live_peak(events: Iterable[Event] | Lifetimes) -> int:
    """The largest sum of sizes of tensors live at once (claimed, not yet released): no planner that keeps live
    tensors apart does better (WIC, Bump; FirstFit's zero-size replacement can let a later claim overlap one)."""
    lives = events if isinstance(events, Lifetimes) else lifetimes_of(events)
    if not len(lives):
        return 0
    claimed = np.cumsum(lives.sizes)
    by_release = np.argsort(lives.releases, kind="stable")
    released = np.concatenate(([0], np.cumsum(lives.sizes[by_release])))
    # before claim i: the tensors released at a position below claims[i]
    gone = np.searchsorted(lives.releases[by_release], lives.claims)
    return int((claimed - released[gone]).max())
