"""The kinds of device a spec names, one row each: ``local`` (onert here), ``ssh://user@host[:port]`` and
``sdb://serial``. ``open_device``, a farm's devices file, ``remote.parse_spec`` and the command line's help all
read this table; a new kind of measuring device is its ``Device`` class and one row here. (A brute-force dump is
a file, not a device: solver reads it into a lookup device, ``solver.assignment.offline.open_spec``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devices.base import Device
from devices.errors import DeviceSpecError


@dataclass(frozen=True)
class Scheme:
    """A kind of device: its name, the form of its spec, what it is, and ``open(spec, cache root, options)``,
    which builds the (uncached) device and refuses options it does not take."""

    name: str
    form: str  # the spec, as help and errors show it
    what: str
    open: Callable[[str, Path, dict], Device]

    @property
    def short(self) -> str:
        """The spec's form in a list of kinds (``ssh://...``)."""
        return f"{self.name}://..." if "://" in self.form else self.form

    def names(self, spec: str) -> bool:
        """Whether ``spec`` is a spec of this kind."""
        return spec.startswith(f"{self.name}://") if "://" in self.form else spec == self.name


def _local(spec: str, root: Path, options: dict) -> Device:
    from devices.local import LocalDevice

    no_options(spec, options)
    return LocalDevice(root)


def _remote(spec: str, _root: Path, options: dict) -> Device:
    from devices.remote import RemoteDevice, SdbTransport, SshTransport, parse_spec

    scheme, address = parse_spec(spec)
    board = {k: options.pop(k) for k in ("workdir", "python") if k in options}
    if scheme == "ssh":
        address.update({k: options.pop(k) for k in ("identity", "ssh_options") if k in options})
        transport = SshTransport(**address)
    else:
        transport = SdbTransport(**address)
    no_options(spec, options)
    return RemoteDevice(transport, **board)


SCHEMES = (
    Scheme("local", "local", "onert here", _local),
    Scheme("ssh", "ssh://user@host[:port]", "the system ssh with your keys", _remote),
    Scheme("sdb", "sdb://serial", "Tizen", _remote),
)


def scheme_of(spec: str) -> Scheme | None:
    """The row of :data:`SCHEMES` that ``spec`` names, or None."""
    return next((s for s in SCHEMES if s.names(spec)), None)


def spec_forms() -> str:
    """Every kind's spec form in a sentence: ``local, ssh://user@host[:port] or sdb://serial``."""
    forms = [s.form for s in SCHEMES]
    return ", ".join(forms[:-1]) + " or " + forms[-1]


def no_options(spec: str, options: dict) -> None:
    """Refuse what is left of a device's options after it took its own."""
    if options:
        raise DeviceSpecError(f"{spec}: unknown device option(s) {', '.join(sorted(options))}")
