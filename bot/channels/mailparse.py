"""Raw RFC 5322 bytes to ``Incoming``: decoding, HTML to text, quotes and machines.

``parse_mail`` never raises: whatever the bytes, the result carries the raw
source and, when something was wrong, a ``problems`` note for staff.
"""

from __future__ import annotations

import base64
import email
import email.errors
import email.utils
import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

import html2text
from mailparser_reply import EmailReplyParser

from ..message import Attachment, Incoming

# Past this, text is kept in the raw source only: matching and display do not need more.
MAX_TEXT_CHARS = 50_000

_MISLABELLED = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
                "ascii": "cp1252"}
_NOREPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|ne[-_.]?pas[-_.]?repondre|mailer-daemon|"
                      r"postmaster|bounces?)([-+.].*)?$", re.I)
_AUTO_SUBJECT = re.compile(r"^\s*(r[ée]ponse automatique|automatic reply|auto[- ]?reply|out of (the )?office|"
                           r"absence|absent(e)? du|undeliverable|delivery status notification|"
                           r"mail delivery (failed|system)|non remis|message non d[ée]livr[ée])", re.I)
_REPLY_PARSER = EmailReplyParser(languages=["fr", "en"])

# Base64 blocks larger than this are not parsed, only measured (the raw source keeps them):
# the standard parser needs about eight times a message's size in memory.
ELIDE_BYTES = 512 * 1024
_BASE64_LINE_RUN = re.compile(rb"(?:^[A-Za-z0-9+/]{40,}={0,2}\r?\n)++", re.M)  # possessive: no backtracking stack
_ELIDED = b"GUICHET-ELIDED "


def _elide_large_base64(raw: bytes) -> bytes:
    if len(raw) <= ELIDE_BYTES:
        return raw
    pieces, last = [], 0
    for block in _BASE64_LINE_RUN.finditer(raw):
        start, end = block.span()
        if end - start < ELIDE_BYTES:
            continue
        # Measured in place: slicing or matching the whole block would copy megabytes.
        encoded = end - start - raw.count(b"\n", start, end) - raw.count(b"\r", start, end)
        size = encoded * 3 // 4 - raw[max(start, end - 4):end].count(b"=")
        pieces += [raw[last:start], base64.b64encode(_ELIDED + str(size).encode()), b"\n"]
        last = end
    return b"".join([*pieces, raw[last:]]) if pieces else raw


def _payload(part: Message) -> tuple[bytes | None, int]:
    """A part's decoded payload (None when it was elided) and its size in bytes."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None, 0
    if payload.startswith(_ELIDED):
        return None, int(payload[len(_ELIDED):] or 0)
    return payload, len(payload)


def _header(msg: Message, name: str) -> str:
    """A header decoded from RFC 2047 encoded words, control characters removed; never raises."""
    value = msg.get(name)
    return "" if value is None else strip_controls(_decoded(str(value)))


def _decode(part: Message) -> str:
    payload, _ = _payload(part)
    if payload is None:
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    # Mail labelled ISO-8859-1 is very often windows-1252 (curly quotes, œ, €), as browsers assume.
    charset = _MISLABELLED.get(charset, charset)
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("cp1252", errors="replace")


# Control characters, and every character str.splitlines() treats as a line break (NEL, LS, PS…):
# the email package refuses them in headers, and a receiving parser could split a header on them.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def strip_controls(text: str) -> str:
    """``text`` on one line: control characters and line breaks become spaces."""
    return _CONTROLS.sub(" ", text).strip()


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return value


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML mail body (links kept inline)."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    return converter.handle(html).strip()


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").lower()
    return disposition.startswith("attachment") or (
        bool(part.get_filename()) and not part.get_content_type().startswith("text/")
    ) or part.get_content_maintype() in {"image", "audio", "video", "application"}


def _bodies(msg: Message) -> tuple[str, str, list[Attachment]]:
    plain, html, attachments = "", "", []
    for part in msg.walk():
        if part.is_multipart():
            continue
        if _is_attachment(part):
            attachments.append(Attachment(
                filename=_decoded(part.get_filename() or ""),
                content_type=part.get_content_type(),
                size=_payload(part)[1],
            ))
        elif part.get_content_type() == "text/plain" and not plain:
            plain = _decode(part)
        elif part.get_content_type() == "text/html" and not html:
            html = _decode(part)
    return plain, html, attachments


def machine_reason(msg: Message, sender: str, own_domain: str, own_address: str) -> str | None:
    """Why this mail was sent by a machine (and must never be answered), or None."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"auto-submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _header(msg, name):
            return f"auto-reply header {name}"
    precedence = _header(msg, "Precedence").lower()
    if precedence in {"bulk", "list", "junk", "auto_reply"}:
        return f"precedence {precedence}"
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "mailing list"
    if _header(msg, "Return-Path").replace(" ", "") == "<>":
        return "bounce (empty return path)"
    if msg.get_content_type() == "multipart/report":
        return "delivery or read report"
    local = sender.lower().partition("@")[0]
    if _NOREPLY.match(local):
        return f"machine sender {sender}"
    message_id = _header(msg, "Message-ID").lower()
    if own_domain and message_id.endswith("@" + own_domain.lower() + ">"):
        return "our own message (loop)"
    if own_address and sender.lower() == own_address.lower():
        return "from our own address (loop)"
    if _AUTO_SUBJECT.match(_header(msg, "Subject")):
        return "auto-reply subject"
    return None


def split_new_text(text: str) -> str:
    """The new part of a reply: quoted history and signature removed (French and English)."""
    try:
        replies = _REPLY_PARSER.read(text).replies
    except Exception:  # noqa: BLE001 - the parser's regexes must never cost us the message
        return text.strip()
    new = replies[0].body.strip() if replies else ""
    return _strip_trailing_signature(new or text.strip())


# What mail-parser-reply leaves when there is no sign-off ("Cordialement") before a signature:
# a phone's footer, and a last block of contact lines (name, role, address, phone, site).
_MOBILE_FOOTER = re.compile(r"^\s*(envoy[ée] (de|depuis)|sent from|get outlook for|obtenir outlook pour)\b.*$",
                            re.I | re.M)
_CONTACT = re.compile(r"(\+?\d[\d .-]{7,}\d|https?://|www\.|@[\w-]+\.\w|\b\d{5}\b)")
_ROLE = re.compile(r"\b(pr[ée]sident|tr[ée]sori|secr[ée]taire|charg[ée]e? de|coordinat|directeur|directrice|"
                   r"association|mairie|t[ée]l\b|mobile|portable)", re.I)


def _strip_trailing_signature(text: str) -> str:
    text = _MOBILE_FOOTER.sub("", text).rstrip()
    blocks = re.split(r"\n\s*\n", text)
    if len(blocks) < 2:
        return text
    last = [line for line in blocks[-1].splitlines() if line.strip()]
    # A signature: a few short lines, no question, at least one phone/site/address/e-mail, and
    # another line that is contact or role; a paragraph that merely mentions the association stays.
    contact = [bool(_CONTACT.search(line)) for line in last]
    role = [not is_contact and bool(_ROLE.search(line)) for line, is_contact in zip(last, contact, strict=True)]
    signature = (len(last) <= 8 and "?" not in blocks[-1] and all(len(line) < 80 for line in last)
                 and any(contact) and sum(contact) + sum(role) >= 2)
    return "\n\n".join(blocks[:-1]).rstrip() if signature else text


def _received_at(msg: Message) -> datetime:
    now = datetime.now(UTC)
    try:
        parsed = email.utils.parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return now
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # A Date from the future (wrong clock) would break response times.
    return min(parsed.astimezone(UTC), now)


def _refs(msg: Message) -> list[str]:
    ids: list[str] = []
    for name in ("In-Reply-To", "References"):
        ids += re.findall(r"<[^<>\s]+>", _header(msg, name))
    return list(dict.fromkeys(ids))


def parse_mail(raw: bytes, *, own_domain: str = "", own_address: str = "") -> Incoming:
    """Parse one raw mail; never raises (problems are recorded on the result)."""
    problems: list[str] = []
    try:
        # compat32 keeps headers as text: much faster than policy.default's header objects,
        # and we decode the few we use ourselves.
        msg: Any = email.message_from_bytes(_elide_large_base64(raw), policy=policy.compat32)
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
    name, address = email.utils.parseaddr(_header(msg, "From"))
    _, reply_to = email.utils.parseaddr(_header(msg, "Reply-To"))
    if not address or "@" not in address:
        problems.append("no valid From address")
    plain, html, attachments = _bodies(msg)
    text = (plain or (html_to_text(html) if html else "")).replace("\r\n", "\n")
    if not text and not attachments:
        problems.append("no readable text")
    if len(text) > MAX_TEXT_CHARS:
        problems.append(f"text trimmed from {len(text)} characters")
        text = text[:MAX_TEXT_CHARS]
    defects = [d for d in getattr(msg, "defects", []) if d]
    if defects:
        problems.append("MIME defects: " + ", ".join(type(d).__name__ for d in defects[:5]))
    message_id = (re.findall(r"<[^<>\s]+>", _header(msg, "Message-ID")) or [""])[0]
    if not message_id:
        problems.append("no Message-ID")
        message_id = _fallback_id(raw)
    return Incoming(
        channel="email",
        external_id=message_id,
        sender=address.lower(),
        sender_name=name,
        subject=_header(msg, "Subject")[:500],
        text=text,
        new_text=split_new_text(text),
        raw=raw,
        refs=_refs(msg),
        reply_to=(reply_to or address).lower(),
        attachments=attachments,
        machine=machine_reason(msg, address, own_domain, own_address),
        problems=problems,
        received_at=_received_at(msg),
    )
