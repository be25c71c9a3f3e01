"""Drafting a reply from a matched entry with the jinja2 templates in ``templates/``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jinja2

from .config import NetworkConfig
from .knowledge import Entry

_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'-]{1,30}$")


def first_name(sender_name: str) -> str:
    """A first name to greet with, or "" when the display name does not look like a person's."""
    words = sender_name.replace('"', "").split()
    if len(words) < 1 or len(words) > 4 or "@" in sender_name:
        return ""
    word = words[0]
    if not _NAME.match(word) or word.isupper() or word.lower() in {"association", "asso", "mairie", "info",
                                                                   "contact", "collectif", "ecole", "école"}:
        return ""
    return word[0].upper() + word[1:]


class Drafter:
    """Renders replies; one template per language (``reply.fr.txt.j2``, ``reply.en.txt.j2``)."""

    def __init__(self, templates: str | Path, network: NetworkConfig) -> None:
        self.network = network
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # plain-text mail; Telegram escaping is the Telegram adapter's job
        )

    def render(self, entry: Entry, *, sender_name: str = "", language: str = "fr",
               today: dt.date | None = None) -> str:
        """The reply text for ``entry``; English only when the entry has an English answer."""
        today = today or dt.date.today()
        english = language == "en" and bool(entry.answer_en)
        template = self.env.get_template("reply.en.txt.j2" if english else "reply.fr.txt.j2")
        text = template.render(
            first_name=first_name(sender_name),
            entry=entry,
            answer=entry.answer_en if english else entry.answer,
            links=entry.links,
            expired=entry.expired(today),
            english_note=language == "en" and not english,
            signature=self.network.signature,
        )
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


_PREFIXES = re.compile(r"^\s*((re|ré|réf|ref|aw|sv|tr|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.I)


def base_subject(subject: str) -> str:
    """The subject without its reply and forward prefixes (Re, RE[2], Réf, TR, Fwd…)."""
    return _PREFIXES.sub("", subject or "").strip()


def reply_subject(subject: str) -> str:
    """``Re:`` once, whatever the original's prefixes."""
    base = base_subject(subject)
    return f"Re: {base}" if base else "Re: votre demande"
