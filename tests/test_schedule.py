"""The monthly report (once only, catching up) and the RGPD purge, with the clock controlled."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.schedule import months_due
from bot.service import Core, Service
from bot.stats import year_summary
from bot.store import source
from tests.conftest import STAFF_CHAT, make_config, telegram_section, wait_for
from tests.servers.botapi import BotApiServer
from tests.servers.smtp import SmtpServer
from tests.test_stats import Desk, at

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


async def run_once(config, when: dt.datetime) -> Service:  # type: ignore[no-untyped-def]
    """Start the service at ``when``, let the scheduler do its first round, stop."""
    service = Service(Core.build(config))
    service.scheduler.clock = lambda: when
    task = asyncio.create_task(service.run())
    await wait_for(lambda: service.core.db["scheduled_runs"].count >= 1)
    await asyncio.sleep(0.5)
    service.stop.set()
    await asyncio.wait_for(task, 20)
    return service


def test_months_due(tmp_path: Path) -> None:
    db = Core.build(make_config(tmp_path)).db
    eight = dt.time(8)
    assert months_due(db, paris(2026, 11, 1, 9), eight) == [dt.date(2026, 10, 1)]
    assert months_due(db, paris(2026, 11, 1, 7), eight) == [dt.date(2026, 9, 1)]  # October not due yet
    db["scheduled_runs"].insert({"job": "monthly-report", "period": "2026-08", "done_at": "x"})
    assert months_due(db, paris(2026, 11, 15), eight) == [dt.date(2026, 9, 1), dt.date(2026, 10, 1)]


async def test_monthly_report_once_and_catch_up(tmp_path: Path, smtp: SmtpServer, botapi: BotApiServer) -> None:
    config = make_config(tmp_path, smtp=smtp, extra=telegram_section(botapi) + '\n[reports]\nout_dir = "exp"\n')
    desk = Desk(Core.build(config))
    desk.answer(*desk.email(at(2026, 10, 5), "Comment partir en service civique à l'étranger ?"), hours=3)
    desk.answer(*desk.email(at(2026, 11, 5), "Comment adhérer au réseau ?"), hours=3)

    def reports() -> list:  # type: ignore[type-arg]
        return [r for r in smtp.received if r.rcpt_tos == ["equipe@reseau.example"]]

    await run_once(config, paris(2026, 11, 1, 8, 30).astimezone(dt.UTC))
    assert len(reports()) == 1
    report = reports()[0].message
    assert report["Subject"] == "Guichet : statistiques 2026-10 (1 demandes)"
    assert report["Auto-Submitted"] == "auto-generated"
    names = sorted(part.get_filename() for part in report.iter_attachments())
    assert names == ["demandes-2026-10.csv", "graphique-2026-10.png", "synthese-2026-10.csv", "synthese-2026-10.xlsx"]
    photos = botapi.sent("sendPhoto", chat_id=STAFF_CHAT)
    assert len(photos) == 1 and "2026-10" in photos[0].params["caption"]

    # Restarted the same day: nothing is sent again.
    await run_once(config, paris(2026, 11, 1, 15).astimezone(dt.UTC))
    assert len(reports()) == 1 and len(botapi.sent("sendPhoto")) == 1

    # Down on December 1st, back on the 3rd: November's report is caught up.
    await run_once(config, paris(2026, 12, 3, 9).astimezone(dt.UTC))
    assert [m.message["Subject"] for m in reports()][1] == "Guichet : statistiques 2026-11 (1 demandes)"
    assert len(reports()) == 2


async def test_report_retried_when_smtp_fails(tmp_path: Path) -> None:
    from tests.servers.dovecot import free_port

    config = make_config(tmp_path, extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\nstarttls = false\n')
    service = Service(Core.build(config))
    Desk(service.core).email(at(2026, 10, 5), "Comment adhérer au réseau ?")
    service.scheduler.clock = lambda: paris(2026, 11, 1, 9).astimezone(dt.UTC)
    try:
        await service.scheduler.monthly()
    except OSError:
        pass
    assert service.core.db.execute("SELECT count(*) FROM scheduled_runs WHERE job = 'monthly-report'").fetchone()[0] \
        == 0, "a report that was not sent must not be recorded as sent"


async def test_failed_chart_post_is_retried_without_mailing_the_report_again(
        tmp_path: Path, smtp: SmtpServer, botapi: BotApiServer) -> None:
    config = make_config(tmp_path, smtp=smtp, extra=telegram_section(botapi) + '\n[reports]\nout_dir = "exp"\n')
    Desk(Core.build(config)).email(at(2026, 10, 5), "Comment adhérer au réseau ?")
    botapi.fail("sendPhoto", 502)
    service = Service(Core.build(config))
    service.scheduler.clock = lambda: paris(2026, 11, 1, 9).astimezone(dt.UTC)
    task = asyncio.create_task(service.run())
    try:
        db = service.core.db
        await wait_for(lambda: db.execute("SELECT ok FROM health WHERE component = 'schedule'").fetchone() == (0,))
        assert len(smtp.received) == 1  # the e-mail left before the chart post failed
        assert db.execute("SELECT job FROM scheduled_runs WHERE period = '2026-10'").fetchall() == \
            [("monthly-report:email",)]
        assert await service.scheduler.monthly() == ["2026-10"]  # the next round (a minute later)
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 20)
    assert len(smtp.received) == 1, "the report was mailed twice"
    assert [c.status for c in botapi.calls if c.method == "sendPhoto"] == [502, 200]
    assert {r[0] for r in db.execute("SELECT job FROM scheduled_runs WHERE period = '2026-10'")} == \
        {"monthly-report", "monthly-report:email", "monthly-report:telegram"}


def test_purge_erases_personal_data_but_keeps_counts(tmp_path: Path) -> None:
    core = Core.build(make_config(tmp_path))
    desk = Desk(core)
    old = desk.email(at(2024, 6, 3), "Comment adhérer au réseau ? Je suis Jeanne Martin")
    desk.answer(*old, hours=2)
    recent = desk.email(at(2026, 6, 3), "Comment adhérer au réseau ?")
    service = Service(core)
    service.scheduler.clock = lambda: paris(2026, 11, 23, 3).astimezone(dt.UTC)
    assert service.scheduler.purge() == 1
    assert service.scheduler.purge() == 0  # once a day
    message = core.db.execute("SELECT id, text, sender, sender_name FROM messages WHERE request_id = ? "
                              "AND direction = 'in'", [old[0]]).fetchone()
    assert tuple(message)[1:] == (None, None, None) and source(core.db, message[0]) is None
    assert core.db["drafts"].get(old[1])["text"] is None
    assert core.db["outbox"].get(1)["body"] == "" and core.db["outbox"].get(1)["recipient"] == ""
    request = core.db["requests"].get(old[0])
    assert request["requester"] is None and request["slug"] == "acc-adhesion"
    kept = core.db.execute("SELECT id, text FROM messages WHERE request_id = ?", [recent[0]]).fetchone()
    assert kept[1] and source(core.db, kept[0])
    assert year_summary(core.db, 2024, PARIS).total == 1  # statistics still count it


async def test_fresh_install_sends_no_empty_report(tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp=smtp)
    service = Service(Core.build(config))
    service.scheduler.clock = lambda: paris(2026, 11, 23, 9).astimezone(dt.UTC)
    assert await service.scheduler.monthly() == []
    assert smtp.received == []
    assert months_due(service.core.db, paris(2026, 11, 23, 9), dt.time(8)) == []  # recorded, not retried
