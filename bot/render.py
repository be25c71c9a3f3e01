"""Markdown replies rendered the way each reader gets them: plain text and HTML mail, Telegram HTML.

The knowledge base and the drafts stay Markdown (what staff read and edit); a reply is rendered
only when it leaves, and the desks preview it with the same functions. One parser (markdown-it-py,
CommonMark) serves every form. Raw HTML in the source is never passed through: it is shown as
text, so a requester's or an entry's ``<b>`` cannot forge markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

# ``breaks``: a line break typed in a draft stays a line break (signatures, hand-written answers).
# ``linkify``: bare addresses (the template's link lines, signatures) become links.
_MD = (MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": True})
       .enable(["linkify", "strikethrough"]).disable("image"))

TELEGRAM_LIMIT = 4096

# Mail clients drop <style> blocks (Outlook, many webmails): every style is on its element.
_STYLES = {
    "p": "margin:0 0 1em 0",
    "ul": "margin:0 0 1em 0;padding-left:1.5em",
    "ol": "margin:0 0 1em 0;padding-left:1.5em",
    "li": "margin:0 0 .3em 0",
    "a": "color:#0b5394;text-decoration:underline",
    "blockquote": "margin:0 0 1em 0;padding-left:1em;border-left:3px solid #cccccc;color:#555555",
    "h1": "font-size:1.2em;margin:1em 0 .5em 0", "h2": "font-size:1.1em;margin:1em 0 .5em 0",
    "h3": "font-size:1em;margin:1em 0 .5em 0", "h4": "font-size:1em;margin:1em 0 .5em 0",
    "code": "font-family:Consolas,Menlo,monospace;font-size:.95em",
    "pre": "font-family:Consolas,Menlo,monospace;font-size:.95em;white-space:pre-wrap;margin:0 0 1em 0",
    "hr": "border:0;border-top:1px solid #cccccc;margin:1em 0",
}
_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin:0;padding:0;background:#ffffff">
<div style="max-width:42em;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;\
color:#222222">
{body}</div>
</body>
</html>
"""


def html_fragment(markdown: str, *, styled: bool = True) -> str:
    """The reply as an HTML fragment: with inline styles, as in the e-mail; without them (``styled``
    False), for a page whose stylesheet styles it (the web desk's preview: its CSP refuses inline
    styles)."""
    tokens = _MD.parse(markdown)
    if styled:
        for token in tokens:
            _style(token)
    return str(_MD.renderer.render(tokens, _MD.options, {}))


def _style(token: Token) -> None:
    if token.nesting >= 0 and token.tag in _STYLES and not token.hidden:
        token.attrSet("style", _STYLES[token.tag])
    for child in token.children or ():
        _style(child)


def mail_html(markdown: str, lang: str = "fr") -> str:
    """The text/html part of a reply: a small page, UTF-8, the fragment inside."""
    return _PAGE.format(lang=html.escape(lang), body=html_fragment(markdown))


@dataclass(frozen=True)
class _Dialect:
    """How inline marks and text are written: plain text, or Telegram's HTML subset."""

    escape: bool
    marks: dict[str, tuple[str, str]] = field(default_factory=dict)
    bullet: str = "- "
    quote: str = "> "


_PLAIN = _Dialect(escape=False)
_TELEGRAM = _Dialect(escape=True, bullet="• ", quote="", marks={
    "strong": ("<b>", "</b>"), "em": ("<i>", "</i>"), "s": ("<s>", "</s>"), "code": ("<code>", "</code>"),
    "heading": ("<b>", "</b>"), "pre": ("<pre>", "</pre>"), "blockquote": ("<blockquote>", "</blockquote>"),
})


def plain_text(markdown: str) -> str:
    """The text/plain part of a reply: no Markdown marks, links written out, layout kept."""
    return _Writer(_PLAIN).render(_MD.parse(markdown))


def telegram_html(markdown: str) -> str:
    """The reply in Telegram's HTML parse mode (its tag subset, text escaped)."""
    return _Writer(_TELEGRAM).render(_MD.parse(markdown))


def telegram_parts(markdown: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The reply in Telegram HTML, cut into messages Telegram accepts one by one."""
    return split_html(telegram_html(markdown), limit)


class _Writer:
    """Walks markdown-it's block tokens; each leaf block is written with its list and quote prefixes."""

    def __init__(self, dialect: _Dialect) -> None:
        self.d = dialect
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [next number] for ordered, [] for bullets
        self.marker = ""  # the list marker the next leaf block starts with
        self.quotes = 0
        self.heading = False
        self.last_line: int | None = None

    def render(self, tokens: Sequence[Token]) -> str:
        for token in tokens:
            kind = token.type
            if kind == "bullet_list_open":
                self.lists.append([])
            elif kind == "ordered_list_open":
                self.lists.append([int(token.attrGet("start") or 1)])
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif kind == "list_item_open":
                numbers = self.lists[-1]
                if numbers:
                    self.marker = f"{numbers[0]}. "
                    numbers[0] += 1
                else:
                    self.marker = self.d.bullet
            elif kind == "blockquote_open":
                self.quotes += 1
            elif kind == "blockquote_close":
                self.quotes -= 1
            elif kind in ("heading_open", "heading_close"):
                self.heading = kind == "heading_open"
            elif kind == "inline":
                self._block(token, self._inline(token.children or []), heading=self.heading)
            elif kind in ("code_block", "fence"):
                self._block(token, self._text(token.content.rstrip("\n")), pre=True)
            elif kind == "hr":
                self._block(token, "—" * 10)
        return "\n".join(self.out).strip("\n") + "\n" if self.out else ""

    def _block(self, token: Token, text: str, *, pre: bool = False, heading: bool = False) -> None:
        if not text.strip():
            return  # an empty heading or item: nothing to show, and Telegram refuses empty entities
        start, end = token.map or (0, 0)
        if self.out and (self.last_line is None or start > self.last_line):
            self.out.append("")  # a blank line in the source stays one
        self.last_line = end
        if heading:
            text = self._wrap("heading", text)
        if pre:
            text = self._wrap("pre", text)
        depth = max(len(self.lists) - 1, 0)
        indent = "   " * depth
        rest = indent + " " * len(self.marker or self.d.bullet) if self.lists else ""
        first = indent + self.marker if self.marker else rest
        self.marker = ""
        lines = [(rest if n else first) + line for n, line in enumerate(text.split("\n"))]
        if self.quotes:
            if self.d.quote:
                lines = [self.d.quote * self.quotes + line for line in lines]
            else:
                lines = [self._wrap("blockquote", "\n".join(lines))]
        self.out.extend(lines)

    def _wrap(self, mark: str, text: str) -> str:
        opening, closing = self.d.marks.get(mark, ("", ""))
        return f"{opening}{text}{closing}"

    def _text(self, text: str) -> str:
        return html.escape(text, quote=False) if self.d.escape else text

    def _inline(self, children: Sequence[Token]) -> str:
        parts: list[str] = []
        link: tuple[str, int] | None = None  # href, and where its text starts in ``parts``
        for child in children:
            kind = child.type
            if kind == "text":
                parts.append(self._text(child.content))
            elif kind in ("softbreak", "hardbreak"):
                parts.append("\n")
            elif kind == "code_inline":
                parts.append(self._wrap("code", self._text(child.content)))
            elif kind.endswith("_open") and kind[:-5] in ("strong", "em", "s"):
                parts.append(self.d.marks.get(kind[:-5], ("", ""))[0])
            elif kind.endswith("_close") and kind[:-6] in ("strong", "em", "s"):
                parts.append(self.d.marks.get(kind[:-6], ("", ""))[1])
            elif kind == "link_open":
                link = (str(child.attrGet("href") or ""), len(parts))
            elif kind == "link_close" and link is not None:
                href, at = link
                label = "".join(parts[at:])
                del parts[at:]
                parts.append(self._link(href, label))
                link = None
        return "".join(parts)

    def _link(self, href: str, label: str) -> str:
        address = re.sub(r"^(mailto:|https?://)", "", href).rstrip("/")
        shown = html.unescape(label) if self.d.escape else label
        if not href or re.sub(r"^https?://", "", shown).rstrip("/") == address:
            return label  # the address itself: mail clients and Telegram link it on their own
        if self.d.escape and href.startswith(("https://", "http://")):
            return f'<a href="{html.escape(href, quote=True)}">{label}</a>'
        return f"{label} ({self._text(href.removeprefix('mailto:'))})"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


_PIECE = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|\w+);|[^<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Cut well-formed Telegram HTML into parts of at most ``limit`` UTF-16 units, each well formed.

    Cuts fall at a paragraph end if one is in the second half of the part, else a line end, else a
    space, else between two characters; never inside a tag or an entity. Tags open at a cut are
    closed at the end of the part and opened again at the start of the next.
    """
    parts: list[str] = []
    text = text.strip()
    while utf16_len(text) > limit:
        cut, stack = _cut(text, limit)
        rest = "".join(opening for _, opening in stack) + text[cut:].lstrip()
        if len(rest) >= len(text):
            # The opening tags alone leave no room for a character (a link to a very long address):
            # the outer element loses its markup, its text stays, and the loop always moves on.
            text = _unwrap_first(text)
            continue
        head = _drop_empty(text[:cut].rstrip() + "".join(f"</{name}>" for name, _ in reversed(stack)))
        text = rest
        if head.strip():
            parts.append(head)
    text = _drop_empty(text)
    return [*parts, text] if text.strip() else parts


def _cut(text: str, limit: int) -> tuple[int, list[tuple[str, str]]]:
    """Where to cut the first part, and the tags open there (name, opening tag)."""
    stack: list[tuple[str, str]] = []
    best: tuple[int, int, list[tuple[str, str]]] | None = None  # priority, position, stack
    size = 0
    last_safe = (0, list(stack))
    for match in _PIECE.finditer(text):
        piece = match.group()
        tag = _TAG.match(piece)
        if not tag and piece in " \n" and size >= limit // 2:
            priority = 2 if text.startswith("\n\n", match.start()) else 1 if piece == "\n" else 0
            if best is None or priority >= best[0]:
                best = (priority, match.start(), list(stack))
        after = stack[:-1] if tag and tag.group(1) else [*stack, (tag.group(2).lower(), piece)] if tag else stack
        size += utf16_len(piece)
        if size + sum(len(name) + 3 for name, _ in after) > limit:
            break
        stack = after
        last_safe = (match.end(), list(stack))
    if best is not None:
        return best[1], best[2]
    return last_safe


def _unwrap_first(text: str) -> str:
    """``text`` without the first element's own tags (its content stays)."""
    depth = 0
    opening: re.Match[str] | None = None
    for match in _PIECE.finditer(text):
        tag = _TAG.match(match.group())
        if tag is None:
            continue
        if opening is None:
            opening = match
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return text[:opening.start()] + text[opening.end():match.start()] + text[match.end():]
    return re.sub(r"<[^<>]*>", "", text)  # not well formed after all: no markup at all


def _drop_empty(text: str) -> str:
    # A cut right after an opening tag leaves an element with nothing in it (and its parent too).
    while True:
        emptied = re.sub(r"<([a-z][\w-]*)[^<>]*>\s*</\1>", "", text)
        if emptied == text:
            return text
        text = emptied
