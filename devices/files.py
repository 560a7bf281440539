"""The one atomic file write of nnpart: a reader sees the old file or the whole new one, never a part.

It lives in devices/ because devices/ imports nothing of nnpart and needs it (the measurement cache, the
worker's reference outputs); ``solver.io.files`` builds on it. It needs only the standard library, since
the worker (and so this module) is copied to boards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; renamed over ``path`` when the block ends without error.

    The temporary file is created beside ``path`` (same file system, so the rename is atomic) with mode
    0666 less the user's umask, like any file a program creates, and removed if the block fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            # os.open with mode 0o666 lets the kernel apply the umask (tempfile.mkstemp would force 0600).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; return ``path``."""
    with atomic_file(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return Path(path)
