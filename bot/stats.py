"""Log → figures: the yearly count and the month's statistics, from the anonymous request rows.

A request counts once, whatever its follow-ups; machine messages and requests staff marked
"ignored" are reported apart and not counted. Months are calendar months in the network's
time zone.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlite_utils

NO_ENTRY = "sans fiche"
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

    @property
    def counted(self) -> bool:
        return self.outcome not in NOT_COUNTED

    @property
    def response_hours(self) -> float | None:
        if self.answered is None:
            return None
        return max((self.answered - self.received).total_seconds() / 3600, 0.0)


def _outcome(row: dict[str, object]) -> str:
    if row["status"] == "machine":
        return "machine"
    if row["status"] == "ignored" or row["outcome"] == "ignored":
        return "ignored"
    if row["answered_at"] and row["outcome"]:
        return str(row["outcome"])
    return "open"


def _local(value: str | None, tz: ZoneInfo) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(tz)


def load_rows(db: sqlite_utils.Database, start: dt.date, end: dt.date, tz: ZoneInfo) -> list[RequestRow]:
    """Requests received in [start, end) local time."""
    # received_at is stored in UTC: pad the range by a day and filter on local time.
    low = (dt.datetime.combine(start, dt.time(), tz) - dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    high = (dt.datetime.combine(end, dt.time(), tz) + dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    out = []
    for row in db.query(
            "SELECT id, channel, received_at, answered_at, category, slug, outcome, status, language, appointment "
            "FROM requests WHERE received_at >= ? AND received_at < ? ORDER BY received_at, id", [low, high]):
        received = _local(row["received_at"], tz)
        assert received is not None
        if not start <= received.date() < end:
            continue
        out.append(RequestRow(
            id=row["id"], received=received, answered=_local(row["answered_at"], tz), channel=row["channel"],
            category=row["category"] or NO_ENTRY, entry=row["slug"] or NO_ENTRY, outcome=_outcome(row),
            language=row["language"] or "fr", appointment=bool(row["appointment"])))
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
    """The figures for a period (a month or a year), and the year-to-date context."""

    period: str
    rows: list[RequestRow]
    year_rows: list[RequestRow] = field(default_factory=list)

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

    def median_hours(self) -> float | None:
        values = self.response_hours()
        return statistics.median(values) if values else None

    def p90_hours(self) -> float | None:
        return percentile(self.response_hours(), 0.9)

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


def month_summary(db: sqlite_utils.Database, year: int, month: int, tz: ZoneInfo) -> Summary:
    """The month's figures, with the year's rows up to the month's end for the year-to-date parts."""
    start = dt.date(year, month, 1)
    end = next_month(start)
    year_rows = load_rows(db, dt.date(year, 1, 1), end, tz)
    rows = [r for r in year_rows if r.received.date() >= start]
    return Summary(f"{year:04d}-{month:02d}", rows, year_rows)


def year_summary(db: sqlite_utils.Database, year: int, tz: ZoneInfo) -> Summary:
    rows = load_rows(db, dt.date(year, 1, 1), dt.date(year + 1, 1, 1), tz)
    return Summary(f"{year:04d}", rows, rows)
