"""The SQLite database: opening it, upgrading its schema, and small shared helpers.

Everything that happens to a request is written here first; the rest of the
service reads state back from it, so a crash at any point can resume.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import StorageError
from .migrations import MIGRATIONS

# SQLite's primary result codes that mean "this database cannot be written now", in plain words.
_CANNOT_WRITE = {sqlite3.SQLITE_FULL: "the disk is full", sqlite3.SQLITE_READONLY: "it is read-only",
                 sqlite3.SQLITE_IOERR: "the disk fails", sqlite3.SQLITE_CANTOPEN: "it cannot be opened"}


def now() -> str:
    """The current UTC time as the ISO text stored everywhere."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose transactions start as ``BEGIN IMMEDIATE``.

    A transaction that reads then writes, begun as a plain (deferred) BEGIN, reads a snapshot;
    if another connection commits a write meanwhile, SQLite refuses the upgrade to a write at
    once ("database is locked") and ``busy_timeout`` never applies. IMMEDIATE takes the write
    lock first, so the other writer waits (or we wait for it) instead of failing.
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:  # nested: sqlite-utils' savepoints
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise


def cannot_write(exc: BaseException) -> str | None:
    """Why the database cannot be written, in plain words, when ``exc`` says so (disk full,
    read-only file, failing disk); None for any other error."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    reason = _CANNOT_WRITE.get(getattr(exc, "sqlite_errorcode", 0) & 0xFF)
    return f"{reason} ({exc})" if reason else None


def write_fault(db: sqlite_utils.Database) -> str | None:
    """Why the database refuses a write now (see ``cannot_write``), or None when it takes one.

    The probe is a committed write that needs new pages (a full disk refuses the commit, a page
    limit the pages) and leaves nothing behind."""
    try:
        with db.atomic():
            db.execute("INSERT INTO events (at, kind, detail) VALUES (?, 'storage.probe', zeroblob(16384))", [now()])
            db.execute("DELETE FROM events WHERE kind = 'storage.probe'")
    except sqlite3.OperationalError as exc:
        reason = cannot_write(exc)
        if reason is None:
            raise
        return reason
    return None


def open_db(path: str | Path, *, busy_timeout_s: float = 30.0) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database at ``path`` (":memory:" works too).

    A database that cannot be written (disk full, read-only) raises ``StorageError`` in one line."""
    try:
        if str(path) == ":memory:":
            db = Database(memory=True)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = Database(path)
            db.enable_wal()
            # NORMAL is durable across process crashes in WAL mode; only a power cut
            # can lose the last commits, and IMAP would hand those messages again.
            db.execute("PRAGMA synchronous=NORMAL")
        # Another process holding the lock for a few seconds must make us wait, not fail.
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db)
    except (sqlite3.OperationalError, OSError) as exc:
        reason = cannot_write(exc) or (exc.strerror if isinstance(exc, OSError) else None)
        if reason is None:
            raise
        raise StorageError(f"cannot write the database {path}: {reason}") from exc
    return db


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not applied yet; return their names."""
    if "migrations" not in db.table_names():
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row["name"] for row in db.query("SELECT name FROM migrations")}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with db.atomic():
            if one(db, "SELECT 1 FROM migrations WHERE name = ?", [name]):
                continue  # another process (a desk command) applied it meanwhile
            step(db)
            db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, now()])
        applied.append(name)
    return applied


def log_event(db: sqlite_utils.Database, kind: str, *, request_id: int | None = None,
              draft_id: int | None = None, actor: str | None = None, **detail: Any) -> None:
    """Append one state change to the event log (call inside the change's transaction)."""
    db.execute(
        "INSERT INTO events (at, kind, request_id, draft_id, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [now(), kind, request_id, draft_id, actor, json.dumps(detail, ensure_ascii=False, default=str)],
    )


def one(db: sqlite_utils.Database, sql: str, params: list[Any] | None = None) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    return next(iter(db.query(sql, params or [])), None)


def insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """Insert ``row`` into ``table`` and return the new row's id.

    Plain SQL rather than sqlite-utils' ``insert``, which looks the table up in sqlite_master
    twice per row: on the path that stores every incoming message, that was a third of the time."""
    columns = ", ".join(f'"{name}"' for name in row)
    cursor = db.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(row))})', list(row.values()))
    if cursor.lastrowid is None:  # only for tables without a rowid, which Guichet does not have
        raise RuntimeError(f"no id for the row inserted into {table}")
    return int(cursor.lastrowid)


# Written in pieces: binding a whole 30 MB source in one call is what blob I/O avoids.
_CHUNK = 1 << 20


def store_source(db: sqlite_utils.Database, message_id: int, raw: bytes) -> None:
    """Keep a message's source as received (call inside the transaction that stores the message)."""
    db.execute("INSERT INTO message_sources (message_id, raw) VALUES (?, zeroblob(?))", [message_id, len(raw)])
    if raw:
        view = memoryview(raw)
        with db.conn.blobopen("message_sources", "raw", message_id) as blob:
            for start in range(0, len(raw), _CHUNK):
                blob.write(view[start:start + _CHUNK])


def source(db: sqlite_utils.Database, message_id: int) -> bytes | None:
    """A message's source as received, or None (purged, or an outgoing message)."""
    row = db.execute("SELECT raw FROM message_sources WHERE message_id = ?", [message_id]).fetchone()
    return bytes(row[0]) if row else None
