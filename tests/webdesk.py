"""Helpers for the web desk tests: a config with [web], staff accounts, logged-in HTTP clients."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from bot import staff
from bot.config import Config
from bot.service import Core
from tests.conftest import make_config
from tests.servers.dovecot import free_port

PASSWORD = "correct horse battery"


def cheap_hashes(monkeypatch: Any) -> None:
    """argon2 with small costs: the tests log in dozens of times (the real cost is ~0.2 s a hash)."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(staff, "_HASHER", hasher)
    monkeypatch.setattr(staff, "_DUMMY", hasher.hash("pas un vrai mot de passe"))


def web_section(port: int | None = None, base_url: str = "") -> str:
    port = port or free_port()
    return f'\n[web]\nlisten = "127.0.0.1:{port}"\nbase_url = "{base_url or f"http://127.0.0.1:{port}"}"\n'


def web_config(tmp_path: Path, *servers: Any, extra: str = "", port: int | None = None,
               base_url: str = "") -> Config:
    dovecot = next((s for s in servers if type(s).__name__ == "Dovecot"), None)
    smtp = next((s for s in servers if type(s).__name__ == "SmtpServer"), None)
    return make_config(tmp_path, dovecot, smtp, extra=web_section(port, base_url) + extra)


def accounts(core: Core) -> tuple[staff.Account, staff.Account]:
    alice = staff.add(core.db, "Alice", "alice@reseau.example", password=PASSWORD)
    bob = staff.add(core.db, "Bob", "bob@reseau.example", password=PASSWORD, telegram_id=222)
    return alice, bob


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no field {name} in the page"
    return found.group(1)


def csrf_of(html: str) -> str:
    return field(html, "csrf")


async def login(client: httpx.AsyncClient, email: str = "alice@reseau.example", password: str = PASSWORD,
                suite: str = "") -> httpx.Response:
    page = await client.get("/connexion")
    return await client.post("/connexion", data={"email": email, "password": password, "suite": suite,
                                                 "pre": field(page.text, "pre")})


def client_for(core: Core, base_url: str = "http://desk.test") -> httpx.AsyncClient:
    from bot.desks.web import create_app

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(core)), base_url=base_url)


async def logged_in(core: Core, email: str = "alice@reseau.example") -> tuple[httpx.AsyncClient, str]:
    """A client with a session, and its CSRF token."""
    client = client_for(core)
    response = await login(client, email)
    assert response.status_code == 303, response.text
    page = await client.get("/file")
    return client, csrf_of(page.text)


class LiveService:
    """``guichet run`` in a thread of its own (its own event loop), for the browser tests: the test's
    thread drives Chromium with Playwright's sync API and asks the service's loop for anything else."""

    def __init__(self, config: Config, before: tuple[Any, ...] = (), after: tuple[Any, ...] = ()) -> None:
        import asyncio
        import threading

        from bot.service import Service

        self.config = config
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.core: Core | None = None
        self.service: Service | None = None
        self.before, self.after = before, after  # coroutine functions run in the loop (test servers)

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.core = Core.build(config)
                self.service = Service(self.core)
                self.loop.run_until_complete(self._run())
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                self.error = exc
                self.ready.set()
            finally:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.close()

        self.thread = threading.Thread(target=main, name="guichet-live", daemon=True)

    async def _run(self) -> None:
        import asyncio

        assert self.service is not None
        for start in self.before:
            await start()
        task = asyncio.create_task(self.service.run())
        await self._until_listening()
        self.ready.set()
        try:
            await task
        finally:
            for stop in self.after:
                await stop()

    async def _until_listening(self) -> None:
        import asyncio

        assert self.config.web is not None
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection(self.config.web.host, self.config.web.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("the web desk never listened")

    def __enter__(self) -> LiveService:
        self.thread.start()
        assert self.ready.wait(30), "the service did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.service is not None
        self.loop.call_soon_threadsafe(self.service.stop.set)
        self.thread.join(30)

    def run(self, coroutine: Any) -> Any:
        """Await ``coroutine`` in the service's loop; returns its result."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def call(self, function: Any) -> Any:
        """Call ``function(core)`` in the service's loop (the SQLite connection belongs to it)."""
        async def inside() -> Any:
            return function(self.core)

        return self.run(inside())

    @property
    def url(self) -> str:
        assert self.config.web is not None
        return f"http://127.0.0.1:{self.config.web.port}"


def knowledge_copy(tmp_path: Path) -> str:
    """A copy of the shipped knowledge base the test may edit, as a [knowledge] section."""
    import shutil

    from bot.config import REPO_ROOT

    target = tmp_path / "knowledge"
    shutil.copytree(REPO_ROOT / "knowledge", target)
    return f'\n[knowledge]\ndir = "{target}"\n'
