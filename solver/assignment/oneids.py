"""ONE's solution ids: a backend assignment read as an integer in base b.

Digit k (least significant first) is the backend number of decision k: of ``oplist[k]`` in name
mode, of op group k in index mode. The space of n decisions and b backends has b**n ids.

>>> digits_to_id([0, 0, 1, 0, 0], 2)
4
>>> id_to_digits(4, 2, 5)
[0, 0, 1, 0, 0]
"""

from __future__ import annotations

from collections.abc import Sequence


def id_to_digits(solution_id: int, base: int, num_digits: int) -> list[int]:
    """The ``num_digits`` base-``base`` digits of ``solution_id``, least significant first."""
    if not 0 <= solution_id < base**num_digits:
        raise ValueError(f"id {solution_id} is outside the space of {base}**{num_digits} ids")
    digits = []
    for _ in range(num_digits):
        solution_id, digit = divmod(solution_id, base)
        digits.append(digit)
    return digits


def digits_to_id(digits: Sequence[int], base: int) -> int:
    """The id whose base-``base`` digits, least significant first, are ``digits``."""
    solution_id = 0
    for digit in reversed(digits):
        if not 0 <= digit < base:
            raise ValueError(f"digit {digit} is not a base-{base} digit")
        solution_id = solution_id * base + digit
    return solution_id
