"""Text rendering of the backend-assignment results: the found front, a brute-force run."""

from __future__ import annotations

from solver.assignment.bruteforce import BruteForceResult
from solver.assignment.front import Quality
from solver.assignment.evaluator import Evaluation
from solver.assignment.search import SearchResult


def front_table(result: SearchResult, quality: Quality) -> str:
    """The found front as a text table, then one line of figures."""
    spread = any(len(e.memories) > 1 for e in result.front)
    width = 22 if spread else 10
    lines = [f"{'id':>12} {'time ms':>10} {'memory MB' + (' [rounds]' if spread else ''):>{width}}  configuration"]
    for e in result.front:
        lines.append(f"{e.point_id:>12} {e.time_ms:>10.3f} {memory_text(e):>{width}}  {_short(e, result)}")
    figures = (
        f"{result.algorithm}: {len(result.evaluations)} unique evaluations of {result.space.size} points "
        f"({sum(not e.valid for e in result.evaluations)} invalid), front of {len(result.front)}, "
        f"hypervolume {quality.hypervolume:.4f}"
    )
    if quality.ratio is not None:
        figures += (
            f"; true front {len(quality.true_front)} points, hypervolume ratio {quality.ratio:.4f}, "
            f"IGD+ {quality.igd_plus:.4f}"
        )
    if result.interrupted:
        figures += " (interrupted: the front so far)"
    return "\n".join(lines + [figures])


def memory_text(e: Evaluation) -> str:
    """A point's memory in MB, with the range of its rounds' peaks when measured in several (the figure is
    their median: ``solver.io.dumps.memory_figure``)."""
    text = f"{e.memory_kb / 1024:.1f}"
    if len(e.memories) > 1:
        text += f" [{min(e.memories) / 1024:.2f}-{max(e.memories) / 1024:.2f}]"
    return text


def _short(e: Evaluation, result: SearchResult) -> str:
    """The non-default part of a point: op types (or group numbers) not on the first backend, and settings."""
    space = result.space
    digits = space.digits(e.genes)
    words = []
    for number, backend in enumerate(space.backends[1:], start=1):
        moved = [d.label if space.mode == "name" else str(k) for k, d in enumerate(space.decisions) if digits[k] == number]
        if moved:
            words.append(f"{backend}: {','.join(moved)}" if space.mode == "name" else f"{backend}: groups {','.join(moved)}")
    words += [f"{k}={v}" for k, v in space.setting_values(e.genes)]
    return "; ".join(words) or f"all {space.backends[0]}"


def brute_force_line(result: BruteForceResult) -> str:
    """One line: the dump written, its points and how they were obtained."""
    return (
        f"{result.out}: {len(result.dump.solutions)} points ({result.space.describe()}); measured "
        f"{result.measured}, resumed {result.resumed}, invalid {result.invalid}"
    ) + (f"\n{result.journal}" if result.journal else "")
