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
