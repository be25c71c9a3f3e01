"""The Telegram staff desk: cards, prompts and decisions, through the loopback Bot API server."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.desks.telegram_card import card
from bot.message import Incoming
from bot.review import DraftView
from bot.store import migrate, now
from tests.conftest import ALICE, BOB, HOLDER, MALLORY, STAFF_CHAT, released_before, wait_for
from tests.servers.botapi import BotApiServer, Call, check_text
from tests.test_telegram import answers, posted, prompts, running, staff_posts, tg_config, to_holder


def staff_texts(botapi: BotApiServer) -> list[str]:
    return [str(c.params["text"]) for c in botapi.sent(chat_id=STAFF_CHAT)]


async def test_only_the_prompted_staff_member_edits_a_draft(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        drafted = service.core.review.get(draft_id).text
        # A colleague answers the card in the chat: conversation, not a new draft.
        botapi.message(STAFF_CHAT, BOB, "je m'en occupe demain", chat_type="supergroup", first_name="Bob",
                       reply_to=message_id)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:edit", first_name="Alice")
        prompt = int((await wait_for(lambda: prompts(botapi)))[0].result["message_id"])
        assert service.core.review.get(draft_id).text == drafted  # updates are handled in order
        botapi.message(STAFF_CHAT, BOB, "Bob répond à la place d'Alice", chat_type="supergroup", first_name="Bob",
                       reply_to=prompt)
        await wait_for(lambda: any("attend la réponse de Alice" in t for t in staff_texts(botapi)))
        assert service.core.review.get(draft_id).text == drafted
        botapi.message(STAFF_CHAT, ALICE, "Bonjour, l'adhésion se fait sur notre site.", chat_type="supergroup",
                       first_name="Alice", reply_to=prompt)
        _, new_message, text = await posted(botapi, 2)
        assert "adhésion se fait sur notre site" in text
        botapi.press(STAFF_CHAT, ALICE, new_message, f"g:{draft_id}:send", first_name="Alice")
        await wait_for(lambda: any("notre site" in t for t in to_holder(botapi)))
    assert not any("demain" in t or "Bob" in t for t in to_holder(botapi))


async def test_429_on_the_modifier_prompt_answers_the_press(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)):
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        await wait_for(lambda: any(t.startswith("Merci") for t in to_holder(botapi)))
        botapi.fail("sendMessage", 429, retry_after=1)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:edit", first_name="Alice")
        await wait_for(lambda: botapi.sent("answerCallbackQuery"))  # the button does not keep spinning
        await wait_for(lambda: prompts(botapi))  # and the prompt comes once Telegram allows it
    refused = [c for c in botapi.calls if c.status == 429]
    assert len(refused) == 1 and prompts(botapi)[0].at - refused[0].at >= 0.9


async def test_edited_draft_is_reposted_after_a_429_even_across_a_restart(tmp_path: Path,
                                                                        botapi: BotApiServer) -> None:
    config = tg_config(tmp_path, botapi)
    async with running(config) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:edit", first_name="Alice")
        prompt = int((await wait_for(lambda: prompts(botapi)))[0].result["message_id"])
        botapi.fail("sendMessage", 429, retry_after=30)  # the new version meets a long rate limit
        botapi.message(STAFF_CHAT, ALICE, "Bonjour, l'adhésion se fait sur notre site.", chat_type="supergroup",
                       first_name="Alice", reply_to=prompt)
        await wait_for(lambda: [c for c in botapi.calls if c.method == "sendMessage" and c.status == 429])
        health = await wait_for(lambda: (row := service.core.db["health"].get("telegram")) and not row["ok"]
                                and row)
        assert "rate limited" in health["last_error"]  # `guichet status` does not say ok
    assert len(staff_posts(botapi)) == 1
    async with running(config):
        _, new_message, text = await posted(botapi, 2)
    assert "adhésion se fait sur notre site" in text and new_message != message_id
    old = botapi.messages[(STAFF_CHAT, message_id)]
    assert old.markup == "" and "Modifié par Alice" in str(old.text)  # the old card has no buttons left


async def test_retry_after_holds_every_chat(tmp_path: Path, botapi: BotApiServer) -> None:
    others = [HOLDER + 1, HOLDER + 2, HOLDER + 3]
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, _, _ = await posted(botapi)
        await wait_for(lambda: any(t.startswith("Merci") for t in to_holder(botapi)))
        botapi.fail("sendMessage", 429, retry_after=2)
        botapi.message(others[0], others[0], "comment adhérer au réseau ?")  # its acknowledgement meets the 429
        refused = (await wait_for(lambda: [c for c in botapi.calls if c.status == 429]))[0]
        for chat in others[1:]:
            botapi.message(chat, chat, "et pour le FONJEP ?")
            await asyncio.sleep(0.2)
        service.core.review.approve(draft_id, "terminal:alice")
        service.outbox.wake()
        await wait_for(lambda: all(any(str(c.params["text"]).startswith(("Merci", "Thank"))
                                       for c in botapi.sent(chat_id=chat)) for chat in others), timeout=15)
        await wait_for(lambda: any("GIP" in t for t in to_holder(botapi)), timeout=15)
    after = [c for c in botapi.calls if c.method in ("sendMessage", "editMessageText") and c.at > refused.at]
    assert min(c.at for c in after) - refused.at >= 1.9, "a new message cut the wait short"


def test_an_old_desk_is_upgraded() -> None:
    db = released_before("010")
    db.execute("INSERT INTO requests (channel, status, received_at, updated_at) VALUES ('telegram', 'open', ?, ?)",
               [now(), now()])
    db.execute("INSERT INTO messages (channel, external_id, request_id, received_at, stored_at) "
               "VALUES ('telegram', '5:1', 1, ?, ?)", [now(), now()])
    db.execute("INSERT INTO drafts (request_id, message_id, state, created_at) VALUES (1, 1, 'pending', ?)", [now()])
    for message_id, kind in ((1001, "draft"), (1002, "prompt")):
        db.execute("INSERT INTO desk_posts (draft_id, desk, chat_id, message_id, kind, state, posted_at) "
                   "VALUES (1, 'telegram', '-100777', ?, ?, 'open', ?)", [str(message_id), kind, now()])
    assert "010_telegram_posts" in migrate(db)
    rows = [(r["message_id"], r["kind"], r["state"]) for r in db.query("SELECT * FROM telegram_posts ORDER BY id")]
    # The card stays live; a prompt from before named no staff member, so it is closed.
    assert rows == [("1001", "card", "open"), ("1002", "prompt", "closed")]
    assert "desk_posts" not in db.table_names()


# Fourteen questions in one message, with the characters that grow when escaped (&, <, >).
TOPICS = ["adhérer au réseau", "le FONJEP", "un service civique", "le volontariat de solidarité internationale",
          "la formation au cycle de projet", "une subvention pour un micro-projet", "l'éducation à la citoyenneté",
          "un rendez-vous d'accompagnement", "des partenaires au Togo", "les fondations privées",
          "le Corps européen de solidarité", "les agences de l'eau", "les fonds européens", "un stage à l'étranger"]
LONG_QUESTION = " ".join(f"Q{i} -> notre asso <<Eau & Écoles>> (budget >= 5 000 € & < 15 000 €, R&D & suivi "
                         f"<terrain>, 3 villages & 2 écoles) : que savoir sur {topic} ?"
                         for i, topic in enumerate(TOPICS))
# A staff member's long answer, pasted with its "&" and "<>" (an old card cut its </pre>).
LONG_ANSWER = "Bonjour,\n\n" + "\n".join(f"{i}. Dépenses éligibles & non éligibles : <voir annexe {i}> R&D, "
                                         "suivi & évaluation, frais de mission & de visa." for i in range(60))


async def test_a_long_card_fits_and_the_full_text_is_one_tap_away(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, LONG_QUESTION)
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:edit", first_name="Alice")
        prompt = int((await wait_for(lambda: prompts(botapi)))[0].result["message_id"])
        botapi.message(STAFF_CHAT, ALICE, LONG_ANSWER, chat_type="supergroup", first_name="Alice", reply_to=prompt)
        _, new_message, text = await posted(botapi, 2)
        assert check_text(text, "HTML") and "Texte raccourci" in text
        buttons = [b["callback_data"] for row in staff_posts(botapi)[1].params["reply_markup"]["inline_keyboard"]
                   for b in row]
        assert f"g:{draft_id}:full" in buttons
        botapi.press(STAFF_CHAT, ALICE, new_message, f"g:{draft_id}:full", first_name="Alice")
        botapi.press(STAFF_CHAT, ALICE, new_message, f"g:{draft_id}:full", first_name="Alice")  # a double tap
        await wait_for(lambda: any("annexe 59>" in t for t in staff_texts(botapi)))
        await asyncio.sleep(0.5)  # time for a second series, if the double tap had made one
        full = "".join(staff_texts(botapi))  # cards are escaped HTML: a bare "<" is in the plain full texts only
        assert full.count("annexe 59>") == 1 and full.count("Q13 -> notre asso <<Eau & Écoles>>") == 1
        # The desk goes on: the next request's card is posted.
        botapi.message(HOLDER + 1, HOLDER + 1, "comment adhérer au réseau ?")
        await posted(botapi, 3)
        assert service.core.review.get(draft_id).text == LONG_ANSWER


async def test_a_card_telegram_refuses_is_marked_and_does_not_block_the_others(tmp_path: Path,
                                                                               botapi: BotApiServer) -> None:
    def email(number: int) -> Incoming:
        return Incoming(channel="email", external_id=f"<r{number}@asso.example>", sender="marie@asso.example",
                        sender_name="Marie", subject=f"Adhésion {number}", text="Comment adhérer au réseau ?",
                        new_text="Comment adhérer au réseau ?", received_at=dt.datetime.now(dt.UTC))

    async with running(tg_config(tmp_path, botapi)) as service:
        await wait_for(lambda: botapi.sent("getUpdates"))
        botapi.fail("sendMessage", 400)  # Telegram refuses the first card for good
        refused = service.core.intake.take(email(1)).draft_id
        service.telegram.desk.wake()  # type: ignore[union-attr]
        await wait_for(lambda: any(c.status == 400 for c in botapi.calls))
        service.core.intake.take(email(2))
        service.telegram.desk.wake()  # type: ignore[union-attr]
        await posted(botapi)
        warning = await wait_for(lambda: [t for t in staff_texts(botapi) if "n'a pas pu être affiché" in t])
        db = service.core.db
        row = db.execute("SELECT state, error FROM telegram_posts WHERE draft_id = ? AND kind = 'card'",
                         [refused]).fetchone()
    assert f"Le brouillon {refused} n'a pas pu être affiché ici" in warning[0]
    assert f"guichet drafts show {refused}" in warning[0]
    assert tuple(row) == ("refused", "Injected 400")
    assert len([c for c in botapi.calls if c.status == 400]) == 1  # not retried for ever
    assert service.core.review.get(refused).state == "pending"  # still to decide, from another desk


def test_every_card_fits_whatever_it_holds() -> None:
    view = DraftView(id=1, state="pending", request_id=1, channel="email", requester="x@asso.example",
                     requester_name="<b>&" * 80, subject="&" * 400, question=LONG_QUESTION * 3, slug=None,
                     confidence=0.1, candidates=[{"slug": "a&b", "confidence": 0.2}],
                     others=[f"autre & <{i}>" * 40 for i in range(13)], notes=["note & <x>" * 60] * 9,
                     text="🙂&<" * 3000, edited=False, created_at="", decided_by=None, decided_at=None,
                     appointment=False)
    text, cut = card(view, {})
    assert cut and check_text(text, "HTML", limit=4096 - 200) and text.endswith("en entier.")
    short = card(DraftView(**{**view.__dict__, "question": "Bonjour ?", "text": "Oui.", "others": [], "notes": []}),
                 {})
    assert not short[1] and "<i>Bonjour ?</i>" in short[0] and "<pre>Oui.</pre>" in short[0]


async def test_a_press_on_a_card_whose_id_was_never_heard_adopts_it(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        assert service.telegram is not None
        db = service.core.db
        await wait_for(lambda: db.execute("SELECT state FROM telegram_posts WHERE kind = 'card'").fetchone()[0]
                       == "open")  # the service has heard the card's id
        service.telegram.posts.gate.hold(30)  # the posting loop waits: only a press can find the card
        # As if the service had been killed between Telegram taking the card and hearing its id.
        db.execute("UPDATE telegram_posts SET state = 'posting', message_id = NULL, after_message_id = ? "
                   "WHERE kind = 'card'", [message_id])
        botapi.press(STAFF_CHAT, MALLORY, message_id, f"g:{draft_id}:send", first_name="Mallory")
        await wait_for(lambda: answers(botapi, "ne correspond pas"))
        assert db.execute("SELECT state FROM telegram_posts WHERE kind = 'card'").fetchone()[0] == "posting"
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:send", first_name="Alice")
        await wait_for(lambda: answers(botapi, "relisez"))  # adopted; what is on screen is checked first
        row = db.execute("SELECT message_id, state FROM telegram_posts WHERE kind = 'card'").fetchone()
        assert tuple(row) == (str(message_id), "refresh")
        assert service.core.review.get(draft_id).state == "pending"
    assert len(staff_posts(botapi)) == 1


async def test_a_hand_written_answer_goes_to_the_telegram_requester(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        asked = botapi.message(HOLDER, HOLDER, "quelle est la recette du mafé ?")  # nothing in the base
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:hand", first_name="Alice")
        prompt = (await wait_for(lambda: [c for c in botapi.sent(chat_id=STAFF_CHAT)
                                          if "réponse à envoyer" in str(c.params["text"])]))[0]
        assert prompt.params["reply_markup"]["force_reply"] and f"tg://user?id={ALICE}" in prompt.params["text"]
        botapi.message(STAFF_CHAT, ALICE, "Bonjour Awa, nous ne donnons pas de recettes, mais la Maison des "
                       "solidarités anime un atelier cuisine.", chat_type="supergroup", first_name="Alice",
                       reply_to=int(prompt.result["message_id"]))
        answer = (await wait_for(lambda: [c for c in botapi.sent(chat_id=HOLDER)
                                          if "atelier cuisine" in str(c.params["text"])]))[0]
        await wait_for(lambda: any("Réponse de Alice en route" in t for t in staff_texts(botapi)))
        db = service.core.db
        await wait_for(lambda: db["requests"].get(1)["status"] == "answered")
        request = db["requests"].get(1)
        # A second reply to the same prompt sends nothing more.
        botapi.message(STAFF_CHAT, ALICE, "Et une seconde réponse ?", chat_type="supergroup", first_name="Alice",
                       reply_to=int(prompt.result["message_id"]))
        await wait_for(lambda: any("a déjà servi" in t for t in staff_texts(botapi)))
    assert answer.params["reply_parameters"]["message_id"] == asked
    assert request["outcome"] == "answered_by_hand" and request["decided_by"] == f"telegram:{ALICE}:Alice"
    assert len([t for t in to_holder(botapi) if "atelier cuisine" in t]) == 1


async def test_other_entry_takes_its_own_confidence_and_a_double_tap_is_answered(tmp_path: Path,
                                                                                botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "on voudrait partir quelques semaines aider un projet cet été")
        draft_id, message_id, _ = await posted(botapi)
        before = service.core.review.get(draft_id)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:other")
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:other")  # a double tap
        await wait_for(lambda: len(botapi.sent("answerCallbackQuery")) == 2)  # no button left spinning
        swaps = [c.status for c in botapi.calls if c.method == "editMessageReplyMarkup"]
        assert swaps == [200, 400]  # "message is not modified", taken as done
        chosen = next(c for c in before.candidates if c["slug"] != before.slug)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:pick:{chosen['slug']}")
        await wait_for(lambda: service.core.review.get(draft_id).slug == chosen["slug"])
        await wait_for(lambda: f"(confiance {chosen['confidence']:.2f})" in str(botapi.messages[(STAFF_CHAT,
                                                                                                message_id)].text))
        view = service.core.review.get(draft_id)
        request = service.core.db["requests"].get(view.request_id)
    assert view.confidence == chosen["confidence"] != before.confidence
    assert request["confidence"] == chosen["confidence"]


async def test_a_press_before_the_card_is_recorded_waits_for_it(tmp_path: Path, botapi: BotApiServer) -> None:
    pressed: list[int] = []

    def press_at_once(call: Call) -> float | None:
        if call.method != "sendMessage" or call.status != 200 or "inline_keyboard" not in str(call.params):
            return None
        draft = call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1]
        botapi.press(STAFF_CHAT, ALICE, call.result["message_id"], f"g:{draft}:send", first_name="Alice")
        pressed.append(int(draft))
        return 0.5  # Telegram shows the card, a staff member presses, and only then do we hear its id

    botapi.on_call = press_at_once
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        await wait_for(lambda: pressed)
        await wait_for(lambda: answers(botapi, "C'est noté"))
        assert service.core.review.get(pressed[0]).state == "approved"


async def test_a_post_whose_draft_is_gone_is_dropped_and_the_desk_goes_on(tmp_path: Path,
                                                                          botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, _, _ = await posted(botapi)
        db = service.core.db
        await wait_for(lambda: db.execute("SELECT state FROM telegram_posts WHERE kind = 'card'").fetchone()[0]
                       == "open")
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("DELETE FROM drafts WHERE id = ?", [draft_id])  # by hand, under the card
        db.execute("PRAGMA foreign_keys=ON")
        await wait_for(lambda: db.execute("SELECT state FROM telegram_posts WHERE kind = 'card'").fetchone()[0]
                       == "cancelled")
        botapi.message(HOLDER + 1, HOLDER + 1, "comment adhérer au réseau ?")
        await posted(botapi, 2)


async def test_a_card_replaced_then_decided_at_once_shows_the_decision(tmp_path: Path, botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        botapi.press(STAFF_CHAT, ALICE, message_id, f"g:{draft_id}:edit", first_name="Alice")
        prompt = int((await wait_for(lambda: prompts(botapi)))[0].result["message_id"])
        assert service.telegram is not None
        service.telegram.posts.gate.hold(2)  # the posting loop waits while both happen
        botapi.message(STAFF_CHAT, ALICE, "Bonjour, tout est sur notre site.", chat_type="supergroup",
                       first_name="Alice", reply_to=prompt)
        await wait_for(lambda: service.core.review.get(draft_id).edited)
        service.core.review.approve(draft_id, "terminal:bob")
        await wait_for(lambda: "Envoyé par bob" in str(botapi.messages[(STAFF_CHAT, message_id)].text))
    assert "nouvelle version" not in str(botapi.messages[(STAFF_CHAT, message_id)].text)
    assert len(staff_posts(botapi)) == 1  # no new card for a draft already sent


async def test_a_429_on_the_membership_check_refuses_no_one(tmp_path: Path, botapi: BotApiServer) -> None:
    botapi.chat_members[(STAFF_CHAT, 333)] = "member"  # staff by membership, not in staff_ids
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        draft_id, message_id, _ = await posted(botapi)
        botapi.fail("getChatMember", 429, retry_after=1)
        botapi.press(STAFF_CHAT, 333, message_id, f"g:{draft_id}:ignore", first_name="Chloé")
        await wait_for(lambda: answers(botapi, "attendre"))
        assert not service.core.db.execute("SELECT count(*) FROM events WHERE kind = 'desk.refused'").fetchone()[0]
        await asyncio.sleep(1.1)
        botapi.press(STAFF_CHAT, 333, message_id, f"g:{draft_id}:ignore", first_name="Chloé")
        await wait_for(lambda: service.core.review.get(draft_id).state == "ignored")


async def test_an_answer_written_on_another_desk_closes_the_card_with_its_author(tmp_path: Path,
                                                                                 botapi: BotApiServer) -> None:
    async with running(tg_config(tmp_path, botapi)) as service:
        botapi.message(HOLDER, HOLDER, "comment adhérer au réseau ?")
        _, message_id, _ = await posted(botapi)
        service.core.review.answer(1, "terminal:alice", "Bonjour, voici notre formulaire d'adhésion.")
        service.outbox.wake()
        await wait_for(lambda: "Répondu à la main par alice" in str(botapi.messages[(STAFF_CHAT, message_id)].text))
        await wait_for(lambda: any("formulaire" in t for t in to_holder(botapi)))
