"""Faults against the real servers: dropped servers, rebuilt mailboxes, locked database, flaky APIs."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.service import Core
from tests.conftest import HOLDER, append, make_config, reader_running, telegram_section, unreachable_imap, wait_for
from tests.mails import mail
from tests.servers.botapi import BotApiServer
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer
from tests.test_send import approve_one, outbox_for


def ids(core: Core) -> list[str]:
    return [r["external_id"] for r in core.db.query("SELECT external_id FROM messages WHERE direction = 'in' "
                                                    "ORDER BY id")]


async def test_uidvalidity_change_neither_repeats_nor_skips(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    await append(dovecot, *(mail(f"Question {i}", message_id=f"<v{i}@asso.example>") for i in range(3)))
    _reader, stop, task = await reader_running(core)
    await wait_for(lambda: len(ids(core)) == 3)
    old = core.db["imap_state"].get("INBOX")["uidvalidity"]
    # Rebuild the mailbox: Dovecot's UID list gone, so every message gets a new UID and a new UIDVALIDITY.
    dovecot.kill()
    for state in (dovecot.base / "mail").rglob("dovecot*"):
        if state.is_file() and (state.name == "dovecot-uidlist" or state.name.startswith("dovecot.index")):
            state.unlink()
    await asyncio.sleep(1.1)  # Dovecot derives a new UIDVALIDITY from the clock
    await asyncio.to_thread(dovecot.restart)
    await append(dovecot, mail("Une nouvelle", message_id="<after@asso.example>"))
    await wait_for(lambda: len(ids(core)) == 4, timeout=20)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert core.db["imap_state"].get("INBOX")["uidvalidity"] != old
    assert ids(core) == [f"<v{i}@asso.example>" for i in range(3)] + ["<after@asso.example>"]
    assert core.db["drafts"].count == 4
    assert core.db.execute("SELECT count(*) FROM events WHERE kind = 'imap.uidvalidity_changed'").fetchone()[0] == 1


async def test_dovecot_down_mid_fetch_logs_once_and_catches_up(tmp_path: Path, dovecot: Dovecot,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    await append(dovecot, *(mail(f"Question {i} sur le service civique", message_id=f"<b{i}@asso.example>")
                            for i in range(200)))
    caplog.set_level(logging.WARNING, logger="guichet.imap")
    _reader, stop, task = await reader_running(core)
    await wait_for(lambda: len(ids(core)) >= 20, interval=0.001)
    dovecot.kill()  # mid-fetch: the backlog is being taken in
    taken_when_killed = len(ids(core))
    await asyncio.sleep(3)  # down for a while: backoff 1 s, 2 s…
    await asyncio.to_thread(dovecot.restart)
    await wait_for(lambda: len(ids(core)) == 200, timeout=30)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert taken_when_killed < 200
    assert sorted(ids(core)) == sorted(f"<b{i}@asso.example>" for i in range(200))
    warnings = [r for r in caplog.records if "reconnecting" in r.getMessage()]
    assert 1 <= len(warnings) <= 2, [r.getMessage() for r in warnings]  # not one per retry


async def test_reconciliation_warns_about_a_message_never_taken(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    await append(dovecot, *(mail(f"Q{i}", message_id=f"<r{i}@asso.example>", subject=f"S{i}") for i in range(3)))
    reader, stop, task = await reader_running(core)
    await wait_for(lambda: len(ids(core)) == 3)
    stop.set()
    await asyncio.wait_for(task, 10)
    lost = core.db.execute("SELECT id FROM messages WHERE external_id = '<r1@asso.example>'").fetchone()[0]
    core.db.execute("DELETE FROM drafts WHERE message_id = ?", [lost])
    core.db.execute("DELETE FROM message_sources WHERE message_id = ?", [lost])
    core.db.execute("DELETE FROM messages WHERE id = ?", [lost])  # as if it had been lost
    reader, stop, task = await reader_running(core)
    await wait_for(lambda: reader.missing == [2])
    stop.set()
    await asyncio.wait_for(task, 10)
    health = core.db["health"].get("imap")
    assert "1 message(s) in INBOX were never taken in (UIDs [2])" in health["last_error"]
    assert core.db.execute("SELECT count(*) FROM events WHERE kind = 'imap.reconcile_mismatch'").fetchone()[0] == 1


async def test_database_locked_by_another_process(tmp_path: Path, dovecot: Dovecot) -> None:
    config = make_config(tmp_path, dovecot)
    core = Core.build(config)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(3); c.execute('COMMIT')"),
        config.storage.database], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    started = asyncio.get_running_loop().time()
    await append(dovecot, mail(message_id="<locked@asso.example>"))
    _reader, stop, task = await reader_running(core)
    await wait_for(lambda: ids(core) == ["<locked@asso.example>"], timeout=20)
    waited = asyncio.get_running_loop().time() - started
    stop.set()
    await asyncio.wait_for(task, 10)
    assert holder.wait(10) == 0
    holder.stdout.close()
    assert waited >= 2, "the lock was not held: the test proves nothing"
    assert not task.exception()
    with sqlite3.connect(config.storage.database) as check:
        assert check.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


async def test_smtp_refuses_then_drops_then_accepts(tmp_path: Path, smtp: SmtpServer,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from tests.test_send import Clock

    caplog.set_level(logging.INFO, logger="guichet.outbox")
    core = Core.build(make_config(tmp_path, smtp=smtp))
    outbox_id = approve_one(core)
    clock = Clock()
    outbox = outbox_for(core, clock)
    smtp.handler.refuse = 1
    assert await outbox.flush() == 0  # 451
    smtp.stop()  # then the server is gone: connections refused, retry after retry
    for _ in range(4):
        clock.advance(3600)
        assert await outbox.flush() == 0
    assert "unreachable" in core.db["outbox"].get(outbox_id)["last_error"]
    assert core.db["health"].get("outbox email")["ok"] == 0
    smtp.restart()  # back on the same port
    clock.advance(3600)
    assert await outbox.flush() == 1
    clock.advance(7200)
    assert await outbox.flush() == 0
    assert len(smtp.received) == 1
    assert core.db["outbox"].get(outbox_id)["attempts"] == 6
    # Two faults (451, then unreachable four times), each said once, then the reply and the recovery once.
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "guichet.outbox"]
    assert [level for level, _ in said] == ["WARNING", "WARNING", "INFO", "INFO"], said
    assert "451" in said[0][1] and "unreachable" in said[1][1] and "working again" in said[3][1]
    assert said[2][1] == "reply sent: outbox 1, email, request 1, draft 1"
    assert not any("asso.example" in message for _, message in said)  # the logs name no one
    assert core.db["health"].get("outbox email")["ok"] == 1


async def test_telegram_faults_are_logged_once_per_fault(tmp_path: Path, botapi: BotApiServer,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from tests.test_telegram import posted, running, to_holder

    caplog.set_level(logging.INFO, logger="guichet")
    async with running(make_config(tmp_path, extra=telegram_section(botapi))) as service:
        await wait_for(lambda: any(c.method == "getUpdates" for c in botapi.calls))
        botapi.fail("getUpdates", 502)
        botapi.fail("getUpdates", 502)  # two failed polls in a row (1 s, then 2 s of backoff)
        await wait_for(lambda: len([c for c in botapi.calls if c.method == "getUpdates" and c.status == 502]) == 2)
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, _, _ = await posted(botapi)
        for _ in range(3):
            botapi.fail("sendMessage", 502)
        service.core.review.approve(draft_id, "terminal:alice")
        for attempt in range(1, 4):  # three attempts meet a Bad Gateway
            service.core.db["outbox"].update(1, {"next_attempt_at": "2000-01-01T00:00:00+00:00"})
            service.outbox.wake()
            await wait_for(lambda n=attempt: service.core.db["outbox"].get(1)["attempts"] == n)
        service.core.db["outbox"].update(1, {"next_attempt_at": "2000-01-01T00:00:00+00:00"})
        service.outbox.wake()
        await wait_for(lambda: any("GIP" in t for t in to_holder(botapi)))
    polls = [r.getMessage() for r in caplog.records if r.name == "guichet.telegram" and "getUpdates" in r.getMessage()]
    assert len(polls) == 1, polls
    sends = [r for r in caplog.records if r.name == "guichet.outbox" and r.levelname == "WARNING"]
    assert len(sends) == 1, [r.getMessage() for r in sends]
    recovered = [r.getMessage() for r in caplog.records if "working again" in r.getMessage()]
    assert "telegram-updates: working again" in recovered and "outbox telegram: working again" in recovered


async def test_bot_api_502_then_ok(tmp_path: Path, botapi: BotApiServer) -> None:
    from tests.test_telegram import posted, running, to_holder

    async with running(make_config(tmp_path, extra=telegram_section(botapi))) as service:
        botapi.fail("sendMessage", 502)  # the acknowledgement meets a Bad Gateway
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, _, _ = await posted(botapi)
        botapi.fail("sendMessage", 502)
        service.core.review.approve(draft_id, "terminal:alice")
        service.outbox.wake()
        await wait_for(lambda: service.core.db["outbox"].get(1)["last_error"])
        service.core.db["outbox"].update(1, {"next_attempt_at": "2000-01-01T00:00:00+00:00"})
        service.outbox.wake()
        await wait_for(lambda: any("GIP" in t for t in to_holder(botapi)))
        assert service.core.db["outbox"].get(1)["state"] == "sent"
    assert len([t for t in to_holder(botapi) if "GIP" in t]) == 1


async def test_our_own_reply_in_the_inbox_is_never_a_request(tmp_path: Path, dovecot: Dovecot,
                                                             smtp: SmtpServer) -> None:
    from bot.service import Service

    config = make_config(tmp_path, dovecot, smtp)
    service = Service(Core.build(config))
    task = asyncio.create_task(service.run())
    try:
        await append(dovecot, mail(message_id="<q@asso.example>", subject="Adhésion"))
        await wait_for(lambda: service.core.review.pending())
        service.core.review.approve(service.core.review.pending()[0].id, "terminal:alice")
        await wait_for(lambda: len(smtp.received) == 1)
        # The reply comes back to the info mailbox (a Bcc, a forward, an alias): it is ours.
        await append(dovecot, smtp.received[0].data)
        # So does a message from our own address with another Message-ID (an autoresponder quoting us).
        await append(dovecot, mail(sender="RESACOOP <info@reseau.example>", message_id="<z@elsewhere.example>",
                                   subject="Re: Adhésion"))
        # Question, our reply (stored when sent; its copy coming back is the same message), the autoresponder.
        await wait_for(lambda: service.core.db["messages"].count == 3)
        await wait_for(lambda: service.core.db["imap_state"].get("INBOX")["last_uid"] == 3)
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 15)
    rows = list(service.core.db.query("SELECT direction, machine FROM messages ORDER BY id"))
    assert [(r["direction"], r["machine"]) for r in rows] == [
        ("in", None), ("out", None), ("in", "from our own address (loop)")]
    assert service.core.db["requests"].count == 2 and service.core.review.pending() == []
    assert len(smtp.received) == 1
    from bot.channels.mailparse import parse_mail

    assert parse_mail(smtp.received[0].data, own_domain="guichet.reseau.example").machine == \
        "our own message (loop)"


def test_one_reply_at_a_time_per_request(tmp_path: Path) -> None:
    from bot.channels.mailparse import parse_mail
    from bot.errors import ReviewError

    core = Core.build(make_config(tmp_path))
    first = core.take_mail(mail(message_id="<a1@asso.example>", subject="Sujet"))
    core.review.approve(first.draft_id or 0, "terminal:alice")
    again = core.intake.take(parse_mail(mail("Et aussi ?", subject="Re: Sujet", message_id="<a2@asso.example>",
                                             headers={"In-Reply-To": "<a1@asso.example>"})))
    with pytest.raises(ReviewError, match="still waiting to be sent"):
        core.review.approve(again.draft_id or 0, "terminal:alice")
    core.db.execute("UPDATE outbox SET state = 'sent'")
    core.review.approve(again.draft_id or 0, "terminal:alice", text="Oui, aussi.")  # once the first has left
    assert core.db["outbox"].count == 2


def test_run_shuts_down_cleanly_on_sigterm_with_json_logs(tmp_path: Path) -> None:
    import json
    import os
    import signal
    import time

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "guichet.toml").write_text(unreachable_imap())
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--log-format", "json"], cwd=tmp_path,
                               env={**os.environ, "PYTHONPATH": str(root), "GUICHET_IMAP_PASSWORD": "x"},
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    first = json.loads(process.stderr.readline())  # logged once the service has started
    assert first["level"] == "INFO" and first["logger"] == "guichet"
    assert first["message"] == "guichet running (guichet.toml)"
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.strip()]
    process.stderr.close()
    assert lines[-1]["message"] == "guichet stopped"
    assert (tmp_path / "guichet.db").exists()  # embedded defaults: the SQLite file in the current folder


@pytest.mark.parametrize("fault, undo", [("max_page_count = {pages}", "max_page_count = 1073741823"),
                                         ("query_only = 1", "query_only = 0")], ids=["disk-full", "read-only"])
async def test_a_database_that_cannot_be_written_is_waited_for(tmp_path: Path, dovecot: Dovecot,
                                                               caplog: pytest.LogCaptureFixture,
                                                               fault: str, undo: str) -> None:
    # SQLite's max_page_count gives a real SQLITE_FULL (query_only a real SQLITE_READONLY) without a tmpfs.
    from bot.service import Service

    caplog.set_level(logging.INFO, logger="guichet")
    core = Core.build(make_config(tmp_path, dovecot))
    service = Service(core)
    task = asyncio.create_task(service.run())
    try:
        await append(dovecot, mail(message_id="<before@asso.example>"))
        await wait_for(lambda: core.db["drafts"].count == 1)
        core.db.execute("PRAGMA " + fault.format(pages=core.db.execute("PRAGMA page_count").fetchone()[0]))
        # Long enough to need new pages (a page limit lets small rows fill the last pages' free space).
        await append(dovecot, *(mail(f"Question {i} " + "sur le service civique. " * 800,
                                     message_id=f"<while{i}@asso.example>") for i in range(3)))
        await wait_for(lambda: [r for r in caplog.records if r.name == "guichet.storage"])
        await asyncio.sleep(1.5)  # a round of waiting and retrying
        assert not task.done()
        assert ids(core) == ["<before@asso.example>"]
        assert core.db["imap_state"].get("INBOX")["last_uid"] == 1  # the IMAP position stays where it was
        core.db.execute("PRAGMA " + undo)  # space is back
        await wait_for(lambda: len(ids(core)) == 4, timeout=30)
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 15)
    assert ids(core) == ["<before@asso.example>", *(f"<while{i}@asso.example>" for i in range(3))]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "guichet.storage"]
    assert len(said) == 2 and said[0][0] == "ERROR" and "waiting" in said[0][1], said
    assert said[1] == ("INFO", "storage: the database can be written again")
    assert not [r for r in caplog.records if r.exc_info]


def test_run_on_a_read_only_database_says_so_in_one_line(tmp_path: Path, secrets: None) -> None:
    import os

    config = make_config(tmp_path, extra=unreachable_imap())
    Core.build(config)
    database = config.storage.database
    if subprocess.run(["chattr", "+i", database], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        root = Path(__file__).resolve().parent.parent
        result = subprocess.run([sys.executable, "-m", "bot.cli", "--config", config.source, "run"], cwd=root,
                                env=os.environ, capture_output=True, text=True, timeout=30)
    finally:
        subprocess.run(["chattr", "-i", database], check=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: cannot write the database {database}: it is read-only "
                                          "(attempt to write a readonly database)"], result.stderr
