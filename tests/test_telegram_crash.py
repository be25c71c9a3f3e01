"""SIGKILL right after Telegram took a staff card: the service as a subprocess, the Bot API on loopback.

The kill lands inside the Bot API server's handling of sendMessage, once the card exists on
"Telegram" and before the service hears its message id: the worst moment. After a restart the
card must be found again, not posted twice, and its buttons must work.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from bot.service import Core
from tests.conftest import ALICE, HOLDER, STAFF_CHAT, make_config, telegram_section, wait_for
from tests.servers.botapi import BotApiServer, Call
from tests.test_crash import query, start
from tests.test_telegram import staff_posts

pytestmark = pytest.mark.slow


def kill_on_card(botapi: BotApiServer, process: subprocess.Popen[bytes]) -> list[Call]:
    """SIGKILL ``process`` as soon as the server has posted a staff card (before it answers)."""
    killed: list[Call] = []

    def hook(call: Call) -> None:
        if (not killed and call.method == "sendMessage" and call.status == 200
                and int(call.params["chat_id"]) == STAFF_CHAT
                and "inline_keyboard" in json.dumps(call.params.get("reply_markup"))):
            os.kill(process.pid, signal.SIGKILL)
            killed.append(call)

    botapi.on_call = hook
    return killed


async def ended(process: subprocess.Popen[bytes]) -> None:
    await wait_for(lambda: process.poll() is not None, timeout=15)


async def test_a_card_posted_just_before_a_kill_is_found_again_not_posted_twice(tmp_path: Path,
                                                                               botapi: BotApiServer) -> None:
    config = make_config(tmp_path, extra=telegram_section(botapi))
    database = config.storage.database
    Core.build(config)  # the schema, before the first start
    log = tmp_path / "service.log"
    answered = "SELECT count(*) FROM outbox WHERE state = 'sent'"

    # 1. Killed right after the very first card, when no message id of the chat was known yet: it is
    # posted again, and the first copy, found just before the new one, is removed.
    process = start(config.source, log)
    killed = kill_on_card(botapi, process)
    botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
    await wait_for(lambda: killed, timeout=30)
    await ended(process)
    orphan = int(killed[0].result["message_id"])
    botapi.on_call = None
    process = start(config.source, log)
    await wait_for(lambda: (STAFF_CHAT, orphan) not in botapi.messages, timeout=30)
    first = int(staff_posts(botapi)[-1].result["message_id"])
    assert query(database, "SELECT message_id, state FROM telegram_posts WHERE kind = 'card'") == [(str(first), "open")]

    # 2. Killed right after the next card, and staff press its button while the service is down: the
    # card is found again after the last known id, or adopted by the press, never posted twice.
    killed = kill_on_card(botapi, process)
    botapi.message(HOLDER + 1, HOLDER + 1, "comment adhérer au réseau ?")
    await wait_for(lambda: killed, timeout=30)
    await ended(process)
    second = int(killed[0].result["message_id"])
    botapi.on_call = None
    draft = int(killed[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1])
    botapi.press(STAFF_CHAT, ALICE, second, f"g:{draft}:send", first_name="Alice")
    process = start(config.source, log)
    try:
        await wait_for(lambda: botapi.sent("answerCallbackQuery"), timeout=30)
        decided = query(database, f"SELECT state FROM drafts WHERE id = {draft}")
        if decided == [("pending",)]:  # adopted by the press: "read the card again", then sent
            await wait_for(lambda: query(database, "SELECT state FROM telegram_posts "
                                                   f"WHERE message_id = '{second}'") == [("open",)])
            botapi.press(STAFF_CHAT, ALICE, second, f"g:{draft}:send", first_name="Alice")
        await wait_for(lambda: query(database, answered)[0][0] == 1, timeout=15)
        await wait_for(lambda: [c for c in botapi.sent(chat_id=HOLDER + 1) if "GIP" in str(c.params["text"])])
        await asyncio.sleep(1.5)  # a round of the posting loop or two: time for a duplicate, if any
    finally:
        process.send_signal(signal.SIGTERM)
        await ended(process)
    assert process.returncode == 0, log.read_text()[-3000:]
    assert [int(c.result["message_id"]) for c in staff_posts(botapi)] == [orphan, first, second]
    rows = query(database, "SELECT message_id, state FROM telegram_posts WHERE kind = 'card' ORDER BY id")
    assert rows == [(str(first), "open"), (str(second), "closed")]
    live = [key for key, message in botapi.messages.items()
            if key[0] == STAFF_CHAT and "inline_keyboard" in message.markup]
    assert live == [(STAFF_CHAT, first)]  # the decided card has no buttons left, and no copy is left anywhere


async def test_a_kill_between_the_parts_of_an_answer_never_repeats_a_part(tmp_path: Path,
                                                                         botapi: BotApiServer) -> None:
    from bot.outbox import requeue
    from tests.test_telegram_delivery import ANSWER, part, received

    config = make_config(tmp_path, extra=telegram_section(botapi))
    database = config.storage.database
    desk = Core.build(config)  # a desk beside the service, as `guichet drafts approve` is
    log = tmp_path / "service.log"
    process = start(config.source, log)

    def kill(params: dict[str, object]) -> bool:
        """Part 2's call: the service dies as it sends it (it never reaches Telegram)."""
        if not part("B")(params):
            return False
        os.kill(process.pid, signal.SIGKILL)
        return True

    botapi.cut("sendMessage", carried_out=False, where=kill)
    botapi.message(HOLDER, HOLDER, "comment faire un service civique ?")
    await wait_for(lambda: staff_posts(botapi), timeout=30)
    draft = int(staff_posts(botapi)[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1])
    outbox_id = desk.review.approve(draft, "terminal:alice", text=ANSWER)
    await ended(process)
    assert [received(botapi, name) for name in "ABC"] == [1, 0, 0]
    process = start(config.source, log)
    try:
        # Restarted: part 2 may have left as far as the service knows, so the answer waits for staff.
        await wait_for(lambda: query(database, f"SELECT state, parts_sent FROM outbox WHERE id = {outbox_id}")
                       == [("uncertain", 1)], timeout=30)
        requeue(desk.db, outbox_id, "terminal:alice")  # staff checked: part 2 never arrived
        await wait_for(lambda: query(database, f"SELECT state FROM outbox WHERE id = {outbox_id}") == [("sent",)],
                       timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        await ended(process)
    assert process.returncode == 0, log.read_text()[-3000:]
    assert [received(botapi, name) for name in "ABC"] == [1, 1, 1]
