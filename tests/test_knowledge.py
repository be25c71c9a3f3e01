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
from bot.config import REPO_ROOT, NetworkConfig

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


NETWORKS = sorted(p.name for p in (KB / "networks").iterdir() if p.is_dir())


def test_both_shipped_overlays_are_there() -> None:
    assert NETWORKS == ["pays-de-la-loire", "resacoop"]
    assert NetworkConfig().knowledge == "resacoop"


@pytest.mark.parametrize("network", NETWORKS)
def test_each_shipped_network_passes_kb_check(network: str) -> None:
    report = knowledge.check(KB, today=dt.date(2026, 12, 15), network=NetworkConfig(knowledge=network))
    assert report.errors == []
    assert len(report.entries) >= 42
    # Only calls that have closed may warn; no unsourced figure, old source, past-year figure or broken promise.
    assert [w for w in report.warnings if ": valid_until: past (" not in w] == []
    for entry in report.entries:
        assert 2 <= len([p for p in entry.answer.split("\n\n") if p.strip()]) <= 8, entry.slug
        assert len(entry.questions) >= 4, entry.slug
        assert entry.links, entry.slug
        assert entry.answer_en, entry.slug
        assert "{{" not in entry.answer + entry.answer_en, entry.slug


def test_the_overlays_hold_what_is_regional() -> None:
    resacoop = knowledge.by_slug(knowledge.load(KB, NetworkConfig(knowledge="resacoop")))
    loire = knowledge.by_slug(knowledge.load(KB, NetworkConfig(knowledge="pays-de-la-loire")))
    # Tandems solidaires, TOTEM and the country groups are Pays de la Loire's, not RESACOOP's.
    assert "TOTEM" in loire["fin-recital-totem"].title and "RECITAL-ODD" in resacoop["fin-recital-totem"].title
    assert "Tandems solidaires" in loire["acc-ecsi-etablissements"].title
    assert "ne porte pas ce dispositif" in resacoop["acc-ecsi-etablissements"].answer
    assert "Madagascar" in loire["acc-partenaires"].answer and "Madagascar" not in resacoop["acc-partenaires"].answer
    # The ended Mindchangers points to its successor where there is one.
    mindchangers = resacoop["fin-mindchangers"]
    assert mindchangers.ended and mindchangers.replaced_by == "fin-connect-global-change"
    assert mindchangers.successor_title == resacoop["fin-connect-global-change"].title
    assert loire["fin-mindchangers"].ended and not loire["fin-mindchangers"].replaced_by
    assert "fin-connect-global-change" not in loire
    # Network facts come from the overlay's network.yaml, written into the answer.
    assert "04 72 77 87 66" in resacoop["info-contact"].answer
    assert "https://paysdelaloire-cooperation-internationale.org" in loire["info-contact"].answer


def test_no_sentence_of_the_evaluation_set_is_in_the_knowledge_base() -> None:
    # The evaluation set measures the matcher; a question copied (or barely reworded) from it would
    # make the measure a lie. Any sentence of the base this close to one of the set's is refused.
    if not DEV.exists():
        pytest.skip("no evaluation set beside the project")
    sentences = [s for line in DEV.read_text(encoding="utf-8").splitlines()
                 for s in re.split(r"(?<=[.?!])\s+|\n+", json.loads(line)["text"]) if len(s) > 20]
    ours = sorted({q for network in NETWORKS for e in knowledge.load(KB, NetworkConfig(knowledge=network))
                   for q in e.questions})
    ours += [q for family in knowledge.read_out_of_scope(KB) for q in family.questions]
    too_close = [(q, s) for q in ours for s in sentences
                 if fuzz.ratio(q.lower(), s.lower()) >= 80 or fuzz.token_sort_ratio(q.lower(), s.lower()) >= 80]
    assert not too_close


@pytest.mark.parametrize("network", NETWORKS)
def test_every_required_slug_exists(network: str) -> None:
    required = {"fin-amp-microprojets", "vol-service-civique", "info-contact", "acc-ecsi-etablissements"}
    if TOPICS.exists():
        required = set(re.findall(r"^\| ((?:fin|vol|form|acc|info)-[a-z0-9-]+) \|", TOPICS.read_text(), re.M))
        assert len(required) == 42
    slugs = {e.slug for e in knowledge.load(KB, NetworkConfig(knowledge=network))}
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


NATIONAL = """---
slug: {slug}
category: financement
title: {title}
questions:
  - Comment financer {slug} ?
  - Qui finance {slug} ?
keywords: [{slug}]
reviewed: 2026-10-01
{extra}---
{body}
"""


def entry(root: Path, folder: str, slug: str, *, title: str = "", body: str = "Une réponse.", extra: str = "",
          questions: bool = True) -> Path:
    text = NATIONAL.format(slug=slug, title=title or f"Titre {slug}", body=body, extra=extra)
    if not questions:
        text = re.sub(r"questions:\n(  - .*\n)+keywords: \[.*\]\n", "", text)
    path = root / folder / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_overlay_replaces_a_national_entry_and_adds_its_own(tmp_path: Path) -> None:
    national_a = entry(tmp_path, "national", "fin-a", body="Réponse nationale.")
    entry(tmp_path, "national", "fin-b", body="Réponse nationale b.")
    overlay_a = entry(tmp_path, "networks/ouest", "fin-a", title="Titre régional", body="Réponse régionale.",
                      questions=False)
    entry(tmp_path, "networks/ouest", "fin-c", body="Un dispositif régional.")
    entry(tmp_path, "networks/est", "fin-d")

    report = knowledge.check(tmp_path, network=NetworkConfig(knowledge="ouest"))
    assert report.errors == []
    got = knowledge.by_slug(report.entries)
    assert sorted(got) == ["fin-a", "fin-b", "fin-c"]
    assert got["fin-a"].answer == "Réponse régionale." and got["fin-a"].title == "Titre régional"
    assert got["fin-a"].questions == ("Comment financer fin-a ?", "Qui finance fin-a ?")  # kept from national
    assert (got["fin-a"].origin, got["fin-a"].path, got["fin-a"].overrides) == ("ouest", str(overlay_a),
                                                                              str(national_a))
    assert (got["fin-b"].origin, got["fin-b"].overrides) == ("national", "")
    assert got["fin-c"].origin == "ouest"

    national_only = knowledge.check(tmp_path, network=NetworkConfig(knowledge=""))
    assert [e.answer for e in national_only.entries] == ["Réponse nationale.", "Réponse nationale b."]
    missing = knowledge.check(tmp_path, network=NetworkConfig(knowledge="nord"))
    assert missing.errors == [f"{tmp_path}: network.knowledge: no overlay 'nord' in {tmp_path / 'networks'} "
                              "(known: est, ouest)"]


def test_an_entry_outside_the_national_pack_and_the_overlays_is_an_error(tmp_path: Path) -> None:
    entry(tmp_path, "national", "fin-a")
    stray = entry(tmp_path, ".", "fin-b")
    report = knowledge.check(tmp_path, network=NetworkConfig(knowledge=""))
    assert report.errors == [f"{stray}: slug: read by no network: move it into national/ or networks/<network>/"]


BOOKING = "Prenez rendez-vous : {{ network.booking_url }} ou appelez le {{ network.phone }}."


def test_a_variable_the_network_lacks_fails_kb_check(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    path = entry(kb, "national", "acc-rdv", body=BOOKING)
    overlay = kb / "networks" / "ouest"
    overlay.mkdir(parents=True)
    (overlay / "network.yaml").write_text("phone: 02 00 00 00 00\n", encoding="utf-8")
    config = tmp_path / "guichet.toml"
    config.write_text('[network]\nknowledge = "ouest"\n[knowledge]\ndir = "kb"\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(config), "kb", "check"])
    assert result.exit_code == 1
    assert (f"error: {path}: answer: {{{{ network.booking_url }}}} is used but the network has no booking_url: "
            "set [network] booking_url in the config") in result.output

    config.write_text('[network]\nknowledge = "ouest"\nbooking_url = "https://rdv.example.org/reseau"\n'
                      '[knowledge]\ndir = "kb"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "kb", "check"])
    assert result.exit_code == 0, result.output
    (got,) = knowledge.load(kb, NetworkConfig(knowledge="ouest", booking_url="https://rdv.example.org/reseau"))
    assert got.answer == "Prenez rendez-vous : https://rdv.example.org/reseau ou appelez le 02 00 00 00 00."
    # The config wins over the overlay's network.yaml.
    (got,) = knowledge.load(kb, NetworkConfig(knowledge="ouest", booking_url="https://a.example.org",
                                              phone="04 11 11 11 11"))
    assert "04 11 11 11 11" in got.answer


@pytest.mark.parametrize(("text", "expected"), [
    ("Appelez le {{ reseau.phone }}.", "answer: unknown variable {{ reseau.phone }}"),
    ("Appelez le {{ network.fax }}.", "answer: unknown variable {{ network.fax }}"),
])
def test_an_unknown_variable_is_an_error(tmp_path: Path, text: str, expected: str) -> None:
    path = entry(tmp_path, ".", "acc-rdv", body=text)
    report = knowledge.check(tmp_path)
    assert report.errors and report.errors[0].startswith(f"{path}: {expected}")


def test_office_hours_and_links_take_variables(tmp_path: Path) -> None:
    entry(tmp_path, ".", "info-contact", body="Du lundi au vendredi, {{ network.office_hours }}.",
          extra="links:\n  - title: Site de {{ network.name }}\n    url: '{{ network.website }}/agenda'\n")
    (got,) = knowledge.load(tmp_path, NetworkConfig(name="Réseau Ouest", website="https://ouest.example.org",
                                                    office_hours="09:00-17:30"))
    assert got.answer == "Du lundi au vendredi, de 9 h à 17 h 30."
    assert got.links == (knowledge.Link("Site de Réseau Ouest", "https://ouest.example.org/agenda"),)


SOURCED = """sources:
  - url: https://www.fonjep.org/isi
    title: FONJEP - ISI
    checked: {checked}
"""


def test_kb_check_warns_on_an_old_source_a_year_stamped_figure_and_a_call_without_an_end(tmp_path: Path) -> None:
    old = entry(tmp_path, ".", "fin-old", body="Jusqu'à 4 000 € par projet.",
                extra=SOURCED.format(checked="2025-06-01"))
    fresh = entry(tmp_path, ".", "fin-fresh", body="Jusqu'à 4 000 € par projet.",
                  extra=SOURCED.format(checked="2026-09-01"))
    bare = entry(tmp_path, ".", "fin-bare", body="Jusqu'à 4 000 € par projet.")
    figures = entry(tmp_path, ".", "acc-figures", body="Nous avons fait 97 accompagnements en 2022.\n\n"
                    "En 2022-2023, 19 associations ont été aidées.")
    call = entry(tmp_path, ".", "fin-call", extra="valid_from: 2026-01-01\n")
    report = knowledge.check(tmp_path, today=dt.date(2026, 11, 1))
    assert report.errors == []
    warnings = "\n".join(report.warnings)
    assert (f"{old}: sources[0].checked: read over a year ago (2025-06-01); re-check https://www.fonjep.org/isi"
            in warnings)
    assert str(fresh) not in warnings
    assert f"{bare}: sources: none, but the answer states amounts, ages, durations or dates ('4 000 €')" in warnings
    assert f"{figures}: answer: quotes a year-stamped figure ('97 accompagnements en 2022')" in warnings
    assert f"{call}: valid_until: a call (valid_from is set) with no closing date" in warnings


def test_an_ended_scheme_names_an_existing_successor(tmp_path: Path) -> None:
    entry(tmp_path, ".", "fin-old", extra="ended: true\nreplaced_by: fin-new\nvalid_until: 2024-12-31\n")
    entry(tmp_path, ".", "fin-new", title="Le nouveau programme")
    got = knowledge.by_slug(knowledge.load(tmp_path))
    assert got["fin-old"].ended and got["fin-old"].successor_title == "Le nouveau programme"
    assert not got["fin-old"].expired(dt.date(2026, 11, 1))  # staff are not told to look for a next edition
    # An ended scheme is not "expired": no warning inviting staff to look for a next edition.
    report = knowledge.check(tmp_path, today=dt.date(2026, 11, 1))
    assert not any("valid_until" in w for w in report.warnings)

    orphan = entry(tmp_path, ".", "fin-old", extra="ended: true\nreplaced_by: fin-gone\n")
    assert f"{orphan}: replaced_by: no entry 'fin-gone' for this network" in knowledge.check(tmp_path).errors
    lone = entry(tmp_path, ".", "fin-old", extra="replaced_by: fin-new\n")
    assert knowledge.check(tmp_path).errors == [
        f"{lone}: replaced_by: only an ended scheme is replaced (add 'ended: true')"]


def test_a_promise_the_network_does_not_keep_is_flagged(tmp_path: Path) -> None:
    promise = entry(tmp_path, "national", "fin-amp", body="Envoyez-nous votre dossier, nous le relirons.")
    overlay = tmp_path / "networks" / "ouest"
    overlay.mkdir(parents=True)
    (overlay / "network.yaml").write_text("not_offered:\n  relecture de dossiers: [relire, relirons]\n"
                                          "  traduction: [traduire, traduirons]\n", encoding="utf-8")
    (tmp_path / "hors-champ.yaml").write_text("- id: suivi\n  questions: ['Pouvez-vous relire notre budget ?']\n"
                                              "  keywords: [relire]\n", encoding="utf-8")
    report = knowledge.check(tmp_path, network=NetworkConfig(knowledge="ouest"))
    assert report.errors == []
    assert (f"{promise}: answer: promises 'relecture de dossiers' ('relirons'), which {overlay / 'network.yaml'} "
            "lists as not offered") in report.warnings
    assert (f"{overlay / 'network.yaml'}: not_offered: 'traduction': no family of hors-champ.yaml has one of its "
            "words (traduire, traduirons) among its keywords") in report.warnings


def test_a_text_not_yet_written_is_checked_as_the_network_would_read_it(tmp_path: Path) -> None:
    national = entry(tmp_path, "national", "acc-rdv", body="Appelez-nous.")
    folder = tmp_path / "networks" / "ouest"
    folder.mkdir(parents=True)
    (folder / "network.yaml").write_text("phone: 02 00 00 00 00\n", encoding="utf-8")
    ouest = NetworkConfig(knowledge="ouest")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    overlay = folder / "acc-rdv.md"
    report = knowledge.check(tmp_path, network=ouest,
                             pending={overlay: "---\nslug: acc-rdv\n---\nAppelez le {{ network.phone }}.\n"})
    assert report.errors == []
    got = knowledge.by_slug(report.entries)["acc-rdv"]
    assert got.answer == "Appelez le 02 00 00 00 00." and got.questions == ("Comment financer acc-rdv ?",
                                                                            "Qui finance acc-rdv ?")
    assert (got.path, got.origin, got.overrides) == (str(overlay), "ouest", str(national))
    new = folder / "acc-fax.md"
    text = NATIONAL.format(slug="acc-fax", title="Fax", body="Faxez au {{ network.fax }}.", extra="")
    report = knowledge.check(tmp_path, network=ouest, pending={new: text})
    assert [e.split(": ")[:2] for e in report.errors] == [[str(new), "answer"]]
    assert "unknown variable {{ network.fax }}" in report.errors[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing was written


def test_find_gives_an_entry_as_written_and_the_national_entry_under_it() -> None:
    from bot.knowledge import layout

    raw, base = layout.find(KB, "resacoop", "acc-rendez-vous")
    assert raw is not None and base is not None
    assert "{{ network.phone }}" in raw.body and raw.origin == "resacoop"
    assert raw.meta["questions"] == base.meta["questions"] and base.origin == "national"
    assert base.path == KB / "national" / "acc-rendez-vous.md"
    assert raw.path == KB / "networks" / "resacoop" / "acc-rendez-vous.md"
    raw, base = layout.find(KB, "resacoop", "fin-afd")
    assert raw is not None and raw is base
    raw, base = layout.find(KB, "resacoop", "fin-connect-global-change")
    assert raw is not None and base is None
    assert layout.find(KB, "pays-de-la-loire", "fin-connect-global-change") == (None, None)
    assert layout.own_dir(KB, "resacoop") == KB / "networks" / "resacoop"
    assert layout.own_dir(KB, "") == KB / "national"
    assert layout.own_dir(KB / "national", "resacoop") == KB / "national"  # a flat folder
