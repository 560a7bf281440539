"""Brute force on the local device: ONE's dump, refusal of large spaces, checkpoints and resume."""

from __future__ import annotations

import json

import pytest

from devices import open_device
from solver.assignment.bruteforce import brute_force
from solver.assignment.journal import journal_path
from solver.assignment.offline import open_spec
from solver.assignment.settings import BruteForceSettings
from solver.errors import UsageError

QUICK = dict(repeats=1)


@pytest.fixture()
def device(tmp_path):
    return open_device("local", cache_dir=tmp_path / "cache")


def test_name_mode_dump_answers_as_a_lookup_device(device, branchy_cnn, tmp_path):
    out = tmp_path / "dump.json"
    seen = []
    result = brute_force(branchy_cnn, device, out, BruteForceSettings(**QUICK), lambda d, n, e: seen.append((d, n)))
    dump = json.loads(out.read_text())
    # Conv2D and FullyConnected can go to ruy; the other 6 op types stay on cpu: 4 runnable ids of 2**8.
    assert [s["id"] for s in dump["solutions"]] == [0, 1, 64, 65]
    assert dump["backends"] == ["cpu", "ruy"] and dump["space_size"] == 256 and dump["mode"] == "name"
    assert seen[-1] == (4, 4) and result.measured == 4 and result.resumed == 0
    assert not journal_path(out).exists()
    # All convs on ruy with the depthwise conv on cpu splits the shared bias: wrong outputs (id 1).
    by_id = {s["id"]: s for s in dump["solutions"]}
    assert by_id[1].get("valid") is False and "differs" in by_id[1]["reason"]
    assert by_id[0]["time"] > 0 and by_id[0]["memory"] > 0
    lookup = open_spec(str(out))
    space = result.space
    for ordinal in range(space.size):
        genes = space.point(ordinal)
        m = lookup.measure(branchy_cnn, space.config(genes), None)
        entry = by_id[space.point_id(genes)]
        assert m.valid == entry.get("valid", True)


def test_too_large_space_is_refused_with_its_size(device, branchy_cnn, tmp_path):
    with pytest.raises(UsageError, match=r"has 16 runnable points .* --force"):
        brute_force(branchy_cnn, device, tmp_path / "d.json", BruteForceSettings(mode="index", max_points=8))
    assert not (tmp_path / "d.json").exists()


def test_unknown_backend_is_refused(device, branchy_cnn, tmp_path):
    with pytest.raises(UsageError, match="no backend 'acl_cl'"):
        brute_force(branchy_cnn, device, tmp_path / "d.json", BruteForceSettings(backends=("cpu", "acl_cl")))


def test_interrupted_run_resumes_from_its_journal(device, branchy_cnn, tmp_path):
    out = tmp_path / "dump.json"

    def stop_after_two(done, total, entry):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        brute_force(branchy_cnn, device, out, BruteForceSettings(**QUICK), stop_after_two)
    assert not out.exists() and journal_path(out).exists()
    result = brute_force(branchy_cnn, device, out, BruteForceSettings(**QUICK))
    assert result.resumed == 2 and result.measured == 2
    assert len(json.loads(out.read_text())["solutions"]) == 4
    # Other settings do not resume from it.
    with pytest.raises(KeyboardInterrupt):
        brute_force(branchy_cnn, device, out, BruteForceSettings(**QUICK), stop_after_two)
    again = brute_force(branchy_cnn, device, out, BruteForceSettings(repeats=2))
    assert again.resumed == 0


def test_command_prints_progress(branchy_cnn, tmp_path, capsys, monkeypatch):
    from solver import cli

    main = cli.main
    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "bf.json"
    # Four points of a tiny model may end within the second that shows nothing; show them from the start.
    from solver.progress import Progress

    monkeypatch.setitem(Progress.__init__.__kwdefaults__, "delay", 0.0)
    assert main(["brute-force", str(branchy_cnn), "--out", str(out), "--repeats", "1"]) == 0
    captured = capsys.readouterr()
    assert "done, 4/4 points" in captured.err and "measured 4" in captured.out
    assert main(["brute-force", str(branchy_cnn), "--out", str(out), "--repeats", "1", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["schema"] == "nnpart.brute_force/1" and printed["points"] == 4 and printed["out"] == str(out)
    assert printed["backends"] == ["cpu", "ruy"] and printed["measured"] + printed["resumed"] == 4
    assert main(["brute-force", str(branchy_cnn), "--out", str(out), "--mode", "index", "--max-points", "3"]) == 2
    assert "UsageError" in capsys.readouterr().err


class _Recording:
    """The local device, keeping the process layout of every measurement it makes."""

    def __init__(self, device):
        self.device, self.name, self.layouts = device, device.name, []

    def backends(self):
        return self.device.backends()

    def measure(self, model, config, settings):
        self.layouts.append(settings.layout)
        return self.device.measure(model, config, settings)


def test_session_memory_over_layouts_is_opt_in_and_resumes(device, branchy_cnn, tmp_path):
    plain = json.loads(brute_force(branchy_cnn, device, tmp_path / "p.json", BruteForceSettings(**QUICK)).out.read_text())
    out, recording = tmp_path / "dump.json", _Recording(device)
    settings = BruteForceSettings(repeats=1, rounds=2, memory="session", layouts=True)

    def stop_after_two(done, total, entry):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        brute_force(branchy_cnn, recording, out, settings, stop_after_two)
    result = brute_force(branchy_cnn, recording, out, settings)
    assert result.resumed == 2  # the journal keeps the session's memory of the rounds it holds
    # Round 0 in the plain process, round 1 in the process padded by 1 KB; every point measured once per round.
    assert recording.layouts == [0, 0, 0, 0, 1, 1, 1, 1]
    dump = json.loads(out.read_text())
    assert dump["measure"]["memory"] == "session" and dump["measure"]["layouts"] is True
    assert "memory" not in plain["measure"]  # the default dump is as before
    process = {s["id"]: s["memory"] for s in plain["solutions"] if s.get("valid", True)}
    for s in dump["solutions"]:
        if s.get("valid", True):
            # What the session added to the process: above nothing, below the process's peak (the interpreter).
            assert len(s["memory_rounds"]) == 2 and all(0 < m < process[s["id"]] for m in s["memory_rounds"])


def test_unknown_memory_figure_is_refused():
    with pytest.raises(UsageError, match="choose process or session"):
        BruteForceSettings(memory="heap")


def test_the_command_measures_the_session_figure_over_layouts(branchy_cnn, tmp_path, monkeypatch, capsys):
    from solver import cli

    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    plain, session = tmp_path / "plain.json", tmp_path / "session.json"
    assert cli.main(["brute-force", str(branchy_cnn), "--out", str(plain), "--repeats", "1", "--quiet"]) == 0
    assert cli.main(["brute-force", str(branchy_cnn), "--out", str(session), "--repeats", "1", "--quiet",
                     "--rounds", "2", "--memory-figure", "session", "--layouts"]) == 0  # fmt: skip
    dump, process = json.loads(session.read_text()), json.loads(plain.read_text())
    assert dump["measure"]["memory"] == "session" and dump["measure"]["layouts"] is True
    peak = {s["id"]: s["memory"] for s in process["solutions"] if s.get("valid", True)}
    assert all(0 < s["memory"] < peak[s["id"]] for s in dump["solutions"] if s.get("valid", True))
    # A dump's memory is the figure it was measured with: the search over it takes no other.
    capsys.readouterr()
    assert cli.main(["pareto", "--offline", str(plain), "--memory-figure", "session"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(plain) in err and "--memory-figure" in err


def test_a_live_search_ranks_by_the_session_figure_and_says_so(branchy_cnn, tmp_path, monkeypatch, capsys):
    from solver import cli

    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    live = ["pareto", str(branchy_cnn), "--algo", "random", "--budget", "4", "--repeats", "1", "--warmup", "0",
            "--rounds", "1", "--quiet", "--json"]  # fmt: skip
    assert cli.main(live) == 0
    process = json.loads(capsys.readouterr().out)
    assert cli.main([*live, "--memory-figure", "session"]) == 0
    session = json.loads(capsys.readouterr().out)
    assert any("session figure" in note for note in session["summary"]["notes"])
    assert not any("session figure" in note for note in process["summary"]["notes"])
    peak = {p["id"]: p["memory_kb"] for p in process["front"]}
    common = [p for p in session["front"] if p["id"] in peak]
    assert common and all(0 < p["memory_kb"] < peak[p["id"]] for p in common)
