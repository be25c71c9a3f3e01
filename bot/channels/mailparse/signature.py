"""The end of a reply: footers, disclaimers and list footers, then the signature.

mail-parser-reply finds sign-offs, signatures and disclaimers in every language it
knows (and any reply header left); the rules here remove what it keeps: client
footers, a signature with no sign-off above it, a bare "-Name" or "regards".
"""

from __future__ import annotations

import re

from mailparser_reply import EmailMessage
from mailparser_reply.constants import MAIL_LANGUAGES

from .clients import compile_any
from .clients.every import CLIENTS

_FOOTER = compile_any([p for c in CLIENTS for p in c.footer])
_TAIL = compile_any([p for c in CLIENTS for p in c.tail])
LANGUAGES = tuple(MAIL_LANGUAGES)
REPLY_PARSER_CHARS = 6000
_LONG_LINE = re.compile(r"^[^\n]{300,}$", re.M)
_PARKED = re.compile(r"\x00(\d+)\x00")
_QUESTION = re.compile(r"\?(\s|$)")
# A sign-off alone on its line; what follows it is a name and contact lines.
_SIGN_OFF = re.compile(
    r"((best|kind|warm|many)\s+)?(regards|thanks|thank you|cheers|best|merci( beaucoup| d'avance| par avance)?|"
    r"cordialement|bien cordialement|bien à (vous|toi)|salutations( distinguées)?|amitiés|bises|"
    r"bonne (journée|soirée|fin de journée)|à bientôt|saludos|un saludo|atentamente|cumprimentos|"
    r"atenciosamente|abraços?|mit freundlichen grüßen|viele grüße|cordiali saluti|distinti saluti)[\s,.!]*", re.I)
_DASH_NAME = re.compile(r"-\s?[A-ZÀ-Ý][\w'.-]*(\s[\w'.-]+){0,3}")
_CONTACT = re.compile(r"(\+?\d[\d .-]{7,}\d|https?://|www\.|@[\w-]+\.\w|\b\d{5}\b)")
_ROLE = re.compile(r"\b(pr[ée]sident|tr[ée]sori|secr[ée]taire|charg[ée]e? de|coordinat|directeur|directrice|"
                   r"association|mairie|t[ée]l\b|mobile|portable)", re.I)


def finish(lines: list[str], signer: str = "") -> str:
    """The reply's own lines with footers, disclaimers and the signature taken off.

    ``signer`` (the sender's display name) finds a signature that is only a name, and a role.
    """
    lines = [line for line in lines if not _FOOTER.fullmatch(line.strip())]
    lines = _cut_tail(lines)
    text = _reply_parser("\n".join(lines))
    return _tidy(_strip_signer(_strip_signature(text), signer))


def _cut_tail(lines: list[str]) -> list[str]:
    """Lines up to a disclaimer or list footer (never a block that asks something)."""
    seen_text = False
    for n, line in enumerate(lines):
        if seen_text and _TAIL.match(line.strip()) and not _QUESTION.search("\n".join(lines[n:])):
            return lines[:n]
        seen_text = seen_text or bool(line.strip())
    return lines


def _reply_parser(text: str) -> str:
    if not text.strip():
        return ""
    # Its patterns cost the square of a line's length: past a few pages, only the end (where
    # signatures and disclaimers are) is given to it.
    if len(text) > REPLY_PARSER_CHARS:
        edge = len(text) - REPLY_PARSER_CHARS
        cut = max(text.rfind("\n", 0, edge), text.rfind(" ", 0, edge)) + 1 or edge
        return text[:cut] + _reply_parser(text[cut:])
    # A long line is no signature nor header: it is parked, so that no pattern scans it.
    parked: list[str] = []

    def park(line: re.Match[str]) -> str:
        parked.append(line[0])
        return f"\x00{len(parked) - 1}\x00"

    masked = _LONG_LINE.sub(park, text)
    try:
        # "- item" lines are a list, not a signature: a "-Name" signature is ours to find.
        replies = EmailMessage(text=masked, languages=list(LANGUAGES), keep_hyphen_lists=True).read().replies
    except Exception:  # noqa: BLE001 - the parser's regexes must never cost us the message
        return text
    body = _PARKED.sub(lambda found: parked[int(found[1])], replies[0].body if replies else "")
    return body if body.strip() else text


def _strip_signature(text: str) -> str:
    lines = text.split("\n")
    body = [n for n, line in enumerate(lines) if line.strip()]
    if len(body) < 2:
        return text
    for n in body[max(1, len(body) - 9):]:  # a sign-off has a few lines at most below it
        rest = [line for line in lines[n + 1:] if line.strip()]
        if _SIGN_OFF.fullmatch(lines[n].strip()) and len(rest) <= 8 and all(len(line) < 80 for line in rest) \
                and not _QUESTION.search("\n".join(rest)):
            return _strip_contact_block("\n".join(lines[:n]))
    if _DASH_NAME.fullmatch(lines[body[-1]].strip()):
        return _strip_contact_block("\n".join(lines[:body[-1]]))
    return _strip_contact_block(text)


def _strip_contact_block(text: str) -> str:
    """A last block of contact lines (name, role, address, phone, site) with no sign-off above it."""
    text = text.rstrip()
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


def _strip_signer(text: str, signer: str) -> str:
    """The last lines when they open on the sender's own name ("Marie", "Marie Durand / Trésorière")."""
    names = {word.lower() for word in re.findall(r"\w{3,}", signer)}
    lines = text.split("\n")
    filled = [n for n, line in enumerate(lines) if line.strip()]
    if not names or len(filled) < 2:
        return text
    for n in filled[-3:]:
        words = re.findall(r"\w+", lines[n].lower())
        rest = [line for line in lines[n:] if line.strip()]
        if (n != filled[0] and names & set(words) and len(words) <= 6 and not _QUESTION.search("\n".join(rest))
                and all(len(line) < 60 for line in rest)):
            return "\n".join(lines[:n])
    return text


def _tidy(text: str) -> str:
    lines = text.split("\n")
    while lines and not any(ch.isalnum() for ch in lines[-1]):  # a rule left above cut history
        lines.pop()
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", "\n".join(lines)).strip()
