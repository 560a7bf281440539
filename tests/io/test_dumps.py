"""Dump files: ONE's brute-force and estimator dumps read and validated, written back, refused with one line."""

from __future__ import annotations

import json
import re

import pytest

import solver.cli
from solver.errors import DumpError
from solver.io.dumps import Dump, Solution, dump_document, estimator_document, memory_figure, parse_dump, read_dump

NAME_DUMP = {
    "oplist": ["Conv2D", "Softmax"],
    "backends": ["cpu", "ruy"],
    "solutions": [{"id": i, "time": 10.0 + i, "memory": 100 + i} for i in range(3)]
    + [{"id": 3, "time": None, "memory": None, "valid": False, "reason": "prepare failed"}],
}
# ONE's estimator dump (random_sampler.py): only the Pareto set, with exec_time and max_rss.
ESTIMATOR_DUMP = {
    "mode": "name",
    "oplist": ["Conv2D", "Softmax"],
    "solutions": [{"id": 0, "exec_time": 12.5, "max_rss": 300}, {"id": 3, "exec_time": 8.25, "max_rss": 900}],
    "configs": {"0": 'BACKENDS="cpu;acl_cl"', "3": 'BACKENDS="cpu;acl_cl"'},
    "profiling time": 3.2,
}


def write(tmp_path, document, name="dump.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_brute_force_dump_is_read_into_plain_data(tmp_path):
    dump = read_dump(write(tmp_path, NAME_DUMP))
    assert dump.mode == "name" and dump.oplist == ("Conv2D", "Softmax") and dump.backends == ("cpu", "ruy")
    assert dump.solutions[1] == Solution(1, 11.0, 101)
    assert dump.solutions[3] == Solution(3, None, None, False, "prepare failed")
    assert dump.num_digits == 2 and dump.model_sha256 is None and dump.path == tmp_path / "dump.json"


def test_estimator_dump_is_read_as_its_pareto_set():
    dump = parse_dump(ESTIMATOR_DUMP)
    assert dump.backends is None and sorted(dump.solutions) == [0, 3]
    assert dump.solutions[3].time_ms == 8.25 and dump.solutions[3].memory_kb == 900
    assert set(dump.about) == {"configs", "profiling time"}


def test_index_dump_with_ones_opmap_under_oplist():
    # ONE's index-mode estimator dumps keep the opmap under "oplist": the op types come from opname_by_indx.
    dump = parse_dump({"mode": "index", "oplist": [0, 1, 0], "opmap": [0, 1, 0],
                       "opname_by_indx": ["Conv2D", "Add", "Conv2D"], "solutions": []})  # fmt: skip
    assert dump.oplist == ("Conv2D", "Add") and dump.opmap == (0, 1, 0) and dump.num_digits == 2


def test_written_dump_reads_back_the_same():
    dump = Dump("index", ("Conv2D",), {1: Solution(1, 2.5, 7), 0: Solution(0, None, None, False, "crash")},
                opmap=(0, 1), opname_by_indx=("Conv2D", "Conv2D"), backends=("cpu", "ruy"), model_sha256="ab",
                about={"device": "local"})  # fmt: skip
    document = dump_document(dump)
    assert list(document)[:4] == ["oplist", "opmap", "opname_by_indx", "solutions"]
    assert [s["id"] for s in document["solutions"]] == [0, 1]
    assert parse_dump(json.loads(json.dumps(document))) == dump


def test_each_rounds_peak_memory_is_kept_and_the_figure_is_their_median():
    """A point measured in rounds keeps every run and each round's peak RSS; ``memory`` is the median of the
    rounds' peaks, so one round read low (or high) does not set it. Dumps without them read as before."""
    measured = Solution(4, 2.0, memory_figure([38520, 38830, 38680]), runs=(2.0, 2.5, 1.5),
                        memories=(38520, 38830, 38680))  # fmt: skip
    assert measured.memory_kb == 38680
    dump = Dump("name", ("Conv2D",), {4: measured, 0: Solution(0, 3.0, 100, runs=(3.0,), memories=(100,))},
                backends=("cpu", "ruy"))  # fmt: skip
    document = json.loads(json.dumps(dump_document(dump)))
    entries = {s["id"]: s for s in document["solutions"]}
    assert entries[4]["memory_rounds"] == [38520, 38830, 38680] and entries[4]["memory"] == 38680
    assert "memory_rounds" not in entries[0]  # one round: the memory is its figure, no list to repeat it
    read = parse_dump(document).solutions
    assert read[4] == measured and read[0].memories == ()
    # ONE's estimator dump keeps exec_time/max_rss; ours adds the spread, and both read back.
    estimator = estimator_document("name", ["Conv2D"], ["cpu", "ruy"], [measured], {4: "BACKENDS=cpu"}, 1.0,
                                   settings={}, summary={}, evaluated=[measured])  # fmt: skip
    entry = json.loads(json.dumps(estimator))["solutions"][0]
    assert (entry["exec_time"], entry["max_rss"], entry["memory_rounds"]) == (2.0, 38680, [38520, 38830, 38680])
    assert parse_dump(json.loads(json.dumps(estimator))).solutions[4] == measured
    assert parse_dump(NAME_DUMP).solutions[1].memories == () and parse_dump(ESTIMATOR_DUMP).solutions[0].memories == ()


MALFORMED = [
    ("{", "not a JSON brute-force dump"),
    ("[]", "not a JSON object"),
    ({"oplist": ["Conv2D"]}, "no 'solutions' list"),
    ({"oplist": "Conv2D", "solutions": []}, "'oplist' must be a list of strings"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": 1}]}, r"solution 0 \(id 1\): no 'time'"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": "1", "time": 1, "memory": 1}]}, "the id '1' is not a non-negative"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": -1, "time": 1, "memory": 1}]}, "the id -1 is not a non-negative"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": True, "time": 1, "memory": 1}]}, "the id True"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": "fast", "memory": 1}]}, "'time' is 'fast'"),
    ('{"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": NaN, "memory": 1}]}', "'time' is nan, not a finite"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": 1, "memory": -5}]}, "'memory' is -5"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": 1, "memory": 1, "valid": "false"}]},
     "'valid' is 'false', not true or false"),  # fmt: skip
    ({"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": None, "memory": 1}]}, "a valid solution needs a time"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": 1, "memory": 1}] * 2}, "id 0 appears twice"),
    ({"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": 1, "memory": 1, "memory_rounds": [1, -2]}]},
     "'memory_rounds' is not a list of finite non-negative numbers"),  # fmt: skip
    ({"oplist": ["Conv2D"], "solutions": [{"id": 0, "time": 1, "memory": 1, "runs": 3}]}, "'runs' is not a list"),
    ({"mode": "size", "oplist": [], "solutions": []}, "unknown mode 'size'"),
    ({"backends": ["cpu", "cpu"], "oplist": [], "solutions": []}, "distinct backend names"),
    ({"opmap": [0, 2], "opname_by_indx": ["A", "B"], "solutions": []}, "group 1 has no op"),
    ({"opmap": [0, -1], "opname_by_indx": ["A", "B"], "solutions": []}, "numbers a group -1"),
    ({"opmap": [0, 1], "opname_by_indx": ["A"], "solutions": []}, "one entry per op"),
    ({"mode": "index", "oplist": [0], "solutions": []}, "needs 'opmap' and 'opname_by_indx'"),
]


@pytest.mark.parametrize("document, message", MALFORMED)
def test_malformed_dump_is_a_dump_error_naming_the_file(tmp_path, document, message):
    path = write(tmp_path, document, "bad.json")
    with pytest.raises(DumpError, match=message) as caught:
        read_dump(path)
    assert str(caught.value).startswith(f"{path}:")


@pytest.mark.parametrize(
    "document, message",
    [
        ('{"oplist": ["Conv2D"], "backends": ["cpu", "ruy"], "solutions": [{"id": 0, "time": NaN, "memory": 1}]}',
         "'time' is nan"),  # fmt: skip
        ({"oplist": ["Conv2D"], "backends": ["cpu", "ruy"],
          "solutions": [{"id": 0, "time": 1, "memory": 1, "valid": "false"}]}, "'valid' is 'false'"),  # fmt: skip
        ({"oplist": ["Conv2D"], "backends": ["cpu", "ruy"], "solutions": [{"id": "x"}]}, "the id 'x'"),
        ({"oplist": ["Conv2D"], "backends": ["cpu", "ruy"]}, "no 'solutions' list"),
        ({"oplist": ["Conv2D"], "backends": ["cpu", "ruy"], "solutions": [{"id": 5, "time": 1, "memory": 1}]},
         r"id 5 is outside the space of 2\*\*1 ids"),  # fmt: skip
    ],
)
@pytest.mark.parametrize("option", ["--offline", "--device"])
def test_malformed_dump_through_the_command(tmp_path, capsys, document, message, option):
    path = write(tmp_path, document, "bad.json")
    assert solver.cli.main(["pareto", option, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"DumpError: {path}: ")
    assert re.search(message, err)
