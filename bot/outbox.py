"""Send: the outbox worker delivers approved replies through each channel's transport.

Delivery is at most once. A transport calls ``commit()`` right before the
step that cannot be taken back (SMTP DATA, the Bot API sendMessage); the item
is then recorded as ``sending``. After a crash, or when that step breaks off with
no answer (``UncertainSendError``: SMTP DATA timing out), the item is reconciled:
sent if the transport finds proof (the copy in the Sent folder), otherwise
``uncertain`` and shown to staff instead of being sent a second time.

An item's state only moves forward along ``TRANSITIONS``, each move a compare-and-set in SQL:
a worker that lost a race (another process sent the item first) changes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlite_utils

from .errors import NotFound, NotQueued, PermanentSendError, ReviewError, TransientSendError, UncertainSendError
from .health import Health
from .store import log_event, now, one
from .waiting import sleep_or_stop

log = logging.getLogger("guichet.outbox")

MAX_BACKOFF_S = 3600.0

# Where each state may go. ``sent`` and ``cancelled`` (a forgotten requester) are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"queued", "sending", "failed", "cancelled"}),
    "sending": frozenset({"queued", "sent", "uncertain", "failed"}),
    "uncertain": frozenset({"queued", "sent", "cancelled"}),
    "failed": frozenset({"queued", "cancelled"}),
    "sent": frozenset(),
    "cancelled": frozenset(),
}


def move(db: sqlite_utils.Database, item_id: int, sources: tuple[str, ...], target: str,
         assignments: str = "", params: list[object] | None = None) -> bool:
    """Compare-and-set: move an outbox item from one of ``sources`` to ``target`` (with the extra
    ``assignments``, SQL ``col = ?`` pairs); False when its state was no longer one of ``sources``."""
    if not all(target in TRANSITIONS[source] for source in sources):
        raise ValueError(f"outbox: no transition from {sources} to {target}")
    marks = ",".join("?" * len(sources))
    extra = f", {assignments}" if assignments else ""
    changed = db.execute(f"UPDATE outbox SET state = ?{extra} WHERE id = ? AND state IN ({marks})",
                         [target, *(params or []), item_id, *sources]).rowcount
    return bool(changed)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    request_id: int
    channel: str
    recipient: str
    subject: str
    body: str
    out_message_id: str
    in_reply_to: str
    references: list[str]
    attempts: int
    draft_id: int = 0
    # A reply that leaves as several messages (Telegram): how many have left already, of how many,
    # and the first one's message id (see ``record_parts``).
    parts_sent: int = 0
    parts_total: int | None = None
    first_part_id: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxItem:
        headers = json.loads(row["headers"])
        return cls(id=row["id"], request_id=row["request_id"], channel=row["channel"], recipient=row["recipient"],
                   subject=row["subject"] or "", body=row["body"], out_message_id=row["out_message_id"],
                   in_reply_to=headers.get("in_reply_to", ""), references=headers.get("references", []),
                   attempts=row["attempts"], draft_id=row["draft_id"], parts_sent=row.get("parts_sent") or 0,
                   parts_total=row.get("parts_total"), first_part_id=row.get("first_part_id"))


class Transport(Protocol):
    """A channel's way of sending one reply."""

    channel: str

    async def send(self, item: OutboxItem, commit: Callable[[], None]) -> str:
        """Send ``item``; call ``commit()`` just before the irreversible step; return the sent id."""

    async def reconcile(self, item: OutboxItem) -> bool:
        """After a crash: True if there is proof the item was delivered."""

    async def file_copy(self, item: OutboxItem) -> None:
        """Keep a copy where staff look for sent replies (a no-op where there is none)."""


def backoff_s(attempts: int) -> float:
    """Exponential backoff: 5 s, 10 s, 20 s … capped at an hour."""
    return min(5.0 * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_S)


class Outbox:
    """Delivers due outbox items; ``wake()`` after an approval to send at once."""

    def __init__(self, db: sqlite_utils.Database, transports: dict[str, Transport],
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.db = db
        self.transports = transports
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._wake = asyncio.Event()
        # One per channel: e-mail replies going out must not hide that Telegram ones are stuck.
        self.health = {channel: Health(db, f"outbox {channel}", log) for channel in transports}

    def wake(self) -> None:
        self._wake.set()

    async def recover(self) -> None:
        """Reconcile items left ``sending`` by a crash."""
        for row in list(self.db.query("SELECT * FROM outbox WHERE state = 'sending'")):
            await self._settle(OutboxItem.from_row(row), "interrupted while sending")

    async def _settle(self, item: OutboxItem, why: str) -> bool:
        """An item that may have left (``sending``): sent if the transport proves it, else ``uncertain``
        for staff, never sent again on its own. Returns True when proved sent."""
        transport = self.transports.get(item.channel)
        delivered = False
        if transport is not None:
            try:
                delivered = await transport.reconcile(item)
            except Exception as exc:  # noqa: BLE001 - no proof either way: keep it uncertain
                log.warning("outbox %s: reconcile failed: %s", item.id, exc)
        if delivered:
            self._mark_sent(item, filed=True, how="reconciled")
            return True
        with self.db.atomic():
            moved = move(self.db, item.id, ("sending",), "uncertain", "last_error = ?", [why])
            if moved:
                log_event(self.db, "outbox.uncertain", request_id=item.request_id, outbox_id=item.id)
        if moved:
            log.warning("outbox %s: %s; not resent, staff must check (guichet outbox retry %s)",
                        item.id, why, item.id)
        return False

    def _items(self, where: str, params: list[object], limit: int) -> list[OutboxItem]:
        # Only the channels configured now: another channel's items wait for its transport.
        marks = ",".join("?" * len(self.transports))
        rows = self.db.query(f"SELECT * FROM outbox WHERE {where} AND channel IN ({marks}) ORDER BY id LIMIT {limit}",
                             [*params, *self.transports])
        return [OutboxItem.from_row(r) for r in rows]

    def due(self) -> list[OutboxItem]:
        return self._items("state = 'queued' AND next_attempt_at <= ?", [self.clock().isoformat()], 50)

    async def flush(self) -> int:
        """Send every due item once, and file the copies not filed yet; returns how many were sent."""
        sent = 0
        for item in self.due():
            if await self._send(item):
                sent += 1
        for item in self._items("state = 'sent' AND filed = 0", [], 20):
            await self._file(item)
        return sent

    async def _file(self, item: OutboxItem) -> None:
        try:
            await self.transports[item.channel].file_copy(item)
        except Exception as exc:  # noqa: BLE001 - the reply left; filing is retried by the next flush()
            self._note_error(item, "filing", f"filing the copy failed: {exc}")
            return
        self.db.table("outbox").update(item.id, {"filed": 1})

    async def run(self, stop: asyncio.Event, idle_s: float = 2.0) -> None:
        """Deliver until ``stop`` is set; the item in hand is finished first."""
        await self.recover()
        while not stop.is_set():
            await self.flush()
            await sleep_or_stop(stop, idle_s, wake=self._wake)

    def _commit_sending(self, item: OutboxItem) -> None:
        if not move(self.db, item.id, ("queued",), "sending", "attempts = attempts + 1"):
            raise NotQueued(f"outbox {item.id} is no longer queued")

    async def _send(self, item: OutboxItem) -> bool:
        transport = self.transports[item.channel]
        try:
            sent_id = await transport.send(item, lambda: self._commit_sending(item))
        except NotQueued:
            log.info("outbox %s: taken by another worker, left to it", item.id)
            return False
        except UncertainSendError as exc:
            return await self._settle(item, str(exc))
        except TransientSendError as exc:
            delay = exc.retry_after if exc.retry_after is not None else backoff_s(item.attempts + 1)
            retry_at = self.clock() + dt.timedelta(seconds=delay)
            if not move(self.db, item.id, ("queued", "sending"), "queued",
                        "next_attempt_at = ?, last_error = ?, "
                        "attempts = attempts + CASE WHEN state = 'sending' THEN 0 ELSE 1 END",
                        [retry_at.isoformat(), str(exc)]):
                return False
            # The kind leaves out the details (and the delay, which grows with each retry).
            self._note_error(item, str(exc).split(":")[0], f"will retry in {delay:.0f}s: {exc}")
            return False
        except PermanentSendError as exc:
            with self.db.atomic():
                moved = move(self.db, item.id, ("queued", "sending"), "failed", "last_error = ?", [str(exc)])
                if moved:
                    log_event(self.db, "outbox.failed", request_id=item.request_id, outbox_id=item.id,
                              error=str(exc))
            if not moved:
                return False
            log.error("outbox %s: failed for good: %s", item.id, exc)
            return False
        self._mark_sent(item, filed=False, how="sent", sent_id=sent_id)
        await self._file(item)
        return True

    def _note_error(self, item: OutboxItem, kind: str, message: str) -> None:
        # One warning while the same fault lasts (a server down with ten replies queued, retried
        # every few minutes, is one fault), not one per item and retry.
        # Ids only: the logs name no one (the recipient is one `guichet outbox list` away).
        self.health[item.channel].fault(kind, f"outbox {item.id} ({item.channel}, request {item.request_id}): "
                                              f"{message}")

    def _mark_sent(self, item: OutboxItem, *, filed: bool, how: str, sent_id: str | None = None) -> None:
        stamp = now()
        with self.db.atomic():
            if not move(self.db, item.id, ("sending", "uncertain"), "sent", "sent_at = ?, filed = ?, last_error = NULL",
                        [stamp, int(filed)]):
                log.warning("outbox %s: sent, but another worker had already settled it", item.id)
                return
            self.db.table("requests").update(item.request_id, {"status": "answered", "answered_at": stamp,
                                                         "updated_at": stamp})
            existing = one(self.db, "SELECT id FROM messages WHERE channel = ? AND external_id = ?",
                           [item.channel, sent_id or item.out_message_id])
            if existing is None:
                self.db.table("messages").insert({
                    "channel": item.channel, "external_id": sent_id or item.out_message_id, "direction": "out",
                    "request_id": item.request_id, "sender": None, "subject": item.subject, "text": item.body,
                    "received_at": stamp, "stored_at": stamp,
                })
            log_event(self.db, "outbox.sent", request_id=item.request_id, outbox_id=item.id, how=how)
        log.info("reply sent: outbox %s, %s, request %s, draft %s%s", item.id, item.channel, item.request_id,
                 item.draft_id, " (proved by its copy in Sent)" if how == "reconciled" else "")
        self.health[item.channel].ok()


def record_parts(db: sqlite_utils.Database, item_id: int, sent: int, total: int, first_part_id: int) -> None:
    """A transport that sends an item as several messages records each one as it leaves (before the
    next is sent): a later attempt, after a fault or a staff retry, goes on from the next part."""
    db.execute("UPDATE outbox SET parts_sent = ?, parts_total = ?, first_part_id = ? "
               "WHERE id = ? AND state = 'sending'", [sent, total, first_part_id, item_id])


def requeue(db: sqlite_utils.Database, item_id: int, actor: str) -> None:
    """Staff decided to send an ``uncertain`` or ``failed`` reply again (after checking it did not leave)."""
    row = one(db, "SELECT state, request_id FROM outbox WHERE id = ?", [item_id])
    if row is None:
        raise NotFound(f"no outbox item {item_id}")
    with db.atomic():
        if not move(db, item_id, ("uncertain", "failed"), "queued", "next_attempt_at = ?, last_error = NULL",
                    [now()]):
            state = (one(db, "SELECT state FROM outbox WHERE id = ?", [item_id]) or {}).get("state")
            raise ReviewError(f"outbox {item_id} is {state}: only uncertain or failed replies can be retried")
        log_event(db, "outbox.requeued", request_id=row["request_id"], outbox_id=item_id, actor=actor)
