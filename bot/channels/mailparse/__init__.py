"""Raw RFC 5322 bytes to ``Incoming``: headers, bodies, the new text, machines.

``parse_mail`` never raises: whatever the bytes, the result carries the raw
source and, when something was wrong, a ``problems`` note for staff. The modules:
``mime`` (bounded parse and walk, charsets, format=flowed), ``headers`` (raw
headers, repairs, addresses, ids), ``html``, ``newtext`` and ``signature`` (what
the person wrote this time, with ``clients/``: one small rule per mail client),
``machine`` (mail that must never be answered).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.message import Message

from ...message import Incoming
from . import mime
from .headers import Headers, names_an_other_address, strip_controls
from .html import html_to_text
from .machine import machine_reason
from .newtext import split_new_text

__all__ = ["MAX_TEXT_CHARS", "html_to_text", "machine_reason", "parse_mail", "split_new_text", "strip_controls"]

# Past this, text is kept in the raw source only: matching and display do not need more.
MAX_TEXT_CHARS = 50_000
_FORWARD_SUBJECT = re.compile(r"^\s*(tr|fwd?|wg|rv|enc|i)\s*:", re.I)


def parse_mail(raw: bytes, *, own_domain: str = "", own_address: str = "") -> Incoming:
    """Parse one raw mail; never raises (problems are recorded on the result)."""
    problems: list[str] = []
    try:
        msg, problems = mime.parse(raw)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"unparseable MIME: {exc!r}")
        msg = Message()
    try:
        return _parse(msg, raw, own_domain, own_address, problems)
    except Exception as exc:  # noqa: BLE001 - keep the raw source and let staff read it
        problems.append(f"malformed message: {exc!r}")
        text = raw[:MAX_TEXT_CHARS].decode("utf-8", errors="replace")
        return Incoming(channel="email", external_id=_fallback_id(raw), sender="", received_at=datetime.now(UTC),
                        text=text, new_text="", raw=raw, problems=problems)


def _fallback_id(raw: bytes) -> str:
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id.guichet>"


def _parse(msg: Message, raw: bytes, own_domain: str, own_address: str, problems: list[str]) -> Incoming:
    bodies = mime.bodies(msg)
    headers = Headers(msg, declared=bodies.charset)
    problems += bodies.problems
    sender_name, sender, unanswerable = _sender(headers, problems)
    reply_to, reply_problem = _reply_to(headers, sender, problems)
    unanswerable = unanswerable or reply_problem
    text = bodies.text
    if not text and not bodies.attachments:
        problems.append("no readable text")
    if len(text) > MAX_TEXT_CHARS:
        problems.append(f"text trimmed from {len(text)} characters")
        text = text[:MAX_TEXT_CHARS]
    defects = [d for d in getattr(msg, "defects", []) if d]
    if defects:
        problems.append("MIME defects: " + ", ".join(type(d).__name__ for d in defects[:5]))
    message_id = headers.message_id()
    if not message_id:
        problems.append("no Message-ID")
        message_id = _fallback_id(raw)
    subject = headers.text("Subject")[:500]
    # A report's human part is all there is to read: no quote to take off.
    report = msg.get_content_type() == "multipart/report"
    forwarded = bool(_FORWARD_SUBJECT.match(subject))
    new_text = text.strip() if report else split_new_text(text, forwarded=forwarded, signer=sender_name)
    problems += list(dict.fromkeys(headers.notes))
    return Incoming(
        channel="email",
        external_id=message_id,
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        text=text,
        new_text=new_text,
        raw=raw,
        refs=headers.refs(),
        reply_to=reply_to,
        attachments=bodies.attachments,
        machine=machine_reason(headers, msg.get_content_type(), sender, new_text, own_domain, own_address),
        problems=problems,
        received_at=headers.date(),
        unanswerable=unanswerable,
    )


def _sender(headers: Headers, problems: list[str]) -> tuple[str, str, str]:
    """Display name, address (lower case) and, when it cannot be answered, why."""
    found, problem = headers.addresses("From")
    if problem or len(found) != 1:
        problem = problem or ("no valid From address" if not found else "plusieurs adresses dans From")
        problems.append(problem)
        return "", "", problem
    name, address = found[0]
    other = names_an_other_address(name, address)
    if other:
        problems.append(f"le nom de l'expéditeur contient une autre adresse ({other}) : la réponse ira à {address}")
    return name, address.lower(), ""


def _reply_to(headers: Headers, sender: str, problems: list[str]) -> tuple[str, str]:
    """The address a reply goes to, and why it cannot be answered when Reply-To does not parse."""
    found, problem = headers.addresses("Reply-To")
    if problem:
        problems.append(problem)
        return "", problem
    addresses = list(dict.fromkeys(address.lower() for _, address in found))
    if not addresses:
        return sender, ""
    if len(addresses) > 1:
        problems.append(f"Reply-To donne plusieurs adresses ({', '.join(addresses)}) : la réponse ira à "
                        f"{addresses[0]} seulement")
    elif addresses[0] != sender:
        problems.append(f"Reply-To différent de l'expéditeur : la réponse ira à {addresses[0]}, pas à {sender}")
    return addresses[0], ""
