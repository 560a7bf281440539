"""Reading JSON inputs with one-line errors; checking output targets before the work and writing them so that a
failure never leaves a half-written or clobbered file.

The atomic write itself is ``devices.files.write_atomic`` (devices/ needs it too and cannot import solver/); here it
turns an operating-system error into a one-line :class:`UsageError` naming the file.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from devices import files as _devices_files
from solver.errors import UsageError

__all__ = ["check_output", "read_json", "write_atomic", "write_json"]

_NAME_MAX = 255  # when the file system does not say


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + rename); a failure is a UsageError naming ``path``."""
    try:
        return _devices_files.write_atomic(path, data)
    except OSError as err:
        raise UsageError(f"{path}: cannot write ({err.strerror or err})") from err


def drop_page_cache(path: str | Path) -> None:
    """Write ``path``'s pages to disk and drop them from the page cache, so that the next reader reads it cold.

    Why: a file written in one piece sits in the page cache in large folios (ext4 since Linux 6.16), and a
    process that maps it then maps whole folios at a time. onert's loader maps a model file while it copies its
    buffers, so a just-written model costs up to its own size more peak memory than the same file read back from
    disk (MobileNetV2: 28.9 MB against 20.5 MB while loading); memory is measured on cold files. Best effort: a
    system without ``posix_fadvise`` keeps its cache."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: str | Path, obj: Any, indent: int | None = None) -> Path:
    """Write ``obj`` as JSON atomically."""
    return write_atomic(path, json.dumps(obj, indent=indent) + "\n")


def check_output(
    path: str | Path | None,
    *,
    inputs: Iterable[str | Path | None] = (),
    option: str = "--out",
    directory: bool = False,
) -> Path | None:
    """Refuse, before any work, an output target that could not be written or must not be: return ``path``.

    A file target must not be a directory or another non-regular file (a device, a pipe: the atomic rename
    would replace it); a ``directory`` target must not be an existing non-directory. Its nearest existing
    ancestor must be a directory we can create files in (tried, so read-only mounts and /proc are caught
    too), every name in the path must fit the file system, and the target must not be one of ``inputs``
    (an output never replaces an input; hard links and different spellings of a path count as the same file).
    ``None`` (no output asked for) is returned as is.

    Raises
    ------
    UsageError
        Naming the target, the problem and ``option``.
    """
    if path is None:
        return None
    path = Path(path)

    def refuse(problem: str) -> UsageError:
        return UsageError(f"{path}: {problem}")

    if "\0" in str(path):
        raise refuse(f"a path cannot hold a NUL byte ({option})")
    kind = _kind(path)
    if directory:
        if kind not in (None, "directory"):
            raise refuse(f"exists and is not a directory; {option} takes the directory to write into")
    elif kind == "directory":
        raise refuse(f"is a directory; {option} takes the file to write")
    elif kind == "other":
        raise refuse(f"exists and is not a regular file; {option} takes the file to write")
    ancestor = _nearest_existing(path if directory else path.parent)
    if _kind(ancestor) != "directory":
        raise refuse(f"{ancestor} is not a directory ({option})")
    name_max = _name_max(ancestor)
    if any(len(os.fsencode(name)) > name_max for name in path.parts):
        raise refuse(f"a name in the path is longer than the file system's {name_max} bytes ({option})")
    _probe(ancestor, lambda why: refuse(f"cannot create files in {ancestor} ({option}): {why}"))
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise refuse(f"is the input file {source}; {option} must name another file")
    return path


def _kind(path: Path) -> str | None:
    """"directory", "file" (regular), "other", or None when nothing is there (or the path cannot name anything)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, a parent that is a file, a name too long, a NUL byte
        return None
    return "directory" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while _kind(path) is None and path != path.parent:
        path = path.parent
    return path


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return _NAME_MAX


def _probe(directory: Path, refuse: Callable[[str], UsageError]) -> None:
    """Create and remove a file in ``directory``: the one check that sees permissions, read-only mounts and /proc."""
    probe = directory / f".nnpart-probe-{secrets.token_hex(6)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as err:
        raise refuse(err.strerror or str(err)) from err
    probe.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # both exist: hard links and symbolic links count
    except (OSError, ValueError):
        return os.path.abspath(a) == os.path.abspath(b)


def read_json(path: str | Path, what: str, error: type[Exception], expect: type | None = None) -> Any:
    """The JSON value in ``path``; a missing, unreadable or malformed file raises ``error`` naming it.

    ``what`` names the kind of file for the message ("trace", "partition map"); ``expect`` (e.g. ``dict``)
    is the type the document must have. Nesting too deep for the parser and integers too long to convert are
    malformed too.
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise error(f"{path}: no such file ({what})") from err
    except IsADirectoryError as err:
        raise error(f"{path}: is a directory, not a {what} file") from err
    except OSError as err:
        raise error(f"{path}: cannot read the {what} ({err.strerror})") from err
    except RecursionError as err:
        raise error(f"{path}: not a JSON {what} (nested too deeply)") from err
    except (UnicodeDecodeError, ValueError) as err:  # ValueError: JSONDecodeError, and Python's int-length limit
        raise error(f"{path}: not a JSON {what} ({err})") from err
    if expect is not None and not isinstance(value, expect):
        raise error(f"{path}: not a JSON {'object' if expect is dict else expect.__name__} ({what})")
    return value
