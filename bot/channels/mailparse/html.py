"""HTML mail to plain text (html2text), without the Markdown it adds."""

from __future__ import annotations

import re

import html2text

# html2text writes Markdown: it escapes characters at line starts ("\--", "1\."), rules off <hr>
# as "* * *" and pads line breaks with two spaces. None of that belongs in a mail's text.
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_RULE = re.compile(r"^[ \t]*\* \* \*[ \t]*$", re.M)
_TRAILING = re.compile(r"[ \t]+$", re.M)


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML mail body: entities decoded, quotes as "> " lines."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.unicode_snob = True  # &eacute; is é, not e
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_links = True
    converter.ignore_tables = True
    text = converter.handle(html).replace("\xa0", " ")
    text = _TRAILING.sub("", _RULE.sub("", _ESCAPED.sub(r"\1", text)))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
