"""How commands print machine-readable results: one JSON document that names its schema."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 1


def print_json(kind: str, document: dict[str, Any]) -> None:
    """Print ``document`` (snake_case keys) as the ``--json`` output of a ``kind`` command.

    The first key, ``schema``, is ``"nnpart.<kind>/<version>"``; the version changes when a key changes
    meaning or goes away (new keys do not change it).
    """
    print(json.dumps({"schema": f"nnpart.{kind}/{SCHEMA_VERSION}", **document}, indent=1))
