"""Knowledge entries as the web desk edits them: form fields ↔ Markdown file, validation in plain French,
an atomic save that keeps the previous version, and how each entry is used.

Saving writes a temporary file beside the entry, validates it with ``knowledge.parse_entry``,
copies the current file to ``.versions/`` (suffix ``.prev``: no loader ever takes it for an entry),
then renames the new file over the old one (atomic on POSIX), and asks the core to reload it.
Front-matter keys the form does not know (added by a later release) are kept as they were.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import sqlite_utils
import yaml

from ...errors import KnowledgeError
from ...knowledge import CATEGORIES, Entry, parse_entry

LABELS = {"slug": "Code de la fiche", "category": "Catégorie", "title": "Titre", "questions": "Questions types",
          "keywords": "Mots-clés", "links": "Liens", "valid_from": "Ouvert le", "valid_until": "Clos le",
          "reviewed": "Relue le", "answer": "Réponse", "answer_en": "Réponse en anglais",
          "title_en": "Titre en anglais", "front matter": "En-tête", "file": "Fichier"}
PROBLEMS = (
    (re.compile(r"missing required field"), "à remplir"),
    (re.compile(r"at least one is required"), "il en faut au moins une"),
    (re.compile(r"expected a list of non-empty texts"), "une par ligne, sans ligne vide"),
    (re.compile(r"use lowercase letters"), "lettres minuscules sans accent, chiffres et tirets seulement "
                                           "(par exemple fin-micro-projets)"),
    (re.compile(r"unknown category"), "choisissez une catégorie de la liste"),
    (re.compile(r"not a date"), "une date au format AAAA-MM-JJ"),
    (re.compile(r"malformed link"), "l'adresse doit commencer par https:// (une par ligne : titre | adresse)"),
    (re.compile(r"is before valid_from"), "la date de clôture est avant la date d'ouverture"),
    (re.compile(r"empty answer"), "la réponse est vide"),
    (re.compile(r"duplicate slug"), "ce code est déjà celui d'une autre fiche"),
)


def plain(exc: KnowledgeError) -> str:
    """``kb check``'s finding in plain French: which field, what to do (no parser wording)."""
    field_name = exc.field.split("[")[0].split(".")[0]
    label = LABELS.get(field_name, field_name)
    problem = str(exc).rsplit(": ", 1)[-1]
    advice = next((french for pattern, french in PROBLEMS if pattern.search(str(exc))), problem)
    return f"{label} : {advice}."


@dataclass
class Form:
    """The editor's fields, as text."""

    slug: str = ""
    category: str = CATEGORIES[0]
    title: str = ""
    questions: str = ""
    keywords: str = ""
    links: str = ""
    valid_from: str = ""
    valid_until: str = ""
    reviewed: str = ""
    title_en: str = ""
    answer_en: str = ""
    answer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def _lines(value: str) -> list[str]:
        return [x.strip() for x in value.split("\n") if x.strip()]

    @classmethod
    def of(cls, entry: Entry, path: Path | None = None) -> Form:
        extra: dict[str, Any] = {}
        if path is not None and path.exists():
            extra = {k: v for k, v in frontmatter.load(str(path)).metadata.items() if k not in cls.__dataclass_fields__}
        return cls(slug=entry.slug, category=entry.category, title=entry.title, questions="\n".join(entry.questions),
                   keywords="\n".join(entry.keywords), links="\n".join(f"{link.title} | {link.url}"
                                                                        for link in entry.links),
                   valid_from=str(entry.valid_from or ""), valid_until=str(entry.valid_until or ""),
                   reviewed=str(entry.reviewed or ""), title_en=entry.title_en, answer_en=entry.answer_en,
                   answer=entry.answer, extra=extra)

    @classmethod
    def from_post(cls, data: Any, extra: dict[str, Any] | None = None) -> Form:
        values = {name: str(data.get(name) or "").replace("\r\n", "\n").strip()
                  for name in cls.__dataclass_fields__ if name != "extra"}
        return cls(**values, extra=extra or {})

    def text(self) -> str:
        """The Markdown file: YAML front matter (known fields in the usual order, then the others) and body."""
        meta: dict[str, Any] = {"slug": self.slug, "category": self.category, "title": self.title}
        if self.title_en:
            meta["title_en"] = self.title_en
        meta["questions"] = self._lines(self.questions)
        if self.keywords:
            meta["keywords"] = self._lines(self.keywords)
        links = []
        for line in self._lines(self.links):
            title, _, url = line.rpartition("|") if "|" in line else ("", "", line)
            links.append({"title": title.strip() or url.strip(), "url": url.strip()})
        if links:
            meta["links"] = links
        for name in ("valid_from", "valid_until", "reviewed"):
            value = getattr(self, name)
            if value:
                meta[name] = value
        if self.answer_en:
            meta["answer_en"] = self.answer_en
        meta.update(self.extra)
        head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=110)
        return f"---\n{head}---\n{self.answer.strip()}\n"


def check_text(text: str, directory: Path, name: str) -> Entry:
    """Validate a file's text as the loader would (raises KnowledgeError, named after ``name``)."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, prefix=".check-", suffix=".tmp",
                                     delete=False) as handle:
        handle.write(text)
    try:
        entry = parse_entry(Path(handle.name))
    except KnowledgeError as exc:
        raise KnowledgeError(name, exc.field, str(exc).rsplit(": ", 1)[-1]) from exc
    finally:
        os.unlink(handle.name)
    return entry


def save(path: Path, text: str) -> Path | None:
    """Write ``text`` to ``path`` atomically, keeping the previous version; returns where it went."""
    kept = None
    if path.exists():
        versions = path.parent / ".versions"
        versions.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        kept = versions / f"{path.stem}.{stamp}.md.prev"
        kept.write_bytes(path.read_bytes())
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=".save-", suffix=".tmp",
                                     delete=False) as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)
    return kept


@dataclass(frozen=True)
class Usage:
    used: int = 0
    sent_as_drafted: int = 0
    edited: int = 0
    replaced: int = 0

    @property
    def edit_share(self) -> str:
        decided = self.sent_as_drafted + self.edited
        return f"{round(100 * self.edited / decided)} %" if decided else "—"


def usage(db: sqlite_utils.Database, year: int) -> dict[str, Usage]:
    """Per entry this year: requests, replies sent as drafted or edited, drafts moved to another entry."""
    since = dt.datetime(year, 1, 1, tzinfo=dt.UTC).isoformat()
    counts: dict[str, dict[str, int]] = {}
    for row in db.query("SELECT slug, outcome, count(*) AS n FROM requests WHERE received_at >= ? AND slug IS NOT "
                        "NULL GROUP BY slug, outcome", [since]):
        slot = counts.setdefault(row["slug"], {})
        slot["used"] = slot.get("used", 0) + row["n"]
        slot[row["outcome"] or "open"] = row["n"]
    for row in db.query("SELECT json_extract(c.detail, '$.slug') AS slug, count(DISTINCT c.draft_id) AS n "
                        "FROM events c JOIN events r ON r.draft_id = c.draft_id AND r.kind = 'draft.rechosen' "
                        "WHERE c.kind = 'draft.created' AND c.at >= ? GROUP BY 1", [since]):
        if row["slug"]:
            counts.setdefault(row["slug"], {})["replaced"] = row["n"]
    return {slug: Usage(c.get("used", 0), c.get("sent_as_drafted", 0), c.get("sent_after_edit", 0),
                        c.get("replaced", 0)) for slug, c in counts.items()}
