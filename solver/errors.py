"""Exceptions of nnpart and the exit codes the command line maps them to.

Every error a user can cause (bad file, bad option, nothing feasible) is a subclass of
:class:`NnpartError`; the CLI prints ``ClassName: message`` on one line and exits with the
class's ``exit_code``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2  # bad input: file, option or combination of options
EXIT_INFEASIBLE = 3  # the input is fine but no answer satisfies it
EXIT_MISMATCH = 4  # a check on results failed (numerical verification, checker)
EXIT_DEVICE = 5  # a device could not be reached or failed outside a measurement
EXIT_INTERRUPTED = 130


class NnpartError(Exception):
    """Base class of every error nnpart reports to a user."""

    exit_code = EXIT_USAGE


class UsageError(NnpartError):
    """An option or a combination of options is invalid."""


class ModelError(NnpartError):
    """A model file cannot be read (not a model, truncated, unsupported)."""


class TraceError(NnpartError):
    """A trace file cannot be read or does not match its model."""


class GraphFormatError(NnpartError):
    """A generic graph file (JSON graph, SALBP .IN2) is malformed."""


class DumpError(NnpartError):
    """A profiling dump (brute-force or estimator dump, oplist) is malformed or does not match."""


class InfeasibleError(NnpartError):
    """The problem is well formed but has no solution (e.g. a memory cap no partition meets)."""

    exit_code = EXIT_INFEASIBLE


class CheckError(NnpartError):
    """A result failed an independent check (partition checker, numerical verification)."""

    exit_code = EXIT_MISMATCH


def _user_errors() -> tuple[type[Exception], ...]:
    # heuristics/ and devices/ may not import solver/, so they keep base classes of their own.
    from devices.errors import DeviceError
    from heuristics.errors import HeuristicError

    return (NnpartError, DeviceError, HeuristicError)


USER_ERRORS = _user_errors()
