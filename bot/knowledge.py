"""The curated knowledge base: one Markdown file per entry with a YAML front matter.

Staff edit these files; ``guichet kb check`` (``check()`` here) tells them,
file by file and field by field, what is wrong before the service uses them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from .errors import KnowledgeError

CATEGORIES = ("financement", "volontariat", "formation", "accompagnement", "information")
REQUIRED = ("slug", "category", "title", "questions")
KNOWN_FIELDS = set(REQUIRED) | {"keywords", "links", "valid_from", "valid_until", "reviewed", "answer_en",
                                "title_en"}
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*\.[^\s]+$")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Link:
    title: str
    url: str


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

    def expired(self, today: dt.date) -> bool:
        """True when the entry is tied to a call that has closed."""
        return self.valid_until is not None and today > self.valid_until

    def not_yet_open(self, today: dt.date) -> bool:
        return self.valid_from is not None and today < self.valid_from


@dataclass
class CheckReport:
    """What ``check`` found: errors stop the service, warnings are for staff."""

    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


def parse_entry(path: Path) -> Entry:
    """Read and validate one entry file; raises KnowledgeError naming the file and field."""
    name = str(path)
    try:
        post = frontmatter.load(str(path))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise KnowledgeError(name, "front matter", f"not valid YAML: {detail}") from exc
    meta = post.metadata
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
    answer = post.content.strip()
    if not answer:
        raise KnowledgeError(name, "answer", "empty answer (the text after the front matter)")
    entry = Entry(
        slug=slug,
        category=str(meta["category"]),
        title=str(meta["title"]).strip(),
        questions=_strings(name, "questions", meta["questions"], required=True),
        answer=answer,
        path=name,
        keywords=_strings(name, "keywords", meta.get("keywords")),
        links=_links(name, meta.get("links")),
        valid_from=_date(name, "valid_from", meta.get("valid_from")),
        valid_until=_date(name, "valid_until", meta.get("valid_until")),
        reviewed=_date(name, "reviewed", meta.get("reviewed")),
        answer_en=str(meta.get("answer_en") or "").strip(),
        title_en=str(meta.get("title_en") or "").strip(),
    )
    if entry.valid_from and entry.valid_until and entry.valid_until < entry.valid_from:
        raise KnowledgeError(name, "valid_until", "is before valid_from")
    return entry


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


def check(directory: str | Path, today: dt.date | None = None) -> CheckReport:
    """Validate every entry under ``directory``; never raises for a bad file."""
    today = today or dt.date.today()
    report = CheckReport()
    seen: dict[str, str] = {}
    files = sorted(Path(directory).glob("*.md"))
    if not files:
        report.errors.append(f"{directory}: no entry files (*.md)")
    for path in files:
        try:
            entry = parse_entry(path)
        except KnowledgeError as exc:
            report.errors.append(str(exc))
            continue
        if entry.slug in seen:
            report.errors.append(f"{path}: slug: duplicate slug {entry.slug!r} (also in {seen[entry.slug]})")
            continue
        seen[entry.slug] = str(path)
        report.entries.append(entry)
        if entry.expired(today):
            report.warnings.append(f"{path}: valid_until: past ({entry.valid_until}); drafts will say it is closed")
        if entry.reviewed is None:
            report.warnings.append(f"{path}: reviewed: no review date")
        elif (today - entry.reviewed).days > 365:
            report.warnings.append(f"{path}: reviewed: not reviewed for over a year ({entry.reviewed})")
    for read in (read_synonyms, read_out_of_scope):
        try:
            read(directory)
        except KnowledgeError as exc:
            report.errors.append(str(exc))
    return report


def load(directory: str | Path) -> list[Entry]:
    """Load the knowledge base; raises KnowledgeError on the first invalid file."""
    report = check(directory)
    if report.errors:
        raise KnowledgeError(str(directory), "knowledge base", "; ".join(report.errors[:5]))
    return report.entries


def by_slug(entries: list[Entry]) -> dict[str, Entry]:
    return {e.slug: e for e in entries}
