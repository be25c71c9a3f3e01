"""What a person wrote this time: quoted history, forwarded headers and signatures taken off.

The text is read line by line. A *marker* is where quoted history begins: an
attribution ("Le … a écrit :"), a separator ("----- Mail original -----") or a
header block ("De : … / Envoyé : … / À : …"). A marker followed by ">" lines only
introduces a quote: the quote goes and the lines around it stay (interleaved and
bottom-posted replies). The first marker followed by plain text starts history
that runs to the end. A forwarded message keeps its body, without its headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .clients import compile_any
from .clients.every import CLIENTS
from .signature import finish

_HISTORY = compile_any([p for c in CLIENTS for p in c.history])
_FORWARD = compile_any([p for c in CLIENTS for p in c.forward])
_INLINE = compile_any([rf"[ \t]?(?:{p})" for c in CLIENTS for p in c.inline])
_KEYS = "|".join(sorted({re.escape(k) for c in CLIENTS for k in (*c.sender_keys, *c.other_keys)}, key=len,
                        reverse=True))
_HEADER_LINE = re.compile(rf"[*\s]*({_KEYS})[*\s]*:", re.I)
_SENDER_LINE = re.compile(
    rf"[*\s]*({'|'.join(re.escape(k) for c in CLIENTS for k in c.sender_keys)}|to|à|a|an|aan|para|til)[*\s]*:", re.I)
# An attribution glued to the end of the reply's last line: "Merci ! On Wed, 4 Apr 2012, Bob wrote:".
_GLUED = re.compile(r"(?<=\S)\s*-*\s*(?=(on|le)\s(?=[^\n]{0,200}\d)[^\n]{5,200}?\s(wrote|a\s+écrit)\s*:\s*$)", re.I)
_GLUED_END = re.compile(r"(wrote|écrit)\s*:\s*$", re.I)
_INVISIBLE = str.maketrans({"\u00a0": " ", "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
                            "\u00ad": None})
# The end of an address wrapped onto a line of its own, which reads like a quoted line.
_ADDRESS_END = re.compile(r"\s*>\s*:\s*")
# Past this many lines, the rest of a mail is not searched for markers (a reply's new text is near the top).
MAX_SCAN_LINES = 3000


@dataclass(frozen=True)
class _Marker:
    start: int
    end: int
    kind: str  # "history", "headers" or "forward"


def split_new_text(text: str, *, forwarded: bool = False, signer: str = "") -> str:
    """The new part of a mail: quoted history, forwarded headers, signature and footers removed.

    ``forwarded`` (a "TR:"/"Fwd:" subject) reads a header block as the start of a forwarded
    message, whose body is kept. ``signer`` is the sender's name, for a signature that is only that.
    """
    lines = _prepare(text)
    return _extract(lines, forwarded, signer, nested=False)


def _prepare(text: str) -> list[str]:
    text = _INLINE.sub("", text.translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n"))
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        tail = max(0, len(line) - 260)  # an attribution is short: only a line's end can hold one
        glued = _GLUED.search(line, tail) if _GLUED_END.search(line) and not _quoted(line) else None
        lines += [line[:glued.start()], line[glued.end():].strip()] if glued else [line]
    return lines


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _extract(lines: list[str], forwarded: bool, signer: str, nested: bool) -> str:
    intros, start = _markers(lines)
    if start is not None and (start.kind == "forward" or (forwarded and start.kind == "headers")):
        before = finish(_unquoted(lines[:start.start], intros), signer)
        body = _body_after_headers(lines, start)
        # The forwarded message is someone else's: the sender's name does not sign it.
        inner = finish(body) if nested else _extract(body, False, "", nested=True)
        return "\n\n".join(part for part in (before, inner) if part)
    head = lines if start is None else lines[:start.start]
    new = finish(_unquoted(head, intros), signer)
    if new:
        return new
    if start is not None:
        # Nothing above the history: the mail was forwarded as is, or written below unquoted history.
        return finish(_unquoted(_body_after_headers(lines, start), set()))
    # Nothing but a quote (some clients wrap a whole message in one): better the quote than nothing.
    return finish([re.sub(r"^\s*(>\s?)+", "", line) for n, line in enumerate(lines) if n not in intros], signer)


def _markers(lines: list[str]) -> tuple[set[int], _Marker | None]:
    """Lines that introduce a quote (to drop), and the marker where unquoted history starts."""
    intros: set[int] = set()
    i = 0
    while i < min(len(lines), MAX_SCAN_LINES):
        marker = _marker_at(lines, i)
        if marker is None:
            i += 1
            continue
        following = next((lines[j] for j in range(marker.end, len(lines)) if lines[j].strip()), "")
        if marker.kind == "forward" or not _quoted(following):
            return intros, marker
        intros.update(range(marker.start, marker.end))
        i = marker.end
    return intros, None


def _marker_at(lines: list[str], i: int) -> _Marker | None:
    line = lines[i].strip()
    if not line or _quoted(line):
        return None
    if _FORWARD.fullmatch(line):
        return _Marker(i, i + 1, "forward")
    size = _header_block(lines, i)
    if size:
        return _Marker(i, i + size, "headers")
    for width in (1, 2, 3):
        window = lines[i:i + width]
        # A wrapped attribution opens on its date: a line of text above one is not part of it.
        if len(window) < width or (width > 1 and (not window[-1].strip() or (_quoted(window[-1]) and not
                                                 _ADDRESS_END.fullmatch(window[-1])) or not _has_digit(line))):
            break
        if _HISTORY.fullmatch(" ".join(part.strip() for part in window)):
            return _Marker(i, i + width, "history")
    return None


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _header_block(lines: list[str], i: int) -> int:
    """How many lines a header block starting at ``i`` takes (0: none): two fields or more, one naming a person."""
    if not _HEADER_LINE.match(lines[i]):
        return 0
    fields, names_someone, end, loose = 0, False, i, 0
    for j in range(i, min(len(lines), i + 16)):
        line = lines[j]
        if _HEADER_LINE.match(line):
            fields += 1
            names_someone = names_someone or bool(_SENDER_LINE.match(line))
            end, loose = j + 1, 0
        elif line.strip() and loose < 2 and not _quoted(line):
            loose += 1  # a field wrapped over two lines: part of the block if a field or a blank line follows
        else:
            end += loose if loose == 1 and not line.strip() else 0
            break
    return end - i if fields >= 2 and names_someone else 0


def _unquoted(lines: list[str], intros: set[int]) -> list[str]:
    return [line for n, line in enumerate(lines)
            if n not in intros and not _quoted(line) and not _rewrapped(lines, n)]


def _rewrapped(lines: list[str], n: int) -> bool:
    """A quoted line's end that a client wrapped without its ">" (lower case, between two quoted lines)."""
    return (0 < n < len(lines) - 1 and _quoted(lines[n - 1]) and _quoted(lines[n + 1])
            and lines[n].strip()[:1].islower())


def _body_after_headers(lines: list[str], marker: _Marker) -> list[str]:
    """The lines after a marker, without the header block that may follow it."""
    rest = marker.end if marker.kind != "headers" else marker.start
    while rest < len(lines) and not lines[rest].strip():
        rest += 1
    size = _header_block(lines, rest) if rest < len(lines) else 0
    return lines[rest + size:]
