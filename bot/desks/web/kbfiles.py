"""Knowledge entries as the web desk edits them: form fields ↔ Markdown file, where an edit is written,
validation as the loader runs it for the network, an atomic save that keeps the previous version, and
how each entry is used.

The editor shows an entry as written, not as drafted: an overlay entry merged onto the national one,
``{{ network.* }}`` variables left as they are. Saving always writes the network's own file (its
overlay; a flat folder's entries sit side by side): a national entry becomes an overlay entry that
holds only what differs from it, so the national pack, shared by every network, is never rewritten
and what the overlay leaves out (usually the example questions) still comes from it. Before writing,
the new text is checked with ``knowledge.check(..., pending=…)``, the loader's own merge, variables
and successors for that network. Front-matter keys the form does not show are kept as they were.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml

from ...config import NetworkConfig
from ...errors import KnowledgeError
from ...knowledge import CATEGORIES, Entry, check
from ...knowledge.layout import NATIONAL, Raw, find, own_dir
from .kbwords import Finding, finding, plain


def _text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _link_line(link: Any) -> str:
    if not isinstance(link, dict):
        return _text(link)
    url, title = _text(link.get("url")), _text(link.get("title"))
    return f"{title} | {url}" if title and title != url else url


def _source_line(source: Any) -> str:
    if not isinstance(source, dict):
        return _text(source)
    url = _text(source.get("url"))
    return f"{_text(source.get('title')) or url} | {url} | {_text(source.get('checked'))}"


def _date(text: str) -> dt.date | str:
    """A date the YAML writes as a date; anything else as typed, for the loader to name the field."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """YAML as the shipped entries are written by hand: list items indented under their key, long or
    multi-line texts as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value or len(value) > 100 else None))


@dataclass
class Form:
    """The editor's fields, as text; ``extra`` holds the front-matter keys the form does not show."""

    slug: str = ""
    category: str = CATEGORIES[0]
    title: str = ""
    title_en: str = ""
    questions: str = ""
    keywords: str = ""
    links: str = ""
    sources: str = ""
    valid_from: str = ""
    valid_until: str = ""
    ended: str = ""
    replaced_by: str = ""
    reviewed: str = ""
    answer_en: str = ""
    answer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def _lines(value: str) -> list[str]:
        return [x.strip() for x in value.split("\n") if x.strip()]

    @classmethod
    def names(cls) -> list[str]:
        """The fields the form posts, in the order the file lists them (the answer is the body)."""
        return [f.name for f in fields(cls) if f.name != "extra"]

    @classmethod
    def of(cls, raw: Raw) -> Form:
        """The form for an entry as written (variables unresolved, an overlay merged onto its base)."""
        meta = raw.meta
        return cls(
            slug=raw.slug, category=_text(meta.get("category")), title=_text(meta.get("title")),
            title_en=_text(meta.get("title_en")), questions="\n".join(_text(q) for q in _list(meta.get("questions"))),
            keywords="\n".join(_text(k) for k in _list(meta.get("keywords"))),
            links="\n".join(_link_line(link) for link in _list(meta.get("links"))),
            sources="\n".join(_source_line(source) for source in _list(meta.get("sources"))),
            valid_from=_text(meta.get("valid_from")), valid_until=_text(meta.get("valid_until")),
            ended="oui" if meta.get("ended") is True else "", replaced_by=_text(meta.get("replaced_by")),
            reviewed=_text(meta.get("reviewed")), answer_en=_text(meta.get("answer_en")), answer=raw.body.strip(),
            extra={k: v for k, v in meta.items() if k not in cls.names()})

    @classmethod
    def from_post(cls, data: Any) -> Form:
        values: dict[str, Any] = {name: str(data.get(name) or "").replace("\r\n", "\n").strip()
                                  for name in cls.names()}
        return cls(**values)

    def _value(self, name: str) -> Any:
        """A field as the front matter holds it; None when empty."""
        text = getattr(self, name)
        if name == "ended":
            return bool(text)
        if not text:
            return None
        if name in ("questions", "keywords"):
            return self._lines(text)
        if name == "links":
            return [self._link(line) for line in self._lines(text)]
        if name == "sources":
            return [self._source(line) for line in self._lines(text)]
        if name in ("valid_from", "valid_until", "reviewed"):
            return _date(text)
        return text

    @staticmethod
    def _link(line: str) -> dict[str, str]:
        title, _, url = line.rpartition("|")
        return {"title": title.strip() or url.strip(), "url": url.strip()}

    @staticmethod
    def _source(line: str) -> dict[str, Any]:
        parts = [p.strip() for p in line.rsplit("|", 2)]
        if len(parts) == 2:  # "titre | adresse" with no date, or "adresse | date"
            parts = [*parts, ""] if "://" in parts[1] else ["", *parts]
        title, url, checked = parts if len(parts) == 3 else ["", line.strip(), ""]
        source: dict[str, Any] = {"url": url, "title": title or url}
        if checked:
            source["checked"] = _date(checked)
        return source

    def meta(self, base: Form | None = None) -> dict[str, Any]:
        """The front matter: every filled field, or, over the national entry ``base``, the slug and
        what differs from it (a field emptied here is written empty, so that it is not inherited)."""
        meta: dict[str, Any] = {"slug": self.slug} if base is not None or self.slug else {}
        for name in self.names()[1:-1]:
            value = self._value(name)
            if (getattr(base, name) != getattr(self, name)) if base is not None else value not in (None, False):
                meta[name] = value
        for key, value in self.extra.items():
            if base is None or base.extra.get(key, object()) != value:
                meta[key] = value
        return meta

    def body(self, base: Form | None = None) -> str:
        """The answer, or nothing over a national entry whose answer it keeps."""
        return "" if base is not None and base.answer == self.answer else self.answer

    def text(self, base: Form | None = None) -> str:
        """The Markdown file: YAML front matter (the usual order, then the keys the form does not show)
        and the answer."""
        head = yaml.dump(self.meta(base), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110)
        body = self.body(base)
        return f"---\n{head}---\n{body}\n" if body else f"---\n{head}---\n"

    def changes(self, base: Form | None) -> bool:
        """False when, over ``base``, there is nothing of its own to write."""
        return base is None or len(self.meta(base)) > 1 or bool(self.body(base))


@dataclass
class Edit:
    """An edit checked, not yet written: the file it goes to, its text, and what the loader made of it."""

    path: Path
    text: str
    entry: Entry | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    # Nothing to write: the text is the file's, or an untouched national entry would get an empty overlay.
    unchanged: bool = False


def _target(root: Path, network: str, slug: str, raw: Raw | None) -> Path:
    mine = own_dir(root, network)
    if raw is None or (raw.origin == NATIONAL and mine != root / NATIONAL):
        return mine / f"{slug or 'nouvelle-fiche'}.md"
    return raw.path


def plan(root: Path, network: str, form: Form, raw: Raw | None, base: Raw | None) -> Edit:
    """Where ``form`` is written for ``network`` and the text it writes, not yet checked: ``raw`` is the
    entry it edits as written (its front-matter keys the form does not show are kept), ``base`` the
    national entry under it (``layout.find``); both None for a new entry."""
    path = _target(root, network, form.slug, raw)
    under = Form.of(base) if base is not None and base.path != path else None
    if raw is not None:
        form.extra = Form.of(raw).extra
    text = form.text(under)
    written = path.read_text(encoding="utf-8") if path.exists() else None
    return Edit(path, text, unchanged=written == text if written is not None else not form.changes(under))


def edit(root: Path, network: NetworkConfig, form: Form, *, existing: bool, today: dt.date) -> Edit:
    """``plan`` the edit of entry ``form.slug`` (``existing``) or of a new entry, and what ``kb check``
    says of the network's base once it is written (nothing is); reads files only: call it in a thread."""
    raw, base = find(root, network.knowledge, form.slug) if existing else (None, None)
    result = plan(root, network.knowledge, form, raw, base)
    path = result.path
    if not form.answer:
        result.errors.append(plain(KnowledgeError(str(path), "answer", "empty answer")))
    report = check(root, today, network=network, pending={path: result.text})
    mine = f"{path}: "
    for error in report.errors:
        name, _, finding_text = error.partition(": ")
        where, _, problem = finding_text.partition(": ")
        said = plain(KnowledgeError(name, where, problem))
        result.errors.append(said if error.startswith(mine) else f"Fichier {Path(name).name} — {said}")
    result.entry = next((e for e in report.entries if e.path == str(path)), None)
    result.warnings = [finding(w.removeprefix(mine)) for w in report.warnings if w.startswith(mine)]
    return result


def save(path: Path, text: str) -> Path | None:
    """Write ``text`` to ``path`` atomically, keeping the previous version; returns where it went."""
    kept = None
    path.parent.mkdir(parents=True, exist_ok=True)
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
