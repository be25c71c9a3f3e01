"""``guichet doctor`` and ``guichet status`` against real servers."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.service import Core, Service
from tests.conftest import ENV, STAFF_CHAT, append, make_config, telegram_section, tls_sections, wait_for
from tests.mails import mail
from tests.servers.botapi import BotApiServer
from tests.servers.dovecot import Dovecot, free_port
from tests.servers.smtp import SmtpServer
from tests.servers.tls import self_signed


def doctor(config_path: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", config_path, "doctor"], env={**ENV, **env})
    return result.exit_code, result.output


async def test_all_good(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer, botapi: BotApiServer) -> None:
    botapi.known_chats[STAFF_CHAT] = "Équipe"
    config = make_config(tmp_path, dovecot, smtp, extra=telegram_section(botapi))
    code, output = await asyncio.to_thread(doctor, config.source)
    assert code == 0, output
    assert "ok  imap: logged in as info, INBOX open, IDLE supported" in output
    assert "ok  smtp:" in output and "ok  telegram: bot token valid: @guichet_test_bot" in output
    assert "ok  staff chat: found: Équipe" in output


async def test_plain_words_for_each_problem(tmp_path: Path, dovecot: Dovecot, botapi: BotApiServer) -> None:
    dead = free_port()
    config = make_config(tmp_path, dovecot, extra=telegram_section(botapi) +
                         f'\n[smtp]\nhost = "127.0.0.1"\nport = {dead}\nstarttls = false\n')
    code, output = await asyncio.to_thread(doctor, config.source, GUICHET_IMAP_PASSWORD="wrong",
                                           GUICHET_TELEGRAM_TOKEN="999:bad")
    assert code == 1
    assert "BAD imap: IMAP login refused for info: wrong user name or password" in output
    assert f"BAD smtp: nothing answers on 127.0.0.1:{dead}" in output
    assert "BAD telegram: bot token invalid" in output
    code, output = await asyncio.to_thread(doctor, config.source)
    assert "BAD staff chat: staff chat -100777 not found or the bot is not a member" in output


async def test_plain_words_for_tls_problems(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, extra=tls_sections(dovecot.port, smtp.port))
    code, output = await asyncio.to_thread(doctor, config.source)
    assert code == 1
    # TLS asked of servers that speak plain text on these ports.
    assert f"BAD imap: TLS problem with 127.0.0.1:{dovecot.port}: the server does not speak TLS on this port" \
        in output
    assert f"BAD smtp: TLS problem with 127.0.0.1:{smtp.port}: the server does not offer STARTTLS" in output


async def test_untrusted_certificate_is_named(tmp_path: Path) -> None:
    with SmtpServer(ssl_context=self_signed(tmp_path).server_context()) as tls_smtp:
        config = make_config(tmp_path, extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {tls_smtp.port}\nssl = true\n')
        code, output = await asyncio.to_thread(doctor, config.source)
    assert code == 1
    assert f"BAD smtp: TLS problem with 127.0.0.1:{tls_smtp.port}: the server's certificate is not trusted " \
           "(self-signed certificate)" in output


async def test_smtp_login_refused_over_starttls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))
    with SmtpServer(starttls_context=cert.server_context(), users={"info@reseau.example": "smtp-pw"}) as smtp:
        config = make_config(tmp_path, extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
                                             'starttls = true\nusername = "info@reseau.example"\n')
        code, output = await asyncio.to_thread(doctor, config.source, GUICHET_SMTP_PASSWORD="wrong")
        assert code == 1
        assert "BAD smtp: SMTP login refused for info@reseau.example: wrong user name or password" in output
        code, output = await asyncio.to_thread(doctor, config.source, GUICHET_SMTP_PASSWORD="smtp-pw")
        assert f"ok  smtp: 127.0.0.1:{smtp.port} answers, logged in as info@reseau.example" in output


async def test_status_shows_what_the_service_did(tmp_path: Path, dovecot: Dovecot) -> None:
    config = make_config(tmp_path, dovecot)
    service = Service(Core.build(config))
    task = asyncio.create_task(service.run())
    await append(dovecot, mail(), mail(message_id="<other@asso.example>", subject="Autre question"))
    await wait_for(lambda: service.core.db["drafts"].count == 2)  # drafted behind storing
    await wait_for(lambda: service.core.db["health"].count >= 1)
    service.stop.set()
    await asyncio.wait_for(task, 15)
    result = CliRunner().invoke(cli, ["--config", config.source, "status"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "mailbox INBOX:" in result.output and "last UID 2" in result.output
    assert "drafts pending: 2" in result.output and "imap: ok" in result.output
    data = json.loads(CliRunner().invoke(cli, ["--config", config.source, "status", "--json"], env=ENV).output)
    assert data["messages"] == 2 and data["pending_drafts"] == 2


def test_plain_words_for_a_mistyped_host(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 2606); a doubled dot is not even a valid name.
    config = make_config(tmp_path, extra='\n[imap]\nhost = "imap.exmaple.invalid"\nusername = "info"\n'
                                         '\n[smtp]\nhost = "smtp..example.org"\n'
                                         f"\n[telegram]\nstaff_chat_id = {STAFF_CHAT}\n"
                                         'base_url = "http://api.exmaple.invalid/bot"\n')
    code, output = doctor(config.source)
    assert code == 1
    assert "Errno" not in output and "unexpected error" not in output, output
    assert ("BAD imap: the server name imap.exmaple.invalid does not exist: check imap.host for a typo" in output
            or "BAD imap: cannot look up the server name imap.exmaple.invalid: no answer from DNS" in output), output
    assert "BAD smtp: 'smtp..example.org' is not a valid server name (an empty part between dots?): check smtp.host" \
        in output
    assert "BAD telegram: " in output and "api.exmaple.invalid" in output and "telegram.base_url" in output


def test_no_dns_answer_is_named() -> None:
    from bot.doctor import _name_problem

    try:
        try:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        except OSError as inner:
            raise ConnectionError("wrapped") from inner
    except ConnectionError as outer:
        assert _name_problem("imap.example.org", "imap.host", outer) == (
            "cannot look up the server name imap.example.org: no answer from DNS; "
            "is this machine connected to the network?")
    assert _name_problem("imap.example.org", "imap.host", ConnectionRefusedError()) is None


def test_office_hours_are_checked(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="")
    path = Path(config.source)
    path.write_text(path.read_text().replace("[network]", '[network]\noffice_hours = "9h-17h30"'))
    code, output = doctor(config.source)
    assert code == 1
    assert "BAD config: read " in output and "network.office_hours: expected HH:MM-HH:MM, e.g. 09:00-17:30" in output
