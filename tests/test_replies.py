"""Replies as requesters receive them: MIME through a real SMTP server, Telegram HTML through the
validating loopback Bot API, threading headers, languages."""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

from telegram import Bot

from bot.channels.smtp import MailTransport, build_reply
from bot.channels.telegram_answers import TelegramTransport
from bot.channels.telegram_posts import Gate
from bot.config import NetworkConfig
from bot.draft import reply_references, trim_references
from bot.outbox import Outbox, OutboxItem
from bot.service import Core
from bot.store import open_db
from tests.conftest import HOLDER, make_config
from tests.mails import mail
from tests.servers.botapi import TOKEN, BotApiServer, check_text
from tests.servers.smtp import SmtpServer

STAFF = "terminal:alice"


async def send_approved(core: Core, raw: bytes, text: str | None = None) -> OutboxItem:
    """Take a mail, approve its draft (or ``text``), send it through the configured SMTP server."""
    taken = core.take_mail(raw)
    assert taken.draft_id is not None
    outbox_id = core.review.approve(taken.draft_id, STAFF, text)
    cfg = core.config
    assert cfg.smtp is not None
    assert await Outbox(core.db, {"email": MailTransport(cfg.smtp, cfg.network)}).flush() == 1
    return OutboxItem.from_row(core.db["outbox"].get(outbox_id))


def parts_of(message: EmailMessage) -> tuple[EmailMessage, EmailMessage]:
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    return plain, rich


async def test_reply_is_multipart_text_and_html_in_utf8(tmp_path: Path, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    await send_approved(core, mail("Bonjour, je voudrais faire un service civique à l'étranger, j'ai 20 ans.",
                                   sender="Léa Martin <lea@asso.example>"))
    [got] = smtp.received
    # Read back from the bytes the server received, by Python's own parser.
    message = email.message_from_bytes(got.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    plain, rich = parts_of(message)
    assert plain.get_content_charset() == "utf-8" and rich.get_content_charset() == "utf-8"
    text, page = plain.get_content(), rich.get_content()
    assert text.startswith("Bonjour Léa,") and "16 à 25 ans" in text
    assert "**" not in text and "https://www.service-civique.gouv.fr" in text
    assert "<strong>jeunes de 16 à 25 ans</strong>" in page and '<a href="https://www.service-civique.gouv.fr"' in page
    assert '<meta charset="utf-8">' in page and "Léa" in page


async def test_hand_written_answer_keeps_its_lines_and_cannot_inject_html(tmp_path: Path, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    answer = "Bonjour Marie,\nAppelez-nous au 04 72 77 87 66.\n<img src=x onerror=alert(1)>\nBien à vous,\nAlice"
    await send_approved(core, mail(), answer)
    plain, rich = parts_of(smtp.received[0].message)
    assert plain.get_content().replace("\r\n", "\n") == answer + "\n"  # SMTP carries CRLF
    page = rich.get_content().replace("\r\n", "\n")
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Bonjour Marie,<br />\nAppelez-nous" in page


async def test_english_reply_is_marked_english(tmp_path: Path, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    item = await send_approved(core, mail("Hello, I am 20 and I would like to join the European Solidarity Corps. "
                                          "How does it work?", sender="Jan Kowalski <jan@example.org>"))
    assert item.body.startswith("Hello Jan,")
    _, rich = parts_of(smtp.received[0].message)
    assert '<html lang="en">' in rich.get_content()


async def test_spanish_message_gets_the_french_draft_with_a_spanish_note(tmp_path: Path) -> None:
    core = Core.build(make_config(tmp_path))
    taken = core.take_mail(mail("Hola, tengo 20 años, vivo en Lyon y quiero información sobre el servicio "
                                "cívico en el extranjero. ¿Cómo funciona? Gracias.", sender="Lucía Pérez <l@x.es>"))
    assert taken.draft_id is not None
    draft = core.review.get(taken.draft_id)
    assert core.db["drafts"].get(taken.draft_id)["language"] == "es"
    assert draft.text is not None and draft.text.startswith("Bonjour Lucía,\n\nMerci pour votre message.\n"
                                                           "(Le respondemos en francés")


async def test_portuguese_message_gets_the_french_draft_with_a_portuguese_note(tmp_path: Path) -> None:
    core = Core.build(make_config(tmp_path))
    taken = core.take_mail(mail("Olá, somos uma associação em Lyon. Como obter um financiamento da agência da água "
                                "(lei Oudin-Santini) para um projeto de água potável no Brasil? Obrigada!",
                                sender="Ana Souza <ana@x.br>"))
    assert taken.draft_id is not None
    text = core.review.get(taken.draft_id).text
    assert text is not None and "\n(Respondemos em francês" in text and text.startswith("Bonjour Ana,")


def test_references_are_the_parent_s_then_its_id_and_keep_the_root() -> None:
    # Stored as the message's In-Reply-To, then its References (bot.channels.mailparse).
    chain = [f"<m{n}@x.example>" for n in range(30)]
    stored = [chain[-1], *chain[:-1]]
    refs = reply_references(stored, "<new@x.example>")
    assert len(refs) == 20 and refs[0] == "<m0@x.example>" and refs[-2:] == ["<m29@x.example>", "<new@x.example>"]
    assert refs[1:] == [*chain[-18:], "<new@x.example>"]
    assert reply_references([], "<first@x.example>") == ["<first@x.example>"]
    assert reply_references(["<p@x>"], "<m@x>") == ["<p@x>", "<m@x>"]
    assert reply_references(["<p@x>", "<root@x>"], "<m@x>") == ["<root@x>", "<p@x>", "<m@x>"]
    assert trim_references(chain[:5]) == chain[:5]


async def test_references_header_as_sent(tmp_path: Path, smtp: SmtpServer) -> None:
    core = Core.build(make_config(tmp_path, smtp=smtp))
    thread = [f"<t{n}@asso.example>" for n in range(25)]
    await send_approved(core, mail(message_id="<q@asso.example>", headers={
        "In-Reply-To": thread[-1], "References": " ".join(thread)}))
    message = smtp.received[0].message
    assert message["In-Reply-To"] == "<q@asso.example>"
    assert message["References"].split() == [thread[0], *thread[-18:], "<q@asso.example>"]


def test_build_reply_trims_references_of_items_queued_before() -> None:
    thread = [f"<t{n}@asso.example>" for n in range(40)]
    item = OutboxItem(id=1, request_id=1, channel="email", recipient="a@b.example", subject="Re: x", body="**x**",
                      out_message_id="<o@guichet.example>", in_reply_to=thread[-1], references=thread, attempts=0)
    refs = str(build_reply(item, NetworkConfig())["References"]).split()
    assert refs == [thread[0], *thread[-19:]]


async def test_telegram_answer_is_valid_html_in_parts(botapi: BotApiServer) -> None:
    paragraph = "Le **service civique** est ouvert aux jeunes <16-25 ans> & plus : [site](https://x.fr/?a=1&b=2). "
    body = "Bonjour Awa,\n\n" + "\n\n".join(paragraph * 6 for _ in range(12)) + "\n\nL'équipe"
    item = OutboxItem(id=1, request_id=1, channel="telegram", recipient=str(HOLDER), subject="", body=body,
                      out_message_id="", in_reply_to=f"{HOLDER}:77", references=[], attempts=0)
    async with Bot(TOKEN, base_url=botapi.base_url) as bot:
        sent_id = await TelegramTransport(lambda: bot, Gate(), open_db(":memory:")).send(item, lambda: None)
    calls = [c for c in botapi.calls if c.method == "sendMessage"]
    assert len(calls) > 1 and all(c.status == 200 for c in calls)  # the server would have said 400 otherwise
    assert all(c.params["parse_mode"] == "HTML" for c in calls)
    assert calls[0].params["reply_parameters"]["message_id"] == 77
    assert sent_id == f"{HOLDER}:{calls[0].result['message_id']}"
    first = str(calls[0].params["text"])
    assert first.startswith("Bonjour Awa,") and "<b>service civique</b>" in first and "&lt;16-25 ans&gt;" in first
    shown = "".join(check_text(str(c.params["text"]), "HTML") for c in calls)
    assert shown.count("service civique") == 72 and "**" not in shown and shown.rstrip().endswith("L'équipe")


async def test_malformed_html_is_refused_like_telegram_does(botapi: BotApiServer) -> None:
    from telegram.error import BadRequest

    async with Bot(TOKEN, base_url=botapi.base_url) as bot:
        try:
            await bot.send_message(HOLDER, "<b>gras", parse_mode="HTML")
        except BadRequest as exc:
            refused = str(exc)
        else:
            raise AssertionError("the loopback Bot API accepted malformed HTML")
    assert "an't parse entities" in refused
    assert botapi.sent() == [] and json.dumps(botapi.calls[-1].params).count("gras") == 1
