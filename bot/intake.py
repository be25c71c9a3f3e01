"""Arrive → store → match → draft: what happens to every incoming message.

Two steps. ``Intake.store`` keeps the message (its source included) and joins it to its request
in one short transaction: taking the same message twice is a no-op, and a crash after it loses
nothing. ``Intake.draft`` then matches the message against the knowledge base and writes the
draft for staff. The service's ``DraftingWorker`` drafts behind storing, matching in a thread
(``draft_async``), so a slow matcher never holds up the mailbox; after a restart it drafts
whatever was stored and not drafted yet. ``Intake.take`` does both at once (the CLI, tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

import sqlite_utils

from .draft import Drafter, see_also
from .knowledge import Entry
from .matching import Match, Matcher
from .message import Incoming, header_id
from .store import insert, log_event, now, one, store_source
from .threads import fingerprint, is_bare_thanks, request_for, stored_copy
from .waiting import sleep_or_stop

log = logging.getLogger("guichet.intake")

# The matching thread's nice value: on a busy machine, storing (the loop's thread) goes first.
MATCHING_NICENESS = 10


def _matching_thread() -> None:
    with contextlib.suppress(OSError, AttributeError):  # Linux threads have their own nice value
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MATCHING_NICENESS)


@dataclass(frozen=True)
class Taken:
    """What ``store`` (or ``take``) did: ids, and whether the message was already stored."""

    message_id: int
    request_id: int
    draft_id: int | None
    duplicate: bool = False
    follow_up: bool = False
    # A bare thanks on a request: logged on it, nothing asked of staff (no draft, no card).
    thanks: bool = False


def log_id(external_id: str) -> str:
    """A short hash of a message's id for the logs: it follows a message without naming anyone."""
    return hashlib.sha256(header_id(external_id).encode()).hexdigest()[:12]


class Intake:
    """Stores, joins, matches and drafts incoming messages."""

    def __init__(self, db: sqlite_utils.Database, entries: list[Entry], matcher: Matcher, drafter: Drafter,
                 today: dt.date | None = None) -> None:
        self.db = db
        self.entries = {e.slug: e for e in entries}
        self.matcher = matcher
        self.drafter = drafter
        self._today = today
        # Told the id of each stored message (the drafting worker starts on it at once).
        self.on_stored: Callable[[int], None] = lambda message_id: None
        # Told the id of each new draft (the staff desks post it at once instead of at their next poll).
        self.on_draft: Callable[[int], None] = lambda draft_id: None
        # One thread: a model is loaded once, and two matching at once only slow each other down.
        self._matching: ThreadPoolExecutor | None = None

    def today(self) -> dt.date:
        return self._today or dt.date.today()

    def take(self, incoming: Incoming) -> Taken:
        """Store one message and draft it now, in this thread (the CLI, tests)."""
        taken = self.store(incoming)
        if taken.duplicate:
            return taken
        return replace(taken, draft_id=self.draft(taken.message_id))

    def store(self, incoming: Incoming) -> Taken:
        """Store one message and join it to its request, in one short transaction; idempotent on the
        channel's message id and the content's fingerprint. Drafting comes after (``draft``)."""
        print_ = fingerprint(incoming)
        with self.db.atomic():
            existing, external_id = stored_copy(self.db, incoming, print_)
            if existing:
                log.debug("message %s already stored", existing["id"])
                return Taken(existing["id"], existing["request_id"], None, duplicate=True)
            request_id, refused = request_for(self.db, incoming)
            follow_up = request_id is not None
            if request_id is None:
                request_id = self._new_request(incoming)
            thanks = follow_up and not incoming.machine and is_bare_thanks(incoming.new_text or incoming.text)
            message_id = self._store(incoming, external_id, print_, request_id, thanks)
            log_event(self.db, "message.stored", request_id=request_id, channel=incoming.channel,
                      external_id=external_id, machine=incoming.machine, problems=incoming.problems)
            notes = []
            if refused is not None:
                # A stranger answering someone else's thread must not take over that request (and its reply).
                notes.append(f"en réponse à la demande n°{refused}, mais d'une adresse qui ne fait pas partie de "
                             "cet échange : traité comme une nouvelle demande")
                log_event(self.db, "request.thread_refused", request_id=request_id, thread_of=refused)
            if external_id != incoming.external_id:
                notes.append(self._collision(incoming, request_id, message_id))
            if notes:
                self.db.execute("UPDATE messages SET intake_notes = ? WHERE id = ?",
                                [json.dumps(notes, ensure_ascii=False), message_id])
            if incoming.machine:
                log_event(self.db, "message.machine", request_id=request_id, reason=incoming.machine)
            if thanks:
                log_event(self.db, "message.thanks", request_id=request_id, message_id=message_id)
        self.on_stored(message_id)
        return Taken(message_id, request_id, None, follow_up=follow_up, thanks=thanks)

    def undrafted(self, limit: int = 100) -> list[int]:
        """Stored messages the draft step has not seen yet, oldest first."""
        return [int(r["id"]) for r in self.db.query(
            "SELECT id FROM messages WHERE drafted_at IS NULL AND direction = 'in' ORDER BY id LIMIT ?", [limit])]

    def draft(self, message_id: int) -> int | None:
        """Match and draft one stored message now, in this thread; returns the draft id, or None
        (a machine's message, a bare thanks, or already drafted)."""
        row = self._to_draft(message_id)
        if row is None:
            return None
        match, notes = self._match(row)
        return self._finish(row, match, notes)

    async def draft_async(self, *message_ids: int) -> list[int | None]:
        """``draft`` for a few messages, their matching in a thread of lower priority (one trip for
        them all); the short writes stay on the loop's thread (the connection belongs to it)."""
        rows = [row for row in map(self._to_draft, message_ids) if row is not None]
        if not rows:
            return []
        if self._matching is None:
            self._matching = ThreadPoolExecutor(1, "guichet-matching", initializer=_matching_thread)
        matched = await asyncio.get_running_loop().run_in_executor(
            self._matching, lambda: [self._match(row) for row in rows])
        return [self._finish(row, match, notes) for row, (match, notes) in zip(rows, matched, strict=True)]

    def _to_draft(self, message_id: int) -> dict[str, Any] | None:
        return one(self.db, "SELECT * FROM messages WHERE id = ? AND drafted_at IS NULL", [message_id])

    def _match(self, row: dict[str, Any]) -> tuple[Match | None, list[str]]:
        if row["machine"] or row["thanks"] or row["purged_at"]:  # erased (/oubli) before it was drafted
            return None, []
        try:
            return self.matcher.match(row["new_text"] or row["text"] or "", row["subject"] or ""), []
        except Exception as exc:  # noqa: BLE001 - the message still reaches staff, to answer by hand
            log.error("message %s: matching failed: %r", row["id"], exc)
            return Match(slug=None, confidence=0.0), [f"le rapprochement a échoué ({type(exc).__name__})"]

    def _finish(self, row: dict[str, Any], match: Match | None, notes: list[str]) -> int | None:
        draft_id = None
        with self.db.atomic():
            # Compare-and-set: drafted once, whoever gets there first (the worker, or ``take``); and no
            # draft for a message erased while it was being matched (the next round marks it).
            if not self.db.execute("UPDATE messages SET drafted_at = ?, language = ? WHERE id = ? "
                                   "AND drafted_at IS NULL AND (? OR purged_at IS NULL)",
                                   [now(), match.language if match else None, row["id"], match is None]).rowcount:
                return None
            if match is not None:
                draft_id = self._draft(row, match, notes)
        uid = one(self.db, "SELECT mailbox, uid FROM imap_uids WHERE message_id = ? ORDER BY uidvalidity DESC "
                           "LIMIT 1", [row["id"]])
        origin = f"imap {uid['mailbox']} uid {uid['uid']}" if uid else row["channel"]
        outcome = ("machine" if row["machine"] else "bare thanks" if row["thanks"] else
                   "erased" if match is None else f"draft {draft_id}" + ("" if match.slug else " (by hand)"))
        log.info("message %s taken in: %s, id #%s, request %s, %s", row["id"], origin, log_id(row["external_id"]),
                 row["request_id"], outcome)
        if draft_id is not None:
            self.on_draft(draft_id)
        return draft_id

    def _new_request(self, incoming: Incoming) -> int:
        stamp = now()
        request_id = insert(self.db, "requests", {
            "channel": incoming.channel,
            "requester": incoming.sender,
            "requester_name": incoming.sender_name,
            "reply_to": incoming.reply_to or incoming.sender,
            "subject": incoming.subject,
            "conversation": incoming.conversation or None,
            "status": "machine" if incoming.machine else "open",
            "machine": incoming.machine,
            "outcome": "machine" if incoming.machine else None,
            "received_at": incoming.received_at.isoformat(),
            "updated_at": stamp,
        })
        log_event(self.db, "request.opened", request_id=request_id, channel=incoming.channel)
        return request_id

    def _collision(self, incoming: Incoming, request_id: int, message_id: int) -> str:
        other = one(self.db, "SELECT id, request_id FROM messages WHERE channel = ? AND external_id = ?",
                    [incoming.channel, incoming.external_id])
        assert other is not None
        log_event(self.db, "message.id_collision", request_id=request_id, message_id=message_id,
                  other_message=other["id"], other_request=other["request_id"])
        return (f"même Message-ID qu'un autre message (demande n°{other['request_id']}) mais un contenu différent : "
                "enregistré à part")

    def _store(self, incoming: Incoming, external_id: str, print_: str | None, request_id: int,
               thanks: bool) -> int:
        stamp = now()
        message_id = insert(self.db, "messages", {
            "channel": incoming.channel,
            "external_id": external_id,
            "fingerprint": print_,
            "direction": "in",
            "request_id": request_id,
            "sender": incoming.sender,
            "sender_name": incoming.sender_name,
            "reply_to": incoming.reply_to or None,
            "subject": incoming.subject,
            "text": incoming.text,
            "new_text": incoming.new_text,
            "refs": json.dumps(incoming.refs),
            "attachments": json.dumps([asdict(a) for a in incoming.attachments]),
            "machine": incoming.machine,
            "problems": json.dumps(incoming.problems),
            "thanks": int(thanks),
            "unanswerable": incoming.unanswerable or None,
            "received_at": incoming.received_at.isoformat(),
            "stored_at": stamp,
        })
        store_source(self.db, message_id, incoming.raw)
        return message_id

    def _unanswered(self, request_id: int, message_id: int) -> list[str]:
        """The request's earlier messages not answered yet (after the last decided draft), as lines for staff."""
        rows = self.db.query(
            "SELECT new_text, text FROM messages WHERE request_id = :r AND direction = 'in' AND machine IS NULL "
            "AND id < :m AND id > COALESCE((SELECT max(message_id) FROM drafts WHERE request_id = :r "
            "AND state IN ('approved', 'rejected', 'ignored')), 0) ORDER BY id", {"r": request_id, "m": message_id})
        texts = [(r["new_text"] or r["text"] or "").strip() for r in rows]
        return [f"message précédent : {t[:1000]}" for t in texts if t and not is_bare_thanks(t)]

    def _draft(self, row: dict[str, Any], match: Match, notes: list[str]) -> int:
        request_id, message_id = int(row["request_id"]), int(row["id"])
        notes = [f"problème de lecture : {p}" for p in json.loads(row["problems"])] + json.loads(row["intake_notes"]) \
            + notes
        follow_up = one(self.db, "SELECT 1 FROM messages WHERE request_id = ? AND direction = 'in' AND id < ?",
                        [request_id, message_id]) is not None
        entry = self.entries.get(match.slug) if match.slug and not row["unanswerable"] else None
        candidates = [asdict(c) for c in match.candidates]
        earlier = self._unanswered(request_id, message_id) if follow_up else []
        previous = self._supersede(request_id) if follow_up else None
        kept = None  # the earlier draft's text, kept when nothing fits the new message
        if row["unanswerable"]:
            notes.append("pas de brouillon : l'adresse de réponse n'est pas sûre, répondre à la main")
        elif previous is not None:
            notes.append(f"relance : {len(earlier)} message(s) précédent(s) sans réponse, repris ci-dessous ; "
                         "le brouillon précédent a été remplacé")
            if previous["slug"] and previous["slug"] != match.slug:
                if entry is None and previous["text"] and previous["slug"] in self.entries:
                    entry, kept = self.entries[previous["slug"]], previous
                    notes.append(f"aucune fiche pour le nouveau message : le brouillon reste celui de la fiche "
                                 f"« {entry.slug} »")
                else:
                    notes.append(f"le message précédent correspondait à la fiche « {previous['slug']} » "
                                 "(« Autre fiche » pour la reprendre)")
                    if all(c["slug"] != previous["slug"] for c in candidates):
                        candidates.append({"slug": previous["slug"], "confidence": previous["confidence"]})
        text = kept["text"] if kept else None
        if entry is None:
            if not row["unanswerable"]:
                notes.append("à traiter à la main : aucune fiche ne correspond")
        elif kept is None:
            if entry.expired(self.today()):
                notes.append(f"fiche « {entry.slug} » expirée le {entry.valid_until} : le brouillon dit que "
                             "l'appel est clos, vérifiez s'il y a une nouvelle édition")
            also = see_also(match, self.entries) if match.slug == entry.slug else None
            if also is not None:
                notes.append(f"deux fiches possibles : la fin du brouillon cite aussi « {also.title} »")
            text = self.drafter.render(entry, sender_name=row["sender_name"] or "", language=match.language,
                                       today=self.today(), also=also)
        confidence = kept["confidence"] if kept else match.confidence
        draft_id = insert(self.db, "drafts", {
            "request_id": request_id,
            "message_id": message_id,
            "state": "pending",
            "slug": entry.slug if entry else None,
            "confidence": confidence,
            "candidates": json.dumps(candidates),
            "others": json.dumps([*earlier, *match.others], ensure_ascii=False),
            "notes": json.dumps(notes, ensure_ascii=False),
            "language": match.language,
            "text": text,
            "created_at": now(),
        })
        fields: dict[str, object] = {"status": "open", "updated_at": now(), "language": match.language}
        if not follow_up or entry is not None:
            fields.update(slug=entry.slug if entry else None, category=entry.category if entry else None,
                          confidence=confidence)
        self.db.execute(f"UPDATE requests SET {', '.join(f'{name} = ?' for name in fields)} WHERE id = ?",
                        [*fields.values(), request_id])
        log_event(self.db, "draft.created", request_id=request_id, draft_id=draft_id,
                  slug=entry.slug if entry else None, confidence=confidence, by_hand=entry is None)
        return draft_id

    def replace(self, channel: str, external_id: str, text: str) -> int | None:
        """The person edited a message staff have not decided on yet: the new text becomes the question
        and is drafted again (the pending draft is superseded). Returns the pending draft's id, or None
        when the message has no pending draft (decided already: the edit is then a message of its own)."""
        row = one(self.db, "SELECT * FROM messages WHERE channel = ? AND external_id = ?", [channel, external_id])
        if row is None:
            return None
        if row["drafted_at"] is None:  # not drafted yet: the drafting worker will read the new text
            self.db.execute("UPDATE messages SET text = ?, new_text = ? WHERE id = ? AND drafted_at IS NULL",
                            [text, text, row["id"]])
            return None
        pending = one(self.db, "SELECT id FROM drafts WHERE message_id = ? AND state = 'pending'", [row["id"]])
        if pending is None or row["text"] == text:  # nothing pending, or the same edit delivered again
            return None if pending is None else int(pending["id"])
        match = self.matcher.match(text)
        with self.db.atomic():
            if not self.db.execute("UPDATE drafts SET state = 'superseded', decided_at = ? WHERE id = ? "
                                   "AND state = 'pending'", [now(), pending["id"]]).rowcount:
                return None
            self.db.execute("UPDATE messages SET text = ?, new_text = ?, language = ? WHERE id = ?",
                            [text, text, match.language, row["id"]])
            edited = one(self.db, "SELECT * FROM messages WHERE id = ?", [row["id"]])
            assert edited is not None
            draft_id = self._draft(edited, match, ["la personne a modifié son message : voici la nouvelle question"])
            log_event(self.db, "message.edited", request_id=row["request_id"], draft_id=draft_id)
        self.on_draft(draft_id)
        return draft_id

    def _supersede(self, request_id: int) -> dict[str, Any] | None:
        """Retire the request's pending draft (a new one replaces it); returns it, or None."""
        previous = one(self.db, "SELECT * FROM drafts WHERE request_id = ? AND state = 'pending' "
                                "ORDER BY id DESC LIMIT 1", [request_id])
        self.db.execute("UPDATE drafts SET state = 'superseded', decided_at = ? WHERE request_id = ? "
                        "AND state = 'pending'", [now(), request_id])
        return previous


class DraftingWorker:
    """Drafts what intake stored, behind it, one message at a time in arrival order; after a
    restart, whatever was stored and not drafted yet. ``wake()`` when a message is stored."""

    def __init__(self, intake: Intake, idle_s: float = 30.0, batch: int = 10) -> None:
        self.intake = intake
        self.idle_s = idle_s
        self.batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Draft until ``stop`` is set; the messages in hand (a few at most) are finished first."""
        while not stop.is_set():
            waiting = self.intake.undrafted()
            for start in range(0, len(waiting), self.batch):
                await self.intake.draft_async(*waiting[start:start + self.batch])
                if stop.is_set():
                    return
            if not waiting:
                await sleep_or_stop(stop, self.idle_s, wake=self._wake)
