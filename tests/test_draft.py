"""Drafting: templates per language, greeting, expired entries, subjects."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot import knowledge
from bot.config import REPO_ROOT, NetworkConfig
from bot.draft import SEE_ALSO, Drafter, first_name, reply_subject, see_also
from bot.matching import Candidate, Match

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



def test_a_close_second_entry_is_pointed_to_at_the_end_of_the_answer() -> None:
    # Where two entries both fit (a well funded by water agencies or by a micro-project grant), the
    # requester learns that the other exists and can ask; staff see it named in the draft.
    water = ENTRIES["fin-agences-eau"]
    text = DRAFTER.render(ENTRIES["fin-amp-microprojets"], also=water)
    assert (f"Votre question touche peut-être aussi à « {water.title} » ({water.links[0].url}) : "
            "dites-le-nous et nous vous en dirons plus.") in text
    assert text.index("peut-être aussi") < text.index("Pour aller plus loin")
    english = DRAFTER.render(ENTRIES["vol-corps-europeen"], language="en", also=ENTRIES["vol-service-civique"])
    assert "Your question may also concern" in english and "peut-être aussi" not in english
    assert "peut-être aussi" not in DRAFTER.render(ENTRIES["fin-amp-microprojets"])


def test_see_also_names_the_runner_up_only_when_it_is_likely_too() -> None:
    def match(second: float, slug: str | None = "fin-amp-microprojets") -> Match:
        return Match(slug, 0.5, (Candidate("fin-amp-microprojets", 0.5), Candidate("fin-agences-eau", second)))

    assert see_also(match(SEE_ALSO), ENTRIES) == ENTRIES["fin-agences-eau"]
    assert see_also(match(SEE_ALSO - 0.01), ENTRIES) is None
    assert see_also(match(0.45, slug=None), ENTRIES) is None  # no draft from an entry: nothing to add to
    assert see_also(Match("fin-amp-microprojets", 0.9, (Candidate("fin-amp-microprojets", 0.9),)), ENTRIES) is None
    unknown = Match("fin-amp-microprojets", 0.5, (Candidate("fin-amp-microprojets", 0.5), Candidate("gone", 0.4)))
    assert see_also(unknown, ENTRIES) is None

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
    [
        # persons, however their client writes them
        ("Marie Durand", "Marie"), ("marie durand", "Marie"), ("Awa", "Awa"), ("Awa 🌍", "Awa"),
        ("DURAND Marie", "Marie"), ("LE GALL Yann", "Yann"), ("Durand, Marie", "Marie"),
        ("Mme Marie Durand", "Marie"), ("Dr. Ousmane Diallo", "Ousmane"), ('"Léa Martin"', "Léa"),
        ("Marie Durand - Asso Les Puits", "Marie"), ("Claire (Terre Solidaire)", "Claire"),
        ("Marie de la Tour", "Marie"), ("Mohamed Ben Ali", "Mohamed"), ("Nguyễn Thị Lan", "Nguyễn"),
        # compound first names and accents
        ("Jean-Baptiste Sow", "Jean-Baptiste"), ("jean-luc", "Jean-Luc"), ("Marie-Hélène Roux", "Marie-Hélène"),
        ("DE LA TOUR Marie-Claire", "Marie-Claire"), ("Élodie Bérard", "Élodie"), ("éloïse", "Éloïse"),
        # organisations
        ("Jardins partagés de Vienne", ""), ("Mairie de Vienne", ""), ("Association Solidarité Togo", ""),
        ("Les Amis du Togo", ""), ("La Cimade", ""), ("Comité de jumelage", ""), ("Dupont & Fils", ""),
        ("Collège Jean Moulin", ""), ("L’Atelier Solidaire", ""),
        # roles and shared mailboxes
        ("Secrétariat", ""), ("Service communication", ""), ("Info Asso", ""), ("Contact", ""),
        ("Équipe Projets", ""), ("Présidente ADT", ""),
        # addresses, capitals, initials, surnames alone
        ("contact@jardins-vienne.fr", ""), ("marie@x.fr", ""), ("www.asso.org", ""), ("ASSO LES PUITS", ""),
        ("RESACOOP", ""), ("MARIE DURAND", ""), ("J. Dupont", ""), ("Mme Durand", ""), ("", ""),
        ("Marie Durand 2024", ""),
    ],
)
def test_first_name(name: str, expected: str) -> None:
    assert first_name(name) == expected


def test_greeting_uses_only_a_person_s_first_name() -> None:
    entry = ENTRIES["info-contact"]
    assert DRAFTER.render(entry, sender_name="Jardins partagés de Vienne").startswith("Bonjour,\n")
    assert DRAFTER.render(entry, sender_name="DURAND Marie-Hélène").startswith("Bonjour Marie-Hélène,\n")


def test_english_reply_is_signed_in_english() -> None:
    network = NetworkConfig(signature="L'équipe de RESACOOP", signature_en="The RESACOOP team")
    drafter = Drafter(REPO_ROOT / "templates", network)
    english = drafter.render(ENTRIES["vol-corps-europeen"], language="en")
    assert english.rstrip().endswith("The RESACOOP team") and "L'équipe" not in english
    french = drafter.render(ENTRIES["vol-corps-europeen"], language="fr")
    assert french.rstrip().endswith("L'équipe de RESACOOP") and "RESACOOP team" not in french
    # Without an English signature, the French one.
    assert DRAFTER.render(ENTRIES["vol-corps-europeen"], language="en").rstrip().endswith("L'équipe de RESACOOP")


@pytest.mark.parametrize(
    ("language", "note"),
    [("es", "Le respondemos en francés"), ("pt", "Respondemos em francês"), ("it", "Le rispondiamo in francese"),
     ("de", "Wir antworten auf Französisch"), ("nl", "We answer in French"), ("../x", "We answer in French")],
)
def test_other_languages_get_the_french_draft_with_a_note_in_theirs(language: str, note: str) -> None:
    # Even an entry with an English answer is drafted in French: the requester did not write in English.
    text = DRAFTER.render(ENTRIES["vol-corps-europeen"], sender_name="Lucía Pérez", language=language)
    assert text.startswith("Bonjour Lucía,\n\nMerci pour votre message.\n(" + note)
    assert text.count("\n(") == 1 and "Hello" not in text


def test_french_draft_has_no_language_note() -> None:
    text = DRAFTER.render(ENTRIES["info-contact"], language="fr")
    assert "(" not in text.split("\n\n")[1]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("Question", "Re: Question"), ("RE: Re: Question", "Re: Question"), ("TR: Fwd: Loi Oudin", "Re: Loi Oudin"),
     ("", "Re: votre demande"), ("Réf : dossier", "Re: dossier")],
)
def test_reply_subject_has_re_once(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected
