"""The bulk parser of flat-object arrays (solver/io/json_runs.py) against the standard JSON parser."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.io.json_runs import Layout, read_run

OPS = Layout(("id", "type", "weight"), ("int", "str", "int"))
EDGES = Layout(("from", "to", "bytes"), ("int", "int", "int"))
KEYS = {OPS: ("id", "type", "weight"), EDGES: ("from", "to", "bytes")}

counts = st.integers(0, 10**19)
types = st.text(st.sampled_from('AB_2 ],}{"\\é\x01'), max_size=4)
ops = st.lists(st.fixed_dictionaries({"id": counts, "type": types, "weight": counts}), max_size=6)
edges = st.lists(st.fixed_dictionaries({"from": counts, "to": counts, "bytes": counts}), max_size=6)
styles = st.sampled_from([{"separators": (",", ":")}, {}, {"indent": 2}, {"indent": "\t"}])


def expected(layout: Layout, text: str) -> tuple[list[list[int]], list[list[str]]] | None:
    """The array as json.loads reads it, when it is plain objects of ``layout`` (ints of 64 bits); else None."""
    try:
        items = json.loads(text)
    except ValueError:
        return None
    keys = KEYS[layout]
    if not isinstance(items, list) or any(type(x) is not dict or tuple(x) != keys for x in items):
        return None
    ints = [[x[k] for k, kind in zip(keys, layout.kinds) if kind == "int"] for x in items]
    strings = [[x[k] for x in items] for k, kind in zip(keys, layout.kinds) if kind == "str"]
    if any(type(v) is not int or not 0 <= v < 2**63 for row in ints for v in row):
        return None
    if any(type(v) is not str for column in strings for v in column):
        return None
    return ints, strings


def check(layout: Layout, text: str, must_parse: bool) -> None:
    """A parse is json.loads's (never a wrong one), and the arrays a writer makes without escapes do parse."""
    data = ("[" + text + " ,0]").encode()  # the array, then more of the document
    run = read_run(data, 1, layout)
    small = in_pieces(data, layout, 16)
    assert (run is None and small is None) or (np.array_equal(run.ints, small.ints) and run.strings == small.strings)
    if run is None:
        assert not (must_parse and expected(layout, "[" + text) is not None)
        return
    truth = expected(layout, data[: run.end].decode())  # what the parse says the array is
    assert truth is not None, text
    ints, strings = truth
    assert run.ints.tolist() == ints and run.ints.shape[1] == layout.kinds.count("int")
    assert run.strings == strings


def in_pieces(data: bytes, layout: Layout, size: int):
    """read_run with pieces of about ``size`` bytes."""
    import solver.io.json_runs as runs

    saved, runs._CHUNK = runs._CHUNK, size
    try:
        return read_run(data, 1, layout)
    finally:
        runs._CHUNK = saved


@settings(max_examples=400, deadline=None)
@given(items=st.one_of(ops.map(lambda x: (OPS, x)), edges.map(lambda x: (EDGES, x))), style=styles, data=st.data())
def test_bulk_parse_is_json_or_nothing(items, style, data):
    layout, objects = items
    text = json.dumps(objects, ensure_ascii=data.draw(st.booleans()), **style)[1:]  # after '['
    plain = "\\" not in text and all(v < 10**18 for x in objects for v in x.values() if type(v) is int)
    check(layout, text, must_parse=plain)  # no escapes, numbers of at most 18 digits
    # One character changed, inserted or dropped: json.loads's reading, or none.
    at = data.draw(st.integers(0, len(text)))
    char = data.draw(st.sampled_from(list(' \t,:{}[]"0123456789-.e+\\\x00\x0bxé')))
    edit = data.draw(st.sampled_from(["insert", "replace", "drop"]))
    tail = text[at + 1 :] if edit != "insert" else text[at:]
    changed = text[:at] + ("" if edit == "drop" else char) + tail
    check(layout, changed, must_parse=False)


def test_numbers_and_layouts():
    assert read_run(b'[{"from":0,"to":12,"bytes":999999999999999999}]', 1, EDGES).ints.tolist() == [
        [0, 12, 999999999999999999]
    ]
    for text in (b'[{"from":01,"to":1,"bytes":1}]', b'[{"from":1.0,"to":1,"bytes":1}]',
                 b'[{"from":-1,"to":1,"bytes":1}]', b'[{"from":1,"to":1,"bytes":1000000000000000000}]',
                 b'[{"to":1,"from":1,"bytes":1}]', b'[{"from":1,"to":1}]', b'[{"from":1,"to":1,"bytes":1},]',
                 b'[{"from":1,"to":1,"bytes":1 2}]', b'[{"from":1,"to":1,"bytes":1}'):  # fmt: skip
        assert read_run(text, 1, EDGES) is None, text
    run = read_run(b'[ {"id": 0, "type": "A,]}", "weight": 5},\n {"id":1,"type":"","weight":0} ]', 1, OPS)
    assert run.ints.tolist() == [[0, 5], [1, 0]] and run.strings == [["A,]}", ""]]
    assert read_run(b"[]", 1, OPS).ints.shape == (0, 2)


def test_pieces_join_as_one_array():
    """An array longer than a piece is read in pieces cut after an object: the same as one piece."""
    objects = [{"id": v, "type": "T}" + str(v % 7), "weight": v * 3} for v in range(3000)]
    data = json.dumps(objects).encode()
    whole, pieces = read_run(data, 1, OPS), in_pieces(data, OPS, 100)
    assert np.array_equal(whole.ints, pieces.ints) and whole.strings == pieces.strings
    assert pieces.ints[:, 1].tolist() == [v * 3 for v in range(3000)]
    broken = data.replace(b'}, {"id": 2000', b'} {"id": 2000')
    assert in_pieces(broken, OPS, 100) is None
