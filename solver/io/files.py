"""Writing output files so that a failure never leaves a half-written one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any, indent: int | None = None) -> Path:
    """Write ``obj`` as JSON atomically."""
    return write_atomic(path, json.dumps(obj, indent=indent) + "\n")


def read_json(path: str | Path, what: str, error: type[Exception], expect: type | None = None) -> Any:
    """The JSON value in ``path``; a missing, unreadable or malformed file raises ``error`` naming it.

    ``what`` names the kind of file for the message ("trace", "partition map"); ``expect`` (e.g. ``dict``)
    is the type the document must have.
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise error(f"{path}: no such file ({what})") from err
    except OSError as err:
        raise error(f"{path}: cannot read the {what} ({err.strerror})") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{path}: not a JSON {what} ({err})") from err
    if expect is not None and not isinstance(value, expect):
        raise error(f"{path}: not a JSON {'object' if expect is dict else expect.__name__} ({what})")
    return value
