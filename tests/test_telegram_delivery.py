"""An answer in several Telegram messages: each part leaves once, or the reply is uncertain for staff.

Against the loopback Bot API server, which can refuse a part (429) or cut the connection without
answering, before or after carrying the call out (what the client sees is the same).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import Bot

from bot.channels.telegram_answers import TelegramTransport
from bot.channels.telegram_posts import Gate
from bot.errors import TransientSendError, UncertainSendError
from bot.outbox import OutboxItem, requeue
from bot.render import telegram_parts
from bot.service import Service
from bot.store import open_db
from tests.conftest import HOLDER, wait_for
from tests.servers.botapi import TOKEN, BotApiServer, Where
from tests.servers.dovecot import free_port
from tests.test_telegram import posted, running, tg_config

# Three sections of about 3,100 characters: three messages, one section each.
ANSWER = "\n\n".join(f"Partie {name}. " + "Le service civique est ouvert aux jeunes de 16 à 25 ans. " * 55
                     for name in "ABC")


def part(name: str) -> Where:
    """The calls that send section ``name`` of the answer to the requester."""
    return lambda params: int(params["chat_id"]) == HOLDER and f"Partie {name}." in str(params.get("text"))


def received(botapi: BotApiServer, name: str) -> int:
    """How many times the requester has section ``name`` in their chat (what Telegram delivered,
    answered or not)."""
    return sum(1 for (chat, _), message in botapi.messages.items()
               if chat == HOLDER and f"Partie {name}." in str(message.text))


async def approve_answer(botapi: BotApiServer, service: Service) -> int:
    botapi.message(HOLDER, HOLDER, "comment faire un service civique ?")
    draft_id, _, _ = await posted(botapi)
    outbox_id = service.core.review.approve(draft_id, "terminal:alice", text=ANSWER)
    service.outbox.wake()
    return outbox_id


def item(**fields: object) -> OutboxItem:
    values: dict[str, object] = {"id": 1, "request_id": 1, "channel": "telegram", "recipient": str(HOLDER),
                                 "subject": "", "body": ANSWER, "out_message_id": "", "in_reply_to": "",
                                 "references": [], "attempts": 0, **fields}
    return OutboxItem(**values)  # type: ignore[arg-type]


def test_the_answer_is_three_parts() -> None:
    parts = telegram_parts(ANSWER)
    assert [[name for name in "ABC" if f"Partie {name}." in text] for text in parts] == [["A"], ["B"], ["C"]]


async def test_a_429_then_a_cut_on_part_two_sends_no_part_twice(tmp_path: Path, botapi: BotApiServer) -> None:
    botapi.fail("sendMessage", 429, retry_after=1, where=part("B"))
    botapi.cut("sendMessage", carried_out=False, where=part("B"))
    async with running(tg_config(tmp_path, botapi)) as service:
        db = service.core.db
        outbox_id = await approve_answer(botapi, service)
        await wait_for(lambda: db["outbox"].get(outbox_id)["state"] == "uncertain", timeout=15)
        row = db["outbox"].get(outbox_id)
        # The 429 was waited out (retry_after, through the shared gate) and part 2 sent again then,
        # without part 1; then no answer at all to part 2: it may have left, so nothing more is sent.
        assert [received(botapi, name) for name in "ABC"] == [1, 0, 0]
        tries = [c for c in botapi.calls if c.method == "sendMessage" and part("B")(c.params)]
        assert [c.status for c in tries] == [429, -1] and tries[1].at - tries[0].at >= 0.9
        assert (row["parts_sent"], row["parts_total"], row["attempts"]) == (1, 3, 1)
        assert "part 2 of 3" in row["last_error"]
        # Staff checked that part 2 never arrived: the retry goes on from part 2, part 1 is not repeated.
        requeue(db, outbox_id, "terminal:alice")
        service.outbox.wake()
        await wait_for(lambda: db["outbox"].get(outbox_id)["state"] == "sent")
        first = next(c for c in botapi.sent(chat_id=HOLDER) if part("A")(c.params))
        stored = db.execute("SELECT external_id FROM messages WHERE direction = 'out'").fetchall()
    assert [received(botapi, name) for name in "ABC"] == [1, 1, 1]
    assert stored == [(f"{HOLDER}:{first.result['message_id']}",)]


async def test_a_long_429_on_part_two_resumes_there_on_the_next_attempt(tmp_path: Path,
                                                                        botapi: BotApiServer) -> None:
    botapi.fail("sendMessage", 429, retry_after=2, where=part("B"))
    async with running(tg_config(tmp_path, botapi)) as service:
        transport = service.outbox.transports["telegram"]
        assert isinstance(transport, TelegramTransport)
        transport.wait_at_most = 0.5  # longer waits are left to the outbox's next attempt
        db = service.core.db
        outbox_id = await approve_answer(botapi, service)
        await wait_for(lambda: db["outbox"].get(outbox_id)["parts_sent"] == 1 and
                       db["outbox"].get(outbox_id)["state"] == "queued")
        await wait_for(lambda: db["outbox"].get(outbox_id)["state"] == "sent", timeout=15)
        row = db["outbox"].get(outbox_id)
    tries = [c for c in botapi.calls if c.method == "sendMessage" and part("B")(c.params)]
    assert [c.status for c in tries] == [429, 200] and tries[1].at - tries[0].at >= 1.9
    assert [received(botapi, name) for name in "ABC"] == [1, 1, 1]
    assert (row["parts_sent"], row["parts_total"], row["attempts"]) == (3, 3, 2)


async def test_no_answer_to_part_one_is_uncertain_and_a_refused_connection_is_not(botapi: BotApiServer) -> None:
    short = item(body="Bonjour, voici la réponse.")
    botapi.cut("sendMessage", carried_out=True)  # Telegram delivered it, and the answer was lost on the way
    async with Bot(TOKEN, base_url=botapi.base_url) as bot:
        with pytest.raises(UncertainSendError, match="part 1 of 1"):
            await TelegramTransport(lambda: bot, Gate(), open_db(":memory:")).send(short, lambda: None)
    assert len([m for (chat, _), m in botapi.messages.items() if chat == HOLDER]) == 1
    # Nothing listens on this port: the connection is refused, so nothing can have left.
    nowhere = Bot(TOKEN, base_url=f"http://127.0.0.1:{free_port()}/bot")
    with pytest.raises(TransientSendError, match="unreachable"):
        await TelegramTransport(lambda: nowhere, Gate(), open_db(":memory:")).send(short, lambda: None)
