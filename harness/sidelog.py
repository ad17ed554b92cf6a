"""How a study's last run ended, kept in a small side file beside the journal.

When the store fails (a full disk, a read-only mount) the failure often cannot be recorded in MLflow or
Optuna. The side file is preallocated when a run starts, so that the message overwrites bytes already
on disk and fits even on a full filesystem; the next run reads it and says which error the last one hit,
instead of guessing that a worker died.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

SIZE = 4096


def reset(path: Path) -> None:
    """Blank and preallocate the side file; a store that cannot be written gets none (said elsewhere)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b" " * SIZE)
    except OSError:
        pass


def read(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8", "replace").strip()
    except OSError:
        return None
    return text or None


def write(path: Path, message: str) -> None:
    """Overwrite the preallocated bytes in place (never grows the file); best effort."""
    data = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}".encode("utf-8", "replace")[:SIZE]
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return
    try:
        os.pwrite(fd, data.ljust(min(SIZE, max(len(data), os.fstat(fd).st_size)), b" "), 0)
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
