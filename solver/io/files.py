"""Reading JSON inputs with one-line errors; writing output files so that a failure never leaves a half-written one.

The atomic write itself is ``devices.files.write_atomic`` (devices/ needs it too and cannot import solver/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devices.files import write_atomic

__all__ = ["read_json", "write_atomic", "write_json"]


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
