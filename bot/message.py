"""What arrives: one incoming message, the same shape whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Attachment:
    """An attachment is recorded, never inlined or matched."""

    filename: str
    content_type: str
    size: int


@dataclass
class Incoming:
    """One message as a channel adapter hands it to the core.

    ``new_text`` is only what the person wrote this time (no quoted history,
    no signature): that is what gets matched. ``refs`` are the identifiers of
    earlier messages this one answers (In-Reply-To/References, or the Telegram
    conversation), used to join a follow-up to its request.
    """

    channel: str
    external_id: str
    sender: str
    received_at: datetime
    sender_name: str = ""
    subject: str = ""
    text: str = ""
    new_text: str = ""
    raw: bytes = b""
    refs: list[str] = field(default_factory=list)
    reply_to: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    machine: str | None = None
    problems: list[str] = field(default_factory=list)
    # A channel's running conversation (a Telegram chat): recent messages in it join one request.
    conversation: str = ""
    # Why no reply may be drafted (a sender or Reply-To address that does not parse cleanly), or "".
    unanswerable: str = ""


def header_id(external_id: str) -> str:
    """The Message-ID a stored mail really had: intake stores a second, different mail with the
    same Message-ID under ``<id>#<fingerprint>`` (nothing can follow the ``>`` of a real one)."""
    end = external_id.rfind(">")
    return external_id[:end + 1] if end >= 0 else external_id
