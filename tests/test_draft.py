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
    entry = replace(ENTRIES["fin-festisol"], valid_until=dt.date(2026, 6, 30))
    text = DRAFTER.render(entry, today=dt.date(2026, 7, 1))
    assert "est clos depuis le 30/06/2026" in text and "nous vous tiendrons informé·e de la suivante" in text
    current = DRAFTER.render(entry, today=dt.date(2026, 6, 30))
    assert "est clos" not in current


def test_an_ended_scheme_is_drafted_as_ended_with_its_successor() -> None:
    entry = replace(ENTRIES["fin-festisol"], title="Le programme Tremplin", title_en="The Springboard programme",
                    valid_until=dt.date(2024, 12, 31), ended=True, replaced_by="fin-europe",
                    successor_title="Les financements européens", successor_title_en="European funding")
    text = DRAFTER.render(entry, today=dt.date(2026, 11, 1))
    assert ("Attention : « Le programme Tremplin » est terminé depuis le 31/12/2024 et n'aura pas de nouvelle "
            "édition. Il est remplacé par « Les financements européens », que nous pouvons vous présenter.") in text
    assert "est clos" not in text and "la suivante" not in text
    english = DRAFTER.render(replace(entry, answer_en="An answer."), language="en", today=dt.date(2026, 11, 1))
    assert ('"The Springboard programme" has ended (on 31 December 2024) and will not run again. It is followed '
            'by "European funding"') in english
    assert "next one" not in english
    alone = DRAFTER.render(replace(entry, replaced_by="", successor_title="", successor_title_en=""))
    assert "n'aura pas de nouvelle édition.\n" in alone and "remplacé" not in alone


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
