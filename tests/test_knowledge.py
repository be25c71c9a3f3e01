"""The knowledge base files and ``guichet kb check``."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rapidfuzz import fuzz

from bot import knowledge
from bot.cli import cli
from bot.config import REPO_ROOT

KB = REPO_ROOT / "knowledge"
TOPICS = REPO_ROOT.parent / "shared" / "knowledge-topics.md"
DEV = REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl"

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


def test_no_sentence_of_the_evaluation_set_is_in_the_knowledge_base() -> None:
    # The evaluation set measures the matcher; a question copied (or barely reworded) from it would
    # make the measure a lie. Any sentence of the base this close to one of the set's is refused.
    if not DEV.exists():
        pytest.skip("no evaluation set beside the project")
    sentences = [s for line in DEV.read_text(encoding="utf-8").splitlines()
                 for s in re.split(r"(?<=[.?!])\s+|\n+", json.loads(line)["text"]) if len(s) > 20]
    ours = [q for e in knowledge.load(KB) for q in e.questions]
    ours += [q for family in knowledge.read_out_of_scope(KB) for q in family.questions]
    too_close = [(q, s) for q in ours for s in sentences
                 if fuzz.ratio(q.lower(), s.lower()) >= 80 or fuzz.token_sort_ratio(q.lower(), s.lower()) >= 80]
    assert not too_close


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
    (bad / "national" / "info-contact.md").write_text(GOOD.replace("category: financement", "category: divers"))
    result = runner.invoke(cli, ["kb", "check", "--dir", str(bad)])
    assert result.exit_code == 1
    assert "national/info-contact.md: category: unknown category 'divers'" in result.output


@pytest.mark.parametrize(("name", "text", "expected"), [
    # An unquoted "Message automatique : …" is a mapping in YAML, not a text: it used to crash the matcher.
    ("hors-champ.yaml", "- id: absence\n  questions:\n    - Message automatique : absent\n",
     "hors-champ.yaml: absence: questions: expected a list of non-empty texts"),
    ("hors-champ.yaml", "- questions: [Merci]\n",
     "hors-champ.yaml: family 1: expected 'id', 'questions' and 'keywords'"),
    ("hors-champ.yaml", "id: absence\n", "hors-champ.yaml: file: expected a list of families"),
    ("synonyms.yaml", "puits:\n", "synonyms.yaml: puits: expected 'phrase: words to add'"),
    ("synonyms.yaml", "puits: [eau\n", "synonyms.yaml: file: not valid YAML"),
])
def test_the_files_beside_the_entries_are_checked(tmp_path: Path, name: str, text: str, expected: str) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(KB, kb)
    (kb / name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["kb", "check", "--dir", str(kb)])
    assert result.exit_code == 1
    assert expected in result.output, result.output
    with pytest.raises(knowledge.KnowledgeError, match=re.escape(expected.split(": ", 1)[1][:30])):
        (knowledge.read_out_of_scope if name == "hors-champ.yaml" else knowledge.read_synonyms)(kb)
