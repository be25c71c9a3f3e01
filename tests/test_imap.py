"""The IMAP reader against a real Dovecot: IDLE, UID tracking, restarts, drops."""

from __future__ import annotations

import asyncio
import imaplib
import json
from pathlib import Path

from bot.channels.imap import ImapReader, parse_fetch
from bot.service import Core
from tests.conftest import PASSWORD, append, make_config, reader_running, wait_for
from tests.mails import mail
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer
from tests.test_send import STAFF, outbox_for


def stored(core: Core) -> list[str]:
    return [r["external_id"] for r in core.db.query("SELECT external_id FROM messages WHERE direction = 'in' "
                                                    "ORDER BY id")]


def test_parse_fetch_pairs_uid_and_literal() -> None:
    lines = [b"1 FETCH (UID 7 BODY[] {5}", bytearray(b"hello"), b")", b"3 EXISTS",
             b"2 FETCH (BODY[] {3}", bytearray(b"abc"), b" UID 9)", b"Fetch completed"]
    assert parse_fetch(lines) == [(7, b"hello"), (9, b"abc")]


async def run_reader(reader: ImapReader, until, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    try:
        await wait_for(until, timeout)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_backlog_is_taken_in_order_and_restart_resumes(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    ids = [f"<m{i}@asso.example>" for i in range(5)]
    await append(dovecot, *(mail(f"Question {i} sur le service civique", message_id=ids[i]) for i in range(3)))
    seen: list[bytes] = []

    def take(raw: bytes):  # type: ignore[no-untyped-def]
        seen.append(raw)
        return core.take_mail(raw)

    assert core.config.imap is not None
    await run_reader(ImapReader(core.config.imap, core.db, take), lambda: len(stored(core)) == 3)
    assert stored(core) == ids[:3]
    await append(dovecot, *(mail(f"Question {i}", message_id=ids[i]) for i in range(3, 5)))
    seen.clear()
    # A new reader (a restart) starts after the last UID it stored: only the two new ones are fetched.
    await run_reader(ImapReader(core.config.imap, core.db, take), lambda: len(stored(core)) == 5)
    assert stored(core) == ids
    assert len(seen) == 2
    position = core.db["imap_state"].get("INBOX")
    assert position["last_uid"] == 5


async def test_idle_push_takes_a_new_message_quickly(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    reader, stop, task = await reader_running(core)
    await wait_for(reader.connected.is_set)
    await asyncio.sleep(0.3)  # let it enter IDLE
    loop = asyncio.get_running_loop()
    start = loop.time()
    await append(dovecot, mail(message_id="<idle@asso.example>"))
    await wait_for(lambda: stored(core) == ["<idle@asso.example>"], timeout=5)
    elapsed = loop.time() - start
    stop.set()
    await asyncio.wait_for(task, 10)
    # Not a speed assertion: with polling every second (poll_interval = 1) this would still pass,
    # so check the reader really was idling, not polling.
    assert core.db.execute("SELECT count(*) FROM drafts").fetchone()[0] == 1
    assert elapsed < 5


async def test_mail_delivered_while_the_reader_is_busy_is_not_left_for_later(tmp_path: Path, dovecot: Dovecot) -> None:
    # The server reports the new message (untagged EXISTS) with the response of whatever command
    # is running; if the reader then enters IDLE, no push comes for it. It must notice anyway.
    core = Core.build(make_config(tmp_path, dovecot))
    assert core.config.imap is not None
    await append(dovecot, mail("Premier message", message_id="<first@asso.example>"))

    def take(raw: bytes):  # type: ignore[no-untyped-def]
        if not stored(core):
            with imaplib.IMAP4("127.0.0.1", dovecot.port) as other:
                other.login("info", PASSWORD)
                other.append("INBOX", None, None, mail("Arrivé pendant le travail", message_id="<busy@asso.example>"))
                # Another client (a webmail, say) sees it first and takes its \\Recent flag, so the
                # reader gets no RECENT at IDLE either: only the EXISTS that came with its last command.
                other.select("INBOX")
        return core.take_mail(raw)

    reader = ImapReader(core.config.imap, core.db, take)
    await run_reader(reader, lambda: len(stored(core)) == 2, timeout=8)
    assert stored(core) == ["<first@asso.example>", "<busy@asso.example>"]


async def test_duplicate_message_id_is_stored_once(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    raw = mail(message_id="<same@asso.example>")
    await append(dovecot, raw, raw, mail(message_id="<other@asso.example>"))
    assert core.config.imap is not None
    reader = ImapReader(core.config.imap, core.db, core.take_mail)
    state = core.db["imap_state"]
    await run_reader(reader, lambda: state.count and state.get("INBOX")["last_uid"] == 3)
    assert stored(core) == ["<same@asso.example>", "<other@asso.example>"]
    assert core.db["drafts"].count == 2


async def test_crash_between_fetch_and_store_fetches_again(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    await append(dovecot, mail(message_id="<a@asso.example>"), mail(message_id="<b@asso.example>"))
    calls = {"n": 0}

    def flaky_take(raw: bytes):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("simulated crash while storing the second message")
        return core.take_mail(raw)

    assert core.config.imap is not None
    await run_reader(ImapReader(core.config.imap, core.db, flaky_take), lambda: len(stored(core)) == 2)
    assert stored(core) == ["<a@asso.example>", "<b@asso.example>"]
    assert calls["n"] == 3  # the second message was fetched again after the failure


async def test_server_dropped_mid_idle_reconnects(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    _reader, stop, task = await reader_running(core)
    await append(dovecot, mail(message_id="<before@asso.example>"))
    await wait_for(lambda: len(stored(core)) == 1)
    await asyncio.sleep(0.3)
    await asyncio.to_thread(dovecot.restart)
    await append(dovecot, mail(message_id="<after@asso.example>"))
    await wait_for(lambda: len(stored(core)) == 2, timeout=15)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert stored(core) == ["<before@asso.example>", "<after@asso.example>"]


async def test_polling_fallback_when_idle_is_off(tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot, extra=""))
    assert core.config.imap is not None
    from dataclasses import replace

    cfg = replace(core.config.imap, idle=False, poll_interval=0.2)
    reader = ImapReader(cfg, core.db, core.take_mail)
    polls = {"n": 0}
    original = reader.catch_up

    async def counting_catch_up(client, uidvalidity):  # type: ignore[no-untyped-def]
        polls["n"] += 1
        return await original(client, uidvalidity)

    reader.catch_up = counting_catch_up  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    await wait_for(reader.connected.is_set)
    await append(dovecot, mail(message_id="<polled@asso.example>"))
    await wait_for(lambda: stored(core) == ["<polled@asso.example>"], timeout=5)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert polls["n"] >= 2  # it found the message by polling again, not through IDLE


async def test_wrong_password_is_reported_plainly(tmp_path: Path, dovecot: Dovecot) -> None:
    from dataclasses import replace

    from bot.channels.imap import ImapError, connect

    core = Core.build(make_config(tmp_path, dovecot))
    assert core.config.imap is not None
    try:
        await connect(replace(core.config.imap, password="wrong"))
    except ImapError as exc:
        assert "wrong user name or password" in str(exc)
    else:
        raise AssertionError("login with a wrong password succeeded")


async def test_two_different_mails_with_one_message_id_are_both_kept(tmp_path: Path, dovecot: Dovecot,
                                                                     smtp: SmtpServer) -> None:
    # A mailing list re-sending, or two senders' clients picking the same id: the same Message-ID on
    # different mails. A copy of the same mail (the same content) is still stored once.
    core = Core.build(make_config(tmp_path, dovecot, smtp))
    first = mail("Comment adhérer au réseau ?", subject="Adhésion", sender="Marie <marie@asso.example>",
                 message_id="<same@asso.example>")
    other = mail("Comment partir en service civique ?", subject="Service civique", sender="Paul <paul@autre.example>",
                 message_id="<same@asso.example>")
    await append(dovecot, first, other, first)
    assert core.config.imap is not None
    reader = ImapReader(core.config.imap, core.db, core.take_mail)
    state = core.db["imap_state"]
    await run_reader(reader, lambda: state.count and state.get("INBOX")["last_uid"] == 3)
    rows = list(core.db.query("SELECT sender, request_id FROM messages WHERE direction = 'in' ORDER BY id"))
    assert [r["sender"] for r in rows] == ["marie@asso.example", "paul@autre.example"]
    assert rows[0]["request_id"] != rows[1]["request_id"]
    collisions = [json.loads(r["detail"]) for r in core.db.query(
        "SELECT detail FROM events WHERE kind = 'message.id_collision'")]
    assert len(collisions) == 1 and collisions[0]["other_request"] == rows[0]["request_id"]
    paul = next(d for d in core.review.pending() if d.sender == "paul@autre.example")
    assert any("même Message-ID" in note for note in paul.notes), paul.notes
    from bot import notices

    assert any("même Message-ID" in n.text for n in notices.pending(core.db, "telegram"))  # posted to staff once
    assert reader.missing == []
    # Paul's answer is threaded on the Message-ID his mail really had.
    core.review.approve(paul.id, STAFF)
    assert await outbox_for(core).flush() == 1
    assert smtp.received[0].message["In-Reply-To"] == "<same@asso.example>"
    assert smtp.received[0].rcpt_tos == ["paul@autre.example"]


async def test_reconciliation_flags_a_uid_with_no_stored_row_even_when_its_message_id_is_known(
        tmp_path: Path, dovecot: Dovecot) -> None:
    core = Core.build(make_config(tmp_path, dovecot))
    await append(dovecot, mail("Première", message_id="<dup@asso.example>", sender="a@asso.example"),
                 mail("Seconde, autre contenu", message_id="<dup@asso.example>", sender="b@autre.example"))
    assert core.config.imap is not None
    state = core.db["imap_state"]
    await run_reader(ImapReader(core.config.imap, core.db, core.take_mail),
                     lambda: state.count and state.get("INBOX")["last_uid"] == 2)
    lost = core.db.execute("SELECT id FROM messages WHERE sender = 'b@autre.example'").fetchone()[0]
    for sql in ("DELETE FROM imap_uids WHERE message_id = ?", "DELETE FROM drafts WHERE message_id = ?",
                "DELETE FROM message_sources WHERE message_id = ?", "DELETE FROM messages WHERE id = ?"):
        core.db.execute(sql, [lost])  # as the old intake did: kept only the first of the two
    reader = ImapReader(core.config.imap, core.db, core.take_mail)
    await run_reader(reader, lambda: reader.missing == [2])
