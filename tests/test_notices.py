"""The warnings staff must hear about: which, how worded, and each posted once per desk."""

from __future__ import annotations

import datetime as dt

from bot import notices
from bot.service import Core
from bot.store import log_event


def test_recent_warnings_once_per_desk(core: Core) -> None:
    db = core.db
    log_event(db, "outbox.uncertain", request_id=1, outbox_id=7)
    log_event(db, "draft.approved", request_id=1)  # not a warning
    log_event(db, "outbox.failed", request_id=2, outbox_id=8, error="SMTP 550 5.1.1 no such user")
    db.execute("UPDATE events SET at = ? WHERE kind = 'outbox.failed'",
               [(dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat()])  # history, not news
    log_event(db, "imap.reconcile_mismatch", mailbox="INBOX", uids=[4, 9])
    found = notices.pending(db, "telegram")
    assert [n.text.split(" ")[1] for n in found] == ["Réponse", "Boîte"]
    assert "guichet outbox retry 7" in found[0].text
    assert "2 message(s) jamais pris en compte par Guichet (UID 4, 9)" in found[1].text
    notices.posted(db, "telegram", found[0])
    assert [n.event_id for n in notices.pending(db, "telegram")] == [found[1].event_id]
    assert len(notices.pending(db, "another desk")) == 2


def test_a_refused_reply_says_why() -> None:
    text = notices.render("outbox.failed", {"outbox_id": 8, "error": "SMTP 550 no such user"})
    assert text.startswith("❌ Réponse 8 refusée définitivement : SMTP 550 no such user")
