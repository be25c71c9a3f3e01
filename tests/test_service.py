"""End to end: a mail arrives in Dovecot, is drafted, approved from the CLI, and leaves by SMTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.service import Core, Service
from tests.conftest import append, make_config, unreachable_imap, wait_for
from tests.mails import mail
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer


async def test_mail_round_trip_through_the_terminal_desk(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer,
                                                         secrets: None) -> None:
    config = make_config(tmp_path, dovecot, smtp)
    service = Service(Core.build(config))
    task = asyncio.create_task(service.run())
    try:
        await append(dovecot, mail("Bonjour, je voudrais partir en service civique à l'étranger, comment faire ?",
                                   subject="Service civique", message_id="<sc@asso.example>"),
                     mail(headers={"Auto-Submitted": "auto-replied"}, subject="Absent"))
        db = service.core.db
        await wait_for(lambda: db["messages"].count == 2 and db["drafts"].count == 1)  # drafted behind storing
        runner = CliRunner()
        listed = runner.invoke(cli, ["--config", config.source, "drafts", "list"])
        assert listed.exit_code == 0, listed.output
        assert "vol-service-civique" in listed.output and "1 brouillon(s) en attente" in listed.output
        draft_id = service.core.review.pending()[0].id
        shown = runner.invoke(cli, ["--config", config.source, "drafts", "show", str(draft_id)])
        assert "service civique à l'étranger" in shown.output and "16 à 25 ans" in shown.output
        approved = runner.invoke(cli, ["--config", config.source, "drafts", "approve", str(draft_id)])
        assert approved.exit_code == 0, approved.output
        await wait_for(lambda: len(smtp.received) == 1)
        msg = smtp.received[0].message
        assert msg["In-Reply-To"] == "<sc@asso.example>" and msg["Subject"] == "Re: Service civique"
        again = runner.invoke(cli, ["--config", config.source, "drafts", "approve", str(draft_id)])
        assert again.exit_code == 2 and "déjà traité" in again.output
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 15)
    assert len(smtp.received) == 1  # the auto-reply was never answered
    machine = db.execute("SELECT count(*) FROM requests WHERE status = 'machine'").fetchone()[0]
    assert machine == 1


def test_a_second_run_on_the_same_database_refuses_to_start(tmp_path: Path, secrets: None) -> None:
    import os
    import signal
    import subprocess
    import sys

    config = make_config(tmp_path, extra=unreachable_imap())
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "bot.cli", "--config", config.source, "run"]
    first = subprocess.Popen(command, cwd=root, env=os.environ, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        assert "guichet running" in first.stderr.readline() + first.stderr.readline()
        second = subprocess.run(command, cwd=root, env=os.environ, capture_output=True, text=True, timeout=30)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"error: guichet is already running on {config.storage.database} (pid {first.pid}, "
            f"since {second.stderr.split('since ')[1][:19]}); stop it first"]
        runner = CliRunner()
        status = runner.invoke(cli, ["--config", config.source, "status"])
        assert status.exit_code == 0 and f"service: running (pid {first.pid}" in status.output
        listed = runner.invoke(cli, ["--config", config.source, "drafts", "list"])  # desk commands still work
        assert listed.exit_code == 0 and "0 brouillon(s) en attente" in listed.output
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0
        if first.stderr:
            first.stderr.close()
    status = CliRunner().invoke(cli, ["--config", config.source, "status", "--json"])
    assert '"service": {"running": false, "pid": null' in status.output


async def test_one_info_line_per_message_and_per_reply_naming_no_one(tmp_path: Path, dovecot: Dovecot,
                                                                     smtp: SmtpServer,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from bot.intake import log_id

    caplog.set_level(logging.INFO, logger="guichet")
    service = Service(Core.build(make_config(tmp_path, dovecot, smtp)))
    task = asyncio.create_task(service.run())
    try:
        await append(dovecot, mail("Bonjour, comment adhérer au réseau ?", subject="Adhésion Durand",
                                   sender="Marie Durand <marie@asso.example>", message_id="<log1@asso.example>"),
                     mail(headers={"Auto-Submitted": "auto-replied"}, subject="Absent",
                          message_id="<log2@asso.example>"))
        await wait_for(lambda: service.core.review.pending())
        service.core.review.approve(service.core.review.pending()[0].id, "terminal:alice")
        await wait_for(lambda: len(smtp.received) == 1)
        await wait_for(lambda: any("reply sent" in r.getMessage() for r in caplog.records))
        # The machine mail may be fetched in a later IDLE round than the request, after the reply.
        await wait_for(lambda: any("message 2 taken in" in r.getMessage() for r in caplog.records))
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 15)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("guichet") and r.levelno == logging.INFO]
    taken = [line for line in lines if " taken in: " in line]
    assert taken == [f"message 1 taken in: imap INBOX uid 1, id #{log_id('<log1@asso.example>')}, request 1, draft 1",
                     f"message 2 taken in: imap INBOX uid 2, id #{log_id('<log2@asso.example>')}, request 2, machine"]
    assert [line for line in lines if line.startswith("reply sent")] == [
        "reply sent: outbox 1, email, request 1, draft 1"]
    everything = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("guichet"))
    for personal in ("marie", "Durand", "asso.example", "adhérer"):
        assert personal not in everything
