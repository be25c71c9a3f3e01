"""The web desk in a real browser: headless Chromium (Debian's) driven by Playwright, against the running
service with the real Dovecot, aiosmtpd and the loopback Bot API.

Screenshots of the main pages are written to ``$GUICHET_SCREENSHOTS`` (``docs/screenshots`` to
refresh the README's), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOLDER, append, telegram_section
from tests.mails import mail
from tests.servers.botapi import BotApiServer
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer
from tests.webdesk import PASSWORD, LiveService, accounts, cheap_hashes, knowledge_copy, web_config

QUESTION = "Bonjour, comment obtenir une subvention de l'Agence des Micro-Projets pour notre projet au Togo ?"


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashes(monkeypatch)


@pytest.fixture
def shots(tmp_path: Path) -> Callable[[Any, str], None]:
    folder = Path(os.environ.get("GUICHET_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shot


def until(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(0.1)


def log_in(page: Any, live: LiveService, email: str = "alice@reseau.example", target: str = "/file") -> None:
    page.goto(live.url + target)
    assert "/connexion" in page.url  # no page without login
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Se connecter')")
    page.wait_for_url(f"**{target}")


def config_for(tmp_path: Path, *servers: Any, extra: str = "") -> Any:
    return web_config(tmp_path, *servers, extra="refresh_seconds = 1\n" + extra)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page
    context.close()
    # A CSP violation or a script error shows in the console: the pages must have none (a refresh that
    # finds the service down is logged by htmx and Chromium: expected while it restarts).
    expected = ("ERR_CONNECTION_REFUSED", "htmx:sendError", "htmx:afterRequest")
    assert not [e for e in errors if not any(x in e for x in expected)], errors


def test_mail_is_queued_live_edited_and_sent(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer, page: Any,
                                             shots: Callable[[Any, str], None]) -> None:
    with LiveService(config_for(tmp_path, dovecot, smtp)) as live:
        live.call(accounts)
        page.goto(live.url)
        shots(page, "connexion")
        log_in(page, live)
        assert page.locator("text=Rien à traiter").is_visible()
        live.run(append(dovecot, mail(QUESTION, subject="Financement Togo", message_id="<togo@asso.example>")))
        # The open queue shows the new draft without a reload.
        page.wait_for_selector("table.queue >> text=Financement Togo", timeout=20000)
        assert page.locator("table.queue >> text=Agence des Micro-Projets").count() >= 1
        shots(page, "file-d-attente")
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url("**/demande/*")
        page.wait_for_selector("#apercu .bubble")
        shots(page, "demande")
        page.fill("#texte", "Bonjour Marie,\n\nvoici notre réponse relue par l'équipe.\n\nRESACOOP")
        page.wait_for_selector("#apercu >> text=relue par l'équipe")  # the live preview follows the editor
        page.click("#envoyer")
        page.wait_for_selector("text=Confirmer l'envoi")
        assert "marie@asso.example" in page.inner_text(".recipient") and "e-mail" in page.inner_text(".recipient")
        shots(page, "confirmation")
        assert smtp.received == []
        page.click("#confirmer")
        page.wait_for_selector("text=Réponse envoyée")
        until(lambda: smtp.received)
    sent = smtp.received[0].message
    body = sent.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith("Bonjour Marie,\n\nvoici notre réponse relue par l'équipe.")
    assert sent["In-Reply-To"] == "<togo@asso.example>"


def test_telegram_request_answered_by_hand(tmp_path: Path, page: Any, shots: Callable[[Any, str], None]) -> None:
    botapi = BotApiServer()
    config = config_for(tmp_path, extra=telegram_section(botapi))
    with LiveService(config, before=(botapi.start,), after=(botapi.stop,)) as live:
        live.call(accounts)
        live.call(lambda core: botapi.message(HOLDER, HOLDER, "Pouvez-vous nous prêter votre salle samedi soir ?"))
        until(lambda: live.call(lambda core: core.db["drafts"].count))
        log_in(page, live, target="/file?onglet=a-la-main")
        page.click("table.queue a.row-link")
        page.wait_for_url("**/demande/*")
        page.click("summary:has-text('Répondre moi-même')")
        page.fill("#reponse", "Bonjour Awa, nous ne prêtons pas notre salle, mais la mairie peut vous aider.")
        page.select_option("select[name=fiche] >> nth=-1", "acc-rendez-vous")
        page.click("button:has-text('Envoyer ma réponse')")
        page.wait_for_selector("text=Confirmer l'envoi")
        assert "Telegram" in page.inner_text(".recipient")
        page.click("#confirmer")
        page.wait_for_selector("text=Réponse envoyée")
        answer = until(lambda: live.call(lambda core: [c for c in botapi.sent(chat_id=HOLDER)
                                                       if "mairie peut vous aider" in str(c.params["text"])]))
        assert len(answer) == 1
        request = live.call(lambda core: core.db["requests"].get(1))
    assert (request["outcome"], request["slug"], request["decided_by"]) == \
        ("answered_by_hand", "acc-rendez-vous", "web:1:Alice")


def test_pick_another_entry_and_refusals(tmp_path: Path, page: Any, browser: Any,
                                         shots: Callable[[Any, str], None]) -> None:
    with LiveService(config_for(tmp_path)) as live:
        live.call(accounts)
        first = live.call(lambda core: core.take_mail(mail(QUESTION, subject="<img src=x onerror=alert(1)>")))
        other = live.call(lambda core: core.take_mail(mail("Comment partir en service civique ?",
                                                           sender="paul@asso.example", subject="Volontariat")))
        log_in(page, live, target=f"/demande/{first.request_id}")
        before = page.input_value("#texte")
        page.click("summary:has-text('Autre fiche')")
        page.click(".candidates li button >> nth=0")
        page.wait_for_selector("text=Brouillon refait avec cette fiche")
        after = page.input_value("#texte")
        assert after != before and after.strip()
        slug = live.call(lambda core: core.review.get(first.draft_id).slug)
        assert slug != "fin-amp-microprojets"
        # Requester text is shown as text: the subject's markup neither renders nor runs.
        assert page.locator("img[src=x]").count() == 0 and "<img src=x" in page.inner_text(".subject")
        url = live.url
        # A POST without the CSRF token, and one with a draft of another request, are refused.
        no_token = page.request.post(f"{url}/demande/{first.request_id}/brouillon/{first.draft_id}/ignorer", form={})
        assert no_token.status == 403
        csrf = page.get_attribute("input[name=csrf] >> nth=0", "value")
        foreign = page.request.post(f"{url}/demande/{first.request_id}/brouillon/{other.draft_id}/ignorer",
                                    form={"csrf": csrf or ""})
        assert foreign.status == 404
        states = live.call(lambda core: [core.review.get(first.draft_id).state, core.review.get(other.draft_id).state])
        assert states == ["pending", "pending"]
        # Logged out (another browser profile): every page leads to the login form.
        stranger = browser.new_context()
        try:
            lost = stranger.new_page()
            lost.goto(f"{url}/demande/{first.request_id}")
            assert "/connexion" in lost.url and lost.locator("input[name=password]").is_visible()
            assert stranger.request.post(f"{url}/demande/{first.request_id}/note", form={"note": "x"},
                                         max_redirects=0).status == 303
        finally:
            stranger.close()
        page.goto(f"{url}/recherche?q=civique")
        shots(page, "recherche")
        page.goto(f"{url}/etat")
        shots(page, "etat")
        page.goto(f"{url}/statistiques")
        page.wait_for_selector("img.chart")
        until(lambda: page.evaluate("document.querySelector('img.chart').naturalWidth > 0"))
        shots(page, "statistiques")
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        try:
            small = phone.new_page()
            log_in(small, live)
            shots(small, "telephone-file")
            width = small.evaluate("document.documentElement.scrollWidth")
            assert width <= 400, f"the queue overflows a phone screen ({width}px)"
        finally:
            phone.close()


def test_kb_entry_edited_in_the_browser_is_used_without_restart(tmp_path: Path, page: Any,
                                                               shots: Callable[[Any, str], None]) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    new = "Depuis cette année, l'Agence des Micro-Projets reçoit les dossiers deux fois par an, en mars et en octobre."
    config = config_for(tmp_path, extra=knowledge_copy(tmp_path))
    with LiveService(config) as live:
        live.call(accounts)
        log_in(page, live, target="/fiches")
        shots(page, "fiches")
        page.click("a:has-text('Financer un micro-projet avec')")
        page.wait_for_selector("#apercu-fiche pre")
        page.fill("#answer", new)
        page.wait_for_selector("#apercu-fiche >> text=deux fois par an")  # the preview is the drafted reply
        shots(page, "fiche")
        page.click("button:has-text('Enregistrer')")
        page.wait_for_selector("text=Fiche enregistrée")
        taken = live.call(lambda core: core.take_mail(mail(QUESTION)))
        drafted = live.call(lambda core: core.review.get(taken.draft_id).text)
    assert new in drafted  # the running service, without a restart
    asked = CliRunner().invoke(cli, ["--config", config.source, "ask", QUESTION])
    assert asked.exit_code == 0 and new in asked.output


@pytest.mark.slow
def test_a_page_left_open_recovers_after_a_restart(tmp_path: Path, page: Any) -> None:
    config = config_for(tmp_path)
    with LiveService(config) as live:
        live.call(accounts)
        log_in(page, live)
    # The service is down: the page stays, its refreshes fail quietly.
    time.sleep(2)
    with LiveService(config) as live:
        taken = live.call(lambda core: core.take_mail(mail(QUESTION, subject="Après redémarrage")))
        page.wait_for_selector("table.queue >> text=Après redémarrage", timeout=20000)
        page.click("table.queue a.row-link")
        page.wait_for_url("**/demande/*")
        page.click("#envoyer")
        page.click("#confirmer")
        page.wait_for_selector("text=Réponse envoyée")
        assert live.call(lambda core: core.review.get(taken.draft_id).state) == "approved"

