"""Running a CP-SAT solve so that Ctrl-C stops it cleanly and keeps its best answer.

CP-SAT's own SIGINT handler would stop the solve without Python knowing; with it off, a solve in the main
thread cannot be interrupted until it returns. So the solve runs in a thread and the main thread waits,
relays progress, and on Ctrl-C asks the solver to stop and waits for it (never leaving a solve thread
running into the interpreter's shutdown, which aborts the process from C++).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from solver.solving.budget import Budget, now


@dataclass
class Solve:
    """What a threaded solve ended with; ``beside`` is what the main thread's side search returned."""

    status: int
    solver: cp_model.CpSolver
    interrupted: bool
    beside: object = None


def make_solver(limit: float, workers: int | None) -> cp_model.CpSolver:
    """A solver with a time limit (seconds), ``workers`` threads (default: the cores) and no SIGINT handler."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, limit)
    solver.parameters.num_workers = workers or default_workers()
    solver.parameters.catch_sigint_signal = False  # Python's handler must see Ctrl-C, see the module doc
    return solver


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def solve_in_thread(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    *,
    callback: cp_model.CpSolverSolutionCallback | None = None,
    beside: Callable[[Callable[[], bool]], object] | None = None,
    on_tick: Callable[[], None] | None = None,
    tick: float = 1.0,
    budget: Budget | None = None,
) -> Solve:
    """Solve ``model`` in a thread; Ctrl-C in the main thread stops it and marks the result (and ``budget``,
    when given) interrupted.

    ``beside(done)`` runs in the main thread meanwhile (CP-SAT releases the GIL), polling ``done()``; an
    answer other than None stops the solve. ``on_tick()`` is called about every ``tick`` seconds. The solve
    is stopped once its time limit has passed by the clock here: CP-SAT counts its limit from after it has
    copied the model, which on a large model comes seconds late.
    """
    limit = Budget(solver.parameters.max_time_in_seconds)
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(status=solver.solve(model, callback)), daemon=True)
    thread.start()
    found, interrupted, last = None, False, now()
    try:
        if beside is not None:
            found = beside(lambda: not thread.is_alive())
            if found is not None:
                solver.stop_search()
        while thread.is_alive():
            thread.join(min(tick, 0.1))
            if limit.passed():
                solver.stop_search()
            if on_tick is not None and now() - last >= tick:
                last = now()
                on_tick()
    except KeyboardInterrupt:
        # Wherever Ctrl-C lands in this loop, the solve thread must stop before we go on.
        interrupted = True
        solver.stop_search()
        thread.join()
        if budget is not None:
            budget.interrupt()
    return Solve(result.get("status", cp_model.UNKNOWN), solver, interrupted, found)


class _Incumbent(cp_model.CpSolverSolutionCallback):
    """Keeps the objective and bound of the last solution (CP-SAT's thread writes, the main thread reads)."""

    def __init__(self):
        super().__init__()
        self.last: tuple[int, int] | None = None

    def on_solution_callback(self) -> None:
        self.last = (int(self.objective_value), int(self.best_objective_bound))


def solve_reporting(
    model: cp_model.CpModel,
    limit: float,
    workers: int | None,
    start: float,
    on_progress: Callable[[int, int, float], None] | None,
    tick: float = 1.0,
    beside: Callable[[Callable[[], bool]], object] | None = None,
    budget: Budget | None = None,
) -> Solve:
    """:func:`solve_in_thread` that relays ``on_progress(incumbent, bound, seconds since start)`` about every
    ``tick`` seconds from the main thread (never from CP-SAT's, where a print or a Ctrl-C does not belong),
    once ``beside`` (as solve_in_thread has it) has returned; Ctrl-C interrupts ``budget`` too."""
    solver = make_solver(limit, workers)
    incumbent = _Incumbent()

    def relay() -> None:
        if on_progress is not None and incumbent.last is not None:
            on_progress(*incumbent.last, now() - start)

    return solve_in_thread(solver, model, callback=incumbent, beside=beside, on_tick=relay, tick=tick, budget=budget)
