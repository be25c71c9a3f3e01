"""What the requester will receive: the e-mail as the SMTP transport builds it, the Telegram messages
as the Telegram transport cuts them. One function per channel, so a change of rendering in the
channels shows in the preview without touching the desk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils
from markupsafe import Markup

from ...channels.smtp import build_reply
from ...config import NetworkConfig
from ...draft import reply_subject
from ...outbox import OutboxItem
from ...render import html_fragment, telegram_parts
from ...review import recipient as reply_address
from ...store import one


@dataclass(frozen=True)
class Recipient:
    """Who a reply to a request goes to, and on which channel."""

    channel: str
    address: str
    name: str
    subject: str


def recipient(db: sqlite_utils.Database, request_id: int) -> Recipient | None:
    row = one(db, "SELECT channel, reply_to, requester, requester_name, subject FROM requests WHERE id = ?",
              [request_id])
    if row is None:
        return None
    return Recipient(row["channel"], reply_address(row), row["requester_name"] or "",
                     reply_subject(row["subject"] or ""))


def email(network: NetworkConfig, to: Recipient, text: str) -> dict[str, Any]:
    """Headers, HTML and plain-text bodies of the mail the outbox would send (the HTML as the
    renderer makes it from the Markdown, raw HTML of the text escaped: safe to show in the page)."""
    item = OutboxItem(id=0, request_id=0, channel="email", recipient=to.address, subject=to.subject, body=text,
                      out_message_id="<apercu@guichet>", in_reply_to="", references=[], attempts=0)
    message = build_reply(item, network)
    body = message.get_body(preferencelist=("plain",))
    content = body.get_content() if body is not None else text
    return {"from": str(message["From"]), "to": str(message["To"]), "subject": str(message["Subject"]),
            "body": content, "html": Markup(html_fragment(text, styled=False))}


def telegram(text: str) -> list[Markup]:
    """The Telegram messages the answer becomes, in Telegram's HTML (its own tags, the text escaped
    by the renderer); long answers are cut in several, as the transport cuts them."""
    return [Markup(part) for part in telegram_parts(text)] if text.strip() else []

