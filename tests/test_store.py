"""Storage: the schema is created and upgraded by named migrations; message sources by blob I/O."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.migrations import MIGRATIONS
from bot.store import migrate, now, one, open_db, source, store_source
from tests.conftest import released_before


def test_a_new_database_has_every_migration() -> None:
    db = open_db(":memory:")
    assert [r["name"] for r in db.query("SELECT name FROM migrations ORDER BY rowid")] == [n for n, _ in MIGRATIONS]
    assert migrate(db) == []  # and applying again does nothing


def test_an_old_database_is_upgraded_and_keeps_its_message_sources() -> None:
    db = released_before("006")
    db.execute("INSERT INTO requests (channel, status, received_at, updated_at) VALUES ('email', 'open', ?, ?)",
               [now(), now()])
    db.execute("INSERT INTO messages (channel, external_id, direction, request_id, raw, received_at, stored_at) "
               "VALUES ('email', '<old@asso.example>', 'in', 1, ?, ?, ?)", [b"From: a@b.fr\r\n\r\nold", now(), now()])
    assert migrate(db) == [name for name, _ in MIGRATIONS if name >= "006"]
    assert "raw" not in db["messages"].columns_dict
    assert source(db, 1) == b"From: a@b.fr\r\n\r\nold"


def test_a_migration_that_fails_halfway_leaves_nothing_applied() -> None:
    # 008 adds a column, then creates a table: a table in the way makes the second statement fail
    # once the first has run. The column must go with it and 008 stay unrecorded, or the next
    # start would fail on the column that is already there.
    db = released_before("008")
    db.execute("CREATE TABLE imap_uids (obstacle TEXT)")
    with pytest.raises(sqlite3.OperationalError, match="imap_uids already exists"):
        migrate(db)
    assert "fingerprint" not in db["messages"].columns_dict
    assert one(db, "SELECT 1 FROM migrations WHERE name = '008_fingerprints_and_uids'") is None
    db.execute("DROP TABLE imap_uids")
    assert migrate(db) == [name for name, _ in MIGRATIONS if name >= "008"]
    assert "fingerprint" in db["messages"].columns_dict


def test_sources_of_any_size_round_trip() -> None:
    db = open_db(":memory:")
    for number, raw in enumerate([b"", b"x", bytes(range(256)) * 9000], start=1):  # 2.3 MB: several chunks
        db.execute("INSERT INTO requests (channel, status, received_at, updated_at) VALUES ('email', 'open', ?, ?)",
                   [now(), now()])
        db.execute("INSERT INTO messages (channel, external_id, direction, request_id, received_at, stored_at) "
                   "VALUES ('email', ?, 'in', ?, ?, ?)", [f"<m{number}@x>", number, now(), now()])
        store_source(db, number, raw)
        assert source(db, number) == raw
    assert source(db, 99) is None


def test_a_transaction_that_reads_then_writes_waits_for_another_writer(tmp_path: Path) -> None:
    # BEGIN (deferred) reads a snapshot; if another connection commits a write meanwhile, SQLite
    # refuses the upgrade to a write at once ("database is locked"), busy_timeout or not.
    # BEGIN IMMEDIATE takes the write lock first: the other writer waits instead.
    db = open_db(tmp_path / "guichet.db")
    db.execute("INSERT INTO health (component, ok, updated_at) VALUES ('x', 1, ?)", [now()])

    def other_writer() -> None:
        with sqlite3.connect(tmp_path / "guichet.db", timeout=10) as other:
            other.execute("UPDATE health SET ok = 2")

    writer = threading.Thread(target=other_writer)
    with db.atomic():
        assert db.execute("SELECT ok FROM health").fetchone()[0] == 1
        writer.start()
        writer.join(0.5)  # with a deferred BEGIN it commits now, under our read
        db.execute("UPDATE health SET ok = ok + 10")
    writer.join(10)
    assert db.execute("SELECT ok FROM health").fetchone()[0] == 2  # ours (11), then theirs
