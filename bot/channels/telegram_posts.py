"""Everything the bot posts outside the outbox, written down before it is sent.

Staff cards, prompts, warnings and full texts in the staff chat, acknowledgements and command
replies in requesters' chats: each is first a row of ``telegram_posts``, then one loop sends and
edits them in order (``Posts.flush``). A Telegram fault delays a post, never loses it: a 429 holds
every chat for its ``retry_after`` (the ``Gate``), a 5xx or a timeout is retried, and a post that
Telegram refuses for good (a 400) is marked and skipped, so it never blocks the ones after it.

In the staff chat a post is marked ``posting``, with the highest message id known there, before
it is sent. A crash or a timeout after Telegram took it leaves an orphan whose id we never heard:
the next round looks for it by editing the few message ids after that mark (Telegram refuses an
edit of anyone else's message, or of a message that does not exist) and adopts it, instead of
posting it twice; a press on the orphan's buttons adopts it too (``Posts.card``). When no id was
known in the chat yet (the very first post), the post is sent again and the orphan is looked for
just before its new id, then edited (which proves it is ours) and deleted. In a
requester's chat an interrupted acknowledgement is simply sent again: a second "Merci" is
harmless, a lost one is not (answers, in the outbox, are at most once).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from telegram import Bot, ForceReply, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from ..errors import GuichetError
from ..privacy import forget_chat
from ..store import now, one
from ..waiting import sleep_or_stop

log = logging.getLogger("guichet.telegram")

# Opt in to PTB's coming duration type (timedelta): with the int form every 429 raises a
# deprecation warning inside PTB. retry_after_s reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")

# An orphan is looked for among this many message ids after the last one known in the chat.
PROBE = 20
# What each edit turns a post into once Telegram has it.
EDITS = {"refresh": "open", "closing": "closed", "stale": "replaced", "erasing": "erased"}
DUE = ("wanted", "posting", *EDITS)


def retry_after_s(exc: RetryAfter) -> float:
    """Seconds to wait, whether PTB gives an int (v22 default) or a timedelta (its future default)."""
    with warnings.catch_warnings():
        # Reading the int form warns about the coming change of type; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def not_modified(exc: TelegramError) -> bool:
    """Telegram's answer to an edit that changes nothing (a double tap): the edit is already there."""
    return isinstance(exc, BadRequest) and "not modified" in exc.message.lower()


class Gate:
    """Telegram's flood control: after a 429, no call before ``retry_after`` has passed, in any chat."""

    def __init__(self) -> None:
        self._until = 0.0

    def hold(self, seconds: float) -> None:
        self._until = max(self._until, time.monotonic() + seconds)

    def held(self, exc: RetryAfter) -> float:
        """Hold the gate for as long as a 429 asks; those seconds."""
        seconds = retry_after_s(exc)
        self.hold(seconds)
        return seconds

    def remaining(self) -> float:
        return max(0.0, self._until - time.monotonic())

    async def wait(self, stop: asyncio.Event) -> None:
        """Until the gate opens (a new message does not cut the wait short), or ``stop``."""
        while (left := self.remaining()) > 0 and not stop.is_set():
            await sleep_or_stop(stop, left)


@dataclass(frozen=True)
class Message:
    """What a post looks like now: its text, how it is marked up, its buttons, what it answers."""

    text: str
    parse_mode: str | None = "HTML"
    markup: InlineKeyboardMarkup | ForceReply | None = None
    reply_to: int | None = None

    def fingerprint(self) -> str:
        markup = json.dumps(self.markup.to_dict() if self.markup else None, sort_keys=True)
        return hashlib.sha1(f"{self.parse_mode}\0{self.text}\0{markup}".encode()).hexdigest()


# A post's look, from its row (None: nothing to show any more, the post is dropped).
Render = Callable[[dict[str, Any]], Message | None]


def text_message(row: dict[str, Any]) -> Message | None:
    """A post whose text was written down with it (HTML, escaped by whoever wrote it)."""
    if row["text"] is None:
        return None
    return Message(row["text"], reply_to=int(row["reply_to"]) if row["reply_to"] else None)


class Posts:
    """The ``telegram_posts`` table and the one loop step that sends and edits what it holds."""

    def __init__(self, db: sqlite_utils.Database, staff_chat_id: int) -> None:
        self.db = db
        self.staff_chat = str(staff_chat_id)
        self.gate = Gate()
        self.wake = asyncio.Event()
        self._seen: dict[str, int] = {}
        self._flying: set[int] = set()  # drafts whose card is being sent right now
        self._lock = asyncio.Lock()
        # Told the post and Telegram's words when Telegram refuses a staff-chat post for good.
        self.on_refused: Callable[[dict[str, Any], str], None] = lambda row, error: None

    # --- recording ------------------------------------------------------------------------------

    def want(self, chat_id: int | str, kind: str, *, key: str | None = None, **fields: Any) -> int | None:
        """Record a post to send; with ``key``, once only (a redelivered update posts nothing twice)."""
        row = {"chat_id": str(chat_id), "kind": kind, "state": "wanted", "key": key, "created_at": now(), **fields}
        columns = ", ".join(row)
        cursor = self.db.execute(f"INSERT OR IGNORE INTO telegram_posts ({columns}) VALUES "
                                 f"({', '.join('?' * len(row))})", list(row.values()))
        self.wake.set()
        return cursor.lastrowid if cursor.rowcount else None

    def find(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        return one(self.db, "SELECT * FROM telegram_posts WHERE chat_id = ? AND message_id = ?",
                   [str(chat_id), str(message_id)])

    async def card(self, chat_id: int | str, message_id: int, draft_id: int) -> dict[str, Any] | None:
        """The card behind a press on ``message_id``. One still on its way (Telegram showed it before we
        heard back) is waited for; one whose id we never heard (posted, then a crash) is that draft's
        interrupted card: it is adopted (its id recorded, and refreshed). None when there is no such card."""
        for _ in range(100):
            row = self.find(chat_id, message_id)
            if row is not None or draft_id not in self._flying:
                break
            await asyncio.sleep(0.05)
        return row or self._adopt(chat_id, message_id, draft_id)

    def _adopt(self, chat_id: int | str, message_id: int, draft_id: int) -> dict[str, Any] | None:
        row = one(self.db, "SELECT * FROM telegram_posts WHERE chat_id = ? AND draft_id = ? AND kind = 'card' "
                           "AND state = 'posting' AND message_id IS NULL ORDER BY id LIMIT 1", [str(chat_id), draft_id])
        if row is None or draft_id in self._flying or not self._set(row["id"], "posting", state="refresh",
                                                                      message_id=str(message_id)):
            return None
        log.warning("telegram post %s: found again as message %s (a press on it)", row["id"], message_id)
        self.wake.set()
        return self.find(chat_id, message_id)

    def seen(self, chat_id: int | str, message_id: int) -> None:
        """A message id seen in a chat (an update): an orphan of ours can only come after it."""
        chat = str(chat_id)
        self._seen[chat] = max(self._seen.get(chat, 0), message_id)

    def waiting(self) -> int:
        marks = ",".join("?" * len(DUE))
        return int(self.db.execute(f"SELECT count(*) FROM telegram_posts WHERE state IN ({marks})", DUE).fetchone()[0])

    def _set(self, row_id: int, expected: str, **fields: Any) -> bool:
        """Compare-and-set: a handler may have moved the post on while we were waiting for Telegram."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        return bool(self.db.execute(f"UPDATE telegram_posts SET {assignments} WHERE id = ? AND state = ?",
                                    [*fields.values(), row_id, expected]).rowcount)

    def _last_known(self, chat: str) -> int:
        row = self.db.execute("SELECT max(CAST(message_id AS INTEGER)) FROM telegram_posts WHERE chat_id = ?",
                              [chat]).fetchone()
        return max(int(row[0] or 0), self._seen.get(chat, 0))

    # --- sending --------------------------------------------------------------------------------

    async def flush(self, bot: Bot, render: Render, limit: int = 50) -> bool:
        """Send and edit what is due, oldest first; True when more is left for another round.

        A 429 holds the gate and ends the round (re-raised); so does any fault that is not about
        one post (5xx, timeout, the bot removed from the staff chat): the next round goes on.
        """
        async with self._lock:
            marks = ",".join("?" * len(DUE))
            rows = list(self.db.query(f"SELECT * FROM telegram_posts WHERE state IN ({marks}) ORDER BY id "
                                      f"LIMIT {limit}", DUE))
            for row in rows:
                if self.gate.remaining():
                    return True
                await self._step(bot, row, render)
            return len(rows) == limit

    async def _step(self, bot: Bot, row: dict[str, Any], render: Render) -> None:
        try:
            message = render(row)
        except GuichetError as exc:  # what it showed is gone (a draft deleted by hand): nothing to post
            log.warning("telegram post %s (%s) dropped: %s", row["id"], row["kind"], exc)
            message = None
        if message is None:
            self._set(row["id"], row["state"], state="cancelled")
            return
        try:
            if row["state"] == "wanted":
                await self._send(bot, row, message)
            elif row["state"] == "posting":
                await self._recover(bot, row, message)
            elif row["message_id"] is None:  # never shown (an interrupted post found no more): nothing to edit
                self._set(row["id"], row["state"], state="cancelled")
            else:
                await self._edit(bot, row, message)
        except RetryAfter as exc:
            self.gate.held(exc)
            raise
        except (BadRequest, Forbidden) as exc:
            if row["chat_id"] == self.staff_chat and _about_the_chat(exc):
                raise  # not this post's fault: every post to the staff chat would meet it
            self._refused(row, exc)

    async def _send(self, bot: Bot, row: dict[str, Any], message: Message) -> None:
        # Written before the call: if we never hear back, the next round knows to look for it.
        self._set(row["id"], "wanted", state="posting", after_message_id=self._last_known(row["chat_id"]))
        flying = row["draft_id"] if row["kind"] == "card" else None
        if flying is not None:
            self._flying.add(flying)
        try:
            sent = await bot.send_message(
                int(row["chat_id"]), message.text, parse_mode=message.parse_mode, reply_markup=message.markup,
                reply_parameters=ReplyParameters(message.reply_to, allow_sending_without_reply=True)
                if message.reply_to else None)
        except (RetryAfter, BadRequest, Forbidden):
            self._set(row["id"], "posting", state="wanted")  # Telegram answered: nothing was posted
            raise
        else:
            # Recorded before anything else can fail.
            self._posted(row, "posting", sent.message_id, message)
        finally:
            if flying is not None:
                self._flying.discard(flying)
        if row["interrupted"]:
            await self._clear_orphan(bot, row, sent.message_id)

    async def _clear_orphan(self, bot: Bot, row: dict[str, Any], message_id: int) -> None:
        """Best effort: an orphan left unrecorded is harmless (its buttons are refused), only clutter."""
        chat = int(row["chat_id"])
        known = self._known(row["chat_id"])
        try:
            for candidate in range(message_id - 1, max(message_id - PROBE, 0), -1):
                if candidate in known:
                    continue
                try:
                    await bot.edit_message_text("↪️ Doublon (envoi interrompu) : voir le message suivant.", chat_id=chat,
                                                message_id=candidate)
                except BadRequest as exc:
                    if not not_modified(exc):
                        continue  # not ours, or gone
                log.warning("telegram post %s: its interrupted first copy, message %s, is removed", row["id"],
                            candidate)
                await bot.delete_message(chat, candidate)
                break
        except TelegramError as exc:
            log.info("telegram post %s: interrupted copy not removed: %s", row["id"], exc)
        self.db.execute("UPDATE telegram_posts SET interrupted = 0 WHERE id = ?", [row["id"]])

    def _known(self, chat: str) -> set[int]:
        return {int(r["message_id"]) for r in self.db.query(
            "SELECT message_id FROM telegram_posts WHERE chat_id = ? AND message_id IS NOT NULL", [chat])}

    def _posted(self, row: dict[str, Any], expected: str, message_id: int, message: Message) -> None:
        state = "open" if row["kind"] in ("card", "prompt") else "sent"
        if not self._set(row["id"], expected, state=state, message_id=str(message_id), shown=message.fingerprint(),
                         posted_at=now(), error=None):
            # Moved on meanwhile (erased, superseded): keep the id so that the next round edits it.
            self.db.execute("UPDATE telegram_posts SET message_id = ?, shown = ?, posted_at = ? WHERE id = ?",
                            [str(message_id), message.fingerprint(), now(), row["id"]])
        if row["kind"] == "forget":
            forget_chat(self.db, row["chat_id"])

    async def _recover(self, bot: Bot, row: dict[str, Any], message: Message) -> None:
        if row["chat_id"] != self.staff_chat:
            self._set(row["id"], "posting", state="wanted")  # at least once: send the acknowledgement again
            return
        known = self._known(row["chat_id"])
        start = int(row["after_message_id"] or 0)
        keyboard = message.markup if isinstance(message.markup, InlineKeyboardMarkup) else None
        for candidate in range(start + 1, start + PROBE + 1) if start else ():
            if candidate in known:
                continue
            try:
                await bot.edit_message_text(message.text, chat_id=int(row["chat_id"]), message_id=candidate,
                                            parse_mode=message.parse_mode, reply_markup=keyboard)
            except BadRequest as exc:
                if not not_modified(exc):
                    continue  # someone else's message, a deleted one, or none yet
            log.warning("telegram post %s: found again as message %s after an interruption", row["id"], candidate)
            self._posted(row, "posting", candidate, message)
            return
        # Not found after the last known id (or none was known): post it now, then look just before it.
        self._set(row["id"], "posting", state="wanted", interrupted=1)

    async def _edit(self, bot: Bot, row: dict[str, Any], message: Message) -> None:
        keyboard = message.markup if isinstance(message.markup, InlineKeyboardMarkup) else None
        try:
            await bot.edit_message_text(message.text, chat_id=int(row["chat_id"]), message_id=int(row["message_id"]),
                                        parse_mode=message.parse_mode, reply_markup=keyboard)
        except BadRequest as exc:
            if not not_modified(exc):
                raise
        self._set(row["id"], row["state"], state=EDITS[row["state"]], shown=message.fingerprint())

    def _refused(self, row: dict[str, Any], exc: TelegramError) -> None:
        error = exc.message
        if row["state"] in EDITS:  # the message is gone or frozen: nothing more to do with it
            self._set(row["id"], row["state"], state=EDITS[row["state"]], error=error[:300])
            log.info("telegram post %s (%s) not edited: %s", row["id"], row["kind"], error)
            return
        self._set(row["id"], row["state"], state="refused", error=error[:300])
        log.warning("telegram post %s (%s) refused by Telegram for good: %s", row["id"], row["kind"], error)
        if row["kind"] == "forget":
            forget_chat(self.db, row["chat_id"])
        if row["chat_id"] == self.staff_chat:
            self.on_refused(row, error)


def _about_the_chat(exc: TelegramError) -> bool:
    return isinstance(exc, Forbidden) or "chat not found" in exc.message.lower()
