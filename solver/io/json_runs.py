"""A JSON array of flat objects of one layout, parsed in bulk with numpy: a million ops in about a second.

The graph files big graphs come in list their ops and edges as objects with the same keys in the same order,
``{"id": 0, "type": "OP", "weight": 82}`` and ``{"from": 0, "to": 1, "bytes": 4096}``, written compactly or with
json.dumps's spaces or indentation. :func:`read_run` parses such an array from the file's bytes at once: it
finds the array's end, the strings (every '"' opens or closes one when there is no backslash), the runs of
digits outside string values (digits inside a key are read too, and then fail the template), and checks that
what is left, spaces outside strings dropped, is the layout's template repeated with commas. Anything else,
including input the standard JSON parser would refuse, returns None, and the caller reads the array element by
element as before: this path only takes arrays whose parse is certain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_QUOTE, _COMMA, _BACKSLASH, _ZERO, _NINE = (ord(c) for c in '",\\09')
_SPACES = tuple(ord(c) for c in " \t\n\r")  # JSON's white space
_CHUNK = 4 << 20  # bytes parsed at a time
_NUMBER = 0  # a number in a template and in the skeleton (a NUL byte appears in no valid JSON text)
_DIGITS_MAX = 18  # every non-negative integer of up to 18 digits fits in int64 (and under 2^63 - 1)


@dataclass(frozen=True)
class Layout:
    """Objects whose keys are ``keys`` in this order; ``kinds[i]`` is "int" (a non-negative integer) or "str"."""

    keys: tuple[str, ...]
    kinds: tuple[str, ...]

    def template(self) -> np.ndarray:
        """The skeleton of one object: keys kept, a number as NUL, a string value as ``""``."""
        parts = [b'"%s":%s' % (key.encode(), b"\0" if kind == "int" else b'""')
                 for key, kind in zip(self.keys, self.kinds)]  # fmt: skip
        return np.frombuffer(b"{" + b",".join(parts) + b"}", dtype=np.uint8)


@dataclass(frozen=True)
class Run:
    """A parsed array: ``end`` is the index after its ']'; ``ints[:, j]`` the j-th integer field of each object,
    ``strings[j]`` the j-th string field's values (decoded, in order)."""

    end: int
    ints: np.ndarray
    strings: list[list[str]]


def read_run(data: bytes, start: int, layout: Layout) -> Run | None:
    """The array of ``layout`` objects whose first byte after '[' is ``data[start]``, or None (module doc)."""
    end = _array_end(data, start)
    if end is None:
        return None
    ints, strings = [], []  # per piece: its integers; per string field, the texts' first and end bytes
    for a, b in _chunks(data, start, end):
        part = _read_chunk(np.frombuffer(data, dtype=np.uint8, count=b - a, offset=a), layout, a > start)
        if part is None:
            return None
        ints.append(part[0])
        strings.append([(opens + a + 1, closes + a) for opens, closes in part[1]])
    try:
        texts = [_decode(data, np.concatenate([piece[j][0] for piece in strings]),
                         np.concatenate([piece[j][1] for piece in strings]))
                 for j in range(layout.kinds.count("str"))]  # fmt: skip
    except UnicodeDecodeError:
        return None
    return Run(end + 1, np.concatenate(ints), texts)


def _chunks(data: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """``start..end`` cut into pieces of about _CHUNK bytes, each ending just after a '}' outside strings (the
    last at ``end``): the pieces' arrays stay small."""
    pieces, a = [], start
    while end - a > _CHUNK:
        cut = data.find(b"}", a + _CHUNK, end)
        while cut >= 0 and data.count(b'"', a, cut) % 2:
            cut = data.find(b"}", cut + 1, end)
        if cut < 0:
            break
        pieces.append((a, cut + 1))
        a = cut + 1
    if a < end or not pieces:
        pieces.append((a, end))
    return pieces


def _read_chunk(span: np.ndarray, layout: Layout, follows: bool):
    """One piece of the array: its integers (one row per object) and, per string field, where each value opens
    and closes in the piece; None unless it is ``layout`` objects joined by commas (after a comma when it
    ``follows`` another piece)."""
    if (span == _BACKSLASH).any():
        return None  # escapes: the element reader decodes them
    quotes = np.flatnonzero(span == _QUOTE)
    if len(quotes) % 2:
        return None
    opens, closes = quotes[0::2], quotes[1::2]
    per_object = len(layout.keys) + layout.kinds.count("str")  # a string per key and per string value
    n, extra = divmod(len(opens), per_object)
    if extra:
        return None
    value_strings = [i for i, kind in enumerate(layout.kinds) if kind == "str"]
    slots = [i + value_strings.index(i) + 1 for i in value_strings]  # among the object's strings
    values = [(opens[s::per_object], closes[s::per_object]) for s in slots]
    skeleton, starts, lengths = _skeleton(span, quotes, values)
    if skeleton is None:
        return None
    if follows and len(skeleton):  # (a last piece of white space joins nothing)
        if skeleton[0] != _COMMA:
            return None
        skeleton = skeleton[1:]
    if not _tiles(skeleton, layout.template(), n):
        return None
    ints = _integers(span, starts, lengths)
    if len(ints) != n * layout.kinds.count("int"):  # a NUL byte outside strings (not JSON) passes for a number
        return None
    return ints.reshape(n, layout.kinds.count("int")), values


def _array_end(data: bytes, start: int) -> int | None:
    """The index of the ']' closing the array (the first one outside a string), or None."""
    at = data.find(b"]", start)
    while at >= 0:
        if data.count(b'"', start, at) % 2 == 0:
            return at
        at = data.find(b"]", at + 1)
    return None


def _marked(size: int, firsts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The bytes in ``firsts[i]:ends[i]`` for some i (disjoint ranges of a span of ``size`` bytes, in order):
    each range's first byte and the byte after it flip the mark (an end that is the next range's first flips
    it twice), and a running XOR carries it (twice as fast as a running sum)."""
    step = np.zeros(size + 1, dtype=np.uint8)
    step[firsts] = 1
    step[ends] ^= 1
    return np.bitwise_xor.accumulate(step[:-1]).view(bool)


def _skeleton(span: np.ndarray, quotes: np.ndarray, values: list[tuple[np.ndarray, np.ndarray]]):
    """The span with spaces outside strings dropped, each number outside string values as one NUL, each string
    value's text dropped (its quotes kept); and where each number starts and how many digits it has. None when a
    control byte stands in a string (JSON forbids it) or a number is not a plain non-negative integer.

    Only a string value's text is marked byte by byte. A byte in a key is told by the quotes before it (an odd
    count: inside), looked up for the few bytes that need it (spaces, control bytes); a digit in a key is taken
    for a number, whose NUL then differs from the template's key, so the piece is refused as it should be."""
    text = np.zeros(len(span), dtype=bool)
    for opens, closes in values:
        text |= _marked(len(span), opens + 1, closes)
    low = np.flatnonzero(span <= 0x20)  # white space and control bytes
    inside = np.searchsorted(quotes, low, side="right") % 2 == 1
    if (span[low[inside]] < 0x20).any():
        return None, None, None
    digit = (span >= _ZERO) & (span <= _NINE) & ~text
    edges = np.flatnonzero(np.diff(digit.view(np.int8), prepend=np.int8(0), append=np.int8(0)))
    starts, ends = edges[0::2], edges[1::2]
    lengths = ends - starts
    if (lengths > _DIGITS_MAX).any() or ((span[starts] == _ZERO) & (lengths > 1)).any():
        return None, None, None  # too long for int64 here, or a leading zero (not JSON)
    digit[starts] = False  # the digits after a number's first
    keep = ~(digit | text)
    spaces = low[~inside]
    keep[spaces[_is_space(span[spaces])]] = False
    skeleton = span.copy()
    skeleton[starts] = _NUMBER
    return skeleton[keep], starts, lengths


def _is_space(chars: np.ndarray) -> np.ndarray:
    """Which of ``chars`` are JSON's white space."""
    space = chars == _SPACES[0]
    for byte in _SPACES[1:]:
        space |= chars == byte
    return space


def _tiles(skeleton: np.ndarray, template: np.ndarray, n: int) -> bool:
    """Whether ``skeleton`` is ``template`` ``n`` times, joined by commas."""
    if n == 0:
        return len(skeleton) == 0
    if len(skeleton) != n * (len(template) + 1) - 1:
        return False
    rows = np.append(skeleton, np.uint8(_COMMA)).reshape(n, len(template) + 1)
    return bool((rows[:, :-1] == template).all() and (rows[:, -1] == _COMMA).all())


def _integers(span: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The integers whose digits start at ``starts``, ``lengths`` long."""
    values = np.zeros(len(starts), dtype=np.int64)
    for j in range(int(lengths.max(initial=0))):
        more = np.flatnonzero(lengths > j)
        values[more] = values[more] * 10 + (span[starts[more] + j] - _ZERO)
    return values


def _decode(data: bytes, firsts: np.ndarray, ends: np.ndarray) -> list[str]:
    """The texts ``data[firsts[i]:ends[i]]``, each distinct text one object."""
    shared: dict[bytes, str] = {}
    out = []
    for a, b in zip(firsts.tolist(), ends.tolist()):
        raw = data[a:b]
        text = shared.get(raw)
        if text is None:
            text = shared[raw] = raw.decode("utf-8")
        out.append(text)
    return out
