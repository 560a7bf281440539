"""Exceptions of nnpart and the exit codes the command line maps them to.

Every error a user can cause (bad file, bad option, nothing feasible) is a subclass of
:class:`NnpartError`; the CLI prints ``ClassName: message`` on one line and exits with the
class's ``exit_code``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INFEASIBLE = 3
EXIT_MISMATCH = 4
EXIT_DEVICE = 5  # devices.errors.DeviceError uses the same number (devices/ cannot import this module)
EXIT_UNSTABLE = 6  # solve profile --strict: the profile was written, but it is UNSTABLE
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a tool the signal ends reports

# What each exit status means, for ``solve --help`` and the README.
EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_USAGE: "bad input: a file, an option or a missing extra",
    EXIT_INFEASIBLE: "no answer satisfies the (well-formed) input",
    EXIT_MISMATCH: "a check on results failed (verification, checker)",
    EXIT_DEVICE: "a device could not be reached or used",
    EXIT_UNSTABLE: "profile --strict: the measurement is UNSTABLE (spread, drift or contention; the trace is written)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C) before there was an answer to keep",
    EXIT_TERMINATED: "terminated (SIGTERM) before there was an answer to keep",
    EXIT_BROKEN_PIPE: "the reader of the output went away early (e.g. a pipe into head)",
}


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


class PlatformError(NnpartError):
    """A platform file (devices, links) is malformed, or a model cannot run on the platform it names."""


class DumpError(NnpartError):
    """A profiling dump (brute-force or estimator dump, oplist) is malformed or does not match."""


class MissingExtraError(NnpartError):
    """An optional library is not installed; the message names the extra that installs it."""


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
