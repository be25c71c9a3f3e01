"""Forgetting people: a requester's own request ("/oubli") and the RGPD retention purge.

Personal data (message text and source, names, addresses, draft and reply texts) is erased;
the request rows stay, anonymous, so the statistics keep counting them. Telegram ids go too: a
Telegram message id holds the chat's (the person's) id, so it becomes ``erased:<row id>`` in
messages, outbox headers and event details, and the staff chat's cards and full texts about the
request are edited to "effacée" by the posting loop.
"""

from __future__ import annotations

import sqlite_utils

from .store import log_event, now

_PERSONAL_MESSAGE = ("sender = NULL, sender_name = NULL, subject = NULL, text = NULL, new_text = NULL, "
                     "refs = '[]', attachments = '[]', purged_at = ?, reply_to = NULL")


def _ids(db: sqlite_utils.Database, where: str, params: list[object]) -> list[int]:
    return [int(r["id"]) for r in db.query(f"SELECT id FROM requests WHERE {where}", params)]


def _erase(db: sqlite_utils.Database, ids: list[int], *, close_open: bool) -> int:
    """Erase personal data of these requests (closing the open ones if asked); returns how many."""
    stamp = now()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        db.execute(f"UPDATE messages SET {_PERSONAL_MESSAGE} WHERE request_id IN ({marks})", [stamp, *chunk])
        db.execute(f"DELETE FROM message_sources WHERE message_id IN "
                   f"(SELECT id FROM messages WHERE request_id IN ({marks}))", chunk)
        db.execute(f"DELETE FROM learned_examples WHERE request_id IN ({marks})", chunk)
        db.execute(f"UPDATE drafts SET text = NULL, others = '[]', notes = '[]', "
                   f"state = CASE WHEN state = 'pending' THEN 'forgotten' ELSE state END "
                   f"WHERE request_id IN ({marks})", chunk)
        db.execute(f"UPDATE messages SET external_id = 'erased:' || id WHERE channel = 'telegram' "
                   f"AND request_id IN ({marks})", chunk)
        db.execute(f"UPDATE outbox SET body = '', subject = NULL, recipient = '', headers = '{{}}', last_error = NULL, "
                   f"state = CASE WHEN state IN ('queued', 'uncertain') THEN 'cancelled' ELSE state END "
                   f"WHERE request_id IN ({marks})", chunk)
        db.execute(f"UPDATE events SET detail = json_remove(detail, '$.external_id', '$.error') "
                   f"WHERE request_id IN ({marks})", chunk)
        # What the staff chat shows of them: edited to "effacée" (or never posted). A card being posted is
        # left to finish: it is then closed, drawn from the erased rows.
        db.execute(f"UPDATE telegram_posts SET state = CASE WHEN state = 'wanted' THEN 'cancelled' ELSE 'erasing' END "
                   f"WHERE kind IN ('card', 'full') AND state NOT IN ('erased', 'cancelled', 'refused', 'posting') "
                   f"AND draft_id IN (SELECT id FROM drafts WHERE request_id IN ({marks}))", chunk)
        db.execute(f"UPDATE requests SET requester = NULL, requester_name = NULL, reply_to = NULL, subject = NULL, "
                   f"conversation = NULL, updated_at = ? WHERE id IN ({marks})", [stamp, *chunk])
        if close_open:
            # Nobody is left to answer.
            db.execute(f"UPDATE requests SET status = 'forgotten' WHERE id IN ({marks}) "
                       f"AND status IN ('open', 'by_hand')", chunk)
    if ids:
        # FTS5 only marks erased rows as deleted; their words stay in the index's segments until
        # they are merged. 'optimize' merges them now, so nothing erased can be read back from it.
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")
    return len(ids)


def forget(db: sqlite_utils.Database, channel: str, requester: str) -> int:
    """Erase everything personal about one requester on one channel; returns how many requests."""
    with db.atomic():
        count = _erase(db, _ids(db, "channel = ? AND requester = ?", [channel, requester]), close_open=True)
        if channel == "telegram":
            forget_chat(db, requester)  # a private chat's id is the person's id
            db.execute("UPDATE events SET actor = 'erased' WHERE actor = ? OR actor LIKE ?",
                       [f"telegram:{requester}", f"telegram:{requester}:%"])
        db.execute("UPDATE health SET last_error = replace(last_error, ?, 'effacé') WHERE instr(last_error, ?)",
                   [requester, requester])
        log_event(db, "privacy.forgotten", channel=channel, requests=count)
    return count


def forget_chat(db: sqlite_utils.Database, chat_id: str) -> None:
    """Nothing the bot posts keeps a Telegram chat's id or text: unsent posts are dropped, the others
    keep neither (the posting loop calls it again once it has confirmed "/oubli" to the person)."""
    db.execute("UPDATE telegram_posts SET state = CASE WHEN state IN ('wanted', 'posting') THEN 'cancelled' "
               "ELSE state END, chat_id = 'erased:' || id, text = NULL, key = NULL WHERE chat_id = ?", [chat_id])


def purge_older_than(db: sqlite_utils.Database, cutoff_iso: str) -> int:
    """RGPD retention: erase personal data of requests received before ``cutoff_iso`` (UTC ISO)."""
    with db.atomic():
        ids = _ids(db, "received_at < ? AND id IN (SELECT request_id FROM messages WHERE purged_at IS NULL "
                       "AND request_id IS NOT NULL)", [cutoff_iso])
        count = _erase(db, ids, close_open=False)
        if count:
            log_event(db, "privacy.purged", before=cutoff_iso, requests=count)
    return count
