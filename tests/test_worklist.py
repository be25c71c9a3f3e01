"""The worklist's plain helpers: a queue line's age."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.worklist import age_hours


def test_a_stored_time_is_aged_in_utc_whatever_its_offset() -> None:
    three_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    paris = three_hours_ago.astimezone(dt.timezone(dt.timedelta(hours=2)))
    for stamp in (three_hours_ago.isoformat(), paris.isoformat(),
                  three_hours_ago.replace(tzinfo=None).isoformat()):  # no zone named: UTC, as stored
        assert age_hours(stamp) == pytest.approx(3.0, abs=0.01)
    assert age_hours((dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()) == 0.0
