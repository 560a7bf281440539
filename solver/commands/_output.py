"""How commands print machine-readable results: one JSON document that names its schema."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 1
_LONG = 1000  # a top-level list longer than this is written on one line


def print_json(kind: str, document: dict[str, Any]) -> None:
    """Print ``document`` (snake_case keys) as the ``--json`` output of a ``kind`` command.

    The first key, ``schema``, is ``"nnpart.<kind>/<version>"``; the version changes when a key changes
    meaning or goes away (new keys do not change it).
    """
    document = {"schema": f"nnpart.{kind}/{SCHEMA_VERSION}", **document}
    print("{\n" + ",\n".join(f" {json.dumps(key)}: {_value(value)}" for key, value in document.items()) + "\n}")


def _value(value: Any) -> str:
    """A top-level value as ``json.dumps(document, indent=1)`` writes it, but a long list on one line: json's
    indenting encoder is pure Python (3 s for a partition map of 10^7 ops; its C encoder takes 0.5 s)."""
    if isinstance(value, list) and len(value) > _LONG:
        return json.dumps(value)
    return json.dumps(value, indent=1).replace("\n", "\n ")  # one level deeper (a string holds no raw newline)
