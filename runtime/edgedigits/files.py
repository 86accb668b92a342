"""Files whose names come from a user, safely. Reading: `stat` first, and only a regular file no
larger than a limit is opened (a FIFO would block, /dev/zero or a huge sparse file never end).
Writing: into a temporary file beside the target, renamed over it, so a reader never sees half."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class FileRefused(ValueError):
    """The file is not one to read; the message says why, without the path (callers add it)."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of `path`, at most `limit` of them. Raises FileRefused (a directory, a pipe or a
    device, over the limit, grown over it while read) or OSError (missing, unreadable)."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise FileRefused("is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused("not a regular file (a pipe or a device)")
    if info.st_size > limit:
        raise FileRefused(f"file is {info.st_size:,} bytes, over the {limit:,}-byte limit")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(f"file grew over the {limit:,}-byte limit while being read")
    return data


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename (the folder
    is created); on any failure the temporary file is removed and `path` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
