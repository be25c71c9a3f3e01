"""Periodic jobs: the monthly statistics report and the daily RGPD purge.

Each run is recorded in ``scheduled_runs`` (job, period) once it succeeded, so a restart on the
same day does not send the report twice, and a service that was down on the 1st catches up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

import sqlite_utils

from .channels.smtp import service_mail
from .config import Config
from .export import entry_titles, export_period
from .health import Health
from .privacy import purge_older_than
from .stats import month_summary, next_month
from .store import now, one
from .waiting import sleep_or_stop
from .workhours import Office

log = logging.getLogger("guichet.schedule")

MONTHLY = "monthly-report"
MONTHLY_EMAIL = "monthly-report:email"
MONTHLY_TELEGRAM = "monthly-report:telegram"
PURGE = "retention-purge"


def months_due(db: sqlite_utils.Database, today_local: dt.datetime, send_at: dt.time) -> list[dt.date]:
    """Months whose report is due and not sent: the previous month once its 1st has come, and any
    month missed since the last one sent (the first run only does the previous month)."""
    first = today_local.date().replace(day=1)
    last_complete = (first - dt.timedelta(days=1)).replace(day=1)
    if today_local.date() == first and today_local.time() < send_at:
        last_complete = (last_complete - dt.timedelta(days=1)).replace(day=1)
    done = one(db, "SELECT max(period) AS period FROM scheduled_runs WHERE job = ?", [MONTHLY])
    if not done or not done["period"]:
        start = last_complete
    else:
        start = next_month(dt.date.fromisoformat(done["period"] + "-01"))
    due = []
    month = start
    while month <= last_complete:
        due.append(month)
        month = next_month(month)
    return due


def report_mail(config: Config, period: str, files: list[Path], total: int, year_to_date: int) -> EmailMessage:
    msg = service_mail(config.network, config.network.staff_email,
                       f"Guichet : statistiques {period} ({total} demandes)",
                       f"Bonjour,\n\nVoici les statistiques du guichet pour {period} : {total} demandes "
                       f"d'information, {year_to_date} depuis le début de l'année.\n\nEn pièces jointes : le "
                       "détail des demandes (sans données personnelles), le résumé (CSV et Excel) et le "
                       "graphique.\n\nGuichet\n")
    for path in files:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        msg.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
    return msg


class Scheduler:
    """Runs the monthly report and the daily purge; the clock can be given for tests."""

    def __init__(self, config: Config, db: sqlite_utils.Database,
                 send_mail: Callable[[EmailMessage], Awaitable[None]] | None = None,
                 post_chart: Callable[[Path, str], Awaitable[None]] | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.config = config
        self.db = db
        self.send_mail = send_mail
        self.post_chart = post_chart
        self.tz = config.network.tz
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.health = Health(db, "schedule", log)

    def _done(self, job: str, period: str, **detail: object) -> None:
        self.db.table("scheduled_runs").insert({"job": job, "period": period, "done_at": now(),
                                          "detail": json.dumps(detail, default=str)}, replace=True)

    def _was_done(self, job: str, period: str) -> bool:
        return one(self.db, "SELECT 1 FROM scheduled_runs WHERE job = ? AND period = ?", [job, period]) is not None

    async def monthly(self) -> list[str]:
        """Send every due monthly report; returns the periods sent."""
        local = self.clock().astimezone(self.tz)
        sent = []
        for month in months_due(self.db, local, dt.time.fromisoformat(self.config.reports.monthly_time)):
            end = dt.datetime.combine(next_month(month), dt.time(), self.tz).astimezone(dt.UTC).isoformat()
            if not one(self.db, "SELECT 1 FROM requests WHERE received_at < ? LIMIT 1", [end]):
                # Guichet was not collecting yet (a fresh install): nothing to report, nothing to send.
                self._done(MONTHLY, f"{month:%Y-%m}", skipped="no request received yet")
                continue
            summary = month_summary(self.db, month.year, month.month, self.tz, office=Office.of(self.config.network),
                                    today=local.date())
            files = export_period(summary, Path(self.config.reports.out_dir), self.config.network.name,
                                  entry_titles(self.config))
            # Each way out is recorded apart: when the Telegram post fails, the retry must not
            # send the e-mail a second time (nor the reverse).
            if self.config.reports.email and self.send_mail and self.config.network.staff_email \
                    and not self._was_done(MONTHLY_EMAIL, summary.period):
                await self.send_mail(report_mail(self.config, summary.period, files, summary.total,
                                                 summary.year_to_date))
                self._done(MONTHLY_EMAIL, summary.period, to=self.config.network.staff_email)
            if self.config.reports.telegram and self.post_chart \
                    and not self._was_done(MONTHLY_TELEGRAM, summary.period):
                await self.post_chart(files[3], f"Demandes {summary.period} : {summary.total} "
                                                f"(cumul {month.year} : {summary.year_to_date})")
                self._done(MONTHLY_TELEGRAM, summary.period)
            self._done(MONTHLY, summary.period, total=summary.total, files=[p.name for p in files])
            log.info("monthly report %s sent (%d requests)", summary.period, summary.total)
            sent.append(summary.period)
        return sent

    def purge(self) -> int:
        """Erase personal data older than the retention period, once a day."""
        today = self.clock().astimezone(self.tz).date()
        if self._was_done(PURGE, today.isoformat()):
            return 0
        months = self.config.storage.retention_months
        cutoff = self.clock() - dt.timedelta(days=round(months * 30.44))
        count = purge_older_than(self.db, cutoff.astimezone(dt.UTC).isoformat())
        self._done(PURGE, today.isoformat(), requests=count)
        return count

    async def run(self, stop: asyncio.Event, every_s: float = 60.0) -> None:
        """Check the jobs every minute until stopped; a failed job is retried at the next check."""
        while not stop.is_set():
            try:
                self.purge()
                await self.monthly()
                self.health.ok()
            except Exception as exc:  # noqa: BLE001 - a report must not take the service down
                self.health.fault(f"{type(exc).__name__}: {exc}", f"scheduled job failed, will retry: {exc}")
            await sleep_or_stop(stop, every_s)
