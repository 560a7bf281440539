"""Run onert work on user files in a child process, so that a crash of the runtime is an error, not our death.

onert is native code: a garbage or hostile model file can make it segfault or abort, which would end the
caller's interpreter (and lose its answer). :func:`run_isolated` runs a function in a spawned child (never
forked: onert sessions and CP-SAT threads must not be inherited). The function receives a ``step(what)``
callback and calls it before each risky step with the file it is about to load or run; if the child dies,
the error names that file and the signal. Exceptions the function raises come back as themselves.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable
from typing import Any

from devices.errors import DeviceError

_POLL = 0.5  # seconds between checks that the child is alive


class RuntimeCrash(DeviceError):
    """onert died while loading or running a file (the message names the file and the signal)."""


def run_isolated(function: Callable[..., Any], *args: Any, timeout: float = 600.0, what: str = "onert") -> Any:
    """``function(step, *args)`` run in a spawned child process; its return value (picklable) or its exception.

    ``function`` must be importable by name (a module-level function). ``step(text)`` records what the child
    does now ("loading m.tflite"); a child killed by a signal or exiting without an answer raises
    :class:`RuntimeCrash` naming the last step, a child running past ``timeout`` seconds is killed and
    raises it too.
    """
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, function, args), name=f"nnpart {what}", daemon=True)
    child.start()
    send.close()
    last = f"starting {what} in a child process"
    waited = 0.0
    try:
        while True:
            if receive.poll(_POLL):
                try:
                    kind, payload = receive.recv()
                except EOFError:
                    break  # the child is gone; its exit status says how
                if kind == "step":
                    last = payload
                elif kind == "error":
                    raise payload
                else:
                    return payload
            elif not child.is_alive():
                break
            waited += _POLL
            if waited > timeout:
                raise RuntimeCrash(f"{last}: no answer after {timeout:g} s (the child process was stopped)")
        child.join(5)
        raise RuntimeCrash(f"{last}: {what} {_how(child.exitcode)}")  # last: "m.tflite (a part model)"
    finally:
        if child.is_alive():
            child.kill()
            child.join(5)
        receive.close()


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"crashed ({name}) loading or running it; the file is probably not a model onert can read"
    return f"exited with status {exitcode} without an answer"


def _child(send, function: Callable[..., Any], args: tuple) -> None:
    def step(text: str) -> None:
        send.send(("step", text))

    try:
        answer = ("result", function(step, *args))
    except BaseException as err:  # everything goes back to the parent; a KeyboardInterrupt too
        answer = ("error", err)
    try:
        send.send(answer)
    except Exception as err:  # an exception or result that does not pickle
        send.send(("error", DeviceError(f"{type(err).__name__}: {err}")))
    send.close()
