"""Follow-ups: a second question keeps the first one in sight, a bare thanks asks nothing of staff."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.service import Core
from bot.threads import is_bare_thanks
from tests.conftest import ALICE, HOLDER, STAFF_CHAT, make_config, telegram_section, wait_for
from tests.mails import mail
from tests.servers.botapi import BotApiServer
from tests.servers.smtp import SmtpServer
from tests.test_send import STAFF, outbox_for
from tests.test_telegram import posted, running, staff_posts, to_holder


def thanks_events(core: Core) -> list[int | None]:
    return [r["request_id"] for r in core.db.query("SELECT request_id FROM events WHERE kind = 'message.thanks'")]


async def test_telegram_follow_up_keeps_the_first_question_and_thanks_opens_nothing(tmp_path: Path,
                                                                                  botapi: BotApiServer) -> None:
    async with running(make_config(tmp_path, extra=telegram_section(botapi))) as service:
        botapi.message(HOLDER, HOLDER, "bonjour, comment adhérer au réseau ?")
        await posted(botapi)
        botapi.message(HOLDER, HOLDER, "autre chose : comment partir en service civique à l'étranger ?")
        draft_id, message_id, card = await posted(botapi, 2)
        assert "adhérer" in card and "service civique" in card  # the first question did not vanish
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:send", first_name="Alice")
        db = service.core.db
        await wait_for(lambda: db["requests"].get(1)["status"] == "answered")
        acks = len(to_holder(botapi))
        botapi.message(HOLDER, HOLDER, "Merci beaucoup !! 🙏")
        await wait_for(lambda: db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0] == 3)
        await asyncio.sleep(1.5)  # the desk would have posted a card by now
        assert len(staff_posts(botapi)) == 2
        assert db["requests"].count == 1 and db["requests"].get(1)["status"] == "answered"
        assert thanks_events(service.core) == [1]
        assert service.core.review.pending() == []
        assert len(to_holder(botapi)) == acks  # and the bot does not promise an answer to a thanks


async def test_mail_follow_ups_show_every_open_question_and_a_thanks_closes_nothing(tmp_path: Path,
                                                                                   smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    first = core.take_mail(mail("Comment adhérer au réseau ?", subject="Adhésion", message_id="<q1@asso.example>"))
    second = core.take_mail(mail("Je voulais aussi savoir comment partir en service civique.", subject="Re: Adhésion",
                                 message_id="<q2@asso.example>", headers={"In-Reply-To": "<q1@asso.example>"}))
    assert second.request_id == first.request_id and second.draft_id is not None
    draft = core.review.get(second.draft_id)
    assert "service civique" in draft.question
    assert any("adhérer" in other for other in draft.others), draft.others
    assert core.review.get(first.draft_id or 0).state == "superseded"
    core.review.approve(second.draft_id, STAFF)
    assert await outbox_for(core).flush() == 1
    reply_id = smtp.received[0].message["Message-ID"]

    thanks = core.take_mail(mail("Merci beaucoup pour votre réponse rapide !\n\nMarie", subject="Re: Adhésion",
                                 message_id="<q3@asso.example>", headers={"In-Reply-To": reply_id}))
    assert thanks.thanks and thanks.draft_id is None and thanks.request_id == first.request_id
    assert core.db["requests"].get(first.request_id)["status"] == "answered"
    assert thanks_events(core) == [first.request_id]

    # A new question after the answer is drafted again, and only what is still unanswered is listed.
    again = core.take_mail(mail("Merci ! Et pour le FONJEP, à qui s'adresser ?", subject="Re: Adhésion",
                                message_id="<q4@asso.example>", headers={"In-Reply-To": reply_id}))
    assert again.draft_id is not None and not again.thanks
    assert json.loads(core.db["drafts"].get(again.draft_id)["others"]) == []


@pytest.mark.parametrize("text", ["merci", "Merci beaucoup !!", "merci bcp 🙏", "Thank you so much!", "👍",
                                  "Super, merci pour votre retour.\n\nMarie Durand", "Parfait merci bien",
                                  "Mille mercis pour ces informations précieuses"])
def test_bare_thanks(text: str) -> None:
    assert is_bare_thanks(text)


@pytest.mark.parametrize("text", ["merci, et pour le FONJEP ?", "Merci. Comment adhérer ?", "bonjour",
                                  "merci de me rappeler au 06 12 34 56 78", "Merci mais ce n'est pas ma question",
                                  "merci de m'envoyer le dossier", ""])
def test_not_bare_thanks(text: str) -> None:
    assert not is_bare_thanks(text)


def test_a_follow_up_nothing_fits_keeps_the_earlier_draft(tmp_path: Path) -> None:
    core = Core.build(make_config(tmp_path))
    first = core.take_mail(mail("Comment adhérer au réseau ?", subject="Question", message_id="<k1@asso.example>"))
    slug = core.review.get(first.draft_id or 0).slug
    assert slug is not None
    second = core.take_mail(mail("Ah, et zorglub quantique wxcvb ?", subject="Re: Question",
                                 message_id="<k2@asso.example>", headers={"In-Reply-To": "<k1@asso.example>"}))
    draft = core.review.get(second.draft_id or 0)
    assert draft.slug == slug and draft.text == core.review.get(first.draft_id or 0).text
    assert any("le brouillon reste celui de la fiche" in n for n in draft.notes), draft.notes
    assert not any("à traiter à la main" in n for n in draft.notes)
    assert draft.others == ["message précédent : Comment adhérer au réseau ?"]
