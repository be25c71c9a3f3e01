"""Health: a fault is logged once when it appears and once when it clears, for a part and for storage."""

from __future__ import annotations

import logging

import pytest

from bot.health import Health, StorageWatch
from bot.store import open_db


def said(caplog: pytest.LogCaptureFixture, logger: str) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == logger]


def test_a_part_says_each_fault_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="guichet")
    db = open_db(":memory:")
    health = Health(db, "imap")
    health.ok()
    for _ in range(3):  # a part retrying while its server is down
        health.fault("refused", "IMAP: connection refused; reconnecting")
    health.fault("timeout", "IMAP: timed out; reconnecting")
    health.ok()
    health.ok()
    assert said(caplog, "guichet.imap") == [("WARNING", "IMAP: connection refused; reconnecting"),
                                            ("WARNING", "IMAP: timed out; reconnecting"),
                                            ("INFO", "imap: working again")]
    row = db["health"].get("imap")
    assert row["ok"] == 1 and row["last_error"] == "IMAP: timed out; reconnecting"


def test_storage_says_a_fault_once_whatever_its_detail(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="guichet")
    storage = StorageWatch()
    storage.ok()  # nothing to clear: nothing said
    storage.fault("the disk is full (database or disk is full)")
    storage.fault("the disk is full (another statement)")
    storage.fault("it is read-only (attempt to write a readonly database)")
    storage.ok()
    storage.ok()
    levels = [level for level, _ in said(caplog, "guichet.storage")]
    assert levels == ["ERROR", "ERROR", "INFO"]
    assert "the disk is full" in said(caplog, "guichet.storage")[0][1]
    assert said(caplog, "guichet.storage")[2][1] == "storage: the database can be written again"
