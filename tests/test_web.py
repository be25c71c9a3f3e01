"""The web desk's routes through the ASGI test client: login, queue, request page, decisions, security."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.routing import Route

from bot import staff, teamwork
from bot.desks.web import create_app
from bot.service import Core
from tests.mails import mail
from tests.webdesk import (
    PASSWORD,
    accounts,
    cheap_hashes,
    client_for,
    csrf_of,
    logged_in,
    login,
    web_config,
)

QUESTION = "Comment obtenir une subvention de l'Agence des Micro-Projets ?"


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashes(monkeypatch)


@pytest.fixture
def core(tmp_path: Path) -> Core:
    core = Core.build(web_config(tmp_path))
    accounts(core)
    return core


def drafted(core: Core, text: str = QUESTION, **kw: str) -> tuple[int, int]:
    taken = core.take_mail(mail(text, **kw))
    assert taken.draft_id is not None
    return taken.request_id, taken.draft_id


def events(core: Core, kind: str) -> list[dict[str, object]]:
    return list(core.db.query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind]))


async def test_no_page_or_action_without_login(core: Core) -> None:
    rid, did = drafted(core)
    app = create_app(core)
    client = client_for(core)
    open_paths = {"/", "/connexion", "/mot-de-passe/{token}"}
    checked = 0
    for route in app.routes:
        if not isinstance(route, Route) or route.path in open_paths:
            continue
        path = route.path
        for name, value in (("request_id", rid), ("draft_id", did), ("item_id", 1), ("message_id", 1),
                            ("slug", "fin-amp-microprojets"), ("name", "x.csv")):
            path = re.sub(r"\{" + name + r"(:\w+)?\}", str(value), path)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            response = await client.request(method, path)
            assert response.status_code == 303 and response.headers["location"].startswith("/connexion"), \
                (method, path, response.status_code)
            checked += 1
    assert checked >= 15
    htmx = await client.get("/file/lignes", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/connexion")
    assert core.review.get(did).state == "pending"


async def test_login_sets_a_safe_cookie_and_is_audited(core: Core) -> None:
    client = client_for(core)
    wrong = await login(client, password="not the password")
    assert wrong.status_code == 401 and "Adresse ou mot de passe incorrect" in wrong.text
    right = await login(client, suite="/recherche")
    assert right.status_code == 303 and right.headers["location"] == "/recherche"
    cookie = next(v for k, v in right.headers.multi_items() if k == "set-cookie" and v.startswith("guichet="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert [e["actor"] for e in events(core, "web.login")] == ["web:1:Alice"]
    assert len(events(core, "web.login_failed")) == 1
    assert PASSWORD not in str(list(core.db.query("SELECT * FROM events")))
    # An open redirect through "suite" is not followed.
    other = client_for(core)
    assert (await login(other, suite="//evil.example/x")).headers["location"] == "/file"


async def test_behind_tls_the_cookie_is_secure_and_host_bound(tmp_path: Path) -> None:
    core = Core.build(web_config(tmp_path, base_url="https://guichet.reseau.example"))
    accounts(core)
    response = await login(client_for(core, "https://desk.test"))
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "__Host-guichet=" in v)
    assert "Secure" in cookie and "Path=/" in cookie and "HttpOnly" in cookie


async def test_login_is_rate_limited(core: Core) -> None:
    client = client_for(core)
    for _ in range(5):
        assert (await login(client, password="wrong password!")).status_code == 401
    blocked = await login(client)
    assert blocked.status_code == 429 and "Trop de tentatives" in blocked.text
    assert events(core, "web.login_throttled")
    assert not events(core, "web.login")


async def test_login_form_needs_its_own_token(core: Core) -> None:
    client = client_for(core)
    response = await client.post("/connexion", data={"email": "alice@reseau.example", "password": PASSWORD})
    assert response.status_code == 403 and not events(core, "web.login")


async def test_queue_shows_titles_words_and_escapes_requester_text(core: Core) -> None:
    drafted(core, sender="\"<b>Eve</b>\" <eve@asso.example>", subject="<script>alert(1)</script>")
    drafted(core, "Pouvez-vous me prêter votre salle samedi pour un anniversaire ?", subject="salle",
            sender="paul@asso.example")
    client, _ = await logged_in(core)
    page = await client.get("/file")
    assert page.status_code == 200
    assert "Agence des Micro-Projets" in page.text  # the entry's title, not its slug
    assert "fin-amp-microprojets" not in page.text
    assert re.search(r'class="word (forte|moyenne|faible)"', page.text)
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "salle" not in page.text  # no entry fitted: it is in the other tab
    by_hand = await client.get("/file?onglet=a-la-main")
    assert "salle" in by_hand.text and "aucune fiche" in by_hand.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in re.sub(r'<script src="/static/[^"]+" defer></script>', "", page.text)


async def test_queue_filters(core: Core) -> None:
    drafted(core)
    client, _ = await logged_in(core)
    assert "Agence des Micro-Projets" in (await client.get("/file?canal=email")).text
    assert "Agence des Micro-Projets" not in (await client.get("/file?canal=telegram")).text
    assert "Agence des Micro-Projets" not in (await client.get("/file?categorie=volontariat")).text
    assert "Agence des Micro-Projets" not in (await client.get("/file?age=24")).text


async def test_queue_rows_answer_204_until_something_happens(core: Core) -> None:
    client, _ = await logged_in(core)
    page = await client.get("/file")
    version = re.search(r"v=(\d+)", page.text)
    assert version
    assert (await client.get(f"/file/lignes?onglet=a-valider&v={version.group(1)}")).status_code == 204
    drafted(core)
    rows = await client.get(f"/file/lignes?onglet=a-valider&v={version.group(1)}")
    assert rows.status_code == 200 and "Agence des Micro-Projets" in rows.text and "<html" not in rows.text
    # The tabs' counts come with the rows (swapped out of band): the new draft shows there too.
    tabs = re.search(r'<nav id="onglets"[^>]*hx-swap-oob="true".*?</nav>', rows.text, re.S)
    assert tabs and re.search(r"À valider <span class=\"count\">1</span>", tabs.group())


async def test_send_edited_text_after_confirmation(core: Core) -> None:
    rid, did = drafted(core)
    client, csrf = await logged_in(core)
    page = await client.get(f"/demande/{rid}")
    assert page.status_code == 200 and "Agence des Micro-Projets" in page.text
    text = "Bonjour Marie,\r\nvoici notre réponse.\r\n"
    confirm = await client.post(f"/demande/{rid}/brouillon/{did}/confirmer", data={"csrf": csrf, "texte": text})
    assert confirm.status_code == 200
    assert "marie@asso.example" in confirm.text and "e-mail" in confirm.text and "Confirmer l'envoi" in confirm.text
    assert core.db["outbox"].count == 0  # nothing sent before the confirmation
    sent = await client.post(f"/demande/{rid}/brouillon/{did}/envoyer", data={"csrf": csrf, "texte": text})
    assert sent.status_code == 303
    item = next(core.db.query("SELECT * FROM outbox"))
    assert item["body"] == "Bonjour Marie,\nvoici notre réponse.\n"
    request = core.db["requests"].get(rid)
    assert request["outcome"] == "sent_after_edit" and request["decided_by"] == "web:1:Alice"


async def test_send_unchanged_counts_as_drafted(core: Core) -> None:
    rid, did = drafted(core)
    client, csrf = await logged_in(core)
    text = core.review.get(did).text
    assert text
    crlf = text.replace("\n", "\r\n")
    await client.post(f"/demande/{rid}/brouillon/{did}/envoyer", data={"csrf": csrf, "texte": crlf})
    assert core.db["requests"].get(rid)["outcome"] == "sent_as_drafted"


async def test_two_staff_sending_at_once_send_once(core: Core) -> None:
    rid, did = drafted(core)
    alice, alice_csrf = await logged_in(core)
    bob, bob_csrf = await logged_in(core, "bob@reseau.example")
    text = core.review.get(did).text
    first = await alice.post(f"/demande/{rid}/brouillon/{did}/envoyer", data={"csrf": alice_csrf, "texte": text})
    second = await bob.post(f"/demande/{rid}/brouillon/{did}/envoyer", data={"csrf": bob_csrf, "texte": text})
    assert first.status_code == 303
    assert second.status_code == 409 and "Déjà traité par Alice" in second.text
    assert core.db["outbox"].count == 1


async def test_post_without_csrf_token_is_refused(core: Core) -> None:
    rid, did = drafted(core)
    client, _ = await logged_in(core)
    for data in ({"texte": "x"}, {"texte": "x", "csrf": "forged"}):
        response = await client.post(f"/demande/{rid}/brouillon/{did}/envoyer", data=data)
        assert response.status_code == 403
    assert core.review.get(did).state == "pending" and core.db["outbox"].count == 0
    assert len(events(core, "web.csrf_refused")) == 2


async def test_a_draft_of_another_request_is_refused(core: Core) -> None:
    rid, _ = drafted(core)
    _, other_draft = drafted(core, sender="paul@asso.example", subject="autre")
    client, csrf = await logged_in(core)
    for action in ("envoyer", "ignorer", "main", "confirmer"):
        response = await client.post(f"/demande/{rid}/brouillon/{other_draft}/{action}",
                                      data={"csrf": csrf, "texte": "x"})
        assert response.status_code == 404, action
    assert core.review.get(other_draft).state == "pending"
    assert len(events(core, "web.refused")) == 4
    assert (await client.get("/demande/999")).status_code == 404


async def test_other_entry_rerenders_the_draft(core: Core) -> None:
    rid, did = drafted(core)
    client, csrf = await logged_in(core)
    response = await client.post(f"/demande/{rid}/brouillon/{did}/fiche",
                                 data={"csrf": csrf, "fiche": "vol-service-civique"})
    assert response.status_code == 303
    view = core.review.get(did)
    assert view.slug == "vol-service-civique" and view.text and "service civique" in view.text.lower()
    page = await client.get(f"/demande/{rid}")
    assert str(escape(core.review.entries["vol-service-civique"].title)) in page.text


async def test_hand_written_answer_counts_with_its_entry(core: Core) -> None:
    rid, did = drafted(core)
    client, csrf = await logged_in(core)
    page = await client.get(f"/demande/{rid}")
    seen = re.search(r'name="vu" value="(\d+)"', page.text)
    assert seen
    data = {"csrf": csrf, "reponse": "Bonjour, appelez-nous.", "fiche": "acc-rendez-vous", "vu": seen.group(1)}
    confirm = await client.post(f"/demande/{rid}/reponse/confirmer", data=data)
    assert "Confirmer l'envoi" in confirm.text and "marie@asso.example" in confirm.text
    sent = await client.post(f"/demande/{rid}/reponse/envoyer", data=data)
    assert sent.status_code == 303
    request = core.db["requests"].get(rid)
    assert (request["outcome"], request["slug"]) == ("answered_by_hand", "acc-rendez-vous")
    assert core.review.get(did).state == "superseded"
    # Someone else, with the page opened before that answer, does not answer a second time.
    again = await client.post(f"/demande/{rid}/reponse/envoyer", data=data)
    assert again.status_code == 409 and "Déjà traité par Alice" in again.text
    assert core.db["outbox"].count == 1


async def test_claims_keep_others_off(core: Core) -> None:
    rid, did = drafted(core)
    alice, alice_csrf = await logged_in(core)
    bob, bob_csrf = await logged_in(core, "bob@reseau.example")
    assert (await alice.post(f"/demande/{rid}/prendre", data={"csrf": alice_csrf})).status_code == 303
    assert "Alice" in (await bob.get("/file")).text
    refused = await bob.post(f"/demande/{rid}/brouillon/{did}/ignorer", data={"csrf": bob_csrf})
    assert refused.status_code == 409 and "Alice s&#39;en occupe déjà" in refused.text
    assert core.review.get(did).state == "pending"
    await alice.post(f"/demande/{rid}/prendre", data={"csrf": alice_csrf, "lacher": "1"})
    assert (await bob.post(f"/demande/{rid}/brouillon/{did}/ignorer", data={"csrf": bob_csrf})).status_code == 303
    assert core.review.get(did).state == "ignored"
    assert "Aucune demande ignorée" not in (await bob.get("/file?onglet=ignores")).text


async def test_notes_are_kept_then_erased_with_the_request(core: Core) -> None:
    from bot.privacy import forget

    rid, _ = drafted(core)
    client, csrf = await logged_in(core)
    await client.post(f"/demande/{rid}/note", data={"csrf": csrf, "note": "Déjà appelée <b>lundi</b>"})
    page = await client.get(f"/demande/{rid}")
    assert "Déjà appelée &lt;b&gt;lundi&lt;/b&gt;" in page.text
    forget(core.db, "email", "marie@asso.example")
    assert teamwork.notes(core.db, rid) == []


async def test_search_finds_and_forgets(core: Core) -> None:
    from bot.privacy import forget

    rid, _ = drafted(core, "Nous cherchons un financement pour un puits à Kayes", subject="Projet eau")
    client, _ = await logged_in(core)
    hits = await client.get("/recherche?q=kayes")
    assert f"/demande/{rid}" in hits.text and "<mark>Kayes</mark>" in hits.text
    assert f"/demande/{rid}" in (await client.get("/recherche?q=marie")).text
    assert f"/demande/{rid}" in (await client.get("/recherche?q=proj")).text  # prefix while typing
    assert "Aucun message" in (await client.get('/recherche?q="OR NEAR(')).text
    forget(core.db, "email", "marie@asso.example")
    assert f"/demande/{rid}" not in (await client.get("/recherche?q=kayes")).text


async def test_original_lists_attachments_and_preview_renders(core: Core) -> None:
    rid, _ = drafted(core)
    client, csrf = await logged_in(core)
    original = await client.get(f"/demande/{rid}/original")
    assert QUESTION.replace("'", "&#39;") in original.text
    preview = await client.post(f"/demande/{rid}/apercu", data={"texte": "Bonjour <b>Marie</b>"},
                                headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert preview.status_code == 200
    assert "Re: Question financement" in preview.text and "Bonjour &lt;b&gt;Marie&lt;/b&gt;" in preview.text
    # What the requester receives, not the Markdown staff type: bold in the mail and on Telegram.
    styled = await client.post(f"/demande/{rid}/apercu", data={"texte": "Le **FONJEP** <script>x()</script>"},
                               headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert styled.text.count("<strong>FONJEP</strong>") == 1 and "<b>FONJEP</b>" in styled.text
    assert '<pre class="mail-body">Le FONJEP &lt;script&gt;' in styled.text  # the text version, folded away
    assert "<script>x()" not in styled.text and "&lt;script&gt;x()" in styled.text


async def test_disabled_account_is_logged_out_at_once(core: Core) -> None:
    client, _ = await logged_in(core)
    assert (await client.get("/file")).status_code == 200
    staff.disable(core.db, "alice@reseau.example")
    assert (await client.get("/file")).status_code == 303
    assert (await login(client_for(core))).status_code == 401


async def test_password_link_sets_the_password_once(core: Core) -> None:
    account = staff.add(core.db, "Chloé", "chloe@reseau.example")
    token = staff.password_link(core.db, account.id)
    client = client_for(core)
    page = await client.get(f"/mot-de-passe/{token}")
    assert page.status_code == 200 and "Chloé" in page.text
    pre = re.search(r'name="pre" value="([^"]+)"', page.text)
    assert pre
    short = await client.post(f"/mot-de-passe/{token}", data={"pre": pre.group(1), "password": "court",
                                                               "confirm": "court"})
    assert short.status_code == 400 and "trop court" in short.text
    done = await client.post(f"/mot-de-passe/{token}", data={"pre": pre.group(1), "password": "un mot de passe long",
                                                              "confirm": "un mot de passe long"})
    assert done.status_code == 303
    assert (await client.get(f"/mot-de-passe/{token}")).status_code == 404
    assert (await login(client_for(core), "chloe@reseau.example", "un mot de passe long")).status_code == 303


async def test_state_page_in_french(core: Core) -> None:
    from bot.health import Health

    Health(core.db, "imap").error("IMAP login refused")
    client, _ = await logged_in(core)
    page = await client.get("/etat")
    assert "Lecture de la boîte (IMAP)" in page.text and "en erreur" in page.text and "IMAP login refused" in page.text


def test_csrf_of_reads_the_token() -> None:
    assert csrf_of('<input type="hidden" name="csrf" value="abc">') == "abc"


async def test_statistics_page_and_downloads(core: Core) -> None:
    drafted(core)
    client, _ = await logged_in(core)
    page = await client.get("/statistiques")
    assert page.status_code == 200 and "Par catégorie et canal" in page.text and "depuis janvier" in page.text
    period = re.search(r"demandes-(\d{4}-\d{2})\.csv", page.text)
    assert period
    csv = await client.get(f"/statistiques/fichiers/demandes-{period.group(1)}.csv")
    assert csv.status_code == 200 and csv.content.decode("utf-8-sig").startswith("n°;reçue le;")
    assert "attachment" in csv.headers["content-disposition"]
    chart = await client.get(f"/statistiques/fichiers/graphique-{period.group(1)}.png?voir=1")
    assert chart.content.startswith(b"\x89PNG") and "attachment" not in chart.headers.get("content-disposition", "")
    for bad in ("../guichet.db", "demandes-2026-13.csv", "other-2026-01.csv"):
        assert (await client.get(f"/statistiques/fichiers/{bad}")).status_code == 404
