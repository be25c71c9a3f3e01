"""Intake: who may join a request, what staff see before approving, and nothing lost on the way."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.matching import Match
from bot.service import Core, Service
from tests.conftest import append, make_config, wait_for
from tests.mails import mail
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer
from tests.test_send import STAFF, outbox_for


def events(core: Core, kind: str) -> list[dict[str, object]]:
    return [json.loads(r["detail"]) for r in core.db.query("SELECT detail FROM events WHERE kind = ?", [kind])]


async def test_a_strangers_reply_to_someone_elses_thread_is_a_new_request(tmp_path: Path, smtp: SmtpServer,
                                                                        secrets: None) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    asked = core.take_mail(mail("Comment adhérer au réseau ?", subject="Adhésion", sender="Marie <marie@asso.example>",
                                message_id="<marie1@asso.example>"))
    hijack = core.take_mail(mail("Comment financer un micro-projet au Togo ?", subject="Re: Adhésion",
                                 sender="Eve <eve@evil.example>", message_id="<eve1@evil.example>",
                                 headers={"In-Reply-To": "<marie1@asso.example>",
                                          "Reply-To": "drop@evil.example"}))
    assert hijack.request_id != asked.request_id and not hijack.follow_up
    first = core.review.get(asked.draft_id or 0)
    assert first.state == "pending" and "adhérer" in first.question  # Marie's draft is untouched
    second = core.review.get(hijack.draft_id or 0)
    assert any(f"demande n°{asked.request_id}" in note for note in second.notes), second.notes
    assert (second.recipient, second.sender) == ("drop@evil.example", "eve@evil.example")
    assert events(core, "request.thread_refused") == [{"thread_of": asked.request_id}]

    # Marie's own follow-up, and a colleague she put in Reply-To, still join her request.
    again = core.take_mail(mail("Et quel est le montant de la cotisation ?", subject="Re: Adhésion",
                                sender="Marie <marie@asso.example>", message_id="<marie2@asso.example>",
                                headers={"In-Reply-To": "<marie1@asso.example>",
                                         "Reply-To": "bureau@asso.example"}))
    assert again.request_id == asked.request_id and again.follow_up
    colleague = core.take_mail(mail("Je complète la question de Marie.", subject="Re: Adhésion",
                                    sender="Bureau <bureau@asso.example>", message_id="<bureau1@asso.example>",
                                    headers={"In-Reply-To": "<marie2@asso.example>"}))
    assert colleague.request_id == asked.request_id

    # Every desk shows where the reply goes before staff approve it.
    runner = CliRunner()
    shown = runner.invoke(cli, ["--config", core.config.source, "drafts", "show", str(hijack.draft_id)])
    assert "réponse à : drop@evil.example (expéditeur : eve@evil.example)" in shown.output, shown.output
    listed = runner.invoke(cli, ["--config", core.config.source, "drafts", "list"])
    assert "→ drop@evil.example" in listed.output, listed.output
    from bot.desks.telegram import render

    assert "drop@evil.example" in render(second, {e.slug: e for e in core.entries})

    # Each answer goes to its own requester only.
    core.review.approve(hijack.draft_id or 0, STAFF)
    assert await outbox_for(core).flush() == 1
    assert [r.rcpt_tos for r in smtp.received] == [["drop@evil.example"]]
    from bot.privacy import forget

    forget(core.db, "email", "marie@asso.example")  # the Reply-To kept for the thread is personal data too
    assert core.db.execute("SELECT count(*) FROM messages WHERE reply_to = 'bureau@asso.example'").fetchone()[0] == 0


async def test_storing_does_not_wait_for_matching_and_a_restart_drafts_what_was_left(
        tmp_path: Path, dovecot: Dovecot) -> None:
    # The matcher held (as a slow embedding model would be): the mailbox is still taken in.
    core = Core.build(make_config(tmp_path, dovecot))
    gate = threading.Event()
    match = core.matcher.match

    def held(text: str, subject: str = "") -> Match:
        gate.wait(20)
        return match(text, subject)

    core.matcher.match = held  # type: ignore[method-assign]
    service = Service(core)
    service.drafting.batch = 1  # so that a stop leaves messages stored and not drafted
    task = asyncio.create_task(service.run())
    try:
        await append(dovecot, *(mail(f"Question {i} sur le service civique", message_id=f"<h{i}@asso.example>")
                                for i in range(5)))
        await wait_for(lambda: core.db["imap_state"].count and core.db["imap_state"].get("INBOX")["last_uid"] == 5)
        assert core.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 5
        assert core.db["drafts"].count == 0  # all stored while the first one is still being matched
    finally:
        service.stop.set()  # stopped with four messages stored and not drafted
        gate.set()
        await asyncio.wait_for(task, 15)
    assert core.db["drafts"].count < 5
    core.matcher.match = match  # type: ignore[method-assign]
    service = Service(core)  # a restart drafts what was left
    task = asyncio.create_task(service.run())
    try:
        await wait_for(lambda: core.db["drafts"].count == 5)
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 15)
    assert core.db.execute("SELECT count(*) FROM messages WHERE drafted_at IS NULL").fetchone()[0] == 0
    assert core.db.execute("SELECT count(DISTINCT message_id) FROM drafts").fetchone()[0] == 5


def test_a_message_erased_before_it_was_drafted_gets_no_draft(tmp_path: Path) -> None:
    from bot.channels.mailparse import parse_mail
    from bot.privacy import forget

    core = Core.build(make_config(tmp_path))
    stored = core.intake.store(parse_mail(mail("Comment adhérer ?", sender="Marie <marie@asso.example>")))
    forget(core.db, "email", "marie@asso.example")  # /oubli, or the retention purge, before the worker got to it
    assert core.intake.draft(stored.message_id) is None
    assert core.db["drafts"].count == 0 and core.intake.undrafted() == []


def test_no_draft_for_an_address_that_does_not_parse_cleanly(tmp_path: Path) -> None:
    from dataclasses import replace

    from bot.channels.mailparse import parse_mail

    core = Core.build(make_config(tmp_path))
    incoming = replace(parse_mail(mail("Comment adhérer au réseau ?")), unanswerable="From: two addresses")
    draft = core.review.get(core.intake.take(incoming).draft_id or 0)  # the mail parser's verdict survives storing
    assert draft.text is None and draft.slug is None
    assert "pas de brouillon : l'adresse de réponse n'est pas sûre, répondre à la main" in draft.notes


def test_a_draft_names_a_second_entry_that_fits_too_and_tells_staff(tmp_path: Path) -> None:
    from bot.channels.mailparse import parse_mail
    from bot.draft import SEE_ALSO

    # Two entries that both fit share the confidence: at the default threshold such a message is
    # often left to staff with both candidates shown; a desk that drafts more lowers it.
    core = Core.build(make_config(tmp_path, extra="\n[matcher]\nthreshold = 0.5\n"))
    question = ("Bonjour, nous sommes une petite asso et voulons financer un puits au Togo avec notre partenaire, "
                "quelles aides ?")
    match = core.matcher.match(question, "Aides")
    assert match.slug is not None and match.candidates[1].confidence >= SEE_ALSO  # both funders fit
    second = next(e for e in core.entries if e.slug == match.candidates[1].slug)
    draft = core.review.get(core.intake.take(parse_mail(mail(question, subject="Aides"))).draft_id
                            or 0)
    assert draft.slug == match.slug
    assert f"Votre question touche peut-être aussi à « {second.title} »" in (draft.text or "")
    assert f"deux fiches possibles : la fin du brouillon cite aussi « {second.title} »" in draft.notes
    plain = core.review.get(core.intake.take(parse_mail(mail("Comment adhérer au réseau ?"))).draft_id or 0)
    assert "peut-être aussi" not in (plain.text or "") and not any("deux fiches" in n for n in plain.notes)
