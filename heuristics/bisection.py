"""Bisection on a monotone yes/no question, the search under every bottleneck bound here."""

from __future__ import annotations

from collections.abc import Callable


def least(low: int, high: int, holds: Callable[[int], bool]) -> int:
    """The smallest ``x`` in ``low..high`` with ``holds(x)``, for ``holds`` monotone (false, then true).

    ``holds(high)`` is taken as true without asking.

    >>> least(0, 100, lambda x: x * x >= 50)
    8
    """
    while low < high:
        mid = (low + high) // 2
        if holds(mid):
            high = mid
        else:
            low = mid + 1
    return low
