"""The Optuna journal file of a study: a lock that dies with its owner, and a tail check before opening.

Optuna appends JSON records, one per line. A write cut short (a full disk, a process killed mid-write)
leaves a last record without its newline; Optuna's next append lands on that line, and from then on
every read fails with a bare `JSONDecodeError` that names neither the file nor the line. So before a
journal is opened its tail is checked under the journal's lock: a torn last record is provably the last
write, and is cut off (its bytes kept in `<journal>.torn`) with one line saying so; a bad record
anywhere else is a `JournalError` naming the file, the line and the two ways back (`salt-harness repair`).

The lock is `flock(2)` on a side file: the kernel releases it when its owner dies, so a killed run never
leaves a stale lock (Optuna's own symlink lock waits 30 s, then forcibly breaks it).
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

RECORD_START = b'{"op_code":'  # how every Optuna journal record begins (json.dumps, compact separators)
TAIL_BYTES = 1 << 20


class JournalError(ValueError):
    """A journal that cannot be read: names the file, the line and how to recover."""


class FlockLock:
    """Optuna's journal lock (`JournalFileBackend(lock_obj=...)` calls acquire and release) as an advisory
    `flock` on `<journal>.flock`: never stale."""

    def __init__(self, journal: str | Path):
        self.path = f"{journal}.flock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


@contextmanager
def locked(journal: Path):
    """The journal's lock, or nothing when its directory cannot be written (a read-only store only reads)."""
    lock = FlockLock(journal)
    try:
        lock.acquire()
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _decodes(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def repair_tail(journal: Path) -> str | None:
    """Cut a torn last record off `journal` (under its lock); return what was done, None when whole.

    Two torn shapes are provably the last writes: a last line without its newline (the write stopped),
    and a last line that is a torn record with a complete one appended to it (a live writer appended
    after another died mid-write): the torn prefix is cut and the complete record kept.
    """
    if not journal.is_file() or journal.stat().st_size == 0:
        return None
    with locked(journal) as writable:
        size = journal.stat().st_size
        with open(journal, "rb") as f:
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read()
        head = size - len(tail)
        complete = tail.endswith(b"\n")
        body = tail[:-1] if complete else tail
        cut = body.rfind(b"\n") + 1  # start of the last line within `tail`
        last = body[cut:]
        if complete and _decodes(last):
            return None
        if not writable:
            raise JournalError(f"{journal}: its last record is torn and the store is read-only: make it writable, "
                               f"then run again (the torn record is cut off and kept in {journal}.torn)")
        if complete:  # torn + appended: keep the complete record at the end of the line
            start = last.rfind(RECORD_START)
            if start <= 0 or not _decodes(last[start:]):
                raise JournalError(_bad_line(journal, _line_number(journal, head + cut)))
            removed, keep = last[:start], last[start:] + b"\n"
        else:
            removed, keep = last, b""
        with open(f"{journal}.torn", "ab") as f:
            f.write(removed + b"\n")
        with open(journal, "r+b") as f:
            f.truncate(head + cut)
            f.seek(head + cut)
            f.write(keep)
            f.flush()
            os.fsync(f.fileno())
    return (f"repaired {journal}: its last record was cut short ({len(removed)} bytes, a write that did not "
            f"finish: a full disk or a killed process); the bytes are kept in {journal}.torn, and the study goes "
            "on from the last complete record")


def first_bad_line(journal: Path) -> int | None:
    """The 1-based number of the first line that is not a complete record (None when every line is)."""
    with open(journal, "rb") as f:
        for n, line in enumerate(f, start=1):
            if not line.endswith(b"\n") or not _decodes(line):
                return n
    return None


def _line_number(journal: Path, offset: int) -> int:
    with open(journal, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def _bad_line(journal: Path, line: int) -> str:
    return (f"{journal} line {line}: not a complete Optuna journal record, and not the last write, so it cannot "
            "be cut off safely. Recover with `salt-harness repair <study file> --truncate` (keeps the records "
            f"before line {line}; the rest go to {journal}.torn) or `salt-harness repair <study file> --rebuild` "
            "(a new journal from the MLflow runs: finished runs are reused, nothing is trained again)")


def corruption(journal: Path) -> JournalError:
    """The error for a journal Optuna could not read: which line, and the two ways back."""
    line = first_bad_line(journal)
    if line is None:
        return JournalError(f"{journal}: Optuna could not read this journal, though every line is a JSON record; "
                            "recover with `salt-harness repair <study file> --rebuild`")
    return JournalError(_bad_line(journal, line))


def truncate_at(journal: Path, line: int) -> int:
    """Keep the records before `line`; the rest go to `<journal>.torn`. Returns the lines removed."""
    with locked(journal):
        with open(journal, "rb") as f:
            lines = f.readlines()
        with open(f"{journal}.torn", "ab") as f:
            f.writelines(lines[line - 1:])
        with open(journal, "r+b") as f:
            f.truncate(sum(len(x) for x in lines[:line - 1]))
            f.flush()
            os.fsync(f.fileno())
    return len(lines) - (line - 1)
