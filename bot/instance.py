"""One running service per database: an OS file lock beside the database, held for the process's life.

Two services on one database would both read the mailbox and send the outbox: every reply
could leave twice. ``guichet run`` takes an exclusive ``flock`` on ``<database>.lock``; the
kernel releases it when the process ends, however it ends (SIGKILL included), so a crash never
leaves a stale lock behind. Read-only and desk commands take no lock: they keep working while
the service runs, and ``guichet status`` asks the lock whether a service holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import AlreadyRunning, StorageError
from .store import now

# ``running()`` holds a shared lock for a moment; a service starting in that moment waits this long.
_ACQUIRE_TRIES = 10
_ACQUIRE_PAUSE_S = 0.05


@dataclass(frozen=True)
class Holder:
    """The process holding the lock: its pid and when it started (as it wrote them)."""

    pid: int | None
    since: str | None


def lock_path(database: str | Path) -> Path:
    """The lock file beside the database."""
    path = Path(database)
    return path.with_name(path.name + ".lock")


def _read_holder(fd: int) -> Holder:
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    pid = int(text[0]) if text and text[0].isdigit() else None
    return Holder(pid, text[1] if len(text) > 1 else None)


class InstanceLock:
    """The service's lock on its database; ``release()`` (or the process's end) lets another start."""

    def __init__(self, database: str | Path) -> None:
        self.database = Path(database)
        self.path = lock_path(database)
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        """Take the lock, or raise ``AlreadyRunning`` naming the process that holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: {exc.strerror or exc}") from exc
        for attempt in range(_ACQUIRE_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == _ACQUIRE_TRIES - 1:
                    holder = _read_holder(fd)
                    os.close(fd)
                    who = f"pid {holder.pid}" if holder.pid else "another process"
                    since = f", since {holder.since[:19]}" if holder.since else ""
                    raise AlreadyRunning(f"guichet is already running on {self.database} "
                                         f"({who}{since}); stop it first") from None
                time.sleep(_ACQUIRE_PAUSE_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {now()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def running(database: str | Path) -> Holder | None:
    """The process running the service on ``database``, or None when none holds the lock."""
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
