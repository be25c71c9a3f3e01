"""The curated knowledge base: one Markdown file per entry with a YAML front matter.

``knowledge/national/`` holds what is true for every French network; ``knowledge/networks/<name>/``
is one network's overlay: an entry with a national slug replaces that entry (the fields it leaves
out are kept), a new slug adds one. ``network.yaml`` beside the overlay's entries gives the
network's public facts (phone, address…) that answers quote as ``{{ network.phone }}``. A folder
with no ``national/`` is read as a flat list of entries.

Staff edit these files; ``guichet kb check`` (``check()``) tells them, file by file and field by
field, what is wrong or stale before the service uses them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from ..errors import KnowledgeError

CATEGORIES = ("financement", "volontariat", "formation", "accompagnement", "information")
REQUIRED = ("slug", "category", "title", "questions")
KNOWN_FIELDS = set(REQUIRED) | {"keywords", "links", "valid_from", "valid_until", "reviewed", "answer_en",
                                "title_en", "sources", "ended", "replaced_by"}
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*\.[^\s]+$")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Source:
    """Where a fact of the answer comes from, and when someone last read that page."""

    url: str
    title: str
    checked: dt.date


@dataclass(frozen=True)
class Entry:
    """One knowledge-base entry (a question family and the team's answer)."""

    slug: str
    category: str
    title: str
    questions: tuple[str, ...]
    answer: str
    path: str = ""
    keywords: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    reviewed: dt.date | None = None
    answer_en: str = ""
    title_en: str = ""
    sources: tuple[Source, ...] = ()
    # An ended scheme will not come back (drafted as ended, never "closed until the next edition");
    # ``replaced_by`` is the slug of what follows it, ``successor_title(_en)`` its title.
    ended: bool = False
    replaced_by: str = ""
    successor_title: str = ""
    successor_title_en: str = ""
    # "national", the overlay's network name, or "" for a flat folder; ``overrides`` is the path of
    # the national entry an overlay entry replaces.
    origin: str = ""
    overrides: str = ""

    def expired(self, today: dt.date) -> bool:
        """True when the entry is tied to a call that has closed and may open again; an ended
        scheme is not "expired" (no one should look for its next edition)."""
        return self.valid_until is not None and today > self.valid_until and not self.ended

    def not_yet_open(self, today: dt.date) -> bool:
        return self.valid_from is not None and today < self.valid_from


def _date(path: str, name: str, value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise KnowledgeError(path, name, f"not a date (YYYY-MM-DD): {value!r}") from exc


def _strings(path: str, name: str, value: Any, *, required: bool = False) -> tuple[str, ...]:
    if value is None:
        value = []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeError(path, name, "expected a list of non-empty texts")
    if required and not value:
        raise KnowledgeError(path, name, "at least one is required")
    return tuple(v.strip() for v in value)


def _links(path: str, value: Any) -> tuple[Link, ...]:
    links = []
    for i, item in enumerate(value or []):
        if isinstance(item, str):
            item = {"title": item, "url": item}
        if not isinstance(item, dict) or "url" not in item:
            raise KnowledgeError(path, f"links[{i}]", "expected {title, url}")
        url = str(item["url"]).strip()
        if not _URL.match(url):
            raise KnowledgeError(path, f"links[{i}].url", f"malformed link: {url!r}")
        links.append(Link(title=str(item.get("title") or url).strip(), url=url))
    return tuple(links)


def parse_post(text: str, name: str) -> tuple[dict[str, Any], str]:
    """The front matter and the body of an entry's text (``name`` for errors); raises KnowledgeError
    on bad YAML."""
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise KnowledgeError(name, "front matter", f"not valid YAML: {detail}") from exc
    return dict(post.metadata), post.content.strip()


def read_post(path: Path) -> tuple[dict[str, Any], str]:
    """The front matter and the body of one entry file; raises KnowledgeError on bad YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(str(path), "front matter", f"not valid YAML: {' '.join(str(exc).split())}") from exc
    return parse_post(text, str(path))


def _sources(path: str, value: Any) -> tuple[Source, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise KnowledgeError(path, "sources", "expected a list of {url, title, checked}")
    sources = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not str(item.get("url") or "").strip():
            raise KnowledgeError(path, f"sources[{i}]", "expected {url, title, checked: YYYY-MM-DD}")
        url = str(item["url"]).strip()
        if not _URL.match(url):
            raise KnowledgeError(path, f"sources[{i}].url", f"malformed link: {url!r}")
        checked = _date(path, f"sources[{i}].checked", item.get("checked"))
        if checked is None:
            raise KnowledgeError(path, f"sources[{i}].checked", "the date the page was read (YYYY-MM-DD)")
        unknown = sorted(set(item) - {"url", "title", "checked"})
        if unknown:
            raise KnowledgeError(path, f"sources[{i}].{unknown[0]}", "unknown field (known: checked, title, url)")
        sources.append(Source(url=url, title=str(item.get("title") or url).strip(), checked=checked))
    return tuple(sources)


def entry_from(name: str, meta: dict[str, Any], body: str, *, origin: str = "", overrides: str = "") -> Entry:
    """Validate one entry's front matter and body (already merged with the national entry for an
    overlay); raises KnowledgeError naming the file and the field."""
    for key in REQUIRED:
        if key not in meta or meta[key] in (None, "", []):
            raise KnowledgeError(name, key, "missing required field")
    unknown = sorted(set(meta) - KNOWN_FIELDS)
    if unknown:
        raise KnowledgeError(name, unknown[0], f"unknown field (known: {', '.join(sorted(KNOWN_FIELDS))})")
    slug = str(meta["slug"])
    if not _SLUG.match(slug):
        raise KnowledgeError(name, "slug", f"use lowercase letters, digits and dashes: {slug!r}")
    if meta["category"] not in CATEGORIES:
        raise KnowledgeError(name, "category", f"unknown category {meta['category']!r} "
                                               f"(known: {', '.join(CATEGORIES)})")
    if not body:
        raise KnowledgeError(name, "answer", "empty answer (the text after the front matter)")
    ended = meta.get("ended", False)
    if not isinstance(ended, bool):
        raise KnowledgeError(name, "ended", f"expected true or false, got {ended!r}")
    replaced_by = str(meta.get("replaced_by") or "").strip()
    if replaced_by and not ended:
        raise KnowledgeError(name, "replaced_by", "only an ended scheme is replaced (add 'ended: true')")
    if replaced_by == slug:
        raise KnowledgeError(name, "replaced_by", "an entry cannot replace itself")
    entry = Entry(
        slug=slug,
        category=str(meta["category"]),
        title=str(meta["title"]).strip(),
        questions=_strings(name, "questions", meta["questions"], required=True),
        answer=body,
        path=name,
        keywords=_strings(name, "keywords", meta.get("keywords")),
        links=_links(name, meta.get("links")),
        valid_from=_date(name, "valid_from", meta.get("valid_from")),
        valid_until=_date(name, "valid_until", meta.get("valid_until")),
        reviewed=_date(name, "reviewed", meta.get("reviewed")),
        answer_en=str(meta.get("answer_en") or "").strip(),
        title_en=str(meta.get("title_en") or "").strip(),
        sources=_sources(name, meta.get("sources")),
        ended=ended,
        replaced_by=replaced_by,
        origin=origin,
        overrides=overrides,
    )
    if entry.valid_from and entry.valid_until and entry.valid_until < entry.valid_from:
        raise KnowledgeError(name, "valid_until", "is before valid_from")
    return entry


def parse_entry(path: Path) -> Entry:
    """Read and validate one entry file on its own (no overlay, no network variables)."""
    meta, body = read_post(path)
    return entry_from(str(path), meta, body)


def _yaml_file(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KnowledgeError(str(path), "file", f"not valid YAML: {' '.join(str(exc).split())}") from exc


def read_synonyms(directory: str | Path) -> dict[str, str]:
    """``synonyms.yaml`` (phrase: words to add), validated; empty when there is none."""
    path = Path(directory) / "synonyms.yaml"
    if not path.exists():
        return {}
    data = _yaml_file(path) or {}
    if not isinstance(data, dict):
        raise KnowledgeError(str(path), "file", "expected lines of the form 'phrase: words to add'")
    for phrase, words in data.items():
        if not str(phrase).strip() or not isinstance(words, str) or not words.strip():
            raise KnowledgeError(str(path), str(phrase), "expected 'phrase: words to add', with text on both sides")
    return {str(phrase): str(words) for phrase, words in data.items()}


@dataclass(frozen=True)
class OutOfScope:
    """A family of messages the base must not answer (thanks, invoices, visas…)."""

    id: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...] = ()


def read_out_of_scope(directory: str | Path) -> list[OutOfScope]:
    """``hors-champ.yaml`` (families of messages not to answer from the base), validated."""
    path = Path(directory) / "hors-champ.yaml"
    if not path.exists():
        return []
    data = _yaml_file(path) or []
    if not isinstance(data, list):
        raise KnowledgeError(str(path), "file", "expected a list of families ('- id: …' with questions, keywords)")
    families = []
    for number, family in enumerate(data, 1):
        if not isinstance(family, dict) or not str(family.get("id") or "").strip():
            raise KnowledgeError(str(path), f"family {number}", "expected 'id', 'questions' and 'keywords'")
        name = str(family["id"])
        families.append(OutOfScope(
            id=name,
            questions=_strings(str(path), f"{name}: questions", family.get("questions"), required=True),
            keywords=_strings(str(path), f"{name}: keywords", family.get("keywords"))))
    return families


def by_slug(entries: list[Entry]) -> dict[str, Entry]:
    return {e.slug: e for e in entries}


from .check import CheckReport, check, load  # noqa: E402  (check builds on the parsing above)

__all__ = ["CATEGORIES", "CheckReport", "Entry", "KnowledgeError", "Link", "OutOfScope", "Source", "by_slug",
           "check", "entry_from", "load", "parse_entry", "parse_post", "read_out_of_scope", "read_post",
           "read_synonyms"]
