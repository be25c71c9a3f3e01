"""Which request a message belongs to, and whether it is new at all.

A reply joins its thread only when its sender (or Reply-To) already takes part in it; a
Telegram chat's messages within 48 hours, or the same sender with the same subject within
30 days, join their request too. A mail is the same as a stored one only when its Message-ID
and its content's fingerprint both match. A bare thanks is recognised so that it asks
nothing of staff.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import sqlite_utils

from .draft import base_subject
from .matching.prepare import fold
from .message import Incoming
from .store import one

# A message with the same sender and subject within this many days joins the request.
SAME_SUBJECT_DAYS = 30
# A message in the same chat within this many hours joins the request.
CONVERSATION_HOURS = 48
# The headers that, with the body, make a mail's fingerprint: not the trace headers (Received,
# Delivered-To…) that differ between two deliveries of the same mail.
_FINGERPRINT_HEADERS = re.compile(rb"^(?:from|date|subject|to|cc):[^\n]*(?:\n[ \t][^\n]*)*", re.I | re.M)


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


def stored_copy(db: sqlite_utils.Database, incoming: Incoming,
                print_: str | None) -> tuple[dict[str, Any] | None, str]:
    """The stored copy of this message, if any, and the id to store it under otherwise: its own,
    or a derived one when another mail already has its Message-ID."""
    derived = f"{incoming.external_id}#{print_[:16]}" if print_ else incoming.external_id
    rows = list(db.query("SELECT id, request_id, fingerprint FROM messages WHERE channel = ? "
                         "AND external_id IN (?, ?)", [incoming.channel, incoming.external_id, derived]))
    for row in rows:
        # No fingerprint: our own reply (its copy coming back), or a mail stored before fingerprints.
        if print_ is None or row["fingerprint"] in (None, print_):
            return row, incoming.external_id
    return None, derived if rows else incoming.external_id


def request_for(db: sqlite_utils.Database, incoming: Incoming) -> tuple[int | None, int | None]:
    """The request this message follows up, if any; and the request whose thread it cites
    without taking part in it (then it is not joined there)."""
    cited = _cited_requests(db, incoming)
    for request_id in cited:
        if _in_thread(db, request_id, incoming):
            return request_id, None
    return _request_by_rules(db, incoming), cited[0] if cited else None


def _cited_requests(db: sqlite_utils.Database, incoming: Incoming) -> list[int]:
    """The requests of the messages this one cites (In-Reply-To, References), latest first;
    a Message-ID two different mails shared (stored as ``<id>#…``) may name several."""
    refs = incoming.refs[-20:]
    if not refs:
        return []
    # Each ref, and the ids derived from it: '$' follows '#' in ASCII.
    ranges = " OR ".join(["external_id = ? OR (external_id > ? AND external_id < ?)"] * len(refs))
    params = [p for ref in refs for p in (ref, f"{ref}#", f"{ref}$")]
    rows = list(db.query(f"SELECT request_id, max(id) AS last FROM messages WHERE channel = ? AND ({ranges}) "
                         "AND request_id IS NOT NULL GROUP BY request_id ORDER BY last DESC",
                         [incoming.channel, *params]))
    if not rows:
        marks = ",".join("?" * len(refs))
        rows = list(db.query(f"SELECT request_id, max(id) AS last FROM outbox WHERE out_message_id IN "
                             f"({marks}) GROUP BY request_id ORDER BY last DESC", refs))
    return [int(r["request_id"]) for r in rows]


def _in_thread(db: sqlite_utils.Database, request_id: int, incoming: Incoming) -> bool:
    """Whether the sender (or Reply-To) of ``incoming`` already takes part in the request."""
    known = {str(r["who"]).lower() for r in db.query(
        "SELECT requester AS who FROM requests WHERE id = :r UNION SELECT reply_to FROM requests WHERE id = :r "
        "UNION SELECT sender FROM messages WHERE request_id = :r AND direction = 'in' "
        "UNION SELECT reply_to FROM messages WHERE request_id = :r AND direction = 'in'", {"r": request_id})
        if r["who"]}
    return bool(known & {a.lower() for a in (incoming.sender, incoming.reply_to) if a})


def _request_by_rules(db: sqlite_utils.Database, incoming: Incoming) -> int | None:
    """A Telegram chat's recent request, or the sender's recent request with the same subject."""
    if incoming.conversation and not incoming.machine:
        since = (incoming.received_at - dt.timedelta(hours=CONVERSATION_HOURS)).isoformat()
        row = one(db, "SELECT id FROM requests WHERE channel = ? AND conversation = ? AND received_at >= ? "
                      "AND status NOT IN ('ignored', 'forgotten') ORDER BY id DESC LIMIT 1",
                  [incoming.channel, incoming.conversation, since])
        return int(row["id"]) if row else None
    subject = base_subject(incoming.subject).lower()
    if incoming.machine or not incoming.sender or not subject:
        return None
    since = (incoming.received_at - dt.timedelta(days=SAME_SUBJECT_DAYS)).isoformat()
    for row in db.query(
        "SELECT id, subject FROM requests WHERE channel = ? AND requester = ? AND received_at >= ? "
        "AND machine IS NULL ORDER BY id DESC LIMIT 20", [incoming.channel, incoming.sender, since]):
        if base_subject(row["subject"]).lower() == subject:
            return int(row["id"])
    return None


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
    folded = [fold(w) for w in words]
    unknown = [w for w, f in zip(words, folded, strict=True) if f not in _THANKS and f not in _POLITE]
    # A signature's name or two is allowed; any other word makes it more than a thanks.
    names_only = len(unknown) <= 2 and all(w[0].isupper() for w in unknown)
    return (any(f in _THANKS for f in folded) or any(e in text for e in _THANKS_EMOJI)) and names_only
