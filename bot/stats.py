"""Log → figures: the yearly count and the month's statistics, from the anonymous request rows.

A request counts once, whatever its follow-ups; machine messages and requests staff marked
"ignored" are reported apart and not counted. Months are calendar months in the network's
time zone. Response times are given in calendar hours and in working hours (``workhours``).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlite_utils

from .workhours import Office

NO_ENTRY = "sans fiche"
NO_ENTRY_NOTE = ("« sans fiche » : aucune fiche de la base de connaissances ne correspondait à la demande ; "
                 "l'équipe y a répondu elle-même (ou la réponse est en attente)")
NOT_COUNTED = ("machine", "ignored")
OUTCOME_LABELS = {
    "sent_as_drafted": "envoyée telle que rédigée",
    "sent_after_edit": "envoyée après modification",
    "answered_by_hand": "répondue à la main",
    "open": "en attente de réponse",
    "ignored": "ignorée (pas une demande)",
    "machine": "message automatique",
}
CHANNELS = ("email", "telegram")
CHANNEL_LABELS = {"email": "e-mail", "telegram": "Telegram"}
MONTH_NAMES = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
               "novembre", "décembre")


@dataclass(frozen=True)
class RequestRow:
    """One request as the statistics see it: no names, addresses or text."""

    id: int
    received: dt.datetime
    answered: dt.datetime | None
    channel: str
    category: str
    entry: str
    outcome: str
    language: str
    appointment: bool
    # The response time in working hours (None while unanswered).
    working_hours: float | None = None

    @property
    def counted(self) -> bool:
        return self.outcome not in NOT_COUNTED

    @property
    def response_hours(self) -> float | None:
        if self.answered is None:
            return None
        # In UTC: two local times on either side of a clock change are an hour more or less apart
        # than their wall-clock difference.
        elapsed = self.answered.astimezone(dt.UTC) - self.received.astimezone(dt.UTC)
        return max(elapsed.total_seconds() / 3600, 0.0)


def _outcome(row: dict[str, object]) -> str:
    if row["status"] == "machine":
        return "machine"
    if row["status"] == "ignored" or row["outcome"] == "ignored":
        return "ignored"
    if row["answered_at"] and row["outcome"]:
        return str(row["outcome"])
    return "open"


def local_time(value: str | None, tz: dt.tzinfo) -> dt.datetime | None:
    """A stored time (ISO text, UTC when it names no zone) in ``tz``; None for none."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(tz)


def load_rows(db: sqlite_utils.Database, start: dt.date, end: dt.date, tz: ZoneInfo,
              office: Office | None = None, *, hours_from: dt.date | None = None) -> list[RequestRow]:
    """Requests received in [start, end) local time; their response time in working hours from
    ``hours_from`` on (a month's figures read the year's rows, but working hours of its own only)."""
    office = office or Office()
    # received_at is stored in UTC: pad the range by a day and filter on local time.
    low = (dt.datetime.combine(start, dt.time(), tz) - dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    high = (dt.datetime.combine(end, dt.time(), tz) + dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    out = []
    for row in db.query(
            "SELECT id, channel, received_at, answered_at, category, slug, outcome, status, language, appointment "
            "FROM requests WHERE received_at >= ? AND received_at < ? ORDER BY received_at, id", [low, high]):
        received = local_time(row["received_at"], tz)
        assert received is not None
        if not start <= received.date() < end:
            continue
        answered = local_time(row["answered_at"], tz)
        out.append(RequestRow(
            id=row["id"], received=received, answered=answered, channel=row["channel"],
            category=row["category"] or NO_ENTRY, entry=row["slug"] or NO_ENTRY, outcome=_outcome(row),
            language=row["language"] or "fr", appointment=bool(row["appointment"]),
            working_hours=office.hours(received, answered)
            if answered and (hours_from is None or received.date() >= hours_from) else None))
    return out


def percentile(values: list[float], p: float) -> float | None:
    """The p-th quantile (inclusive method), or None with no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(p * 100) - 1]


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass
class Summary:
    """The figures for a period (a month, or a year when ``month`` is None), with the year so far.

    ``as_of`` is the last day the figures cover: the period's last day, or today while it runs
    (the last month is then partial).
    """

    year: int
    month: int | None
    rows: list[RequestRow]
    year_rows: list[RequestRow]
    as_of: dt.date
    office: Office = field(default_factory=Office)

    @property
    def period(self) -> str:
        """``2026-10`` for a month, ``2026`` for a year (file names, mail subjects)."""
        return f"{self.year:04d}" if self.month is None else f"{self.year:04d}-{self.month:02d}"

    @property
    def months(self) -> list[int]:
        """The months of the year the figures cover so far (January to the period's last)."""
        last = self.month or 12
        if self.as_of < dt.date(self.year, last, 1):
            last = self.as_of.month if self.as_of.year == self.year else 0
        return list(range(1, last + 1))

    @property
    def partial_day(self) -> int | None:
        """The day the last month stops at when it is not over yet (4 on 4 December), else None."""
        if not self.months:
            return None
        last = dt.date(self.year, self.months[-1], 1)
        return self.as_of.day if self.as_of < next_month(last) - dt.timedelta(days=1) else None

    def month_label(self, month: int) -> str:
        """"octobre", or "décembre (jusqu'au 4)" for a month not over yet."""
        partial = self.partial_day if self.months and month == self.months[-1] else None
        return MONTH_NAMES[month - 1] + (f" (jusqu'au {partial})" if partial else "")

    def span(self) -> str:
        """What the year-to-date covers, in French: "janvier à octobre", "1er janvier au 4 décembre"."""
        if not self.months:
            return "aucun mois écoulé"
        last = MONTH_NAMES[self.months[-1] - 1]
        if self.partial_day:
            day = "1er" if self.partial_day == 1 else str(self.partial_day)
            return f"1er janvier au {day} {last}"
        return last if len(self.months) == 1 else f"janvier à {last}"

    @property
    def counted(self) -> list[RequestRow]:
        return [r for r in self.rows if r.counted]

    @property
    def total(self) -> int:
        return len(self.counted)

    def by_category_channel(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {}
        for r in self.counted:
            table.setdefault(r.category, Counter())[r.channel] += 1
        return dict(sorted(table.items()))

    def by_channel(self) -> Counter[str]:
        return Counter(r.channel for r in self.counted)

    def by_category(self) -> Counter[str]:
        return Counter(r.category for r in self.counted)

    def by_entry(self, top: int = 15) -> list[tuple[str, int]]:
        return sorted(Counter(r.entry for r in self.counted).items(), key=lambda kv: (-kv[1], kv[0]))[:top]

    def by_outcome(self) -> Counter[str]:
        return Counter(r.outcome for r in self.rows)

    def response_hours(self) -> list[float]:
        return sorted(h for r in self.counted if (h := r.response_hours) is not None)

    def working_hours(self) -> list[float]:
        return sorted(h for r in self.counted if (h := r.working_hours) is not None)

    def median_hours(self) -> float | None:
        values = self.response_hours()
        return statistics.median(values) if values else None

    def p90_hours(self) -> float | None:
        return percentile(self.response_hours(), 0.9)

    def median_working_hours(self) -> float | None:
        values = self.working_hours()
        return statistics.median(values) if values else None

    def p90_working_hours(self) -> float | None:
        return percentile(self.working_hours(), 0.9)

    @property
    def appointments(self) -> int:
        return sum(r.appointment for r in self.counted)

    @property
    def machine(self) -> int:
        return sum(r.outcome == "machine" for r in self.rows)

    @property
    def ignored(self) -> int:
        return sum(r.outcome == "ignored" for r in self.rows)

    @property
    def year_to_date(self) -> int:
        return sum(r.counted for r in self.year_rows)

    def by_month(self) -> dict[int, Counter[str]]:
        """Counted requests of the year so far, per month number, by category."""
        months: dict[int, Counter[str]] = {}
        for r in self.year_rows:
            if r.counted:
                months.setdefault(r.received.month, Counter())[r.category] += 1
        return months


def _as_of(period_end: dt.date, tz: ZoneInfo, today: dt.date | None) -> dt.date:
    today = today or dt.datetime.now(tz).date()
    return min(period_end - dt.timedelta(days=1), today)


def month_summary(db: sqlite_utils.Database, year: int, month: int, tz: ZoneInfo, *,
                  office: Office | None = None, today: dt.date | None = None) -> Summary:
    """The month's figures, with the year's rows up to the month's end for the year-to-date parts.

    ``today`` (the network's local date, by default the real one) marks a month not over yet.
    """
    office = office or Office()
    start = dt.date(year, month, 1)
    end = next_month(start)
    year_rows = load_rows(db, dt.date(year, 1, 1), end, tz, office, hours_from=start)
    rows = [r for r in year_rows if r.received.date() >= start]
    return Summary(year, month, rows, year_rows, _as_of(end, tz, today), office)


def year_summary(db: sqlite_utils.Database, year: int, tz: ZoneInfo, *, office: Office | None = None,
                 today: dt.date | None = None) -> Summary:
    """The year's figures (up to today while the year runs)."""
    office = office or Office()
    end = dt.date(year + 1, 1, 1)
    rows = load_rows(db, dt.date(year, 1, 1), end, tz, office)
    return Summary(year, None, rows, rows, _as_of(end, tz, today), office)


def years_with_requests(db: sqlite_utils.Database, tz: ZoneInfo) -> tuple[int, int] | None:
    """The first and last years (local time) any request was received, or None for an empty log."""
    row = next(db.query("SELECT min(received_at) AS first, max(received_at) AS last FROM requests"))
    first, last = local_time(row["first"], tz), local_time(row["last"], tz)
    return (first.year, last.year) if first and last else None
