"""The Telegram part under faults of its own: a database it cannot write, a Bot API down at start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.conftest import HOLDER, append, wait_for
from tests.mails import mail
from tests.servers.botapi import BotApiServer
from tests.servers.dovecot import Dovecot
from tests.test_telegram import posted, running, staff_posts, tg_config, to_holder


@pytest.mark.parametrize("fault, undo", [("max_page_count = {pages}", "max_page_count = 1073741823"),
                                         ("query_only = 1", "query_only = 0")], ids=["disk-full", "read-only"])
async def test_a_message_that_cannot_be_stored_is_not_confirmed_to_telegram(
        tmp_path: Path, botapi: BotApiServer, caplog: pytest.LogCaptureFixture, fault: str, undo: str) -> None:
    # SQLite's max_page_count gives a real SQLITE_FULL (query_only a real SQLITE_READONLY) without a tmpfs.
    caplog.set_level(logging.INFO, logger="guichet")
    async with running(tg_config(tmp_path, botapi)) as service:
        db = service.core.db
        await wait_for(lambda: any(c.method == "getUpdates" for c in botapi.calls))
        db.execute("PRAGMA " + fault.format(pages=db.execute("PRAGMA page_count").fetchone()[0]))
        # Long enough to need new pages (a page limit lets small rows fill the last pages' free space).
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ? " + "Nous sommes une petite association. " * 600)
        update = botapi.last_update_id
        await wait_for(lambda: [r for r in caplog.records if r.name == "guichet.storage"])
        await asyncio.sleep(1.5)  # a round of waiting and retrying
        assert not service.stop.is_set()  # the service goes on
        assert db["messages"].count == 0 and not botapi.handled(update)  # not stored, so not confirmed
        db.execute("PRAGMA " + undo)  # space is back
        await posted(botapi)  # stored, drafted, put before staff
        await wait_for(lambda: [t for t in to_holder(botapi) if t.startswith("Merci")])
        await wait_for(lambda: botapi.handled(update))
        await asyncio.sleep(1.5)  # time for a second copy, if any
        assert db["messages"].count == 1 and db["drafts"].count == 1
    assert len(staff_posts(botapi)) == 1 and len([t for t in to_holder(botapi) if t.startswith("Merci")]) == 1
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "guichet.storage"]
    assert len(said) == 2 and said[0][0] == "ERROR" and "waiting" in said[0][1], said
    assert said[1] == ("INFO", "storage: the database can be written again")
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_bot_api_down_at_start_is_waited_for_while_mail_goes_on(
        tmp_path: Path, botapi: BotApiServer, dovecot: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="guichet")
    for _ in range(100):
        botapi.fail("getMe", 502)  # Telegram's gateway answers Bad Gateway until the test lets it through
    async with running(tg_config(tmp_path, botapi, dovecot=dovecot)) as service:
        await append(dovecot, mail("Bonjour, comment adhérer au réseau ?", message_id="<start@asso.example>"))
        await wait_for(lambda: service.core.db["drafts"].count == 1)  # the mail is taken in meanwhile
        await wait_for(lambda: len([c for c in botapi.calls if c.method == "getMe"]) >= 2)
        assert not service.stop.is_set()
        del botapi.failures["getMe"]  # Telegram is back
        await posted(botapi, timeout=15)  # the mail's card reaches the staff chat
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        await posted(botapi, 2)
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "guichet.telegram"]
    faults = [message for level, message in said if level == "WARNING"]
    assert len(faults) == 1 and "502" in faults[0] and "start" in faults[0], said
    assert ("INFO", "telegram-updates: working again") in said
    assert not [r for r in caplog.records if r.exc_info]
