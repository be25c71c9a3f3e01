"""The review core: every staff decision on a draft, whatever the desk (terminal or Telegram).

Decisions are compare-and-set on the draft's state inside one transaction, so
two staff members acting at once cannot both decide: the second gets
``AlreadyDecided`` naming who acted first. Approving puts the reply in the
outbox; nothing else sends anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Any

import sqlite_utils

from .draft import Drafter, reply_references, reply_subject
from .errors import AlreadyDecided, NotFound, NotStaff, ReviewError
from .knowledge import Entry
from .message import header_id
from .store import insert, log_event, now, one


@dataclass(frozen=True)
class DraftView:
    """A draft with what staff need to decide on it."""

    id: int
    state: str
    request_id: int
    channel: str
    requester: str
    requester_name: str
    subject: str
    question: str
    slug: str | None
    confidence: float | None
    candidates: list[dict[str, Any]]
    others: list[str]
    notes: list[str]
    text: str | None
    edited: bool
    created_at: str
    decided_by: str | None
    decided_at: str | None
    appointment: bool
    # Where the approved reply goes, and who wrote the message it answers: staff check both.
    recipient: str = ""
    sender: str = ""

    @property
    def by_hand(self) -> bool:
        """No entry fitted: staff must write the answer."""
        return self.text is None


@dataclass(frozen=True)
class Label:
    """What a staff decision says a message is about: an entry's ``slug``, or None for "not for the
    base" ("Ignorer"). ``decision`` is confirmed, corrected or ignored. The matcher learns from it."""

    request_id: int
    draft_id: int | None
    slug: str | None
    decision: str
    actor: str


_VIEW_SQL = """
SELECT d.*, r.channel, r.requester, r.requester_name, r.subject AS request_subject, r.appointment,
       m.new_text, m.text AS full_text, r.reply_to, m.sender AS message_sender
FROM drafts d JOIN requests r ON r.id = d.request_id JOIN messages m ON m.id = d.message_id
"""


def _view(row: dict[str, Any]) -> DraftView:
    return DraftView(
        id=row["id"], state=row["state"], request_id=row["request_id"], channel=row["channel"],
        requester=row["requester"] or "", requester_name=row["requester_name"] or "",
        subject=row["request_subject"] or "", question=row["new_text"] or row["full_text"] or "",
        slug=row["slug"], confidence=row["confidence"], candidates=json.loads(row["candidates"]),
        others=json.loads(row["others"]), notes=json.loads(row["notes"]), text=row["text"],
        edited=bool(row["edited"]), created_at=row["created_at"], decided_by=row["decided_by"],
        decided_at=row["decided_at"], appointment=bool(row["appointment"]),
        recipient=recipient(row), sender=row["message_sender"] or "",
    )


def recipient(request: dict[str, Any]) -> str:
    """The address (or chat) a reply to the request goes to: its Reply-To, else its requester."""
    return str(request["reply_to"] or request["requester"] or "")


class Review:
    """Staff decisions on drafts. ``is_staff(actor)`` says who may decide."""

    def __init__(self, db: sqlite_utils.Database, entries: list[Entry], drafter: Drafter,
                 is_staff: Callable[[str], bool], message_id_domain: str,
                 on_change: Callable[[int], None] | None = None) -> None:
        self.db = db
        self.entries = {e.slug: e for e in entries}
        self.drafter = drafter
        self.is_staff = is_staff
        self.domain = message_id_domain
        self.on_change = on_change or (lambda draft_id: None)
        # Told each decision that labels a message, once it is committed (the matcher learns from it).
        self.on_label: Callable[[Label], None] = lambda label: None

    def pending(self) -> list[DraftView]:
        """Drafts waiting for a decision, oldest first."""
        return [_view(r) for r in self.db.query(_VIEW_SQL + " WHERE d.state = 'pending' ORDER BY d.id")]

    def get(self, draft_id: int) -> DraftView:
        row = one(self.db, _VIEW_SQL + " WHERE d.id = ?", [draft_id])
        if row is None:
            raise NotFound(f"no draft {draft_id}")
        return _view(row)

    def _require_staff(self, actor: str, *, draft_id: int | None = None, request_id: int | None = None) -> None:
        if not self.is_staff(actor):
            with self.db.atomic():
                log_event(self.db, "review.refused", draft_id=draft_id, request_id=request_id, actor=actor)
            raise NotStaff(f"{actor} is not staff")

    def _check(self, draft_id: int, actor: str) -> DraftView:
        self._require_staff(actor, draft_id=draft_id)
        draft = self.get(draft_id)
        if draft.state != "pending":
            raise AlreadyDecided(draft_id, draft.state, draft.decided_by, draft.decided_at)
        return draft

    def _decide(self, draft: DraftView, state: str, actor: str, **fields: Any) -> None:
        # Compare-and-set: only one decision can move a draft out of 'pending'.
        stamp = now()
        changed = self.db.execute(
            "UPDATE drafts SET state = ?, decided_at = ?, decided_by = ? WHERE id = ? AND state = 'pending'",
            [state, stamp, actor, draft.id]).rowcount
        if not changed:
            fresh = self.get(draft.id)
            raise AlreadyDecided(draft.id, fresh.state, fresh.decided_by, fresh.decided_at)
        self.db.table("requests").update(draft.request_id, {"decided_by": actor, "updated_at": stamp, **fields})

    def _no_reply_waiting(self, request_id: int) -> None:
        waiting = one(self.db, "SELECT id FROM outbox WHERE request_id = ? AND state IN ('queued', 'sending')",
                      [request_id])
        if waiting:
            # One reply at a time per request: never two answers racing to the same person.
            raise ReviewError(f"a reply to request {request_id} is still waiting to be sent "
                              f"(outbox {waiting['id']}); try again once it has left")

    def _queue_reply(self, draft_id: int, request_id: int, text: str) -> int:
        """Put the reply to ``draft_id``'s message in the outbox (call inside the decision's transaction)."""
        request = one(self.db, "SELECT * FROM requests WHERE id = ?", [request_id])
        message = one(self.db, "SELECT external_id, refs FROM messages WHERE id = "
                               "(SELECT message_id FROM drafts WHERE id = ?)", [draft_id])
        assert request is not None and message is not None
        in_reply_to = header_id(message["external_id"])
        refs = reply_references(json.loads(message["refs"]), in_reply_to)
        return insert(self.db, "outbox", {
            "draft_id": draft_id,
            "request_id": request_id,
            "channel": request["channel"],
            "recipient": recipient(request),
            "subject": reply_subject(request["subject"] or ""),
            "body": text,
            "headers": json.dumps({"in_reply_to": in_reply_to, "references": refs}),
            "out_message_id": make_msgid(domain=self.domain),
            "state": "queued",
            "next_attempt_at": now(),
            "created_at": now(),
        })

    def approve(self, draft_id: int, actor: str, text: str | None = None) -> int:
        """Approve the draft (optionally with edited text); returns the outbox item id."""
        draft = self._check(draft_id, actor)
        self._no_reply_waiting(draft.request_id)
        final = text if text is not None else draft.text
        if not final or not final.strip():
            raise ReviewError(f"draft {draft_id} has no text: give the answer (--file or $EDITOR)")
        if draft.by_hand:
            outcome = "answered_by_hand"
        elif (text is not None and text.strip() != (draft.text or "").strip()) or draft.edited:
            outcome = "sent_after_edit"
        else:
            outcome = "sent_as_drafted"
        with self.db.atomic():
            self._decide(draft, "approved", actor, outcome=outcome)
            if text is not None:
                self.db.table("drafts").update(draft_id, {"text": final, "edited": 1})
            outbox_id = self._queue_reply(draft_id, draft.request_id, final)
            log_event(self.db, "draft.approved", request_id=draft.request_id, draft_id=draft_id, actor=actor,
                      outcome=outcome, outbox_id=outbox_id)
        self.on_change(draft_id)
        if draft.slug is not None:
            self.on_label(Label(draft.request_id, draft_id, draft.slug, "confirmed", actor))
        return outbox_id

    def answer(self, request_id: int, actor: str, text: str, slug: str | None = None) -> int:
        """Send a hand-written answer on the request's own channel (e-mail or Telegram), optionally
        recording the entry it answers with; a pending draft is superseded. Returns the outbox item id."""
        self._require_staff(actor, request_id=request_id)
        request = one(self.db, "SELECT * FROM requests WHERE id = ?", [request_id])
        if request is None:
            raise NotFound(f"no request {request_id}")
        if not text.strip():
            raise ReviewError("the answer is empty")
        entry = self.entries.get(slug) if slug else None
        if slug and entry is None:
            raise NotFound(f"no knowledge entry {slug!r}")
        self._no_reply_waiting(request_id)
        message = one(self.db, "SELECT id FROM messages WHERE request_id = ? AND direction = 'in' "
                               "ORDER BY id DESC LIMIT 1", [request_id])
        if message is None:
            raise ReviewError(f"request {request_id} has no message to answer (erased?)")
        stamp = now()
        fields: dict[str, Any] = {"status": "open", "outcome": "answered_by_hand", "decided_by": actor,
                                  "updated_at": stamp}
        if entry is not None:
            fields.update(slug=entry.slug, category=entry.category)
        with self.db.atomic():
            self.db.execute("UPDATE drafts SET state = 'superseded', decided_at = ?, decided_by = ? "
                            "WHERE request_id = ? AND state = 'pending'", [stamp, actor, request_id])
            draft_id = insert(self.db, "drafts", {
                "request_id": request_id, "message_id": message["id"], "state": "approved",
                "slug": entry.slug if entry else None, "text": text, "edited": 1, "created_at": stamp,
                "decided_at": stamp, "decided_by": actor,
            })
            self.db.table("requests").update(request_id, fields)
            outbox_id = self._queue_reply(draft_id, request_id, text)
            log_event(self.db, "request.answered", request_id=request_id, draft_id=draft_id, actor=actor,
                      slug=slug, outbox_id=outbox_id)
        self.on_change(draft_id)
        if entry is not None:
            self.on_label(Label(request_id, draft_id, entry.slug, "corrected", actor))
        return outbox_id

    def edit(self, draft_id: int, actor: str, text: str) -> DraftView:
        """Replace the draft's text; it stays pending for a decision."""
        draft = self._check(draft_id, actor)
        if not text.strip():
            raise ReviewError("the new text is empty")
        with self.db.atomic():
            self.db.table("drafts").update(draft.id, {"text": text, "edited": 1})
            log_event(self.db, "draft.edited", request_id=draft.request_id, draft_id=draft_id, actor=actor)
        return self.get(draft_id)

    def choose(self, draft_id: int, actor: str, slug: str, *, today: dt.date | None = None) -> DraftView:
        """Re-render the draft from another entry (staff picked "Autre fiche")."""
        draft = self._check(draft_id, actor)
        entry = self.entries.get(slug)
        if entry is None:
            raise NotFound(f"no knowledge entry {slug!r}")
        language = one(self.db, "SELECT language FROM drafts WHERE id = ?", [draft_id])
        text = self.drafter.render(entry, sender_name=draft.requester_name,
                                   language=(language or {}).get("language") or "fr", today=today)
        # The matcher's confidence in this entry (None when staff picked one it did not propose).
        confidence = next((c["confidence"] for c in draft.candidates if c["slug"] == slug), None)
        with self.db.atomic():
            self.db.table("drafts").update(draft_id, {"slug": slug, "text": text, "edited": 0,
                                                      "confidence": confidence})
            self.db.table("requests").update(draft.request_id, {"slug": slug, "category": entry.category,
                                                          "confidence": confidence, "updated_at": now()})
            log_event(self.db, "draft.rechosen", request_id=draft.request_id, draft_id=draft_id, actor=actor,
                      slug=slug)
        self.on_label(Label(draft.request_id, draft_id, slug, "corrected", actor))
        return self.get(draft_id)

    def reject(self, draft_id: int, actor: str) -> None:
        """Reject the draft: the request stays open for a hand-written answer."""
        draft = self._check(draft_id, actor)
        with self.db.atomic():
            self._decide(draft, "rejected", actor, status="by_hand")
            log_event(self.db, "draft.rejected", request_id=draft.request_id, draft_id=draft_id, actor=actor)
        self.on_change(draft_id)

    def ignore(self, draft_id: int, actor: str) -> None:
        """Not a request (spam, thanks…): closed without an answer, counted apart."""
        draft = self._check(draft_id, actor)
        with self.db.atomic():
            self._decide(draft, "ignored", actor, status="ignored", outcome="ignored")
            log_event(self.db, "draft.ignored", request_id=draft.request_id, draft_id=draft_id, actor=actor)
        self.on_change(draft_id)
        self.on_label(Label(draft.request_id, draft_id, None, "ignored", actor))

    def answered_by_hand(self, request_id: int, actor: str, slug: str | None = None) -> None:
        """Record that staff answered a request themselves (outside Guichet), optionally with its entry."""
        self._require_staff(actor, request_id=request_id)
        request = one(self.db, "SELECT * FROM requests WHERE id = ?", [request_id])
        if request is None:
            raise NotFound(f"no request {request_id}")
        if request["answered_at"]:
            raise ReviewError(f"request {request_id} was already answered ({request['outcome']})")
        fields: dict[str, Any] = {"status": "answered", "outcome": "answered_by_hand", "answered_at": now(),
                                  "decided_by": actor, "updated_at": now()}
        if slug is not None:
            entry = self.entries.get(slug)
            if entry is None:
                raise NotFound(f"no knowledge entry {slug!r}")
            fields.update(slug=slug, category=entry.category)
        with self.db.atomic():
            self.db.table("requests").update(request_id, fields)
            self.db.execute("UPDATE drafts SET state = 'rejected', decided_at = ?, decided_by = ? "
                            "WHERE request_id = ? AND state = 'pending'", [now(), actor, request_id])
            log_event(self.db, "request.answered_by_hand", request_id=request_id, actor=actor, slug=slug)
        if slug is not None:
            self.on_label(Label(request_id, None, slug, "corrected", actor))

    def set_appointment(self, request_id: int, actor: str, on: bool = True) -> None:
        """Mark (or unmark) a request as needing a personal support appointment ("accompagnement")."""
        self._require_staff(actor, request_id=request_id)
        if one(self.db, "SELECT id FROM requests WHERE id = ?", [request_id]) is None:
            raise NotFound(f"no request {request_id}")
        with self.db.atomic():
            self.db.table("requests").update(request_id, {"appointment": int(on), "updated_at": now()})
            log_event(self.db, "request.appointment", request_id=request_id, actor=actor, on=on)
