"""Reading a file whose name comes from a user, safely: `stat` first, and only a regular file no
larger than a limit is opened (a FIFO would block, /dev/zero or a huge sparse file never end)."""

from __future__ import annotations

import os
import stat
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
