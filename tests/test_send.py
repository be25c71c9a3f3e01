"""The outbox and the SMTP transport against real aiosmtpd and Dovecot servers."""

from __future__ import annotations

import asyncio
import datetime as dt
import imaplib
import json
import ssl
from dataclasses import replace
from pathlib import Path

import aioimaplib
import aiosmtplib
import pytest

from bot.channels.imap import ImapReader, SentFolder
from bot.channels.smtp import MailTransport
from bot.config import load
from bot.outbox import Outbox, OutboxItem
from bot.service import Core
from tests.conftest import ENV, PASSWORD, imap_client, make_config, tls_sections, wait_for
from tests.mails import mail
from tests.servers.dovecot import Dovecot, free_port
from tests.servers.smtp import SmtpServer
from tests.servers.tls import self_signed

STAFF = "terminal:alice"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def outbox_for(core: Core, clock: Clock | None = None, timeout: float | None = None) -> Outbox:
    cfg = core.config
    assert cfg.smtp is not None
    sent = SentFolder(cfg.imap) if cfg.imap else None
    smtp = replace(cfg.smtp, timeout=timeout) if timeout else cfg.smtp
    transport = MailTransport(smtp, cfg.network, filer=sent.append if sent else None,
                              finder=sent.contains if sent else None)
    return Outbox(core.db, {"email": transport}, clock=clock)


def approve_one(core: Core, **kw: str) -> int:
    taken = core.take_mail(mail(**kw))
    assert taken.draft_id is not None
    return core.review.approve(taken.draft_id, STAFF)


async def sent_folder_ids(dovecot: Dovecot) -> list[str]:
    client = await imap_client(dovecot)
    await client.select("Sent")
    found = await client.uid("fetch", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    await client.logout()
    return [bytes(x).decode().split(":", 1)[1].strip() for x in found.lines if isinstance(x, bytearray)]


async def test_reply_is_threaded_sent_once_and_filed(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, dovecot, smtp))
    outbox_id = approve_one(core, subject="Re: RE: Question financement", message_id="<q@asso.example>",
                            headers={"References": "<older@asso.example>"})
    outbox = outbox_for(core)
    assert await outbox.flush() == 1
    assert await outbox.flush() == 0
    assert len(smtp.received) == 1
    got = smtp.received[0]
    assert got.rcpt_tos == ["marie@asso.example"] and got.mail_from == "info@reseau.example"
    msg = got.message
    row = core.db["outbox"].get(outbox_id)
    assert msg["Subject"] == "Re: Question financement"
    assert msg["In-Reply-To"] == "<q@asso.example>"
    assert msg["References"] == "<older@asso.example> <q@asso.example>"
    assert msg["Message-ID"] == row["out_message_id"]
    assert msg["Reply-To"] == "info@reseau.example"
    assert msg["From"] == "RESACOOP Information <info@reseau.example>"
    assert msg["Auto-Submitted"] is None  # a person approved it
    assert "Agence des Micro-Projets" in msg.get_body(("plain",)).get_content()
    assert row["state"] == "sent" and row["filed"] == 1
    assert await sent_folder_ids(dovecot) == [row["out_message_id"]]
    request = core.db["requests"].get(row["request_id"])
    assert request["status"] == "answered" and request["answered_at"]


async def test_over_tls_as_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual provider settings: IMAP on TLS from the first byte (993), SMTP with STARTTLS (587);
    # the certificate is trusted the way a real CA's would be, through the system's trust store.
    cert = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))
    with Dovecot(users={"info": PASSWORD}, certificate=cert) as imaps, \
            SmtpServer(starttls_context=cert.server_context(), users={"info@reseau.example": "smtp-pw"}) as smtp:
        make_config(tmp_path, extra=tls_sections(imaps.port, smtp.port, "info@reseau.example"))
        config = load(tmp_path / "guichet.toml", env={**ENV, "GUICHET_SMTP_PASSWORD": "smtp-pw"})
        core = Core.build(config)
        client = aioimaplib.IMAP4(host="127.0.0.1", port=imaps.port, ssl_context=ssl.create_default_context())
        await client.wait_hello_from_server()
        await client.login("info", PASSWORD)
        await client.append(mail(message_id="<tls@asso.example>"), mailbox="INBOX")
        await client.logout()
        assert config.imap is not None
        reader = ImapReader(config.imap, core.db, core.take_mail)
        stop = asyncio.Event()
        task = asyncio.create_task(reader.run(stop))
        await wait_for(lambda: core.db["drafts"].count == 1)
        stop.set()
        await asyncio.wait_for(task, 10)
        draft_id = next(core.db.query("SELECT id FROM drafts"))["id"]
        core.review.approve(draft_id, STAFF)
        assert await outbox_for(core).flush() == 1
        assert [r.message["In-Reply-To"] for r in smtp.received] == ["<tls@asso.example>"]
        assert core.db["outbox"].get(1)["filed"] == 1  # the copy went to Sent over TLS too
        # The server really required TLS, then a login.
        with pytest.raises(aiosmtplib.SMTPResponseException, match="STARTTLS"):
            await aiosmtplib.send(mail(), hostname="127.0.0.1", port=smtp.port, start_tls=False,
                                  sender="a@b.example", recipients=["c@d.example"])
        with pytest.raises(aiosmtplib.SMTPResponseException, match=r"[Aa]uth"):
            await aiosmtplib.send(mail(), hostname="127.0.0.1", port=smtp.port, start_tls=True,
                                  sender="a@b.example", recipients=["c@d.example"])


async def test_smtp_refusing_then_accepting_sends_exactly_once(tmp_path: Path, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    outbox_id = approve_one(core)
    smtp.handler.refuse = 2
    clock = Clock()
    outbox = outbox_for(core, clock)
    assert await outbox.flush() == 0
    row = core.db["outbox"].get(outbox_id)
    assert row["state"] == "queued" and "451" in row["last_error"] and row["attempts"] == 1
    assert await outbox.flush() == 0, "not due yet: backoff"
    clock.advance(6)
    assert await outbox.flush() == 0
    assert core.db["outbox"].get(outbox_id)["attempts"] == 2
    clock.advance(11)
    assert await outbox.flush() == 1
    clock.advance(3600)
    assert await outbox.flush() == 0
    assert smtp.handler.refused == 2
    assert len(smtp.received) == 1
    assert core.db["outbox"].get(outbox_id)["state"] == "sent"


async def test_smtp_down_keeps_the_reply_queued(tmp_path: Path) -> None:
    port = free_port()
    core = Core.build(make_config(tmp_path, extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\n'))
    outbox_id = approve_one(core)
    assert await outbox_for(core).flush() == 0
    row = core.db["outbox"].get(outbox_id)
    assert row["state"] == "queued" and "unreachable" in row["last_error"]


async def test_permanent_refusal_fails_for_staff(tmp_path: Path, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    outbox_id = approve_one(core, sender="Bob <bob@asso.example>")
    smtp.controller.handler.handle_RCPT = _refuse_rcpt  # type: ignore[attr-defined]
    assert await outbox_for(core).flush() == 0
    row = core.db["outbox"].get(outbox_id)
    assert row["state"] == "failed" and "550" in row["last_error"]
    assert smtp.received == []


async def _refuse_rcpt(server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
    return "550 5.1.1 No such user"


def _leave_sending(core: Core, outbox_id: int) -> OutboxItem:
    # What a crash right after DATA (or before it) leaves behind.
    core.db.execute("UPDATE outbox SET state = 'sending', attempts = 1 WHERE id = ?", [outbox_id])
    return OutboxItem.from_row(core.db["outbox"].get(outbox_id))


async def test_crash_after_send_is_reconciled_from_sent_folder(tmp_path: Path, dovecot: Dovecot,
                                                               smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, dovecot, smtp))
    outbox_id = approve_one(core)
    item = _leave_sending(core, outbox_id)
    outbox = outbox_for(core)
    await outbox.transports["email"].file_copy(item)  # the copy was filed before the crash
    await outbox.recover()
    assert core.db["outbox"].get(outbox_id)["state"] == "sent"
    assert await outbox.flush() == 0
    assert smtp.received == []  # not sent a second time


async def test_crash_with_no_proof_is_uncertain_not_resent(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, dovecot, smtp))
    outbox_id = approve_one(core)
    _leave_sending(core, outbox_id)
    outbox = outbox_for(core)
    await outbox.recover()
    assert core.db["outbox"].get(outbox_id)["state"] == "uncertain"
    assert await outbox.flush() == 0
    assert smtp.received == []
    rows = core.db.query("SELECT detail FROM events WHERE kind = 'outbox.uncertain'")
    events = [json.loads(e["detail"]) for e in rows]
    assert events == [{"outbox_id": outbox_id}]


@pytest.mark.parametrize("subject", ["Bonjour\r\nBcc: victim@example.org", "x\nContent-Type: text/html"])
async def test_header_injection_is_neutralised(tmp_path: Path, smtp: SmtpServer, subject: str) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    taken = core.take_mail(mail(subject="placeholder"))
    core.db["requests"].update(taken.request_id, {"subject": subject})
    core.review.approve(taken.draft_id or 0, STAFF)
    assert await outbox_for(core).flush() == 1
    msg = smtp.received[0].message
    assert msg["Bcc"] is None and smtp.received[0].rcpt_tos == ["marie@asso.example"]
    assert "\n" not in msg["Subject"] and msg.get_content_type() == "multipart/alternative"


def test_cli_outbox_list_and_retry(tmp_path: Path, secrets: None) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    config = make_config(tmp_path)
    core = Core.build(config)
    outbox_id = approve_one(core)
    runner = CliRunner()
    refused = runner.invoke(cli, ["--config", config.source, "outbox", "retry", str(outbox_id)])
    assert refused.exit_code == 2 and "only uncertain or failed" in refused.output
    core.db["outbox"].update(outbox_id, {"state": "uncertain"})
    listed = runner.invoke(cli, ["--config", config.source, "outbox", "list"])
    assert "uncertain" in listed.output and "1 réponse(s) pas encore partie(s)" in listed.output
    retried = runner.invoke(cli, ["--config", config.source, "outbox", "retry", str(outbox_id)])
    assert retried.exit_code == 0, retried.output
    assert core.db["outbox"].get(outbox_id)["state"] == "queued"


async def test_a_worker_that_lost_the_race_never_overwrites_a_delivered_reply(tmp_path: Path,
                                                                              smtp: SmtpServer) -> None:
    # Two workers on one database (what two running services were): both read the queue, one sends.
    core = Core.build(make_config(tmp_path, smtp=smtp))
    outbox_id = approve_one(core)
    other = Core.build(core.config)  # its own connection, like another process
    first, late = outbox_for(core), outbox_for(other)
    stale = late.due()
    assert await first.flush() == 1
    late.due = lambda: stale  # type: ignore[method-assign]  # it read the queue before the send
    assert await late.flush() == 0
    row = core.db["outbox"].get(outbox_id)
    assert row["state"] == "sent" and row["last_error"] is None
    assert len(smtp.received) == 1
    from bot.errors import ReviewError
    from bot.outbox import requeue

    with pytest.raises(ReviewError):  # so no retry can send it a second time
        requeue(core.db, outbox_id, STAFF)


async def test_smtp_answering_data_after_the_timeout_is_never_sent_twice(tmp_path: Path, dovecot: Dovecot,
                                                                         smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, dovecot, smtp))
    outbox_id = approve_one(core)
    smtp.handler.slow_data = 1.5  # the server takes the mail, then answers DATA after our 1 s timeout
    clock = Clock()
    outbox = outbox_for(core, clock, timeout=1.0)
    assert await outbox.flush() == 0
    clock.advance(3600)
    assert await outbox.flush() == 0  # no blind retry
    await wait_for(lambda: len(smtp.received) >= 1)
    await asyncio.sleep(1.0)  # any second copy would have arrived by now
    assert len(smtp.received) == 1
    row = core.db["outbox"].get(outbox_id)
    assert row["state"] == "uncertain" and row["attempts"] == 1  # for staff: guichet outbox list / retry
    assert [json.loads(e["detail"]) for e in core.db.query("SELECT detail FROM events WHERE kind = "
                                                           "'outbox.uncertain'")] == [{"outbox_id": outbox_id}]
    assert await sent_folder_ids(dovecot) == []


async def test_a_late_data_answer_is_proved_sent_by_the_providers_copy_in_sent(tmp_path: Path, dovecot: Dovecot,
                                                                               smtp: SmtpServer) -> None:
    # Many providers file a copy of what goes out through them in Sent: that copy is the proof.
    def file_in_sent(data: bytes) -> None:
        with imaplib.IMAP4("127.0.0.1", dovecot.port) as client:
            client.login("info", PASSWORD)
            client.append("Sent", None, None, data)

    core = Core.build(make_config(tmp_path, dovecot, smtp))
    outbox_id = approve_one(core)
    smtp.handler.slow_data, smtp.handler.on_accept = 1.5, file_in_sent
    outbox = outbox_for(core, timeout=1.0)
    assert await outbox.flush() == 1  # proved by the copy, after the timeout
    await asyncio.sleep(1.0)
    assert await outbox.flush() == 0
    row = core.db["outbox"].get(outbox_id)
    assert row["state"] == "sent" and row["filed"] == 1
    assert len(smtp.received) == 1 and await sent_folder_ids(dovecot) == [row["out_message_id"]]
