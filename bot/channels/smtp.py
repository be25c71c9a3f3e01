"""E-mail out: the SMTP transport for the outbox, with correct threading."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import aiosmtplib

from ..config import NetworkConfig, SmtpConfig
from ..draft import trim_references
from ..errors import PermanentSendError, TransientSendError, UncertainSendError
from ..matching.prepare import detect_language
from ..outbox import OutboxItem
from ..render import mail_html, plain_text
from .mailparse import strip_controls


def clean_header(value: str, limit: int = 300) -> str:
    """A header value with no CR, LF or control characters (no header injection), trimmed."""
    return strip_controls(value)[:limit]


def service_mail(network: NetworkConfig, to: str, subject: str, body: str) -> EmailMessage:
    """A message Guichet itself writes (the monthly report, a password link): from the network's
    address, with a Message-ID of its own, marked Auto-Submitted so that nobody auto-replies to it."""
    msg = EmailMessage()
    msg["From"] = formataddr((network.reply_name, network.reply_from))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=network.message_id_domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    return msg


def build_reply(item: OutboxItem, network: NetworkConfig) -> EmailMessage:
    """The reply as a MIME message: From/Reply-To from config, In-Reply-To and References set, the
    Markdown body as multipart/alternative (readable text/plain, then text/html), both UTF-8."""
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header(network.reply_name), network.reply_from))
    msg["Reply-To"] = network.reply_from
    msg["To"] = clean_header(item.recipient)
    msg["Subject"] = clean_header(item.subject, 900)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = item.out_message_id
    if item.in_reply_to:
        msg["In-Reply-To"] = clean_header(item.in_reply_to)
    refs = trim_references([clean_header(r) for r in item.references if re.fullmatch(r"<[^<>\s]+>", r)])
    if refs:
        msg["References"] = " ".join(refs)
    msg.set_content(plain_text(item.body), charset="utf-8")
    lang = "en" if detect_language(item.body) == "en" else "fr"
    msg.add_alternative(mail_html(item.body, lang), subtype="html", charset="utf-8")
    return msg


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return TransientSendError(f"SMTP {exc.code} {exc.message}")
        return PermanentSendError(f"SMTP {exc.code} {exc.message}")
    return TransientSendError(f"SMTP unreachable: {exc!r}")


class MailTransport:
    """Sends approved replies by SMTP; ``filer`` keeps a copy in the Sent folder."""

    channel = "email"

    def __init__(self, smtp: SmtpConfig, network: NetworkConfig,
                 filer: Callable[[bytes], Awaitable[None]] | None = None,
                 finder: Callable[[str], Awaitable[bool]] | None = None) -> None:
        self.smtp = smtp
        self.network = network
        self.filer = filer
        self.finder = finder

    async def send(self, item: OutboxItem, commit: Callable[[], None]) -> str:
        message = build_reply(item, self.network)
        client = smtp_client(self.smtp)
        try:
            try:
                await client.connect()
                if self.smtp.username:
                    await client.login(self.smtp.username, self.smtp.password)
                await client.mail(self.network.reply_from)
                await client.rcpt(item.recipient)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise _classify(exc) from exc
            # From here a crash may or may not have delivered the mail: record it first.
            commit()
            try:
                await client.data(message.as_bytes())
            except aiosmtplib.SMTPResponseException as exc:
                raise _classify(exc) from exc  # the server answered: it refused the mail
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                # No answer (a timeout, a dropped connection): the server may have taken it all.
                raise UncertainSendError(f"SMTP: no answer to DATA: {exc!r}") from exc
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
        finally:
            client.close()
        return item.out_message_id

    async def reconcile(self, item: OutboxItem) -> bool:
        return bool(self.finder and await self.finder(item.out_message_id))

    async def file_copy(self, item: OutboxItem) -> None:
        if self.filer is not None:
            await self.filer(build_reply(item, self.network).as_bytes())


async def send_message(smtp: SmtpConfig, message: EmailMessage) -> None:
    """Send one message built elsewhere (the monthly report); raises the SMTP error as it is."""
    client = smtp_client(smtp)
    async with client:
        if smtp.username:
            await client.login(smtp.username, smtp.password)
        await client.send_message(message)


def smtp_client(smtp: SmtpConfig, timeout: float | None = None) -> aiosmtplib.SMTP:
    """A client for the configured server, not connected yet: TLS from the first byte (``ssl``,
    port 465) or STARTTLS (port 587), never both."""
    return aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, use_tls=smtp.ssl,
                           start_tls=smtp.starttls and not smtp.ssl, timeout=timeout or smtp.timeout)
