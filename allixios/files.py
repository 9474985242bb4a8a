"""Writing a file so that its readers see the old one or the new one, never half of it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], object], *, durable: bool = False) -> Path:
    """Write ``path`` through ``write(tmp)`` on a sibling ``<name>.tmp``, then rename it over ``path``.

    Every reader of our folders skips ``*.tmp`` (the ingest, the archive, the gap finder, the site),
    and the rename is atomic on one file system. ``durable`` fsyncs the file before the rename, for
    files whose contents were acknowledged to someone (the collector's segments). A failed write
    leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        if durable:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
