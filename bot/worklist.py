"""What the desks list: the queue of drafts, requests to answer by hand, replies not sent yet, ignored
requests, a request's conversation and its requester's earlier requests, and search.

Read-only: every decision goes through ``review.Review``. Rows carry ids and plain data; a desk
turns them into its own words (the web desk's French, the terminal's columns).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .knowledge import Entry
from .stats import local_time
from .store import one

# Plain words for the matcher's calibrated confidence (a probability that the entry is right).
CONFIDENCE_WORDS = (("forte", 0.85), ("moyenne", 0.65), ("faible", 0.0))
NO_ENTRY = "aucune fiche"
DRAFT_STATES = {"pending": "en attente", "approved": "envoyé", "rejected": "à traiter à la main",
                "ignored": "ignoré", "superseded": "remplacé par une relance", "forgotten": "effacé"}


def confidence_word(confidence: float | None, has_entry: bool) -> str:
    """``forte``/``moyenne``/``faible``, or ``aucune fiche`` when no entry fitted."""
    if not has_entry:
        return NO_ENTRY
    value = confidence or 0.0
    return next(word for word, low in CONFIDENCE_WORDS if value >= low)


def age_hours(stamp: str) -> float:
    """Hours since a stored time (0 for a time to come, or none)."""
    moment = local_time(stamp, dt.UTC)
    if moment is None:
        return 0.0
    return max((dt.datetime.now(dt.UTC) - moment).total_seconds() / 3600, 0.0)


@dataclass(frozen=True)
class QueueRow:
    """One waiting draft (or request to answer by hand) as a queue line."""

    request_id: int
    draft_id: int | None
    received_at: str
    channel: str
    requester: str
    requester_name: str
    subject: str
    question: str
    slug: str | None
    title: str
    category: str | None
    confidence: float | None
    word: str
    status: str


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    category: str = ""
    min_age_hours: float = 0.0
    word: str = ""

    def keep(self, row: QueueRow) -> bool:
        return ((not self.channel or row.channel == self.channel)
                and (not self.category or (row.category or "") == self.category)
                and (not self.word or row.word == self.word)
                and (not self.min_age_hours or age_hours(row.received_at) >= self.min_age_hours))


_QUEUE_SQL = """
SELECT d.id AS draft_id, d.slug AS draft_slug, d.confidence AS draft_confidence, d.text IS NOT NULL AS has_text,
       d.created_at AS draft_created, r.id AS request_id, r.channel, r.requester, r.requester_name, r.subject,
       r.category, r.status, r.received_at AS received_at, substr(coalesce(m.new_text, m.text, ''), 1, 300) AS question
FROM {source}
"""


def _row(r: dict[str, Any], entries: dict[str, Entry]) -> QueueRow:
    slug = r["draft_slug"]
    entry = entries.get(slug) if slug else None
    return QueueRow(
        request_id=r["request_id"], draft_id=r["draft_id"], received_at=r["draft_created"] or r["received_at"],
        channel=r["channel"], requester=r["requester"] or "", requester_name=r["requester_name"] or "",
        subject=r["subject"] or "", question=" ".join((r["question"] or "").split()), slug=slug,
        title=entry.title if entry else (slug or ""), category=entry.category if entry else r["category"],
        confidence=r["draft_confidence"], word=confidence_word(r["draft_confidence"], bool(r["has_text"])),
        status=r["status"])


def queue(db: sqlite_utils.Database, entries: dict[str, Entry]) -> list[QueueRow]:
    """Drafts waiting for a decision that have a text to check, oldest first (the desk filters them,
    keeping the counts of every tab)."""
    sql = _QUEUE_SQL.format(source="drafts d JOIN requests r ON r.id = d.request_id "
                                   "JOIN messages m ON m.id = d.message_id")
    return [_row(r, entries) for r in db.query(sql + " WHERE d.state = 'pending' AND d.text IS NOT NULL "
                                                     "ORDER BY d.id")]


def by_hand(db: sqlite_utils.Database, entries: dict[str, Entry]) -> list[QueueRow]:
    """Requests staff must answer themselves: no entry fitted, or someone chose "Répondre moi-même"."""
    drafts = _QUEUE_SQL.format(source="drafts d JOIN requests r ON r.id = d.request_id "
                                      "JOIN messages m ON m.id = d.message_id")
    # The request's last message, looked up by its id (a join on an expression would scan messages).
    put_aside = _QUEUE_SQL.format(
        source="requests r LEFT JOIN drafts d ON 0 "
               "JOIN messages m ON m.id = (SELECT max(id) FROM messages WHERE request_id = r.id AND direction = 'in')")
    rows = db.query(
        f"{drafts} WHERE d.state = 'pending' AND d.text IS NULL UNION ALL {put_aside} WHERE r.status = 'by_hand' "
        "AND NOT EXISTS (SELECT 1 FROM drafts p WHERE p.request_id = r.id AND p.state = 'pending') "
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.request_id = r.id AND o.state IN ('queued', 'sending')) "
        "ORDER BY received_at, request_id")
    return [_row(r, entries) for r in rows]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    request_id: int
    channel: str
    recipient: str
    requester_name: str
    subject: str
    state: str
    attempts: int
    last_error: str
    created_at: str
    next_attempt_at: str
    decided_by: str | None


def unsent(db: sqlite_utils.Database) -> list[OutboxRow]:
    """Replies not sent yet: waiting, uncertain (interrupted mid-send) and failed."""
    return [OutboxRow(
        id=r["id"], request_id=r["request_id"], channel=r["channel"], recipient=r["recipient"],
        requester_name=r["requester_name"] or "", subject=r["subject"] or "", state=r["state"],
        attempts=r["attempts"], last_error=r["last_error"] or "", created_at=r["created_at"],
        next_attempt_at=r["next_attempt_at"], decided_by=r["decided_by"])
        for r in db.query("SELECT o.*, r.requester_name, d.decided_by FROM outbox o "
                          "JOIN requests r ON r.id = o.request_id JOIN drafts d ON d.id = o.draft_id "
                          "WHERE o.state IN ('queued', 'sending', 'uncertain', 'failed') ORDER BY o.id")]


def ignored(db: sqlite_utils.Database, entries: dict[str, Entry], limit: int = 200) -> list[QueueRow]:
    """Requests staff marked "not a request", most recent first."""
    sql = _QUEUE_SQL.format(
        source="requests r LEFT JOIN drafts d ON d.id = (SELECT max(id) FROM drafts WHERE request_id = r.id) "
               "LEFT JOIN messages m ON m.id = d.message_id")
    rows = db.query(sql + f" WHERE r.status = 'ignored' ORDER BY r.updated_at DESC LIMIT {int(limit)}")
    return [_row(r, entries) for r in rows]


def current_draft(db: sqlite_utils.Database, request_id: int) -> int | None:
    """The request's pending draft, else its latest one."""
    row = one(db, "SELECT id FROM drafts WHERE request_id = ? ORDER BY state = 'pending' DESC, id DESC LIMIT 1",
              [request_id])
    return int(row["id"]) if row else None


@dataclass(frozen=True)
class Message:
    id: int
    direction: str
    sender: str
    sender_name: str
    subject: str
    text: str
    new_text: str
    attachments: list[dict[str, Any]]
    problems: list[str]
    received_at: str
    purged: bool


def conversation(db: sqlite_utils.Database, request_id: int) -> list[Message]:
    """Every message of a request, in and out, oldest first."""
    return [Message(
        id=r["id"], direction=r["direction"], sender=r["sender"] or "", sender_name=r["sender_name"] or "",
        subject=r["subject"] or "", text=r["text"] or "", new_text=r["new_text"] or r["text"] or "",
        attachments=json.loads(r["attachments"] or "[]"), problems=json.loads(r["problems"] or "[]"),
        received_at=r["received_at"], purged=r["purged_at"] is not None)
        for r in db.query("SELECT * FROM messages WHERE request_id = ? ORDER BY received_at, id", [request_id])]


@dataclass(frozen=True)
class Earlier:
    """One of the requester's earlier requests, with its question and the answer sent."""

    request_id: int
    received_at: str
    subject: str
    status: str
    outcome: str
    slug: str | None
    question: str
    answer: str


def earlier(db: sqlite_utils.Database, request_id: int, limit: int = 10) -> list[Earlier]:
    """The same requester's other requests on the same channel, most recent first."""
    request = one(db, "SELECT channel, requester FROM requests WHERE id = ?", [request_id])
    if request is None or not request["requester"]:
        return []
    rows = db.query(
        "SELECT r.id, r.received_at, r.subject, r.status, r.outcome, r.slug, "
        "(SELECT coalesce(new_text, text) FROM messages WHERE request_id = r.id AND direction = 'in' "
        " ORDER BY id LIMIT 1) AS question, "
        "(SELECT text FROM messages WHERE request_id = r.id AND direction = 'out' ORDER BY id DESC LIMIT 1) AS answer "
        f"FROM requests r WHERE r.channel = ? AND r.requester = ? AND r.id != ? ORDER BY r.id DESC LIMIT {int(limit)}",
        [request["channel"], request["requester"], request_id])
    return [Earlier(r["id"], r["received_at"], r["subject"] or "", r["status"], r["outcome"] or "", r["slug"],
                    r["question"] or "", r["answer"] or "") for r in rows]


@dataclass(frozen=True)
class Hit:
    request_id: int
    message_id: int
    direction: str
    channel: str
    sender: str
    subject: str
    received_at: str
    snippet: str


# Marks around the matched words in a snippet: control characters no message keeps (the desk
# escapes the snippet, then turns the marks into highlighting).
MARK_START, MARK_END = "\x02", "\x03"
_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """The words of ``text`` as an FTS5 query: each quoted (no operator injection), all required,
    the last one as a prefix (results while typing)."""
    words = _WORD.findall(text)[:12]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def search(db: sqlite_utils.Database, text: str, limit: int = 50) -> list[Hit]:
    """Messages whose sender, subject or text hold every word (accents folded), newest first.
    What the retention purge or "/oubli" erased is not found."""
    query = fts_query(text)
    if not query:
        return []
    rows = db.query(
        "SELECT m.id, m.request_id, m.direction, m.channel, m.sender, m.sender_name, m.subject, m.received_at, "
        f"snippet(messages_fts, 3, '{MARK_START}', '{MARK_END}', '…', 16) AS snippet "
        "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
        "WHERE messages_fts MATCH ? AND m.request_id IS NOT NULL AND m.purged_at IS NULL "
        f"ORDER BY m.received_at DESC LIMIT {int(limit)}", [query])
    return [Hit(r["request_id"], r["id"], r["direction"], r["channel"],
                r["sender_name"] or r["sender"] or "", r["subject"] or "", r["received_at"], r["snippet"] or "")
            for r in rows]
