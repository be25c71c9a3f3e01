"""MIME: a parse and a walk that stay bounded, payload decoding and RFC 3676 ``format=flowed``."""

from __future__ import annotations

import base64
import email
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser

from ...message import Attachment
from .headers import charset_name, strip_controls
from .headers import decode as decode_header
from .html import html_to_text

# Deeper parts are not read (a message nested 1,000 times is an attack, not a mail).
MAX_DEPTH = 20
# Base64 blocks larger than this are not parsed, only measured (the raw source keeps them):
# the standard parser needs about eight times a message's size in memory.
ELIDE_BYTES = 512 * 1024
_BASE64_LINE_RUN = re.compile(rb"(?:^[A-Za-z0-9+/]{40,}={0,2}\r?\n)++", re.M)  # possessive: no backtracking stack
_ELIDED = b"GUICHET-ELIDED "
_HEADERS_END = re.compile(rb"\r?\n\r?\n")


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


def parse(raw: bytes) -> tuple[Message, list[str]]:
    """The message tree, and a problem when it had to be read shallowly."""
    data = _elide_large_base64(raw)
    try:
        # compat32 keeps headers as text: much faster than policy.default's header objects.
        return email.message_from_bytes(data, policy=policy.compat32), []
    except RecursionError:
        # The standard parser recurses once per level: read the top headers first, then the levels
        # we need ourselves, so that From, Subject and Message-ID survive any nesting.
        return _shallow(data, 0), [f"parties MIME imbriquées sur plus de {MAX_DEPTH} niveaux : non lues"]


def _shallow(data: bytes, depth: int) -> Message:
    msg = BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
    boundary = msg.get_boundary()
    if msg.get_content_maintype() != "multipart" or not boundary or depth >= MAX_DEPTH:
        return msg
    end = _HEADERS_END.search(data)
    body = data[end.end():] if end else b""
    delimiter = re.compile(rb"^--" + re.escape(boundary.encode("ascii", "surrogateescape")) + rb"(--)?[ \t]*\r?$", re.M)
    chunks = delimiter.split(body)
    # split() yields text, closing-marker groups, text…: the parts sit between the first and last marker.
    parts = [chunk.lstrip(b"\r\n") for chunk in chunks[2:-1:2]] if len(chunks) > 3 else []
    msg.set_payload([_shallow(part, depth + 1) for part in parts])
    return msg


def walk(msg: Message) -> tuple[list[Message], bool]:
    """Every leaf part in order, without recursion, and whether parts deeper than MAX_DEPTH were left."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    too_deep = False
    while stack:
        part, depth = stack.pop()
        payload = part.get_payload()
        if not isinstance(payload, list):
            leaves.append(part)
        elif depth >= MAX_DEPTH:
            too_deep = True
        else:
            stack += [(child, depth + 1) for child in reversed(payload) if isinstance(child, Message)]
    return leaves, too_deep


def payload(part: Message) -> tuple[bytes | None, int]:
    """A part's decoded payload (None when it was elided) and its size in bytes."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return None, 0
    if data.startswith(_ELIDED):
        return None, int(data[len(_ELIDED):] or 0)
    return data, len(data)


def decode(part: Message) -> str:
    """A text part as ``str``: declared charset, then UTF-8, then windows-1252; flowed text joined."""
    data, _ = payload(part)
    if data is None:
        return ""
    text = None
    for charset in (charset_name(part.get_content_charset()) or "utf-8", "utf-8"):
        try:
            text = data.decode(charset)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    text = (text if text is not None else data.decode("cp1252", errors="replace")).replace("\r\n", "\n")
    if str(part.get_param("format", "")).lower() == "flowed":
        text = unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
    return text


def unflow(text: str, *, delsp: bool = False) -> str:
    """RFC 3676: join soft-broken lines (those ending in a space) within one quote depth."""
    out: list[str] = []
    current: str | None = None
    depth = 0
    for line in text.split("\n"):
        level = len(line) - len(line.lstrip(">"))
        body = line[level:]
        body = body[1:] if body.startswith(" ") else body  # space-stuffing
        if current is not None and level != depth:
            out.append(_quoted(depth, current))
            current = None
        soft = body.endswith(" ") and body != "-- "
        if soft and delsp:
            body = body[:-1]
        current = body if current is None else current + body
        depth = level
        if not soft:
            out.append(_quoted(depth, current))
            current = None
    if current is not None:
        out.append(_quoted(depth, current))
    return "\n".join(out)


def _quoted(depth: int, line: str) -> str:
    return ">" * depth + " " + line if depth else line


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").lower()
    return disposition.startswith("attachment") or (
        bool(part.get_filename()) and not part.get_content_type().startswith("text/")
    ) or part.get_content_maintype() in {"image", "audio", "video", "application"}


# A plain part that only says "read the HTML one".
_PLAIN_STUB = re.compile(r"^\s*(this is an? (html|multi-?part)|ce message (est|contient) (au format )?html|"
                         r"votre (client|logiciel) de messagerie ne (supporte|prend) pas)", re.I)


@dataclass
class Bodies:
    """What the parts hold: the text to read, the attachments, and what was wrong."""

    text: str = ""
    charset: str = ""
    from_html: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def bodies(msg: Message) -> Bodies:
    """The first plain part (the HTML one when there is none), and the attachments."""
    found = Bodies()
    plain = html = None
    leaves, too_deep = walk(msg)
    if too_deep:
        found.problems.append(f"parties MIME imbriquées sur plus de {MAX_DEPTH} niveaux : non lues")
    for part in leaves:
        if _is_attachment(part):
            filename = part.get_filename() or ""
            found.attachments.append(Attachment(filename=strip_controls(decode_header(filename)),
                                                content_type=part.get_content_type(), size=payload(part)[1]))
        elif part.get_content_type() == "text/plain" and plain is None:
            plain = part
        elif part.get_content_type() == "text/html" and html is None:
            html = part
    text = decode(plain) if plain is not None else ""
    if html is not None and (not text.strip() or _PLAIN_STUB.match(text)):
        text, found.from_html, plain = html_to_text(decode(html)), True, html
    found.text = text
    found.charset = (plain.get_content_charset() or "") if plain is not None else ""
    return found
