"""What each running part last did, written to the database so ``guichet status`` can read it."""

from __future__ import annotations

import logging
import sqlite3
import time

import sqlite_utils

from .store import cannot_write, now, one

# A success is written at most this often (errors and recoveries always): no write per IDLE round.
OK_EVERY_S = 30.0


class _SaidOnce:
    """A fault said once when it appears (or changes kind), and its end said once: a part that
    retries every few seconds while a server is down does not fill the log."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.fault_kind: str | None = None

    def _appears(self, kind: str) -> bool:
        """Note a fault of this kind; True when it is not the one already being said."""
        new, self.fault_kind = kind != self.fault_kind, kind
        return new

    def _clears(self) -> bool:
        """Note that the fault is over; True when there was one."""
        was, self.fault_kind = self.fault_kind is not None, None
        return was


class StorageWatch(_SaidOnce):
    """The database as a whole: disk full or read-only is one fault for every part, said once
    (``fault``), and its end said once (``ok``)."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("guichet.storage"))

    def fault(self, reason: str) -> None:
        if self._appears(reason.split(" (")[0]):
            self.log.error("storage: the database cannot be written: %s; waiting and retrying "
                           "(the IMAP position is kept)", reason)

    def ok(self) -> None:
        if self._clears():
            self.log.info("storage: the database can be written again")


# One per process, as the database is: every part reports to it.
storage = StorageWatch()


class Health(_SaidOnce):
    """Records successes and errors of one component (``imap``, ``outbox``, ``telegram``…).

    ``fault()`` logs a warning only when the kind of fault changes; ``ok()`` then logs the
    recovery once.
    """

    def __init__(self, db: sqlite_utils.Database, component: str, logger: logging.Logger | None = None) -> None:
        super().__init__(logger or logging.getLogger(f"guichet.{component}"))
        self.db = db
        self.component = component
        self._ok: bool | None = None
        self._written = 0.0

    def fault(self, kind: str, message: str) -> None:
        """Record an error; log it unless the same kind of fault is already being reported."""
        if self._appears(kind):
            self.log.warning("%s", message)
        self.error(message)

    def ok(self) -> None:
        """Record a success (and log the recovery, once, after a fault)."""
        if self._clears():
            self.log.info("%s: working again", self.component)
        if self._ok is True and time.monotonic() - self._written < OK_EVERY_S:
            return
        stamp = now()
        self._write("INSERT INTO health (component, ok, last_ok, updated_at) VALUES (?, 1, ?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET ok = 1, last_ok = excluded.last_ok, "
                    "updated_at = excluded.updated_at", [self.component, stamp, stamp])
        self._ok, self._written = True, time.monotonic()

    def error(self, message: str) -> None:
        stamp = now()
        self._write("INSERT INTO health (component, ok, last_error, last_error_at, updated_at) "
                    "VALUES (?, 0, ?, ?, ?) ON CONFLICT(component) DO UPDATE SET ok = 0, "
                    "last_error = excluded.last_error, last_error_at = excluded.last_error_at, "
                    "updated_at = excluded.updated_at", [self.component, message[:500], stamp, stamp])
        self._ok, self._written = False, time.monotonic()

    def _write(self, sql: str, params: list[object]) -> None:
        # A status row that cannot be written (disk full) must not stop the part that reports.
        try:
            self.db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            reason = cannot_write(exc)
            if reason is None:
                raise
            storage.fault(reason)


def status(db: sqlite_utils.Database) -> dict[str, object]:
    """Everything ``guichet status`` shows, as data."""
    def count(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0])

    return {
        "components": [dict(r) for r in db.query("SELECT * FROM health ORDER BY component")],
        "mailboxes": [dict(r) for r in db.query("SELECT mailbox, uidvalidity, last_uid, updated_at AS last_fetch "
                                                "FROM imap_state")],
        "pending_drafts": count("SELECT count(*) FROM drafts WHERE state = 'pending'"),
        "to_answer_by_hand": count("SELECT count(*) FROM requests WHERE status = 'by_hand'"),
        "outbox": {r["state"]: r["n"] for r in db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")},
        "messages": count("SELECT count(*) FROM messages WHERE direction = 'in'"),
        "last_message": (one(db, "SELECT max(stored_at) AS at FROM messages WHERE direction = 'in'") or {}).get("at"),
    }
