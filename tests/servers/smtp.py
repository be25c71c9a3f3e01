"""A recording SMTP server on loopback (aiosmtpd), with switchable faults."""

from __future__ import annotations

import asyncio
import email
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .dovecot import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class RecordingHandler:
    """Records every accepted envelope; ``refuse`` answers 451 to that many DATA commands first;
    ``slow_data`` accepts the message, then waits that many seconds before answering DATA (for the
    next ``slow_times`` messages, or all when None);
    ``on_accept`` sees each accepted message (a provider filing its own copy in Sent, say)."""

    received: list[Received] = field(default_factory=list)
    refuse: int = 0
    refused: int = 0
    slow_data: float = 0.0
    slow_times: int | None = None
    on_accept: Callable[[bytes], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        if self.on_accept is not None:
            await asyncio.to_thread(self.on_accept, bytes(envelope.content))
        if self.slow_data and self.slow_times != 0:
            if self.slow_times is not None:
                self.slow_times -= 1
            await asyncio.sleep(self.slow_data)
        return "250 OK"


class SmtpServer:
    """``with SmtpServer() as smtp:`` gives ``smtp.port`` and ``smtp.handler.received``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None,
                 starttls_context: ssl.SSLContext | None = None, users: dict[str, str] | None = None) -> None:
        """``ssl_context``: TLS from the first byte (port 465 style); ``starttls_context``: STARTTLS
        offered and required before MAIL (port 587 style); ``users``: AUTH required, after TLS."""
        self.handler = RecordingHandler()
        self.port = free_port()
        self._tls: dict[str, Any] = {"ssl_context": ssl_context}
        if starttls_context is not None:
            self._tls.update(tls_context=starttls_context, require_starttls=True)
        if users is not None:
            def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and users.get(data.login.decode()) == data.password.decode()
                return AuthResult(success=ok, handled=False)  # handled=True would mean "I answered"

            self._tls.update(authenticator=authenticate, auth_required=True)
        self.controller = self._controller()

    def _controller(self) -> Controller:
        return Controller(self.handler, hostname="127.0.0.1", port=self.port, **self._tls)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def restart(self) -> None:
        """Start again on the same port, keeping what was received (a Controller runs only once)."""
        self.controller = self._controller()
        self.controller.start()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
