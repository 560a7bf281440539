"""A slower board's runtime emulated on a Dask worker: CPU spent in its event loop as tasks finish and data arrives.

Beside the lab's slow links (devices.netlab) this gives a slow device: a worker plugin that spends ``task_ms`` of
the worker thread's CPU whenever a chosen task finishes executing there, and ``ms_per_mb`` per MB of a chosen
task's data it fetched from another worker (the data's own size: the task's nbytes may still be the scheduler's
guess). Used by benchmarks/placement_engine.py (a slow board in placed runs) and by the tests of the engine's CPU
fit (a known cost to recover).
"""

from __future__ import annotations

from collections.abc import Callable


def _spin(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU (not wall: a busy machine must not shorten the cost)."""
    import time

    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def burning_plugin(task_ms: float, ms_per_mb: float, computes: Callable[[str], bool], fetches: Callable[[str], bool],
                   address: str | None = None, name: str = "nnpart-slow-board"):  # fmt: skip
    """A Dask worker plugin (module docstring) burning on the worker at ``address`` (every worker: None) for the
    tasks whose key ``computes(key)`` when they finish executing and ``fetches(key)`` when their data arrives.

    The class is made here so that it pickles by value, and Dask stays an optional extra."""
    from distributed import WorkerPlugin

    class SlowBoard(WorkerPlugin):
        def setup(self, worker):
            self.worker = worker

        def transition(self, key, start, finish, **kwargs):
            key = str(key)
            if finish != "memory" or (address is not None and self.worker.address != address):
                return
            if start == "executing" and computes(key):
                _spin(task_ms / 1000)
            elif start == "flight" and fetches(key):
                from dask.sizeof import sizeof

                _spin(sizeof(self.worker.data[key]) * 1e-6 * ms_per_mb / 1000)

    SlowBoard.name = name
    return SlowBoard()
