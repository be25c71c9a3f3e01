"""Telegram out, from the outbox: an approved answer to a requester, at most once.

A long answer leaves as several messages, each recorded on the outbox item as it leaves, so that
no attempt sends a part twice; a call Telegram never answered makes the reply uncertain (see
``bot.outbox``), whichever part it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import sqlite_utils
from telegram import ReplyParameters
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError

from ..errors import PermanentSendError, TransientSendError, UncertainSendError
from ..outbox import OutboxItem, record_parts
from ..render import telegram_parts
from .telegram_posts import Gate

# A rate limit about to end is waited out by the transport rather than left to a later attempt
# (not longer: the outbox sends one reply at a time, e-mail ones too).
SHORT_WAIT = 5.0
# Short waits in a row before the part is left to a later attempt (Telegram keeps saying 429).
SHORT_WAITS = 3


def may_have_left(exc: TelegramError) -> bool:
    """True when a call broke off with no answer from Telegram after the request went out (a read
    timeout, a dropped connection): Telegram may have carried it out. An answer (429, 400, 5xx) and a
    connection never made (refused, pool full) mean nothing left."""
    cause = exc.__cause__
    return isinstance(cause, httpx.HTTPError) and not isinstance(
        cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class TelegramTransport:
    """The outbox's way of sending an approved answer to a Telegram user, at most once.

    A long answer leaves as several messages (``telegram_parts``), each recorded as it leaves
    (``record_parts``), so that an attempt never sends a part that left before. A 429 on a part is
    waited out (through the ``Gate`` shared with the posting loop) and that part sent then; a wait
    longer than ``wait_at_most`` is left to the outbox's next attempt, which goes on from that part.
    A call with no answer (``may_have_left``) makes the reply uncertain, for staff to check.
    """

    channel = "telegram"

    def __init__(self, bot_getter: Callable[[], object], gate: Gate, db: sqlite_utils.Database) -> None:
        self._bot = bot_getter
        self.gate = gate  # shared with the posting loop: a 429 anywhere holds every chat
        self.db = db  # where the parts that left are recorded (the outbox)
        self.wait_at_most = SHORT_WAIT

    async def send(self, item: OutboxItem, commit: Callable[[], None]) -> str:
        parts = telegram_parts(item.body)  # the draft is Markdown; Telegram gets its HTML, cut where valid
        if not parts:
            raise PermanentSendError("the answer renders to nothing")
        if item.parts_sent and item.parts_total != len(parts):
            raise PermanentSendError(f"{item.parts_sent} of {item.parts_total} parts left before, and the answer "
                                     f"is now cut in {len(parts)}: send the rest by hand")
        await self._wait_gate(item.parts_sent, len(parts))
        bot = self._bot()
        chat_id = int(item.recipient)
        reply_to = int(item.in_reply_to.split(":")[1]) if ":" in item.in_reply_to else None
        first = item.first_part_id
        commit()
        for index in range(item.parts_sent, len(parts)):
            if index > item.parts_sent:
                await self._wait_gate(index, len(parts))
            sent = await self._send_part(bot, chat_id, parts, index, reply_to if index == 0 else None)
            if first is None:  # part 1: the parts after it are sent only once it is recorded
                first = sent
            record_parts(self.db, item.id, index + 1, len(parts), first)
        return f"{chat_id}:{first}"

    async def _wait_gate(self, index: int, total: int) -> None:
        """Wait for the gate if it opens soon; else leave it to a later attempt (from part ``index``)."""
        if wait := self.gate.remaining():
            if wait > self.wait_at_most:
                raise TransientSendError(f"Telegram rate limit: waiting {wait:.0f}s before part {index + 1} of "
                                         f"{total}", retry_after=wait)
            await asyncio.sleep(wait)

    async def _send_part(self, bot: Any, chat_id: int, parts: list[str], index: int, reply_to: int | None) -> int:
        """Send part ``index``; its message id. Raises what the outbox makes of a fault."""
        where = f"part {index + 1} of {len(parts)}"
        waits = 0
        while True:
            try:
                message = await bot.send_message(
                    chat_id=chat_id, text=parts[index], parse_mode="HTML",
                    reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None)
                return int(message.message_id)
            except RetryAfter as exc:  # Telegram answered: the part did not leave
                wait = self.gate.held(exc)
                waits += 1
                if wait > self.wait_at_most or waits > SHORT_WAITS:
                    raise TransientSendError(f"Telegram rate limit: {where}: {exc}", retry_after=wait) from exc
                await asyncio.sleep(self.gate.remaining())
            except (Forbidden, BadRequest, InvalidToken) as exc:
                raise PermanentSendError(f"Telegram refused {where}: {exc}") from exc
            except TelegramError as exc:
                if may_have_left(exc):
                    raise UncertainSendError(f"Telegram: no answer to {where}, it may have left: {exc}") from exc
                raise TransientSendError(f"Telegram unreachable: {where}: {exc}") from exc

    async def reconcile(self, item: OutboxItem) -> bool:
        return False  # the Bot API keeps no record we could look up

    async def file_copy(self, item: OutboxItem) -> None:
        return None
