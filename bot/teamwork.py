"""What staff share beside the decisions: who is handling a request, and internal notes on it.

A claim ("je m'en occupe") tells the others to leave a request alone; it lapses after
``CLAIM_HOURS`` so a forgotten one does not block a request, and it goes when the claimant
decides or lets go. Notes are never sent to the requester; they are erased with the request's
personal data (a trigger of migration 017). Every desk can use both; each change is an event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlite_utils

from .errors import NotFound, ReviewError
from .store import insert, log_event, now, one

CLAIM_HOURS = 4
NOTE_LIMIT = 4000


@dataclass(frozen=True)
class Claim:
    request_id: int
    actor: str
    claimed_at: str


@dataclass(frozen=True)
class Note:
    id: int
    request_id: int
    actor: str
    text: str
    created_at: str


def _since() -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=CLAIM_HOURS)).isoformat()


def _same(a: str, b: str) -> bool:
    """Same person: actors compare on kind and id (``web:1:Alice`` is ``web:1:Alice B.``)."""
    return a.split(":")[:2] == b.split(":")[:2]


def claim_of(db: sqlite_utils.Database, request_id: int) -> Claim | None:
    """The live claim on a request, if any."""
    row = one(db, "SELECT * FROM claims WHERE request_id = ? AND claimed_at > ?", [request_id, _since()])
    return Claim(row["request_id"], row["actor"], row["claimed_at"]) if row else None


def claims(db: sqlite_utils.Database) -> dict[int, Claim]:
    """Every live claim, by request id (for the queue)."""
    return {r["request_id"]: Claim(r["request_id"], r["actor"], r["claimed_at"])
            for r in db.query("SELECT * FROM claims WHERE claimed_at > ?", [_since()])}


def claim(db: sqlite_utils.Database, request_id: int, actor: str) -> Claim:
    """Take a request; refused (``ReviewError``) while someone else holds it."""
    if one(db, "SELECT id FROM requests WHERE id = ?", [request_id]) is None:
        raise NotFound(f"no request {request_id}")
    check_free(db, request_id, actor)
    stamp = now()
    with db.atomic():
        db.execute("INSERT INTO claims (request_id, actor, claimed_at) VALUES (?, ?, ?) ON CONFLICT(request_id) "
                   "DO UPDATE SET actor = excluded.actor, claimed_at = excluded.claimed_at", [request_id, actor, stamp])
        log_event(db, "request.claimed", request_id=request_id, actor=actor)
    return Claim(request_id, actor, stamp)


def release(db: sqlite_utils.Database, request_id: int, actor: str) -> None:
    """Let a request go (only its claimant does; a lapsed claim is anyone's to clear)."""
    check_free(db, request_id, actor)
    with db.atomic():
        if db.execute("DELETE FROM claims WHERE request_id = ?", [request_id]).rowcount:
            log_event(db, "request.released", request_id=request_id, actor=actor)


def check_free(db: sqlite_utils.Database, request_id: int, actor: str) -> None:
    """Refuse to act on a request someone else has claimed."""
    held = claim_of(db, request_id)
    if held is not None and not _same(held.actor, actor):
        raise ReviewError(f"request {request_id} is claimed by {held.actor}")


def add_note(db: sqlite_utils.Database, request_id: int, actor: str, text: str) -> Note:
    """An internal note on a request (never sent to the requester)."""
    text = text.strip()
    if not text:
        raise ReviewError("the note is empty")
    if len(text) > NOTE_LIMIT:
        raise ReviewError(f"the note is longer than {NOTE_LIMIT} characters")
    if one(db, "SELECT id FROM requests WHERE id = ?", [request_id]) is None:
        raise NotFound(f"no request {request_id}")
    stamp = now()
    with db.atomic():
        note_id = insert(db, "staff_notes", {"request_id": request_id, "actor": actor, "text": text,
                                             "created_at": stamp})
        log_event(db, "request.noted", request_id=request_id, actor=actor, note_id=note_id)
    return Note(note_id, request_id, actor, text, stamp)


def notes(db: sqlite_utils.Database, request_id: int) -> list[Note]:
    return [Note(r["id"], r["request_id"], r["actor"], r["text"], r["created_at"])
            for r in db.query("SELECT * FROM staff_notes WHERE request_id = ? ORDER BY id", [request_id])]
