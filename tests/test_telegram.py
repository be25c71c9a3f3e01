"""Telegram: python-telegram-bot talking HTTP to a Bot API server on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.service import Core, Service
from tests.conftest import ALICE, BOB, HOLDER, MALLORY, STAFF_CHAT, append, make_config, telegram_section, wait_for
from tests.mails import mail
from tests.servers.botapi import BotApiServer, Call
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer


@asynccontextmanager
async def running(config: Any) -> AsyncIterator[Service]:
    service = Service(Core.build(config))
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 20)


def staff_posts(botapi: BotApiServer) -> list[Call]:
    return [c for c in botapi.sent(chat_id=STAFF_CHAT) if "inline_keyboard" in json.dumps(c.params.get("reply_markup"))]


async def posted(botapi: BotApiServer, count: int = 1, timeout: float = 10.0) -> tuple[int, int, str]:
    """(draft id, staff message id, text) of the ``count``-th draft posted to the staff chat."""
    await wait_for(lambda: len(staff_posts(botapi)) >= count, timeout=timeout)
    call = staff_posts(botapi)[count - 1]
    draft_id = int(call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1])
    return draft_id, int(call.result["message_id"]), str(call.params["text"])


def to_holder(botapi: BotApiServer) -> list[str]:
    return [str(c.params["text"]) for c in botapi.sent(chat_id=HOLDER)]


def prompts(botapi: BotApiServer) -> list[Call]:
    return [c for c in botapi.sent(chat_id=STAFF_CHAT) if "répondez à ce message" in str(c.params["text"])]


def answers(botapi: BotApiServer, text: str) -> list[Call]:
    return [c for c in botapi.sent("answerCallbackQuery") if text in str(c.params.get("text", ""))]


def tg_config(tmp_path: Path, botapi: BotApiServer, **servers: Any) -> Any:
    return make_config(tmp_path, servers.get("dovecot"), servers.get("smtp"), extra=telegram_section(botapi))


async def test_round_trip_question_to_answer(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "/start")
        await wait_for(lambda: any("relit chaque réponse" in t for t in to_holder(botapi)))
        asked = botapi.message(HOLDER, HOLDER, "bjr, je veux faire un service civique a l'etranger, j'ai 20 ans")
        await wait_for(lambda: any(t.startswith("Merci") for t in to_holder(botapi)))
        draft_id, message_id, text = await posted(botapi)
        assert "vol-service-civique" in text and "Telegram" in text and "Awa" in text
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:send", first_name="Alice")
        await wait_for(lambda: any("16 à 25 ans" in t for t in to_holder(botapi)))
        answer = next(c for c in botapi.sent(chat_id=HOLDER) if "16 à 25 ans" in str(c.params["text"]))
        assert answer.params["reply_parameters"]["message_id"] == asked
        await wait_for(lambda: any("Envoyé par Alice" in str(c.params["text"])
                                   for c in botapi.sent("editMessageText", message_id=message_id)))
        db = service.core.db
        await wait_for(lambda: db["requests"].get(1)["status"] == "answered")
        request = db["requests"].get(1)
        assert request["channel"] == "telegram" and request["outcome"] == "sent_as_drafted"
        assert request["decided_by"] == f"telegram:{ALICE}:Alice"
        # A follow-up in the same chat joins the request instead of opening another.
        botapi.message(HOLDER, HOLDER, "et pour partir en Europe plutôt ?")
        await posted(botapi, 2)
        assert db["requests"].count == 1
    assert len([t for t in to_holder(botapi) if "16 à 25 ans" in t]) == 1


async def test_email_question_edited_on_telegram_goes_out_by_smtp(tmp_path: Path, botapi: BotApiServer,
                                                                  dovecot: Dovecot, smtp: SmtpServer) -> None:
    async with running(tg_config(tmp_path, botapi, dovecot=dovecot, smtp=smtp)):
        await append(dovecot, mail("Bonjour, quel est votre numéro de téléphone ?", subject="Contact",
                                   message_id="<tel@asso.example>"))
        draft_id, message_id, text = await posted(botapi)
        assert "e-mail" in text and "marie@asso.example" in text and "info-contact" in text
        botapi.press(STAFF_CHAT, BOB, message_id, f"g:{draft_id}:edit", first_name="Bob")
        prompt = (await wait_for(lambda: prompts(botapi)))[0]
        botapi.message(STAFF_CHAT, BOB, "Bonjour Marie, appelez-nous au 04 72 77 87 66. Bien à vous.",
                       first_name="Bob", chat_type="supergroup", reply_to=int(prompt.result["message_id"]))
        new_draft, new_message, new_text = await posted(botapi, 2)
        assert new_draft == draft_id and "appelez-nous" in new_text
        botapi.press(STAFF_CHAT, BOB, new_message, f"g:{draft_id}:send", first_name="Bob")
        await wait_for(lambda: len(smtp.received) == 1)
    msg = smtp.received[0].message
    assert msg.get_body(("plain",)).get_content().startswith("Bonjour Marie, appelez-nous")
    assert msg["In-Reply-To"] == "<tel@asso.example>"


async def test_other_entry_rerenders_the_draft(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "on voudrait partir quelques semaines aider un projet cet été")
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:other")
        await wait_for(lambda: botapi.sent("editMessageReplyMarkup", message_id=message_id))
        buttons = botapi.sent("editMessageReplyMarkup", message_id=message_id)[0].params["reply_markup"]
        choices = [row[0]["callback_data"] for row in buttons["inline_keyboard"] if ":pick:" in row[0]["callback_data"]]
        assert choices
        chosen = choices[0].split(":pick:")[1]
        botapi.press(STAFF_CHAT, ALICE, message_id, choices[0])
        await wait_for(lambda: service.core.review.get(draft_id).slug == chosen)
        await wait_for(lambda: any(chosen in str(c.params["text"])
                                   for c in botapi.sent("editMessageText", message_id=message_id)))


async def test_double_press_and_strangers(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, MALLORY, message_id, f"g:{draft_id}:send", first_name="Mallory")
        await wait_for(lambda: answers(botapi, "Réservé à l'équipe"))
        assert service.core.review.get(draft_id).state == "pending"
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:edit", first_name="Alice")
        prompt = int((await wait_for(lambda: prompts(botapi)))[0].result["message_id"])
        botapi.message(STAFF_CHAT, MALLORY, "Texte pirate", chat_type="supergroup", reply_to=prompt)
        await wait_for(lambda: any("Seule l'équipe" in str(c.params["text"]) for c in botapi.sent(chat_id=STAFF_CHAT)))
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id + 1}:send")  # forged: another draft's id
        await wait_for(lambda: answers(botapi, "ne correspond pas"))
        botapi.press(STAFF_CHAT, ALICE, message_id, "g:1:drop-table")
        await wait_for(lambda: answers(botapi, "Action non valide"))
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:ignore", first_name="Alice")
        botapi.press(STAFF_CHAT, BOB, message_id, f"g:{draft_id}:send", first_name="Bob")
        await wait_for(lambda: answers(botapi, "Déjà traité par Alice"))
        db = service.core.db
        refused = [json.loads(e["detail"])["what"] for e in db.query("SELECT detail FROM events "
                                                                      "WHERE kind = 'desk.refused' ORDER BY id")]
        assert refused == ["button", "draft edit", "button for another draft", "malformed or misplaced button"]
        assert service.core.review.get(draft_id).state == "ignored"
        assert db["outbox"].count == 0


async def test_staff_chat_member_may_act(tmp_path: Path, botapi: BotApiServer) -> None:
    botapi.chat_members[(STAFF_CHAT, 333)] = "member"
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, 333, message_id, f"g:{draft_id}:hand", first_name="Chloé")
        await wait_for(lambda: service.core.review.get(draft_id).state == "rejected")
        assert service.core.db["requests"].get(1)["status"] == "by_hand"


async def test_rate_limit_retry_after_is_honoured(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, _, _ = await posted(botapi)
        botapi.fail("sendMessage", 429, retry_after=2)
        service.core.review.approve(draft_id, "terminal:alice")
        service.outbox.wake()
        await wait_for(lambda: any(c.method == "sendMessage" and c.status == 429 for c in botapi.calls))
        refused_at = time.monotonic()
        await wait_for(lambda: any("GIP" in t for t in to_holder(botapi)), timeout=15)
        waited = time.monotonic() - refused_at
        # The Bot API has the message before the outbox records it (and approving started a refit
        # of the matcher in a thread): wait for the record rather than read it at once.
        item = await wait_for(lambda: (row := service.core.db["outbox"].get(1))["state"] != "sending" and row)
    assert waited >= 1.5, "retried before retry_after"
    assert item["state"] == "sent" and item["attempts"] == 1  # a short wait is waited out by the same attempt
    assert len([t for t in to_holder(botapi) if "GIP" in t]) == 1


async def test_acknowledgement_waits_out_a_429(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)):
        botapi.fail("sendMessage", 429, retry_after=1)
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        await wait_for(lambda: any(c.method == "sendMessage" and c.status == 429 for c in botapi.calls))
        await wait_for(lambda: any(t.startswith("Merci") for t in to_holder(botapi)))
        await posted(botapi)
    assert len([t for t in to_holder(botapi) if t.startswith("Merci")]) == 1


async def test_photo_gets_a_polite_answer(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, None, photo=[{"file_id": "p", "file_unique_id": "u", "width": 9,
                                                     "height": 9}])
        botapi.message(HOLDER, HOLDER, None, sticker={"file_id": "s", "file_unique_id": "v", "width": 9,
                                                      "height": 9, "is_animated": False, "is_video": False,
                                                      "type": "regular"})
        await wait_for(lambda: len([t for t in to_holder(botapi) if "messages écrits" in t]) == 2)
        assert service.core.db["messages"].count == 0


async def test_long_message_and_markup_are_safe(tmp_path: Path, botapi: BotApiServer) -> None:
    question = "<b>URGENT</b> <a href='x'>clic</a> comment adhérer au réseau ? " + "détails " * 1200
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, question)
        _, _, text = await posted(botapi)
        stored = service.core.db.execute("SELECT text FROM messages").fetchone()[0]
    assert stored == question  # stored whole
    assert "&lt;b&gt;URGENT&lt;/b&gt;" in text and "<b>URGENT" not in text
    assert len(text) <= 4096


async def test_forget_me(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ? je suis Awa Diallo, 06 12 34 56 78")
        await posted(botapi)
        botapi.message(HOLDER, HOLDER, "/oubli")
        await wait_for(lambda: any("effacés" in t for t in to_holder(botapi)))
        db = service.core.db
        message = db.execute("SELECT text, sender, (SELECT count(*) FROM message_sources) FROM messages").fetchone()
        request = db["requests"].get(1)
        await wait_for(lambda: any("effacée" in str(c.params["text"]) for c in botapi.sent("editMessageText")))
    assert tuple(message) == (None, None, 0)
    assert request["requester"] is None and request["status"] == "forgotten"
    assert request["received_at"]  # the anonymous row still counts


async def test_forget_me_leaves_no_id_and_no_text_anywhere(tmp_path: Path, botapi: BotApiServer) -> None:
    person = 987_654_321  # an id no timestamp or counter of the test can contain
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(person, person, "comment adhérer au réseau ? je suis Awa Diallo, 06 12 34 56 78")
        draft_id, answered, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, ALICE, answered, f"g:{draft_id}:send", first_name="Alice")
        await wait_for(lambda: any("GIP" in str(c.params["text"]) for c in botapi.sent(chat_id=person)))
        botapi.message(person, person, "et le FONJEP, 07 98 76 54 32 ?")  # a follow-up, still pending
        follow_up, pending, _ = await posted(botapi, 2)
        botapi.press(STAFF_CHAT, ALICE, pending, f"g:{follow_up}:full", first_name="Alice")  # the full text too
        full = await wait_for(lambda: [c for c in botapi.sent(chat_id=STAFF_CHAT)
                                       if str(c.params["text"]).startswith("Question complète")])
        botapi.message(person, person, "/oubli")
        await wait_for(lambda: any("effacés" in str(c.params["text"]) for c in botapi.sent(chat_id=person)))
        cards = [botapi.messages[(STAFF_CHAT, m)] for m in (answered, pending, int(full[0].result["message_id"]))]
        await wait_for(lambda: all("effacé" in str(card.text).lower() for card in cards))
        db = service.core.db
        await wait_for(lambda: not db.execute("SELECT count(*) FROM telegram_posts WHERE chat_id = ?",
                                              [str(person)]).fetchone()[0])
        dump = json.dumps({table: list(db[table].rows) for table in db.table_names()}, default=str)
    for trace in (str(person), "Diallo", "06 12 34", "98 76 54"):
        assert trace not in dump, trace
        assert not [m for (chat, _), m in botapi.messages.items() if chat == STAFF_CHAT and trace in str(m.text)]
    assert all(card.markup == "" for card in cards)


async def test_no_match_is_posted_for_hand_answer(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)):
        botapi.message(HOLDER, HOLDER, "quelle est la recette du mafé ?")
        draft_id, _, text = await posted(botapi)
    assert "À traiter à la main" in text and "candidats" in text
    keyboard = staff_posts(botapi)[0].params["reply_markup"]["inline_keyboard"]
    labels = [button["text"] for row in keyboard for button in row]
    assert "✅ Envoyer" not in labels and "✏️ Écrire la réponse" in labels
    del draft_id


def test_office_hours() -> None:
    import datetime as dt

    from bot.channels.telegram import in_office_hours, split_text

    monday_morning = dt.datetime(2026, 11, 23, 10, 0)
    assert in_office_hours(monday_morning, "09:00-17:30")
    assert not in_office_hours(monday_morning.replace(hour=20), "09:00-17:30")
    assert not in_office_hours(dt.datetime(2026, 11, 22, 10, 0), "09:00-17:30")  # Sunday
    parts = split_text(("paragraphe " * 50 + "\n\n") * 20, limit=1000)
    assert all(len(p) <= 1000 for p in parts) and len(parts) > 1


async def test_staff_are_warned_in_the_chat_once(tmp_path: Path, dovecot: Dovecot, botapi: BotApiServer) -> None:
    config = make_config(tmp_path, dovecot, extra=telegram_section(botapi))
    await append(dovecot, *(mail(f"Question {i} sur le FONJEP", message_id=f"<w{i}@asso.example>", subject=f"S{i}")
                            for i in range(3)))
    async with running(config) as service:
        db = service.core.db
        await wait_for(lambda: len(staff_posts(botapi)) == 3)
    lost = db.execute("SELECT id FROM messages WHERE external_id = '<w1@asso.example>'").fetchone()[0]
    for sql in ("DELETE FROM telegram_posts WHERE draft_id IN (SELECT id FROM drafts WHERE message_id = ?)",
                "DELETE FROM drafts WHERE message_id = ?", "DELETE FROM message_sources WHERE message_id = ?",
                "DELETE FROM messages WHERE id = ?"):
        db.execute(sql, [lost])  # as if it had been lost

    def warnings() -> list[str]:
        texts = [str(c.params["text"]) for c in botapi.sent(chat_id=STAFF_CHAT)]
        return [text for text in texts if "jamais pris" in text]

    async with running(config):
        await wait_for(lambda: warnings())
    assert "Boîte INBOX : 1 message(s) jamais pris en compte par Guichet (UID 2)" in warnings()[0]
    async with running(config) as service:  # restarted: the gap is still there, but staff know already
        reader = service.reader
        assert reader is not None
        await wait_for(lambda: reader.missing == [2])  # reconciled again
        polls = len([c for c in botapi.calls if c.method == "getUpdates"])
        await wait_for(lambda: len([c for c in botapi.calls if c.method == "getUpdates"]) > polls + 1)
    assert len(warnings()) == 1


async def test_a_photo_with_a_caption_is_a_question(tmp_path: Path, botapi: BotApiServer) -> None:
    photo = [{"file_id": "p", "file_unique_id": "u", "width": 90, "height": 90, "file_size": 2048}]
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, None, photo=photo, caption="comment adhérer au réseau ?")
        _, _, text = await posted(botapi)
        message = service.core.db["messages"].get(1)
    assert "acc-adhesion" in text and "comment adhérer au réseau ?" in text and "photo" in text
    assert message["text"] == "comment adhérer au réseau ?"
    assert json.loads(message["attachments"])[0]["content_type"] == "image/jpeg"
    assert not [t for t in to_holder(botapi) if "messages écrits" in t]


async def test_an_edit_before_review_replaces_the_question(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        asked = botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        first, first_card, _ = await posted(botapi)
        botapi.edit(HOLDER, HOLDER, asked, "pardon : comment faire un service civique à l'étranger ?")
        second, _, text = await posted(botapi, 2)
        assert "vol-service-civique" in text and "service civique" in text
        await wait_for(lambda: "Remplacé" in str(botapi.messages[(STAFF_CHAT, first_card)].text))
        review = service.core.review
        assert review.get(first).state == "superseded" and review.get(second).question.startswith("pardon")
        again = botapi.edit(HOLDER, HOLDER, asked, "pardon : comment faire un service civique à l'étranger ?")
        await wait_for(lambda: botapi.handled(again))  # the same edit delivered twice changes nothing
        assert review.get(second).state == "pending"
        # Once staff have decided, an edit is a message of its own (a follow-up), not a rewrite of history.
        review.approve(second, "terminal:alice")
        botapi.edit(HOLDER, HOLDER, asked, "et au Canada ?")
        _, _, third = await posted(botapi, 3)
        db = service.core.db
        texts = [r["text"] for r in db.query("SELECT text FROM messages WHERE direction = 'in' ORDER BY id")]
    assert "et au Canada ?" in third and len(staff_posts(botapi)) == 3
    assert texts == ["pardon : comment faire un service civique à l'étranger ?", "et au Canada ?"]
    assert db["requests"].count == 1


async def test_requesters_get_a_command_menu_and_an_acknowledgement_in_their_language(
        tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)):
        botapi.message(HOLDER, HOLDER, "Hello, how can we apply for the volunteering programme with our NGO?")
        await wait_for(lambda: to_holder(botapi))
        await wait_for(lambda: len(botapi.sent("setMyCommands")) == 2)
    assert to_holder(botapi)[0].startswith("Thank you")
    menus = {c.params.get("language_code", ""): c for c in botapi.sent("setMyCommands")}
    assert [c["command"] for c in menus[""].params["commands"]] == ["start", "aide", "oubli"]
    assert [c["command"] for c in menus["en"].params["commands"]] == ["start", "help", "oubli"]
    assert all(c.params["scope"] == {"type": "all_private_chats"} for c in menus.values())


async def test_a_staff_account_names_its_telegram_holder_the_same_on_both_desks(tmp_path: Path,
                                                                                  botapi: BotApiServer) -> None:
    from bot import staff

    async with running(tg_config(tmp_path, botapi)) as service:
        staff.add(service.core.db, "Alice Martin", "alice@reseau.example", telegram_id=ALICE)
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:send", first_name="Ali")  # her Telegram name
        await wait_for(lambda: any("Envoyé par Alice Martin" in str(c.params["text"])
                                   for c in botapi.sent("editMessageText", message_id=message_id)))
        assert service.core.review.get(draft_id).decided_by == f"telegram:{ALICE}:Alice Martin"
