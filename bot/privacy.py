"""Forgetting people: a requester's own request ("/oubli") and the RGPD retention purge.

Personal data (message text and source, names, addresses, draft and reply texts) is erased;
the request rows stay, anonymous, so the statistics keep counting them.
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
        db.execute(f"UPDATE drafts SET text = NULL, others = '[]', notes = '[]', "
                   f"state = CASE WHEN state = 'pending' THEN 'forgotten' ELSE state END "
                   f"WHERE request_id IN ({marks})", chunk)
        db.execute(f"UPDATE outbox SET body = '', subject = NULL, recipient = '', "
                   f"state = CASE WHEN state IN ('queued', 'uncertain') THEN 'cancelled' ELSE state END "
                   f"WHERE request_id IN ({marks})", chunk)
        db.execute(f"UPDATE requests SET requester = NULL, requester_name = NULL, reply_to = NULL, subject = NULL, "
                   f"conversation = NULL, updated_at = ? WHERE id IN ({marks})", [stamp, *chunk])
        if close_open:
            # Nobody is left to answer.
            db.execute(f"UPDATE requests SET status = 'forgotten' WHERE id IN ({marks}) "
                       f"AND status IN ('open', 'by_hand')", chunk)
    return len(ids)


def forget(db: sqlite_utils.Database, channel: str, requester: str) -> int:
    """Erase everything personal about one requester on one channel; returns how many requests."""
    with db.atomic():
        count = _erase(db, _ids(db, "channel = ? AND requester = ?", [channel, requester]), close_open=True)
        log_event(db, "privacy.forgotten", channel=channel, requests=count)
    return count


def purge_older_than(db: sqlite_utils.Database, cutoff_iso: str) -> int:
    """RGPD retention: erase personal data of requests received before ``cutoff_iso`` (UTC ISO)."""
    with db.atomic():
        ids = _ids(db, "received_at < ? AND id IN (SELECT request_id FROM messages WHERE purged_at IS NULL "
                       "AND request_id IS NOT NULL)", [cutoff_iso])
        count = _erase(db, ids, close_open=False)
        if count:
            log_event(db, "privacy.purged", before=cutoff_iso, requests=count)
    return count
