"""Working hours: weekdays within ``network.office_hours``, French public holidays excepted.

The response time a director reads is in working hours beside calendar hours: a question sent on
Friday evening and answered on Monday morning waited a weekend, not the team. Public holidays come
from the ``holidays`` package (kept up to date with the law, Easter-based dates included) rather
than a list of our own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import NetworkConfig
from .errors import ConfigError

if TYPE_CHECKING:
    import holidays

_HOURS = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


def _french_holidays() -> holidays.HolidayBase:
    import holidays  # imported when counting: every command loads this module, few count hours

    return holidays.country_holidays("FR")


@dataclass(frozen=True)
class Office:
    """When the team works: ``opens``-``closes`` local time, Monday to Friday, except public holidays."""

    opens: dt.time = dt.time(9)
    closes: dt.time = dt.time(17, 30)
    public_holidays: holidays.HolidayBase = field(default_factory=_french_holidays, compare=False)

    @classmethod
    def of(cls, network: NetworkConfig) -> Office:
        """The network's office hours (``network.office_hours``, "HH:MM-HH:MM")."""
        found = _HOURS.match(network.office_hours)
        try:
            if not found:
                raise ValueError
            opens, closes = (dt.time.fromisoformat(t.zfill(5)) for t in found.groups())
        except ValueError:
            raise ConfigError("network.office_hours",
                              f"expected HH:MM-HH:MM, e.g. 09:00-17:30, got {network.office_hours!r}") from None
        if closes <= opens:
            raise ConfigError("network.office_hours", f"closes before it opens: {network.office_hours!r}")
        return cls(opens, closes)

    def describe(self) -> str:
        """In French, for the files' notes: "du lundi au vendredi, de 9 h à 17 h 30, hors jours fériés"."""
        return f"du lundi au vendredi, de {_french_time(self.opens)} à {_french_time(self.closes)}, hors jours fériés"

    _days: dict[dt.date, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def working_day(self, day: dt.date) -> bool:
        # Remembered: a year's statistics ask about the same few hundred days tens of thousands of times.
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = day.weekday() < 5 and day not in self.public_holidays
        return known

    def hours(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours between two aware datetimes, counted in ``start``'s time zone."""
        tz = start.tzinfo
        end = end.astimezone(tz)
        total = 0.0
        day = start.date()
        while day <= end.date():
            if self.working_day(day):
                low = max(start, dt.datetime.combine(day, self.opens, tz))
                high = min(end, dt.datetime.combine(day, self.closes, tz))
                if high > low:
                    total += (high.astimezone(dt.UTC) - low.astimezone(dt.UTC)).total_seconds()
            day += dt.timedelta(days=1)
        return total / 3600


def _french_time(value: dt.time) -> str:
    return f"{value.hour} h" + (f" {value.minute:02d}" if value.minute else "")
