"""``guichet doctor``: check the configuration and reach every server, saying plainly what is wrong."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosmtplib

from . import knowledge
from .config import Config, ImapConfig, SmtpConfig, TelegramConfig
from .errors import ConfigError
from .matching.embed import describe as describe_embedder
from .workhours import Office

# getaddrinfo's answers for a name that does not exist ("Name or service not known", "No address
# associated with hostname").
NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the ones it wraps (libraries re-raise a resolver error two or three deep)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _name_problem(host: str, key: str, exc: BaseException) -> str | None:
    """Plain words when the server's name is the problem (a typo, or no DNS at all), else None."""
    for cause in _causes(exc):
        if isinstance(cause, UnicodeError):  # the IDNA codec refuses "imap..example.org"
            return f"{host!r} is not a valid server name (an empty part between dots?): check {key}"
        if isinstance(cause, socket.gaierror):
            if cause.errno == socket.EAI_AGAIN:
                return (f"cannot look up the server name {host}: no answer from DNS; "
                        "is this machine connected to the network?")
            if cause.errno in NO_SUCH_NAME:
                return f"the server name {host} does not exist: check {key} for a typo"
            return f"cannot look up the server name {host} ({cause.strerror}): check {key}"
    return None


def _network_problem(host: str, port: int, exc: BaseException, section: str) -> str:
    if named := _name_problem(host, f"{section}.host", exc):
        return named
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS problem with {host}:{port}: the server's certificate is not trusted "
                f"({exc.verify_message or exc.reason}); check the host name, or ask the host for a valid certificate")
    if isinstance(exc, ssl.SSLError):
        if exc.reason == "WRONG_VERSION_NUMBER":
            return (f"TLS problem with {host}:{port}: the server does not speak TLS on this port; set ssl = false "
                    "(with starttls = true for SMTP on 587) or use the TLS port (993 for IMAP, 465 for SMTP)")
        return f"TLS problem with {host}:{port} ({exc.reason or exc}); check ssl/starttls and the port"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing answers on {host}:{port} (connection refused): wrong host or port, or server down"
    if isinstance(exc, TimeoutError):
        return f"{host}:{port} did not answer in time: wrong host or port, or a firewall"
    return f"cannot reach {host}:{port}: {exc}"


async def _socket_closed(sock: socket.socket | None, timeout: float = 2.0) -> None:
    # Closing a TLS connection takes a round trip (close_notify); doctor's asyncio.run() would
    # end first and leave the socket open, so wait for it to be really closed.
    deadline = asyncio.get_running_loop().time() + timeout
    while sock is not None and sock.fileno() != -1 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


async def check_imap(cfg: ImapConfig) -> Check:
    from .channels.imap import ImapError, _quote, close, connect

    try:
        client = await asyncio.wait_for(connect(cfg, timeout=10), 15)
    except ImapError as exc:
        return Check("imap", False, str(exc))
    except (OSError, TimeoutError, UnicodeError) as exc:  # UnicodeError: a malformed host name
        return Check("imap", False, _network_problem(cfg.host, cfg.port, exc, "imap"))
    try:
        selected = await client.select(_quote(cfg.mailbox))
        if selected.result != "OK":
            return Check("imap", False, f"logged in, but mailbox {cfg.mailbox!r} does not exist")
        idle = "IDLE supported" if client.has_capability("IDLE") else "no IDLE: polling"
        status = await client.status(_quote(cfg.sent_mailbox), "(MESSAGES)")
        sent = "" if status.result == "OK" else f"; sent folder {cfg.sent_mailbox!r} not found"
        return Check("imap", not sent, f"logged in as {cfg.username}, {cfg.mailbox} open, {idle}{sent}")
    finally:
        sock = client.protocol.transport.get_extra_info("socket") if client.protocol.transport else None
        await close(client)
        await _socket_closed(sock)


async def check_smtp(cfg: SmtpConfig) -> Check:
    from .channels.smtp import smtp_client

    client = smtp_client(cfg, timeout=10)
    sock = None
    try:
        await client.connect()
        sock = client.get_transport_info("socket")
        if cfg.username:
            await client.login(cfg.username, cfg.password)
    except aiosmtplib.SMTPAuthenticationError:
        return Check("smtp", False, f"SMTP login refused for {cfg.username}: wrong user name or password")
    except aiosmtplib.SMTPException as exc:
        if "STARTTLS extension not supported" in str(exc):
            return Check("smtp", False, f"TLS problem with {cfg.host}:{cfg.port}: the server does not offer "
                                        "STARTTLS; use ssl = true on port 465, or starttls = false on a trusted "
                                        "network only")
        cause = exc.__cause__ or exc
        if isinstance(cause, OSError | TimeoutError | UnicodeError):
            return Check("smtp", False, _network_problem(cfg.host, cfg.port, cause, "smtp"))
        return Check("smtp", False, f"SMTP server refused: {exc}")
    except (OSError, TimeoutError, UnicodeError) as exc:  # UnicodeError: a malformed host name
        return Check("smtp", False, _network_problem(cfg.host, cfg.port, exc, "smtp"))
    finally:
        if client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), 5)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
            await _socket_closed(sock)
    login = f"logged in as {cfg.username}" if cfg.username else "no login configured"
    return Check("smtp", True, f"{cfg.host}:{cfg.port} answers, {login}")


async def check_telegram(cfg: TelegramConfig) -> list[Check]:
    from telegram import Bot
    from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError

    bot = Bot(cfg.token, base_url=cfg.base_url, base_file_url=cfg.base_file_url)
    try:
        async with bot:
            me = bot.bot
            checks = [Check("telegram", True, f"bot token valid: @{me.username}")]
            try:
                chat = await bot.get_chat(cfg.staff_chat_id)
                checks.append(Check("staff chat", True, f"found: {chat.title or chat.id}"))
            except (BadRequest, Forbidden) as exc:
                checks.append(Check("staff chat", False, f"staff chat {cfg.staff_chat_id} not found or the bot is "
                                                         f"not a member ({exc.message}); add the bot to the group"))
            return checks
    except InvalidToken:
        return [Check("telegram", False, "bot token invalid: check GUICHET_TELEGRAM_TOKEN (from @BotFather)")]
    except NetworkError as exc:
        named = _name_problem(urlsplit(cfg.base_url).hostname or cfg.base_url, "telegram.base_url", exc)
        return [Check("telegram", False, named or f"cannot reach the Bot API at {cfg.base_url}: {exc.message}")]
    except TelegramError as exc:
        return [Check("telegram", False, f"Telegram refused: {exc.message}")]


def _config_check(config: Config) -> Check:
    # What loading cannot check on its own: values other parts parse later (the monthly report).
    try:
        Office.of(config.network)
    except ConfigError as exc:
        return Check("config", False, f"read {config.source}, but {exc}")
    return Check("config", True, f"read {config.source}")


async def run_checks(config: Config) -> list[Check]:
    """Every check that applies to this configuration, in a fixed order."""
    report = knowledge.check(config.knowledge.dir, network=config.network)
    checks = [_config_check(config),
              Check("knowledge", not report.errors,
                    f"{len(report.entries)} entries" if not report.errors else "; ".join(report.errors[:3]))]
    checks.append(Check("matcher", *describe_embedder(config.matcher.embedder)))
    jobs: list[tuple[str, Callable[[], Awaitable[Check | list[Check]]]]] = []
    if config.imap:
        jobs.append(("imap", lambda: check_imap(config.imap)))  # type: ignore[arg-type]
    if config.smtp:
        jobs.append(("smtp", lambda: check_smtp(config.smtp)))  # type: ignore[arg-type]
    if config.telegram:
        jobs.append(("telegram", lambda: check_telegram(config.telegram)))  # type: ignore[arg-type]
    results = await asyncio.gather(*(job() for _, job in jobs), return_exceptions=True)
    for (name, _), result in zip(jobs, results, strict=True):
        if isinstance(result, BaseException):
            checks.append(Check(name, False, f"unexpected error: {result!r}"))
        else:
            checks += result if isinstance(result, list) else [result]
    if not (config.imap or config.telegram):
        checks.append(Check("channels", False, "no [imap] nor [telegram] section: nothing will be read"))
    return checks
