"""The devices' own error types (devices/ imports nothing of nnpart), and the check for onert.

A configuration that fails to prepare, crashes or computes wrong outputs is *not* an error: it is
an invalid :class:`Measurement`. These exceptions are for a device that cannot be used at all.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class DeviceError(Exception):
    """A device cannot be reached or used (bad address, missing runtime, copy failed)."""

    exit_code = 5


class DeviceSpecError(DeviceError):
    """A device address or option is malformed (``ssh://`` without a host, unknown scheme)."""

    exit_code = 2


class LookupMiss(DeviceError):
    """A lookup device was asked for a configuration its dump does not hold."""

    exit_code = 2


class MissingExtraError(DeviceError):
    """An optional library is not installed (onert: the extra ``onert``); the message names the extra."""

    exit_code = 2


def missing_extra_message(module: str, extra: str, what: str) -> str:
    """The one line a user reads when ``module`` is missing; ``solver.extras`` words its error with it too."""
    return f"{what} needs {module}, which is not installed: pip install 'nnpart[{extra}]'"


def require(module: str, extra: str, what: str) -> ModuleType:
    """The imported ``module``; if it is not installed, :class:`MissingExtraError` naming ``extra``.

    ``what`` says what needs it ("verifying a split"), for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(missing_extra_message(module, extra, what)) from err
