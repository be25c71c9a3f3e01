"""Arrive → store → match → draft: what happens to every incoming message.

``Intake.take`` is the one entry point for every channel. It stores the
message first and does the rest in the same transaction, so a message is
either fully taken (stored, joined to its request, drafted) or not at all,
and taking the same message twice is a no-op.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from .draft import Drafter, base_subject
from .knowledge import Entry
from .matching import Match, Matcher
from .message import Incoming
from .store import insert, log_event, now, one, store_source

# A message with the same sender and subject within this many days joins the request.
SAME_SUBJECT_DAYS = 30
# A message in the same chat within this many hours joins the request.
CONVERSATION_HOURS = 48
# The headers that, with the body, make a mail's fingerprint: not the trace headers (Received,
# Delivered-To…) that differ between two deliveries of the same mail.
_FINGERPRINT_HEADERS = re.compile(rb"^(?:from|date|subject|to|cc):[^\n]*(?:\n[ \t][^\n]*)*", re.I | re.M)


_THANKS = {"merci", "mercis", "mercii", "remercie", "remercions", "remerciements", "thanks", "thank", "thx"}
_POLITE = set(
    "beaucoup bcp bien mille fois infiniment encore pour votre vos ta ton tes la le les l ce cet cette ces reponse "
    "reponses rapide rapides precieuse precieuses precieux aide retour retours info infos information informations "
    "super parfait top genial excellent ok okay d accord daccord tres c est note entendu bonne journee soiree semaine "
    "fin cordialement a vous toi tous toute equipe madame monsieur oui bonjour salut hello je nous you so much very "
    "lot many great perfect nice good day".split())
_THANKS_EMOJI = ("👍", "🙏", "❤", "🙂", "😊")


def is_bare_thanks(text: str) -> bool:
    """A message that only thanks (« merci beaucoup ! », "thank you", 👍, a signature at most):
    nothing to answer. Anything more (a question, a request, « merci mais… ») is not."""
    text = text.strip()
    if not text or "?" in text or len(text) > 200:
        return False
    words = re.findall(r"\w+", text)
    if not words:
        return any(emoji in text for emoji in _THANKS_EMOJI)
    folded = ["".join(c for c in unicodedata.normalize("NFKD", w.lower()) if not unicodedata.combining(c))
              for w in words]
    unknown = [w for w, f in zip(words, folded, strict=True) if f not in _THANKS and f not in _POLITE]
    # A signature's name or two is allowed; any other word makes it more than a thanks.
    names_only = len(unknown) <= 2 and all(w[0].isupper() for w in unknown)
    return (any(f in _THANKS for f in folded) or any(e in text for e in _THANKS_EMOJI)) and names_only


def fingerprint(incoming: Incoming) -> str | None:
    """What makes two mails with one Message-ID the same mail (e-mail only: other channels' ids
    are the server's own, never chosen by a sender)."""
    if incoming.channel != "email":
        return None
    raw = incoming.raw.replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    digest = hashlib.sha256()
    if raw:
        for line in sorted(_FINGERPRINT_HEADERS.findall(head)):
            digest.update(line.strip() + b"\0")
        digest.update(body)
    else:
        digest.update("\0".join([incoming.sender, incoming.subject, incoming.text]).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Taken:
    """What ``take`` did: ids, and whether the message was already stored."""

    message_id: int
    request_id: int
    draft_id: int | None
    duplicate: bool = False
    follow_up: bool = False
    # A bare thanks on a request: logged on it, nothing asked of staff (no draft, no card).
    thanks: bool = False


class Intake:
    """Stores, joins, matches and drafts incoming messages."""

    def __init__(self, db: sqlite_utils.Database, entries: list[Entry], matcher: Matcher, drafter: Drafter,
                 today: dt.date | None = None) -> None:
        self.db = db
        self.entries = {e.slug: e for e in entries}
        self.matcher = matcher
        self.drafter = drafter
        self._today = today
        # Told the id of each new draft (the staff desks post it at once instead of at their next poll).
        self.on_draft: Callable[[int], None] = lambda draft_id: None

    def today(self) -> dt.date:
        return self._today or dt.date.today()

    def take(self, incoming: Incoming) -> Taken:
        """Take one message in (idempotent on the channel's message id and the content's fingerprint)."""
        print_ = fingerprint(incoming)
        existing, _ = self._stored_copy(incoming, print_)
        if existing:
            return Taken(existing["id"], existing["request_id"], None, duplicate=True)
        match = None if incoming.machine else self.matcher.match(incoming.new_text, incoming.subject)
        with self.db.atomic():
            existing, external_id = self._stored_copy(incoming, print_)
            if existing:
                return Taken(existing["id"], existing["request_id"], None, duplicate=True)
            request_id, refused = self._request_for(incoming)
            follow_up = request_id is not None
            if request_id is None:
                request_id = self._new_request(incoming)
            notes = []
            if refused is not None:
                # A stranger answering someone else's thread must not take over that request (and its reply).
                notes.append(f"en réponse à la demande n°{refused}, mais d'une adresse qui ne fait pas partie de "
                             "cet échange : traité comme une nouvelle demande")
                log_event(self.db, "request.thread_refused", request_id=request_id, thread_of=refused)
            message_id = self._store(incoming, external_id, print_, request_id, match.language if match else None)
            log_event(self.db, "message.stored", request_id=request_id, channel=incoming.channel,
                      external_id=external_id, machine=incoming.machine, problems=incoming.problems)
            if external_id != incoming.external_id:
                notes.append(self._collision(incoming, request_id, message_id))
            if incoming.machine:
                log_event(self.db, "message.machine", request_id=request_id, reason=incoming.machine)
                return Taken(message_id, request_id, None, follow_up=follow_up)
            if follow_up and is_bare_thanks(incoming.new_text or incoming.text):
                log_event(self.db, "message.thanks", request_id=request_id, message_id=message_id)
                return Taken(message_id, request_id, None, follow_up=True, thanks=True)
            assert match is not None
            draft_id = self._draft(incoming, request_id, message_id, match, follow_up, notes)
        self.on_draft(draft_id)
        return Taken(message_id, request_id, draft_id, follow_up=follow_up)

    def _request_for(self, incoming: Incoming) -> tuple[int | None, int | None]:
        """The request this message follows up, if any; and the request whose thread it cites
        without taking part in it (then it is not joined there)."""
        cited = self._cited_requests(incoming)
        for request_id in cited:
            if self._in_thread(request_id, incoming):
                return request_id, None
        return self._request_by_rules(incoming), cited[0] if cited else None

    def _cited_requests(self, incoming: Incoming) -> list[int]:
        """The requests of the messages this one cites (In-Reply-To, References), latest first;
        a Message-ID two different mails shared (stored as ``<id>#…``) may name several."""
        refs = incoming.refs[-20:]
        if not refs:
            return []
        # Each ref, and the ids derived from it: '$' follows '#' in ASCII.
        ranges = " OR ".join(["external_id = ? OR (external_id > ? AND external_id < ?)"] * len(refs))
        params = [p for ref in refs for p in (ref, f"{ref}#", f"{ref}$")]
        rows = list(self.db.query(f"SELECT request_id, max(id) AS last FROM messages WHERE channel = ? AND ({ranges}) "
                                  "AND request_id IS NOT NULL GROUP BY request_id ORDER BY last DESC",
                                  [incoming.channel, *params]))
        if not rows:
            marks = ",".join("?" * len(refs))
            rows = list(self.db.query(f"SELECT request_id, max(id) AS last FROM outbox WHERE out_message_id IN "
                                      f"({marks}) GROUP BY request_id ORDER BY last DESC", refs))
        return [int(r["request_id"]) for r in rows]

    def _in_thread(self, request_id: int, incoming: Incoming) -> bool:
        """Whether the sender (or Reply-To) of ``incoming`` already takes part in the request."""
        known = {str(r["who"]).lower() for r in self.db.query(
            "SELECT requester AS who FROM requests WHERE id = :r UNION SELECT reply_to FROM requests WHERE id = :r "
            "UNION SELECT sender FROM messages WHERE request_id = :r AND direction = 'in' "
            "UNION SELECT reply_to FROM messages WHERE request_id = :r AND direction = 'in'", {"r": request_id})
            if r["who"]}
        return bool(known & {a.lower() for a in (incoming.sender, incoming.reply_to) if a})

    def _request_by_rules(self, incoming: Incoming) -> int | None:
        if incoming.conversation and not incoming.machine:
            since = (incoming.received_at - dt.timedelta(hours=CONVERSATION_HOURS)).isoformat()
            row = one(self.db, "SELECT id FROM requests WHERE channel = ? AND conversation = ? AND received_at >= ? "
                               "AND status NOT IN ('ignored', 'forgotten') ORDER BY id DESC LIMIT 1",
                      [incoming.channel, incoming.conversation, since])
            return int(row["id"]) if row else None
        subject = base_subject(incoming.subject).lower()
        if incoming.machine or not incoming.sender or not subject:
            return None
        since = (incoming.received_at - dt.timedelta(days=SAME_SUBJECT_DAYS)).isoformat()
        for row in self.db.query(
            "SELECT id, subject FROM requests WHERE channel = ? AND requester = ? AND received_at >= ? "
            "AND machine IS NULL ORDER BY id DESC LIMIT 20", [incoming.channel, incoming.sender, since]):
            if base_subject(row["subject"]).lower() == subject:
                return int(row["id"])
        return None

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

    def _stored_copy(self, incoming: Incoming, print_: str | None) -> tuple[dict[str, Any] | None, str]:
        """The stored copy of this message, if any, and the id to store it under otherwise: its own,
        or a derived one when another mail already has its Message-ID."""
        derived = f"{incoming.external_id}#{print_[:16]}" if print_ else incoming.external_id
        rows = list(self.db.query("SELECT id, request_id, fingerprint FROM messages WHERE channel = ? "
                                  "AND external_id IN (?, ?)", [incoming.channel, incoming.external_id, derived]))
        for row in rows:
            # No fingerprint: our own reply (its copy coming back), or a mail stored before fingerprints.
            if print_ is None or row["fingerprint"] in (None, print_):
                return row, incoming.external_id
        return None, derived if rows else incoming.external_id

    def _collision(self, incoming: Incoming, request_id: int, message_id: int) -> str:
        other = one(self.db, "SELECT id, request_id FROM messages WHERE channel = ? AND external_id = ?",
                    [incoming.channel, incoming.external_id])
        assert other is not None
        log_event(self.db, "message.id_collision", request_id=request_id, message_id=message_id,
                  other_message=other["id"], other_request=other["request_id"])
        return (f"même Message-ID qu'un autre message (demande n°{other['request_id']}) mais un contenu différent : "
                "enregistré à part")

    def _store(self, incoming: Incoming, external_id: str, print_: str | None, request_id: int,
               language: str | None) -> int:
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
            "language": language,
            "received_at": incoming.received_at.isoformat(),
            "stored_at": now(),
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

    def _draft(self, incoming: Incoming, request_id: int, message_id: int, match: Match, follow_up: bool,
               intake_notes: list[str]) -> int:
        notes = [f"problème de lecture : {p}" for p in incoming.problems] + intake_notes
        entry = self.entries.get(match.slug) if match.slug else None
        candidates = [asdict(c) for c in match.candidates]
        earlier = self._unanswered(request_id, message_id) if follow_up else []
        previous = self._supersede(request_id) if follow_up else None
        kept = None  # the earlier draft's text, kept when nothing fits the new message
        if previous is not None:
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
            notes.append("à traiter à la main : aucune fiche ne correspond")
        elif kept is None:
            if entry.expired(self.today()):
                notes.append(f"fiche « {entry.slug} » expirée le {entry.valid_until} : le brouillon dit que "
                             "l'appel est clos, vérifiez s'il y a une nouvelle édition")
            text = self.drafter.render(entry, sender_name=incoming.sender_name, language=match.language,
                                       today=self.today())
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
        self.db.table("requests").update(request_id, fields)
        log_event(self.db, "draft.created", request_id=request_id, draft_id=draft_id,
                  slug=entry.slug if entry else None, confidence=confidence, by_hand=entry is None)
        return draft_id

    def _supersede(self, request_id: int) -> dict[str, Any] | None:
        """Retire the request's pending draft (a new one replaces it); returns it, or None."""
        previous = one(self.db, "SELECT * FROM drafts WHERE request_id = ? AND state = 'pending' "
                                "ORDER BY id DESC LIMIT 1", [request_id])
        self.db.execute("UPDATE drafts SET state = 'superseded', decided_at = ? WHERE request_id = ? "
                        "AND state = 'pending'", [now(), request_id])
        return previous
