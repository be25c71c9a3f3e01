"""E-mail in: the IMAP reader (IDLE, polling fallback, UID tracking, reconnects) and Sent filing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aioimaplib
import sqlite_utils

from ..config import ImapConfig
from ..errors import GuichetError
from ..health import Health
from ..intake import Taken
from ..store import log_event, now, one
from ..waiting import sleep_or_stop

log = logging.getLogger("guichet.imap")
T = TypeVar("T")

IDLE_REFRESH_S = 300.0
RECONCILE_EVERY_S = 3600.0
_MESSAGE_ID = re.compile(rb"<[^<>\s]+>")
MAX_BACKOFF_S = 300.0
_FETCH_UID = re.compile(rb"\bUID (\d+)")
_UID_LIST = re.compile(rb"^[\d ]+$")
_ARRIVAL = re.compile(rb"^(\* )?\d+ (EXISTS|RECENT)\b")


class ImapError(GuichetError):
    """The IMAP server refused something (login, select, fetch)."""


def _quote(mailbox: str) -> str:
    # aioimaplib does not quote mailbox names (a name with a space would break).
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def connect(cfg: ImapConfig, conn_lost: Callable[[Exception | None], None] | None = None,
                  timeout: float = 30.0) -> aioimaplib.IMAP4:
    """Connect and log in; raises ImapError with a plain message on refusal."""
    # Not IMAP4_SSL: it does not take conn_lost_cb. IMAP4 with a context does TLS just the same.
    context = ssl.create_default_context() if cfg.ssl else None
    client = aioimaplib.IMAP4(host=cfg.host, port=cfg.port, timeout=timeout, conn_lost_cb=conn_lost,
                              ssl_context=context)
    try:
        await client.wait_hello_from_server()
        response = await client.login(cfg.username, cfg.password)
    except BaseException:
        await close(client, polite=False)
        raise
    if response.result != "OK":
        await close(client, polite=False)
        raise ImapError(f"IMAP login refused for {cfg.username}: wrong user name or password")
    return client


async def close(client: aioimaplib.IMAP4, *, polite: bool = True) -> None:
    """Log out when the connection is alive, and always close the socket."""
    if polite:
        try:
            await asyncio.wait_for(client.logout(), 2)
        except Exception:  # noqa: BLE001 - the connection may already be gone
            pass
    transport = getattr(getattr(client, "protocol", None), "transport", None)
    if transport is not None:
        transport.close()


def watch_arrivals(client: aioimaplib.IMAP4, arrived: asyncio.Event) -> None:
    """Set ``arrived`` whenever the server announces a new message (untagged EXISTS or RECENT).

    The server announces new mail with the response of whatever command is running; aioimaplib
    drops those lines unless the command is IDLE or NOOP. A message announced during a SEARCH
    or FETCH would then get no push once the reader idles, and wait for the next IDLE refresh.
    aioimaplib has no public hook for this, hence the wrapper on its protocol's line handler.
    """
    protocol = client.protocol
    handle = protocol._untagged_response

    def untagged(line: bytes):  # type: ignore[no-untyped-def]
        if _ARRIVAL.match(line):
            arrived.set()
        return handle(line)

    protocol._untagged_response = untagged


def search_uids(response: aioimaplib.Response) -> list[int]:
    """The UIDs of a ``UID SEARCH`` response, sorted (untagged lines such as ``3 EXISTS`` ignored)."""
    return sorted(int(u) for line in response.lines[:-1] if _UID_LIST.match(bytes(line)) for u in line.split())


def parse_fetch(lines: list[bytes | bytearray]) -> list[tuple[int, bytes]]:
    """(uid, raw message) pairs from a ``UID FETCH … (UID BODY.PEEK[])`` response."""
    found: list[tuple[int, bytes]] = []
    for i, line in enumerate(lines):
        if not isinstance(line, bytearray) or i == 0:
            continue
        head = bytes(lines[i - 1])
        tail = bytes(lines[i + 1]) if i + 1 < len(lines) and not isinstance(lines[i + 1], bytearray) else b""
        uid = _FETCH_UID.search(head) or _FETCH_UID.search(tail)
        if uid and b"FETCH" in head:
            found.append((int(uid.group(1)), bytes(line)))
    return found


class ImapReader:
    """Takes every new message of one mailbox into the store, in UID order, exactly once.

    ``take(raw)`` stores a message (idempotent on Message-ID and content); the reader
    records which message the UID became and moves its position (UIDVALIDITY, last UID)
    in the same transaction, so a crash between fetch and store only means fetching again.
    """

    def __init__(self, cfg: ImapConfig, db: sqlite_utils.Database, take: Callable[[bytes], Taken]) -> None:
        self.cfg = cfg
        self.db = db
        self.take = take
        self.connected = asyncio.Event()
        self.health = Health(db, "imap", log)
        self.missing: list[int] = []
        self._reconciled_at = 0.0
        self._client: aioimaplib.IMAP4 | None = None
        self._lost = asyncio.Event()
        self._arrived = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop`` is set, reconnecting with backoff when the server drops."""
        backoff = 1.0
        while not stop.is_set():
            try:
                await self._session(stop)
                backoff = 1.0
            except (OSError, TimeoutError, aioimaplib.Abort, aioimaplib.Error, ImapError, ConnectionError) as exc:
                message = f"{type(exc).__name__}: {exc}"
                self.health.fault(message, f"IMAP {self.cfg.host}:{self.cfg.port}: {message}; "
                                           "reconnecting with backoff")
                self.connected.clear()
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            finally:
                await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await close(client, polite=not self._lost.is_set())

    async def _session(self, stop: asyncio.Event) -> None:
        # One event per connection: a closing connection's callback must not touch the next one.
        lost = self._lost = asyncio.Event()
        self._client = client = await connect(self.cfg, lambda exc: lost.set())
        watch_arrivals(client, self._arrived)
        response = await client.select(_quote(self.cfg.mailbox))
        if response.result != "OK":
            raise ImapError(f"cannot open mailbox {self.cfg.mailbox!r}: {response.lines[-1:]}")
        uidvalidity = _uidvalidity(response.lines)
        self.connected.set()
        await self.catch_up(client, uidvalidity)
        await self.reconcile(client)
        idle = self.cfg.idle and client.has_capability("IDLE")
        while not stop.is_set():
            if self._lost.is_set():
                raise ConnectionError("connection lost")
            # A message announced while we were busy gets no push: take it before waiting again.
            if not self._arrived.is_set():
                await self._wait_for_mail(client, stop, idle)
            if self._lost.is_set():
                raise ConnectionError("connection lost")
            await self.catch_up(client, uidvalidity)
            if time.monotonic() - self._reconciled_at > RECONCILE_EVERY_S:
                await self.reconcile(client)

    async def _guard(self, command: Awaitable[T]) -> T:
        """Run an IMAP command, failing at once if the connection drops (aioimaplib would wait
        for the command's own timeout)."""
        task = asyncio.ensure_future(command)
        lost = asyncio.ensure_future(self._lost.wait())
        await asyncio.wait([task, lost], return_when=asyncio.FIRST_COMPLETED)
        lost.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise ConnectionError("connection lost during a command")
        return task.result()

    async def _wait_for_mail(self, client: aioimaplib.IMAP4, stop: asyncio.Event, idle: bool) -> None:
        if idle:
            await self._idle(client, stop)
            return
        await sleep_or_stop(stop, self.cfg.poll_interval)
        if not stop.is_set():
            await self._guard(client.noop())

    async def _idle(self, client: aioimaplib.IMAP4, stop: asyncio.Event) -> None:
        # Guarded: a connection lost before the server's "+ idling" would leave it waiting for good.
        idle = await self._guard(client.idle_start(timeout=IDLE_REFRESH_S + 30))
        push = asyncio.ensure_future(client.wait_server_push(timeout=IDLE_REFRESH_S))
        stopped = asyncio.ensure_future(stop.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        await asyncio.wait([push, stopped, lost], return_when=asyncio.FIRST_COMPLETED)
        for waiter in (push, stopped, lost):
            waiter.cancel()
        await asyncio.gather(push, stopped, lost, return_exceptions=True)
        if self._lost.is_set():
            raise ConnectionError("connection lost during IDLE")
        client.idle_done()
        await asyncio.wait_for(idle, 10)

    async def catch_up(self, client: aioimaplib.IMAP4, uidvalidity: int) -> int:
        """Take every message above the stored UID; returns how many were new to the store."""
        state = one(self.db, "SELECT * FROM imap_state WHERE mailbox = ?", [self.cfg.mailbox])
        last_uid = 0
        if state and state["uidvalidity"] == uidvalidity:
            last_uid = int(state["last_uid"])
        elif state:
            # Mailbox rebuilt: every UID is new; Message-IDs and fingerprints keep us from storing twice.
            with self.db.atomic():
                log_event(self.db, "imap.uidvalidity_changed", old=state["uidvalidity"], new=uidvalidity)
                self.db.execute("DELETE FROM imap_uids WHERE mailbox = ?", [self.cfg.mailbox])
                self.db.execute("UPDATE imap_state SET tracked_from = 1 WHERE mailbox = ?", [self.cfg.mailbox])
            log.warning("IMAP %s: UIDVALIDITY changed; rescanning (duplicates are skipped)", self.cfg.mailbox)
        self._save_position(uidvalidity, last_uid)
        self._arrived.clear()
        response = await self._guard(client.uid_search(f"UID {last_uid + 1}:*"))
        if response.result != "OK":
            raise ImapError(f"UID SEARCH failed: {response.lines[-1:]}")
        uids = [u for u in search_uids(response) if u > last_uid]
        new = 0
        for start in range(0, len(uids), self.cfg.batch_size):
            batch = uids[start:start + self.cfg.batch_size]
            fetched = await self._guard(client.uid("fetch", ",".join(map(str, batch)), "(UID BODY.PEEK[])"))
            if fetched.result != "OK":
                raise ImapError(f"UID FETCH failed: {fetched.lines[-1:]}")
            for uid, raw in sorted(parse_fetch(fetched.lines)):
                with self.db.atomic():
                    taken = self.take(raw)
                    self.db.execute("INSERT OR REPLACE INTO imap_uids (mailbox, uidvalidity, uid, message_id) "
                                    "VALUES (?, ?, ?, ?)", [self.cfg.mailbox, uidvalidity, uid, taken.message_id])
                    self._save_position(uidvalidity, uid)
                new += not taken.duplicate
        self.health.ok()
        return new

    async def reconcile(self, client: aioimaplib.IMAP4) -> list[int]:
        """Compare the mailbox's UIDs with the stored ones; warn (log, event, status) on a gap.

        Messages staff deleted from the mailbox are not a gap; a UID in the mailbox that never
        became a stored row is, and is reported so staff can look at it. UIDs taken before
        UIDs were recorded (below ``tracked_from``) are checked by Message-ID.
        """
        self._reconciled_at = time.monotonic()
        state = one(self.db, "SELECT * FROM imap_state WHERE mailbox = ?", [self.cfg.mailbox])
        if not state or not state["last_uid"]:
            return []
        response = await self._guard(client.uid_search(f"UID 1:{state['last_uid']}"))
        uids = [u for u in search_uids(response) if u <= state["last_uid"]]
        tracked = {r["uid"] for r in self.db.query("SELECT uid FROM imap_uids WHERE mailbox = ? AND uidvalidity = ?",
                                                   [self.cfg.mailbox, state["uidvalidity"]])}
        missing = [u for u in uids if u >= state["tracked_from"] and u not in tracked]
        missing += await self._untracked_missing(client, [u for u in uids if u < state["tracked_from"]])
        missing.sort()
        if missing and missing != self.missing:
            message = f"{len(missing)} message(s) in {self.cfg.mailbox} were never taken in (UIDs {missing[:20]})"
            log.warning("IMAP reconciliation: %s", message)
            self.health.error(f"reconciliation: {message}")
            if missing[:100] != self._last_reported_gap():  # after a restart, the same gap is not news
                with self.db.atomic():
                    log_event(self.db, "imap.reconcile_mismatch", mailbox=self.cfg.mailbox, uids=missing[:100])
        self.missing = missing
        return missing

    async def _untracked_missing(self, client: aioimaplib.IMAP4, uids: list[int]) -> list[int]:
        """Of UIDs taken before UIDs were recorded, those whose Message-ID is not stored."""
        missing = []
        for start in range(0, len(uids), 200):
            batch = ",".join(map(str, uids[start:start + 200]))
            fetched = await self._guard(client.uid("fetch", batch, "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"))
            for uid, header in parse_fetch(fetched.lines):
                found = _MESSAGE_ID.search(header)
                if found and not one(self.db, "SELECT 1 FROM messages WHERE channel = 'email' AND external_id = ?",
                                     [found.group(0).decode("ascii", "replace")]):
                    missing.append(uid)
        return missing

    def _last_reported_gap(self) -> list[int]:
        last = one(self.db, "SELECT detail FROM events WHERE kind = 'imap.reconcile_mismatch' "
                            "AND json_extract(detail, '$.mailbox') = ? ORDER BY id DESC LIMIT 1", [self.cfg.mailbox])
        return list(json.loads(last["detail"]).get("uids", [])) if last else []

    def _save_position(self, uidvalidity: int, last_uid: int) -> None:
        # Plain SQL: sqlite-utils' upsert looks the table up first, on every message taken in.
        self.db.execute("INSERT INTO imap_state (mailbox, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
                        "last_uid = excluded.last_uid, updated_at = excluded.updated_at",
                        [self.cfg.mailbox, uidvalidity, last_uid, now()])


def _uidvalidity(lines: list[bytes]) -> int:
    for line in lines:
        found = re.search(rb"UIDVALIDITY (\d+)", bytes(line))
        if found:
            return int(found.group(1))
    raise ImapError("server sent no UIDVALIDITY")


class SentFolder:
    """Files copies of sent replies in the Sent mailbox and finds them again after a crash."""

    def __init__(self, cfg: ImapConfig) -> None:
        self.cfg = cfg

    async def append(self, message: bytes) -> None:
        client = await connect(self.cfg, timeout=15)
        try:
            response = await client.append(message, mailbox=_quote(self.cfg.sent_mailbox), flags=r"(\Seen)")
            if response.result != "OK":
                raise ImapError(f"APPEND to {self.cfg.sent_mailbox} refused: {response.lines[-1:]}")
        finally:
            await close(client)

    async def contains(self, message_id: str) -> bool:
        client = await connect(self.cfg, timeout=15)
        try:
            await client.select(_quote(self.cfg.sent_mailbox))
            safe = message_id.replace('"', "")
            response = await client.uid_search(f'HEADER Message-ID "{safe}"')
            return response.result == "OK" and bool(search_uids(response))
        finally:
            await close(client)
