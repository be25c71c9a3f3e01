"""Builders for realistic incoming mails used across the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def mail(text: str = "Bonjour, comment obtenir une subvention de l'Agence des Micro-Projets ?",
         subject: str = "Question financement", sender: str = "Marie Durand <marie@asso.example>",
         message_id: str | None = None, headers: dict[str, str] | None = None, html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "info@reseau.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="asso.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    if html is not None and text:
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(text)
    return msg.as_bytes()
