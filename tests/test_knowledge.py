"""The knowledge base files and ``guichet kb check``."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import knowledge
from bot.cli import cli
from bot.config import REPO_ROOT

KB = REPO_ROOT / "knowledge"
TOPICS = REPO_ROOT.parent / "shared" / "knowledge-topics.md"

GOOD = """---
slug: test-entree
category: financement
title: Une entrée de test
questions:
  - Comment tester ?
links:
  - title: Exemple
    url: https://www.example.org/page
reviewed: 2026-10-01
---
Une réponse.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_knowledge_base_is_valid() -> None:
    report = knowledge.check(KB, today=dt.date(2026, 11, 1))
    assert report.errors == []
    assert len(report.entries) >= 42
    for entry in report.entries:
        assert 2 <= len([p for p in entry.answer.split("\n\n") if p.strip()]) <= 8, entry.slug
        assert len(entry.questions) >= 4, entry.slug
        assert entry.links, entry.slug
        assert entry.answer_en, entry.slug


def test_every_required_slug_exists() -> None:
    required = {"fin-amp-microprojets", "vol-service-civique", "info-contact", "acc-ecsi-etablissements"}
    if TOPICS.exists():
        required = set(re.findall(r"^\| ((?:fin|vol|form|acc|info)-[a-z0-9-]+) \|", TOPICS.read_text(), re.M))
        assert len(required) == 42
    slugs = {e.slug for e in knowledge.load(KB)}
    assert required <= slugs


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.replace("category: financement", "category: loisirs"), "category"),
        (lambda t: t.replace("title: Une entrée de test\n", ""), "title"),
        (lambda t: t.replace("https://www.example.org/page", "htp:/nope"), "links[0].url"),
        (lambda t: t.replace("Une réponse.", ""), "answer"),
        (lambda t: t.replace("reviewed: 2026-10-01", "reviewed: demain"), "reviewed"),
        (lambda t: t.replace("slug: test-entree", "slug: Test Entrée"), "slug"),
        (lambda t: t.replace("reviewed:", "reviewd:"), "reviewd"),
        (lambda t: t.replace("questions:\n  - Comment tester ?", "questions: []"), "questions"),
        (lambda t: t.replace("---\nUne", "  oops: [\n---\nUne"), "front matter"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, change, field: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "test-entree.md", change(GOOD))
    report = knowledge.check(tmp_path)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{path}: {field}:")


def test_duplicate_slug(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD)
    write(tmp_path, "b.md", GOOD)
    report = knowledge.check(tmp_path)
    assert [e.slug for e in report.entries] == ["test-entree"]
    assert "duplicate slug 'test-entree'" in report.errors[0]


def test_warnings_for_expired_and_unreviewed(tmp_path: Path) -> None:
    write(tmp_path, "old.md", GOOD.replace("reviewed: 2026-10-01", "reviewed: 2024-01-01\nvalid_until: 2025-06-30"))
    report = knowledge.check(tmp_path, today=dt.date(2026, 11, 23))
    assert report.errors == []
    assert any("valid_until: past (2025-06-30)" in w for w in report.warnings)
    assert any("not reviewed for over a year" in w for w in report.warnings)


def test_cli_kb_check_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["kb", "check"])
    assert ok.exit_code == 0 and "0 error(s)" in ok.output
    bad = tmp_path / "kb"
    shutil.copytree(KB, bad)
    (bad / "info-contact.md").write_text(GOOD.replace("category: financement", "category: divers"))
    result = runner.invoke(cli, ["kb", "check", "--dir", str(bad)])
    assert result.exit_code == 1
    assert "info-contact.md: category: unknown category 'divers'" in result.output
