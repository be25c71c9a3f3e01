"""The web desk's knowledge pages on the national pack and the network's overlay: the editor shows the
entry as written (variables, inherited fields), saving writes the overlay only, validation is the
loader's for that network, and the running core takes the change at once."""

from __future__ import annotations

import dataclasses
import html
import types
from html.parser import HTMLParser
from pathlib import Path

import frontmatter
import pytest
import yaml

from bot import knowledge
from bot.service import Core, Service
from tests.conftest import telegram_section
from tests.mails import mail
from tests.webdesk import accounts, knowledge_copy, logged_in, web_config

pytestmark = pytest.mark.usefixtures("cheap_logins")
QUESTION = "Comment obtenir une subvention de l'Agence des Micro-Projets ?"
ALICE = "web:1:Alice"


@pytest.fixture
def core(tmp_path: Path) -> Core:
    core = Core.build(web_config(tmp_path, extra=knowledge_copy(tmp_path)))
    accounts(core)
    return core


class EditorForm(HTMLParser):
    """What a browser would post from the entry editor (form ``#fiche``) as the page left it."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._inside = False
        self._textarea = self._select = self._option = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = a.get("id") == "fiche"
        if not self._inside or tag not in ("input", "textarea", "select", "option"):
            return
        if tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.values[a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[self._textarea] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
            self._option = "" if "value" in a else self._select  # no value: the option's text is posted

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "textarea":
            self._textarea = ""
        elif tag == "select":
            self._select = ""
        elif tag == "option":
            self._option = ""

    def handle_data(self, data: str) -> None:
        if self._textarea or self._option:
            self.values[self._textarea or self._option] += data


async def editor(client, slug: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    page = await client.get(f"/fiches/{slug}")
    assert page.status_code == 200, page.text
    form = EditorForm()
    form.feed(page.text)
    assert form.values.get("csrf") and "answer" in form.values
    return form.values


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def kb(core: Core) -> Path:
    return Path(core.config.knowledge.dir)


def overlay(core: Core, slug: str) -> Path:
    return kb(core) / "networks" / "resacoop" / f"{slug}.md"


def drafted(core: Core, text: str = QUESTION) -> int:
    taken = core.take_mail(mail(text))
    assert taken.draft_id is not None
    return taken.draft_id


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.text)


async def test_saving_a_national_entry_writes_the_overlay_and_leaves_the_national_pack(core: Core) -> None:
    national = snapshot(kb(core) / "national")
    client, _ = await logged_in(core)
    slug = "fin-amp-microprojets"
    before = core.review.entries[slug]
    assert before.origin == "national"
    form = await editor(client, slug)
    new_answer = "L'Agence des Micro-Projets a changé son règlement : écrivez-nous, nous vous donnerons le détail."
    saved = await client.post(f"/fiches/{slug}", data={**form, "answer": new_answer})
    assert saved.status_code == 303, text_of(saved)
    assert snapshot(kb(core) / "national") == national
    written = frontmatter.load(str(overlay(core, slug)))
    assert written.content.strip() == new_answer
    assert "questions" not in written.metadata and "sources" not in written.metadata  # inherited, not copied
    entry = core.review.entries[slug]
    assert entry.answer == new_answer and entry.origin == "resacoop"
    assert entry.overrides == str(kb(core) / "national" / f"{slug}.md")
    assert entry.questions == before.questions and entry.sources == before.sources
    assert new_answer in (core.review.get(drafted(core)).text or "")
    # A restart reads the same base.
    assert knowledge.by_slug(knowledge.load(kb(core), core.config.network))[slug].answer == new_answer
    # Saving again keeps the previous overlay file.
    first = overlay(core, slug).read_text(encoding="utf-8")
    again = await client.post(f"/fiches/{slug}", data={**form, "answer": new_answer + " Merci."})
    assert again.status_code == 303
    kept = list((overlay(core, slug).parent / ".versions").glob(f"{slug}.*.md.prev"))
    assert [k.read_text(encoding="utf-8") for k in kept] == [first]
    assert snapshot(kb(core) / "national") == national
    assert [e["actor"] for e in core.db.query("SELECT actor FROM events WHERE kind = 'kb.saved'")] == [ALICE, ALICE]


async def test_variables_stay_variables_in_the_file_and_are_resolved_in_the_next_draft(core: Core) -> None:
    phone = yaml.safe_load((kb(core) / "networks" / "resacoop" / "network.yaml").read_text())["phone"]
    client, _ = await logged_in(core)
    slug = "acc-rendez-vous"  # RESACOOP's overlay entry: its questions are the national entry's
    path = overlay(core, slug)
    sources = frontmatter.load(str(path)).metadata["sources"]
    form = await editor(client, slug)
    assert "{{ network.phone }}" in form["answer"] and phone not in form["answer"]
    assert "{{ network.website }}" in form["links"]
    assert form["questions"]  # shown, though the overlay file does not hold them
    addition = "Un rendez-vous dure en général une heure."
    saved = await client.post(f"/fiches/{slug}", data={**form, "answer": f"{form['answer']}\n\n{addition}"})
    assert saved.status_code == 303, text_of(saved)
    written = frontmatter.load(str(path))
    assert "{{ network.phone }}" in written.content and phone not in written.content and addition in written.content
    assert written.metadata["links"][0]["url"] == "{{ network.website }}"
    assert written.metadata["sources"] == sources and "questions" not in written.metadata
    view = core.review.choose(drafted(core), ALICE, slug)
    assert phone in (view.text or "") and addition in (view.text or "") and "{{" not in (view.text or "")
    assert core.review.entries[slug].questions == knowledge.by_slug(
        knowledge.load(kb(core), core.config.network))[slug].questions


async def test_an_unknown_variable_or_a_fact_the_network_lacks_is_refused_inline(core: Core) -> None:
    national = snapshot(kb(core))
    client, _ = await logged_in(core)
    slug = "fin-amp-microprojets"
    form = await editor(client, slug)
    for variable, said in (("{{ network.fax }}", "variable inconnue"),
                           ("{{ network.booking_url }}", "le réseau n'a pas de lien de prise de rendez-vous")):
        data = {**form, "answer": f"{form['answer']}\n\nRéservez : {variable}"}
        refused = await client.post(f"/fiches/{slug}", data=data)
        assert refused.status_code == 400 and said in text_of(refused), text_of(refused)
        assert "unknown" not in refused.text and "YAML" not in refused.text
        preview = await client.post(f"/fiches/{slug}/apercu", data=data)
        assert said in text_of(preview) and "mail-body" not in preview.text
    for change, said in (
            ({"sources": "La Guilde | pas-une-adresse | 2026-01-01"}, "Sources : l'adresse doit commencer par https://"),
            ({"sources": "La Guilde | https://la-guilde.org"}, "Sources : indiquez le jour où la page a été lue"),
            ({"sources": "La Guilde | https://la-guilde.org | hier"}, "Sources : une date au format AAAA-MM-JJ"),
            ({"replaced_by": "fin-afd"}, "Remplacé par : seul un dispositif terminé est remplacé"),
            ({"ended": "oui", "replaced_by": "fin-disparue"}, "Remplacé par : aucune fiche « fin-disparue »"),
            ({"answer": ""}, "Réponse : la réponse est vide")):
        refused = await client.post(f"/fiches/{slug}", data={**form, **change})
        assert refused.status_code == 400 and said in text_of(refused), (change, text_of(refused))
    assert snapshot(kb(core)) == national  # nothing written anywhere


async def test_a_new_entry_lands_in_the_overlay_and_the_service_still_starts(core: Core) -> None:
    national = snapshot(kb(core) / "national")
    client, csrf = await logged_in(core)
    blank = await editor(client, "nouvelle")
    form = {**blank, "slug": "info-salle", "category": "information", "title": "Prêt de salle",
            "questions": "Pouvez-vous nous prêter une salle ?",
            "answer": "Nous ne prêtons pas de salle ; appelez-nous au {{ network.phone }}."}
    created = await client.post("/fiches/nouvelle", data=form)
    assert created.status_code == 303, text_of(created)
    assert overlay(core, "info-salle").exists() and not (kb(core) / "info-salle.md").exists()
    assert "{{ network.phone }}" in overlay(core, "info-salle").read_text(encoding="utf-8")
    assert core.review.entries["info-salle"].origin == "resacoop"
    assert "info-salle" in [c.slug for c in core.intake.matcher.match("Pouvez-vous nous prêter une salle ?").candidates]
    restarted = Core.build(core.config)
    assert "{{" not in restarted.review.entries["info-salle"].answer
    again = await client.post("/fiches/nouvelle", data=form)
    assert again.status_code == 400 and "déjà celui d'une autre fiche" in text_of(again)
    national_slug = await client.post("/fiches/nouvelle", data={**form, "slug": "fin-afd"})
    assert national_slug.status_code == 400 and "déjà celui d'une autre fiche" in text_of(national_slug)
    # "Ajouter comme exemple" writes the overlay too, for the network's own entry and for a national one.
    for slug, question in (("info-salle", "Une salle pour notre assemblée ?"),
                           ("fin-amp-microprojets", "La Guilde finance-t-elle un puits au Bénin ?")):
        added = await client.post(f"/fiches/{slug}/exemple", data={"csrf": csrf, "retour": "/demande/1",
                                                                   "question": question})
        assert added.status_code == 303 and added.headers["location"] == "/demande/1?fait=exemple"
        assert question in core.review.entries[slug].questions
        assert question in frontmatter.load(str(overlay(core, slug))).metadata["questions"]
    assert snapshot(kb(core) / "national") == national
    assert not list(kb(core).glob("*.md"))
    assert knowledge.load(kb(core), core.config.network)


async def test_the_pages_show_origin_sources_and_ended_schemes(core: Core) -> None:
    client, _ = await logged_in(core)
    listing = text_of(await client.get("/fiches"))
    assert "Origine" in listing and "nationale" in listing and "RESACOOP, remplace la nationale" in listing
    assert "dispositif terminé" in listing
    ended = text_of(await client.get("/fiches/fin-mindchangers"))
    assert "Dispositif terminé" in ended and 'href="/fiches/fin-connect-global-change"' in ended
    assert "Connect for Global Change" in ended and "remplace la fiche nationale" in ended
    assert "https://resacoop.org/mindchangers-appel-a-projets-2021" in ended and "lue le 04/12/2026" in ended
    national = text_of(await client.get("/fiches/fin-afd"))
    assert "Fiche nationale" in national and "networks/resacoop/fin-afd.md" in national
    # A source read long ago is flagged on both pages, with kb check's warning in French.
    slug = "fin-amp-microprojets"
    form = await editor(client, slug)
    lines = form["sources"].split("\n")
    assert lines[0].endswith("| 2026-12-04")
    old = "\n".join([lines[0].replace("2026-12-04", "2024-03-01"), *lines[1:]])
    assert (await client.post(f"/fiches/{slug}", data={**form, "sources": old})).status_code == 303
    page = text_of(await client.get(f"/fiches/{slug}"))
    assert "lue le 01/03/2024" in page and "plus d'un an" in page and "relisez" in page
    assert "source à revérifier" in text_of(await client.get("/fiches"))


async def test_a_saved_entry_reaches_the_telegram_desk(tmp_path: Path) -> None:
    botapi = types.SimpleNamespace(base_url="http://127.0.0.1:9")  # never called: the service is not run
    core = Core.build(web_config(tmp_path, extra=knowledge_copy(tmp_path) + telegram_section(botapi)))
    accounts(core)
    service = Service(core)
    assert service.telegram is not None
    client, _ = await logged_in(core)
    slug = "vol-service-civique"
    form = await editor(client, slug)
    saved = await client.post(f"/fiches/{slug}", data={**form, "title": "Le service civique, en France et ailleurs"})
    assert saved.status_code == 303
    assert service.telegram.desk.entries[slug].title == "Le service civique, en France et ailleurs"
    assert core.intake.matcher is core.matcher


@pytest.mark.parametrize("network", ["resacoop", "pays-de-la-loire"])
def test_every_shipped_entry_comes_back_the_same_through_the_editor(network: str) -> None:
    from bot.config import REPO_ROOT, NetworkConfig
    from bot.desks.web import kbfiles
    from bot.knowledge.layout import collect, national_under

    root, config = REPO_ROOT / "knowledge", NetworkConfig(knowledge=network)
    entries = knowledge.load(root, config)
    pending = {}
    for raw in collect(root, network, [])[0]:
        form = kbfiles.Form.from_post({**dataclasses.asdict(kbfiles.Form.of(raw)), "extra": None})
        planned = kbfiles.plan(root, network, form, raw, national_under(raw))
        # An untouched national entry gets no overlay file; the others are written again.
        assert planned.unchanged == (raw.origin == "national"), raw.slug
        pending[planned.path] = planned.text
    assert len(pending) == len(entries)
    report = knowledge.check(root, network=config, pending=pending)
    assert report.errors == []
    ignore = {"path": "", "origin": "", "overrides": ""}
    assert [dataclasses.replace(e, **ignore) for e in sorted(report.entries, key=lambda e: e.slug)] == \
        [dataclasses.replace(e, **ignore) for e in sorted(entries, key=lambda e: e.slug)]


FLAT = """---
slug: {slug}
category: information
title: Titre {slug}
questions:
  - Comment faire pour {slug} ?
reviewed: 2026-10-01
---
Réponse de {slug}.
"""


async def test_a_flat_knowledge_folder_is_edited_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for slug in ("info-a", "info-b"):
        (folder / f"{slug}.md").write_text(FLAT.format(slug=slug), encoding="utf-8")
    core = Core.build(web_config(tmp_path, extra=f'\n[knowledge]\ndir = "{folder}"\n'))
    accounts(core)
    client, _ = await logged_in(core)
    form = await editor(client, "info-a")
    assert (await client.post("/fiches/info-a", data={**form, "answer": "Nouvelle réponse."})).status_code == 303
    assert frontmatter.load(str(folder / "info-a.md")).content == "Nouvelle réponse."
    assert [p.name.split(".")[0] for p in (folder / ".versions").iterdir()] == ["info-a"]
    blank = await editor(client, "nouvelle")
    created = await client.post("/fiches/nouvelle", data={**blank, "slug": "info-c", "title": "C",
                                                          "questions": "Et c ?", "answer": "Réponse c."})
    assert created.status_code == 303 and (folder / "info-c.md").exists()
    assert sorted(e.slug for e in knowledge.load(folder, core.config.network)) == ["info-a", "info-b", "info-c"]


def test_a_base_that_no_longer_loads_leaves_the_running_entries(core: Core) -> None:
    before = list(core.entries)
    (kb(core) / "national" / "fin-afd.md").write_text("---\nslug: fin-afd\n---\n", encoding="utf-8")
    with pytest.raises(knowledge.KnowledgeError):
        core.reload_knowledge()
    assert core.entries == before and core.review.entries["fin-afd"] == next(e for e in before if e.slug == "fin-afd")
