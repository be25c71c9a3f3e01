"""Warn: the events a person must hear about without asking, worded for the staff desk.

A message in the mailbox that Guichet never took in, two different mails with one Message-ID
(both kept), a reply interrupted while it was being sent, a reply the server refused for good, a
card Telegram refused to show: each is logged (and shown by ``guichet status`` or ``guichet outbox
list``), and a desk (the Telegram staff chat) posts it once, so staff need not think of looking.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .store import now

KINDS = ("imap.reconcile_mismatch", "outbox.uncertain", "outbox.failed", "telegram.refused",
         "message.id_collision")
# A desk configured later does not replay old history, only what is still fresh.
RECENT = dt.timedelta(days=2)


@dataclass(frozen=True)
class Notice:
    event_id: int
    text: str


def render(kind: str, detail: dict[str, Any]) -> str:
    """The plain-text warning for one event (the desk escapes it for its own format)."""
    if kind == "imap.reconcile_mismatch":
        uids = detail.get("uids") or []
        return (f"⚠️ Boîte {detail.get('mailbox', '?')} : {len(uids)} message(s) jamais pris en compte par "
                f"Guichet (UID {', '.join(map(str, uids[:10]))}). Regardez-les dans la boîte aux lettres ; "
                "« guichet status » les liste.")
    if kind == "outbox.uncertain":
        item = detail.get("outbox_id")
        return (f"⚠️ Réponse {item} interrompue pendant l'envoi : elle n'est pas renvoyée d'office. Vérifiez si "
                f"la personne l'a reçue, sinon « guichet outbox retry {item} ».")
    if kind == "outbox.failed":
        return (f"❌ Réponse {detail.get('outbox_id')} refusée définitivement : {detail.get('error', '')}. "
                "« guichet outbox list » la montre ; corrigez l'adresse puis « guichet outbox retry ».")
    if kind == "telegram.refused":
        draft = detail.get("draft")
        if detail.get("post") == "card":
            return (f"⚠️ Le brouillon {draft} n'a pas pu être affiché ici : Telegram l'a refusé "
                    f"({detail.get('error', '')}). Il attend toujours une décision : « guichet drafts show {draft} ».")
        return f"⚠️ Telegram a refusé un message du guichet ({detail.get('post')}, brouillon {draft}) : " \
               f"{detail.get('error', '')}."
    if kind == "message.id_collision":
        return ("⚠️ Deux messages différents portent le même Message-ID : le second est enregistré à part, comme "
                f"une nouvelle demande (le premier est dans la demande n°{detail.get('other_request', '?')}).")
    return f"⚠️ {kind}"


def pending(db: sqlite_utils.Database, desk: str, clock: dt.datetime | None = None) -> list[Notice]:
    """Recent warnings this desk has not posted yet, oldest first."""
    since = ((clock or dt.datetime.now(dt.UTC)) - RECENT).isoformat()
    marks = ",".join("?" * len(KINDS))
    rows = db.query(f"SELECT id, kind, detail FROM events e WHERE kind IN ({marks}) AND at >= ? AND NOT EXISTS "
                    f"(SELECT 1 FROM staff_notices n WHERE n.event_id = e.id AND n.desk = ?) ORDER BY id LIMIT 20",
                    [*KINDS, since, desk])
    return [Notice(int(r["id"]), render(r["kind"], json.loads(r["detail"]))) for r in rows]


def posted(db: sqlite_utils.Database, desk: str, notice: Notice) -> None:
    """Record that ``desk`` has shown ``notice`` (so it is never posted twice)."""
    db.table("staff_notices").insert({"event_id": notice.event_id, "desk": desk, "posted_at": now()})
