"""The devices' own error types (devices/ imports nothing of nnpart).

A configuration that fails to prepare, crashes or computes wrong outputs is *not* an error: it is
an invalid :class:`Measurement`. These exceptions are for a device that cannot be used at all.
"""


class DeviceError(Exception):
    """A device cannot be reached or used (bad address, missing runtime, copy failed)."""

    exit_code = 5


class DeviceSpecError(DeviceError):
    """A device address or option is malformed (``ssh://`` without a host, unknown scheme)."""

    exit_code = 2


class LookupMiss(DeviceError):
    """A lookup device was asked for a configuration its dump does not hold."""

    exit_code = 2
