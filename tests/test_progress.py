"""Progress of long work: nothing for short work, throttled plain lines in a log, a live line on a real terminal."""

from __future__ import annotations

import io
import re
import os
import pty
import subprocess
import sys
import threading

from solver.progress import Progress


class Clock:
    """A clock the test moves (the lines depend on time; a loaded machine must not change them)."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(total, steps, seconds_per_step, **options) -> list[str]:
    clock, stream = Clock(), io.StringIO()
    with Progress("work", total=total, unit="points", stream=stream, clock=clock, **options) as shown:
        for i in range(steps):
            clock.now += seconds_per_step
            shown.advance(status=f"point {i}")
    return stream.getvalue().splitlines()


def test_work_under_a_second_prints_nothing():
    assert run(total=500, steps=500, seconds_per_step=0.0015) == []


def test_plain_lines_are_throttled_and_carry_rate_and_time_left():
    lines = run(total=100, steps=100, seconds_per_step=0.2)  # 20 s of work, a new status each step
    # One line per second at most (the status changes every step), and a closing line.
    assert 15 <= len(lines) <= 21, lines
    first = lines[0]
    assert first.startswith("[") and "work: 5/100 points" in first and "5 points/s" in first, first
    assert "~19 s left" in first and first.endswith("; point 4")
    assert "done, 100/100 points" in lines[-1] and "left" not in lines[-1]


def test_unchanged_status_prints_every_few_seconds():
    clock, stream = Clock(), io.StringIO()
    shown = Progress("solve", total=60, unit="s", stream=stream, clock=clock, every=5.0)
    tick = shown.callback(lambda incumbent, bound: f"best {incumbent}, bound {bound}")
    for second in range(1, 31):
        clock.now += 1.0
        tick(120, 100, float(second))  # the same incumbent and bound: a heartbeat
    shown.close()
    lines = stream.getvalue().splitlines()
    # At 1 s (the first status), then every 5 s: 1, 6, ..., 26; and the closing line.
    assert [line[:11] for line in lines[:-1]] == [f"[{t:7.1f} s]" for t in (1, 6, 11, 16, 21, 26)], lines
    assert "at most 34 s left (time limit)" in lines[-2] and lines[-2].endswith("; best 120, bound 100")
    assert "points/s" not in stream.getvalue()


def test_quiet_prints_nothing_and_updates_after_close_are_ignored():
    assert run(total=10, steps=10, seconds_per_step=5.0, quiet=True) == []
    clock, stream = Clock(), io.StringIO()
    shown = Progress("work", total=3, stream=stream, clock=clock)
    shown.close()
    clock.now += 10
    shown.advance()
    assert stream.getvalue() == "" and shown.done == 0


def test_unknown_total_has_no_estimate():
    lines = run(total=None, steps=30, seconds_per_step=0.5)
    assert lines and all("left" not in line for line in lines)
    assert "30 points" in lines[-1]


def test_updates_from_many_threads_are_counted_once_each():
    shown = Progress("work", total=4000, quiet=True)
    threads = [threading.Thread(target=lambda: [shown.advance() for _ in range(1000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert shown.done == 4000


LIVE = """
import time
from solver.progress import Progress
with Progress("profiling", total=20, unit="rounds", delay=0.2) as shown:
    for i in range(20):
        time.sleep(0.05)
        shown.advance(status=f"round {i}")
print("finished")
"""


def test_a_terminal_gets_one_live_line_with_a_bar_rate_and_estimate(tmp_path):
    """A real pseudo-terminal: rich redraws one line in place (carriage returns, no line per update)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", LIVE], stdin=follower, stdout=follower, stderr=follower,
                            cwd=os.getcwd(), env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    (tmp_path / "terminal.txt").write_text(screen)
    assert "finished" in screen
    assert "profiling" in screen and "20/20" in screen and "rounds/s" in screen, screen
    assert "\x1b[" in screen  # drawn with terminal control sequences, in place
    assert screen.count("profiling") < 20 * 2  # not one printed line per update


def test_profiling_reports_each_round_and_the_command_shows_them(branchy_cnn, tmp_path, capsys, monkeypatch):
    """Real onert rounds: the callback follows every round, the last says no more come; the command's line too."""
    from devices import open_device
    from solver import cli
    from solver.deploy.profiling import ProfileSettings, profile_model

    monkeypatch.setenv("NNPART_CACHE_DIR", str(tmp_path / "cache"))
    rounds = []
    result = profile_model(branchy_cnn, open_device("local"), ProfileSettings(runs=2, rounds=2),
                           on_round=lambda done, more, status: rounds.append((done, more, status)))  # fmt: skip
    assert [done for done, _, _ in rounds] == list(range(1, len(result.measurements) + 1))
    assert [more for _, more, _ in rounds] == [True] * (len(rounds) - 1) + [False]
    assert all("robust CV" in status for _, _, status in rounds)
    out = tmp_path / "trace.chrome.json"
    # Three rounds of a tiny model may end within the second that shows nothing; show them from the start.
    from solver.progress import Progress

    monkeypatch.setitem(Progress.__init__.__kwdefaults__, "delay", 0.0)
    assert cli.main(["profile", str(branchy_cnn), "--runs", "2", "--rounds", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    # The closing line says how many rounds ran.
    assert re.search(r"profiling: done, (\d+)/\1 rounds", err), err
