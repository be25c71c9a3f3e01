"""The review core: decisions, who may take them, and what they put in the outbox."""

from __future__ import annotations

import json

import pytest

from bot.channels.mailparse import parse_mail
from bot.errors import AlreadyDecided, NotStaff, ReviewError
from bot.service import Core
from bot.store import source
from tests.mails import mail

STAFF = "terminal:alice"


def drafted(core: Core, text: str = "Comment obtenir une subvention de l'Agence des Micro-Projets ?",
            **kw: str) -> int:
    taken = core.take_mail(mail(text, **kw))
    assert taken.draft_id is not None
    return taken.draft_id


def test_approve_as_drafted_queues_threaded_reply(core: Core) -> None:
    draft_id = drafted(core, subject="RE: Re: Financement", message_id="<q1@asso.example>")
    view = core.review.get(draft_id)
    assert view.slug == "fin-amp-microprojets" and view.text and "Agence des Micro-Projets" in view.text
    outbox_id = core.review.approve(draft_id, STAFF)
    item = core.db["outbox"].get(outbox_id)
    assert item["recipient"] == "marie@asso.example"
    assert item["subject"] == "Re: Financement"
    assert json.loads(item["headers"]) == {"in_reply_to": "<q1@asso.example>", "references": ["<q1@asso.example>"]}
    assert item["out_message_id"].endswith("@guichet.reseau.example>")
    request = core.db["requests"].get(view.request_id)
    assert request["outcome"] == "sent_as_drafted" and request["decided_by"] == STAFF
    kinds = [e["kind"] for e in core.db.query("SELECT kind FROM events WHERE request_id = ? ORDER BY id",
                                              [view.request_id])]
    assert kinds == ["request.opened", "message.stored", "draft.created", "draft.approved"]


def test_second_decision_is_refused_naming_the_first(core: Core) -> None:
    draft_id = drafted(core)
    core.review.approve(draft_id, STAFF)
    with pytest.raises(AlreadyDecided, match="alice"):
        core.review.reject(draft_id, "terminal:bob")
    assert core.db["outbox"].count == 1


def test_edited_text_is_sent_and_counted_as_edit(core: Core) -> None:
    draft_id = drafted(core)
    outbox_id = core.review.approve(draft_id, STAFF, text="Bonjour, voici notre réponse personnalisée.")
    assert core.db["outbox"].get(outbox_id)["body"] == "Bonjour, voici notre réponse personnalisée."
    assert core.db["requests"].get(core.review.get(draft_id).request_id)["outcome"] == "sent_after_edit"


def test_no_match_is_queued_by_hand_and_needs_text(core: Core) -> None:
    draft_id = drafted(core, text="Pouvez-vous me prêter votre salle samedi pour un anniversaire ?", subject="salle")
    view = core.review.get(draft_id)
    assert view.by_hand and view.slug is None
    assert any("à traiter à la main" in n for n in view.notes)
    with pytest.raises(ReviewError):
        core.review.approve(draft_id, STAFF)
    core.review.approve(draft_id, STAFF, text="Bonjour, nous ne prêtons pas de salle, désolés.")
    assert core.db["requests"].get(view.request_id)["outcome"] == "answered_by_hand"


def test_reject_and_ignore(core: Core) -> None:
    first, second = drafted(core, subject="a"), drafted(core, subject="b", sender="x@y.example")
    core.review.reject(first, STAFF)
    core.review.ignore(second, STAFF)
    assert core.db["requests"].get(core.review.get(first).request_id)["status"] == "by_hand"
    ignored = core.db["requests"].get(core.review.get(second).request_id)
    assert (ignored["status"], ignored["outcome"]) == ("ignored", "ignored")
    assert core.db["outbox"].count == 0
    assert core.review.pending() == []


def test_non_staff_is_refused_and_logged(core: Core) -> None:
    draft_id = drafted(core)
    with pytest.raises(NotStaff):
        core.review.approve(draft_id, "telegram:666")
    assert core.review.get(draft_id).state == "pending"
    refused = list(core.db.query("SELECT actor FROM events WHERE kind = 'review.refused'"))
    assert refused == [{"actor": "telegram:666"}]


def test_choose_another_entry_rerenders(core: Core) -> None:
    draft_id = drafted(core)
    view = core.review.choose(draft_id, STAFF, "vol-service-civique")
    assert view.slug == "vol-service-civique" and view.text and "service civique" in view.text
    assert core.db["requests"].get(view.request_id)["category"] == "volontariat"


def test_follow_up_joins_request_and_supersedes_pending_draft(core: Core) -> None:
    first = core.take_mail(mail(message_id="<t1@asso.example>", subject="Micro-projet"))
    follow = parse_mail(mail("Et pour un service civique ?", subject="Re: Micro-projet",
                             message_id="<t2@asso.example>", headers={"In-Reply-To": "<t1@asso.example>"}))
    second = core.intake.take(follow)
    assert second.follow_up and second.request_id == first.request_id
    assert core.db["requests"].count == 1
    assert core.review.get(first.draft_id or 0).state == "superseded"
    assert [d.id for d in core.review.pending()] == [second.draft_id]


def test_reply_to_our_sent_answer_joins_the_request(core: Core) -> None:
    first = core.take_mail(mail(message_id="<t1@asso.example>", subject="Sujet A"))
    outbox_id = core.review.approve(first.draft_id or 0, STAFF)
    ours = core.db["outbox"].get(outbox_id)["out_message_id"]
    again = core.take_mail(mail("Merci, autre question", subject="Autre sujet", message_id="<t3@asso.example>",
                                headers={"In-Reply-To": ours}))
    assert again.request_id == first.request_id


def test_machine_mail_is_stored_never_drafted(core: Core) -> None:
    taken = core.take_mail(mail(headers={"Auto-Submitted": "auto-replied"}))
    assert taken.draft_id is None
    request = core.db["requests"].get(taken.request_id)
    assert (request["status"], request["outcome"]) == ("machine", "machine")
    assert source(core.db, taken.message_id)


def test_expired_entry_says_closed(tmp_path, config) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    import shutil
    from dataclasses import replace

    from bot.config import KnowledgeConfig

    kb = tmp_path / "kb"
    shutil.copytree(config.knowledge.dir, kb)
    path = kb / "national" / "fin-amp-microprojets.md"
    path.write_text(path.read_text().replace("\nreviewed: ", "\nvalid_until: 2025-03-31\nreviewed: "))
    core = Core.build(replace(config, knowledge=replace(config.knowledge, dir=str(kb))))
    assert isinstance(core.config.knowledge, KnowledgeConfig)
    taken = core.take_mail(mail())
    view = core.review.get(taken.draft_id or 0)
    assert view.text and "clos depuis le 31/03/2025" in view.text
    assert any("expirée" in n for n in view.notes)
    assert dt.date(2025, 3, 31) < dt.date.today()


def test_an_ended_scheme_is_drafted_as_ended_without_a_next_edition_note(core: Core) -> None:
    draft_id = drafted(core, "Le programme Mindchangers finance-t-il encore des projets de jeunes sur le climat ?")
    view = core.review.get(draft_id)
    assert view.slug == "fin-mindchangers" and view.text
    assert "est terminé depuis le 31/12/2024 et n'aura pas de nouvelle édition" in view.text
    assert "Connect for Global Change" in view.text and "la suivante" not in view.text
    assert not any("expirée" in n for n in view.notes)


def test_cli_approve_with_editor_sends_the_edited_text(tmp_path, secrets) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from bot.cli import cli
    from tests.conftest import make_config

    config = make_config(tmp_path)
    core = Core.build(config)
    draft_id = drafted(core)
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Bonjour, texte revu par Alice.\\n" > "$1"\n')
    editor.chmod(0o755)
    result = CliRunner().invoke(cli, ["--config", config.source, "drafts", "approve", str(draft_id), "--edit"],
                                env={"EDITOR": str(editor)})
    assert result.exit_code == 0, result.output
    row = core.db.execute("SELECT body FROM outbox WHERE draft_id = ?", [draft_id]).fetchone()
    assert row[0] == "Bonjour, texte revu par Alice.\n"
    assert core.db["requests"].get(core.review.get(draft_id).request_id)["outcome"] == "sent_after_edit"


def test_cli_approve_from_file(tmp_path, secrets) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from bot.cli import cli
    from tests.conftest import make_config

    config = make_config(tmp_path)
    core = Core.build(config)
    draft_id = drafted(core, text="Pouvez-vous me prêter votre salle samedi pour un anniversaire ?", subject="salle")
    answer = tmp_path / "answer.txt"
    answer.write_text("Bonjour, nous ne prêtons pas de salle.\n")
    runner = CliRunner()
    refused = runner.invoke(cli, ["--config", config.source, "drafts", "approve", str(draft_id)])
    assert refused.exit_code == 2 and "has no text" in refused.output
    ok = runner.invoke(cli, ["--config", config.source, "drafts", "approve", str(draft_id), "--file", str(answer)])
    assert ok.exit_code == 0, ok.output
    assert core.db["requests"].get(core.review.get(draft_id).request_id)["outcome"] == "answered_by_hand"


def test_non_staff_cannot_mark_requests_and_is_logged(core: Core) -> None:
    taken = core.take_mail(mail())
    with pytest.raises(NotStaff):
        core.review.answered_by_hand(taken.request_id, "telegram:666")
    with pytest.raises(NotStaff):
        core.review.set_appointment(taken.request_id, "telegram:666")
    refused = list(core.db.query("SELECT request_id, actor FROM events WHERE kind = 'review.refused'"))
    assert refused == [{"request_id": taken.request_id, "actor": "telegram:666"}] * 2
    assert core.db["requests"].get(taken.request_id)["appointment"] == 0


def test_hand_written_answer_goes_out_on_the_request_channel(core: Core) -> None:
    draft_id = drafted(core, message_id="<q9@asso.example>")
    view = core.review.get(draft_id)
    core.review.reject(draft_id, STAFF)
    outbox_id = core.review.answer(view.request_id, STAFF, "Bonjour,\n\nVoici notre réponse écrite à la main.\n",
                                   slug="fin-afd")
    item = core.db["outbox"].get(outbox_id)
    assert item["recipient"] == "marie@asso.example" and item["channel"] == "email"
    assert "à la main" in item["body"]
    assert json.loads(item["headers"])["in_reply_to"] == "<q9@asso.example>"
    request = core.db["requests"].get(view.request_id)
    assert request["outcome"] == "answered_by_hand" and request["slug"] == "fin-afd"
    assert request["decided_by"] == STAFF
    with pytest.raises(ReviewError, match="still waiting"):
        core.review.answer(view.request_id, STAFF, "Une deuxième réponse.")


def test_hand_written_answer_replaces_a_pending_draft_and_needs_text(core: Core) -> None:
    draft_id = drafted(core)
    view = core.review.get(draft_id)
    with pytest.raises(ReviewError, match="empty"):
        core.review.answer(view.request_id, STAFF, "   ")
    with pytest.raises(NotStaff):
        core.review.answer(view.request_id, "telegram:999:Mallory", "Coucou")
    core.review.answer(view.request_id, STAFF, "Réponse personnelle.")
    assert core.review.get(draft_id).state == "superseded"
    with pytest.raises(AlreadyDecided):
        core.review.approve(draft_id, STAFF)
