"""``guichet kb check``: errors stop the service, warnings tell staff what to re-read.

Warnings are about truth over time: a source nobody has re-read for a year, an answer that quotes
a past year's activity figure, a call with no closing date, a promise the network does not keep.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import NetworkConfig
from ..errors import KnowledgeError
from . import Entry, OutOfScope, entry_from, read_out_of_scope, read_synonyms
from .layout import NetworkFile, collect, network_values, resolve

STALE_DAYS = 365
# "97 accompagnements en 2022", "(28 en 2022)", "En 2022-2023, 19 associations…": a number and a
# year in the same clause. Such figures age badly and read oddly to someone asking for help.
_YEAR = r"(?:19|20)\d\d(?:\s*[-–/]\s*(?:19|20)?\d\d)?"
_YEAR_FIGURES = (
    re.compile(r"\b\d[\d\s\u202f]*\b[^.;:\n()]{0,60}?\b(?:en|in)\s+" + _YEAR + r"\b", re.I),
    re.compile(r"\b(?:en|in)\s+" + _YEAR + r"\s*,\s*[^.;\n]{0,40}?\b\d", re.I),
)
# Amounts, ages, durations, deadlines: an answer stating one needs a source.
_FACT = re.compile(r"\b\d[\d\s\u202f.,]*\s*(?:€|euros?|%|ans?\b|mois\b|semaines?\b|jours?\b)", re.I)


@dataclass
class CheckReport:
    """What ``check`` found: errors stop the service, warnings are for staff."""

    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    network: str = ""


def _year_figure(text: str) -> str:
    for pattern in _YEAR_FIGURES:
        match = pattern.search(text)
        if match:
            return " ".join(match.group(0).split())
    return ""


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w'-]+", text.lower()))


def _entry_warnings(entry: Entry, today: dt.date, network: NetworkFile) -> list[str]:
    path, warnings = entry.path, []
    if entry.expired(today):
        warnings.append(f"{path}: valid_until: past ({entry.valid_until}); drafts will say it is closed")
    if entry.valid_from and not entry.valid_until and not entry.ended:
        warnings.append(f"{path}: valid_until: a call (valid_from is set) with no closing date; drafts will "
                        "never say it is closed")
    if entry.reviewed is None:
        warnings.append(f"{path}: reviewed: no review date")
    elif (today - entry.reviewed).days > STALE_DAYS:
        warnings.append(f"{path}: reviewed: not reviewed for over a year ({entry.reviewed})")
    for i, source in enumerate(entry.sources):
        if (today - source.checked).days > STALE_DAYS:
            warnings.append(f"{path}: sources[{i}].checked: read over a year ago ({source.checked}); "
                            f"re-check {source.url}")
    fact = _FACT.search(entry.answer)
    if fact and not entry.sources:
        warnings.append(f"{path}: sources: none, but the answer states amounts, ages, durations or dates "
                        f"({' '.join(fact.group(0).split())!r})")
    for name, text in (("answer", entry.answer), ("answer_en", entry.answer_en)):
        figure = _year_figure(text)
        if figure:
            warnings.append(f"{path}: {name}: quotes a year-stamped figure ({figure!r}); past activity figures "
                            "read oddly to a requester")
    words = _words(entry.answer)
    for offer, promises in network.not_offered.items():
        hit = next((w for w in promises if w.lower() in words), "")
        if hit:
            warnings.append(f"{path}: answer: promises {offer!r} ({hit!r}), which {network.path} lists as not "
                            "offered")
    return warnings


def _offer_warnings(network: NetworkFile, families: list[OutOfScope]) -> list[str]:
    """An offer the network does not make should be caught by hors-champ.yaml, or requests for it
    get a draft that promises it."""
    caught = {k.lower() for family in families for k in family.keywords}
    return [f"{network.path}: not_offered: {offer!r}: no family of hors-champ.yaml has one of its words "
            f"({', '.join(words)}) among its keywords" for offer, words in network.not_offered.items()
            if not caught & {w.lower() for w in words}]


def _link_successors(entries: list[Entry], report: CheckReport) -> list[Entry]:
    slugs = {e.slug: e for e in entries}
    linked = []
    for entry in entries:
        if entry.replaced_by:
            successor = slugs.get(entry.replaced_by)
            if successor is None:
                report.errors.append(f"{entry.path}: replaced_by: no entry {entry.replaced_by!r} for this network")
            else:
                entry = replace(entry, successor_title=successor.title,
                                successor_title_en=successor.title_en or successor.title)
        linked.append(entry)
    return linked


def check(directory: str | Path, today: dt.date | None = None, *, network: NetworkConfig | None = None,
          pending: Mapping[Path, str] | None = None) -> CheckReport:
    """Validate what ``network`` reads under ``directory`` (national pack + its overlay, or a flat
    folder); never raises for a bad file. ``pending`` maps paths to texts read in their place: an
    entry being edited is checked as the service would load it once written, and nothing is written."""
    today = today or dt.date.today()
    network = network or NetworkConfig()
    root = Path(directory)
    report = CheckReport(network=network.knowledge if (root / "national").is_dir() else "")
    raws, facts = collect(root, network.knowledge, report.errors, pending)
    if not raws and not report.errors:
        report.errors.append(f"{directory}: no entry files (*.md)")
    values = network_values(network, facts)
    entries = []
    for raw in sorted(raws, key=lambda r: str(r.path)):
        try:
            meta, body = resolve(raw, values)
            entries.append(entry_from(str(raw.path), meta, body, origin=raw.origin, overrides=raw.overrides))
        except KnowledgeError as exc:
            report.errors.append(str(exc))
    report.entries = _link_successors(entries, report)
    for entry in report.entries:
        report.warnings.extend(_entry_warnings(entry, today, facts))
    try:
        read_synonyms(root)
    except KnowledgeError as exc:
        report.errors.append(str(exc))
    try:
        report.warnings.extend(_offer_warnings(facts, read_out_of_scope(root)))
    except KnowledgeError as exc:
        report.errors.append(str(exc))
    return report


def load(directory: str | Path, network: NetworkConfig | None = None) -> list[Entry]:
    """The entries ``network`` answers from; raises KnowledgeError on the first invalid file."""
    report = check(directory, network=network)
    if report.errors:
        raise KnowledgeError(str(directory), "knowledge base", "; ".join(report.errors[:5]))
    return report.entries
