"""Drafting: templates per language, greeting, expired entries, subjects."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot import knowledge
from bot.config import REPO_ROOT, NetworkConfig
from bot.draft import Drafter, first_name, reply_subject

ENTRIES = knowledge.by_slug(knowledge.load(REPO_ROOT / "knowledge"))
DRAFTER = Drafter(REPO_ROOT / "templates", NetworkConfig(signature="L'équipe de RESACOOP"))


def test_french_draft_has_greeting_answer_links_and_signature() -> None:
    entry = ENTRIES["vol-service-civique"]
    text = DRAFTER.render(entry, sender_name="Léa Martin", today=dt.date(2026, 11, 1))
    assert text.startswith("Bonjour Léa,\n")
    assert "16 à 25 ans" in text
    assert "https://www.service-civique.gouv.fr" in text
    assert text.rstrip().endswith("L'équipe de RESACOOP")
    assert "{{" not in text and "\n\n\n" not in text


def test_english_draft_uses_the_english_answer() -> None:
    entry = ENTRIES["vol-corps-europeen"]
    text = DRAFTER.render(entry, sender_name="Jan Kowalski", language="en")
    assert text.startswith("Hello Jan,")
    assert entry.answer_en.split(".")[0] in text
    assert "Bonjour" not in text


def test_english_without_english_form_falls_back_to_french_with_a_note() -> None:
    entry = replace(ENTRIES["info-contact"], answer_en="")
    text = DRAFTER.render(entry, language="en")
    assert text.startswith("Bonjour,")
    assert "We answer in French" in text


def test_expired_entry_is_never_presented_as_current() -> None:
    entry = ENTRIES["fin-mindchangers"]
    assert entry.valid_until is not None
    text = DRAFTER.render(entry, today=entry.valid_until + dt.timedelta(days=1))
    assert f"est clos depuis le {entry.valid_until:%d/%m/%Y}" in text
    current = DRAFTER.render(entry, today=entry.valid_until)
    assert "est clos" not in current


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Marie Durand", "Marie"), ("jean-luc", "Jean-luc"), ("ASSO LES PUITS", ""), ("Mairie de Vienne", ""),
     ("", ""), ("marie@x.fr", ""), ("Association Solidarité Togo", "")],
)
def test_first_name(name: str, expected: str) -> None:
    assert first_name(name) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("Question", "Re: Question"), ("RE: Re: Question", "Re: Question"), ("TR: Fwd: Loi Oudin", "Re: Loi Oudin"),
     ("", "Re: votre demande"), ("Réf : dossier", "Re: dossier")],
)
def test_reply_subject_has_re_once(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected
