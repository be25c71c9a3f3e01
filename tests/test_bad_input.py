"""Hostile and broken input: nothing raises, nothing is lost, nothing leaks into headers or markup."""

from __future__ import annotations

import asyncio
import email
import re
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.channels.mailparse import MAX_TEXT_CHARS, parse_mail
from bot.channels.smtp import build_reply
from bot.config import Config, NetworkConfig, StorageConfig
from bot.desks.telegram import render
from bot.outbox import OutboxItem
from bot.review import DraftView
from bot.service import Core
from bot.store import source
from tests.conftest import append, make_config, wait_for
from tests.mails import mail
from tests.servers.dovecot import Dovecot

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE = mail("Bonjour, comment adhérer ?", subject="Adhésion")


@SETTINGS
@given(st.binary(max_size=4000))
def test_parser_never_raises_on_any_bytes(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert parsed.raw == raw
    assert parsed.external_id.startswith("<") and parsed.external_id.endswith(">")


@SETTINGS
@given(st.integers(0, len(BASE)), st.binary(min_size=1, max_size=200), st.integers(0, 50))
def test_parser_survives_corrupted_real_mail(position: int, junk: bytes, cut: int) -> None:
    raw = BASE[:position] + junk + BASE[position + cut:]
    parsed = parse_mail(raw)
    assert parsed.raw == raw


_CORE = Core.build(Config(storage=StorageConfig(database=":memory:")))


@SETTINGS
@given(st.binary(max_size=3000))
def test_any_bytes_are_stored_once_and_queued_for_staff(raw: bytes) -> None:
    first = _CORE.take_mail(raw)
    again = _CORE.take_mail(raw)
    assert again.duplicate and again.message_id == first.message_id
    assert source(_CORE.db, first.message_id) == raw
    if not parse_mail(raw).machine:
        assert first.draft_id is not None  # a draft, or an empty one "to answer by hand": never dropped


def test_malformed_mail_gets_a_note_for_staff() -> None:
    core = Core.build(Config(storage=StorageConfig(database=":memory:")))
    taken = core.take_mail(b"\xff\xfe\x00garbage without headers")
    notes = core.review.get(taken.draft_id or 0).notes
    assert any(note.startswith("problème de lecture") for note in notes)


@SETTINGS
@given(st.text(max_size=300), st.text(max_size=100))
def test_no_header_injection(subject: str, recipient_junk: str) -> None:
    item = OutboxItem(id=1, request_id=1, channel="email", recipient="marie@asso.example", subject=subject,
                      body="Bonjour", out_message_id="<x@guichet.example>",
                      in_reply_to="<a@b>\r\nBcc: evil@example.org" if recipient_junk else "<a@b>",
                      references=["<a@b>", recipient_junk], attempts=0)
    network = NetworkConfig(reply_name="Réseau\r\nBcc: evil@example.org")
    raw = build_reply(item, network).as_bytes()
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0].lower() for line in re.split(rb"\r?\n(?![ \t])", head)]
    assert b"bcc" not in names
    assert names.count(b"subject") == 1 and names.count(b"to") == 1
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])


ALLOWED_TAGS = re.compile(r"</?(b|i|pre)>")


@SETTINGS
@given(st.text(max_size=2000), st.text(max_size=200), st.text(max_size=100))
def test_staff_message_markup_cannot_be_forged(question: str, subject: str, name: str) -> None:
    view = DraftView(id=1, state="pending", request_id=1, channel="telegram", requester="1", requester_name=name,
                     subject=subject, question=question, slug=None, confidence=0.1, candidates=[], others=[],
                     notes=[question[:50]], text=question or None, edited=False, created_at="", decided_by=None,
                     decided_at=None, appointment=False)
    html = render(view, {})
    assert len(html) <= 4096
    stripped = ALLOWED_TAGS.sub("", html)
    assert "<" not in stripped and ">" not in stripped


def test_huge_text_is_stored_whole_and_trimmed_for_matching() -> None:
    core = Core.build(Config(storage=StorageConfig(database=":memory:")))
    body = "Comment adhérer au réseau ? " + "bla " * 30_000
    taken = core.take_mail(mail(body))
    raw = source(core.db, taken.message_id)
    assert raw is not None and len(raw) > 100_000
    assert len(core.db["messages"].get(taken.message_id)["text"]) == MAX_TEXT_CHARS
    assert any("trimmed" in note for note in core.review.get(taken.draft_id or 0).notes)


def huge_mail(size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Bob <bob@asso.example>"
    msg["Subject"] = "Notre dossier complet"
    msg["Message-ID"] = "<huge@asso.example>"
    msg.set_content("Bonjour, voici notre dossier : est-il complet pour la subvention de l'Agence des Micro-Projets ?")
    msg.add_attachment(b"\x00" * size, maintype="application", subtype="zip", filename="dossier.zip")
    return msg.as_bytes()


async def test_25_mb_attachment_through_imap(tmp_path: Path, dovecot: Dovecot) -> None:
    from bot.channels.imap import ImapReader

    core = Core.build(make_config(tmp_path, dovecot))
    await append(dovecot, huge_mail(25 * 1024 * 1024))
    assert core.config.imap is not None
    reader = ImapReader(core.config.imap, core.db, core.take_mail)
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    await wait_for(lambda: core.db["messages"].count == 1, timeout=60)
    stop.set()
    await asyncio.wait_for(task, 10)
    row = core.db.execute("SELECT length(raw), attachments, new_text FROM messages "
                          "JOIN message_sources ON message_id = messages.id").fetchone()
    assert row[0] > 25 * 1024 * 1024
    assert '"size": 26214400' in row[1] and "dossier.zip" in row[1]
    assert "Agence des Micro-Projets" in row[2]
    assert core.review.pending()[0].slug == "fin-amp-microprojets"


def test_memory_stays_bounded_on_a_25_mb_mail(tmp_path: Path) -> None:
    path = tmp_path / "huge.eml"
    path.write_bytes(huge_mail(25 * 1024 * 1024))
    # VmHWM, not ru_maxrss: the latter survives exec and would include pytest's own peak from the fork.
    # What the service holds before the mail (imports, the matcher's model and vectors) is measured
    # first: the bound is on what taking the mail in adds to it.
    script = (
        "import re; from bot.config import Config, StorageConfig; from bot.service import Core; "
        "status = lambda key: int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024; "
        f"core = Core.build(Config(storage=StorageConfig(database={str(tmp_path / 'm.db')!r}))); "
        "core.matcher.match('amorce'); before = status('VmHWM'); "
        f"core.take_mail(open({str(path)!r}, 'rb').read()); "
        "print(before, status('VmHWM'))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    before_mb, peak_mb = map(int, out.stdout.strip().splitlines()[-1].split())
    # The message read from the file is 34 MB. Parsing adds next to nothing (large base64 is measured,
    # not parsed), nor does storing (blob I/O; binding the blob cost twice its size).
    assert peak_mb - before_mb < 50, f"peak RSS {before_mb} → {peak_mb} MB for a 34 MB message"


MAIL_LINES = st.sampled_from([
    "Bonjour,", "Merci pour votre réponse.", "> Texte cité", ">", "> > plus ancien", "",
    "Le lun. 2 oct. 2023 à 10:12, Info <info@reseau.example> a écrit :", "On Mon, Oct 2, 2023 at 10:12 AM Bob wrote:",
    "De : Info <info@reseau.example>", "Envoyé : lundi 2 octobre 2023 10:12", "À : Marie", "Objet : Adhésion",
    "-----Original Message-----", "---------- Forwarded message ---------", "----- Mail original -----",
    "-- ", "Cordialement,", "Marie Durand", "- un point", "Envoyé de mon iPhone", "[cid:image001.png@01D9]",
    "Ce message et toutes les pièces jointes sont confidentiels.", "Pour vous désabonner, écrivez-nous.",
])


@SETTINGS
@given(st.lists(st.one_of(MAIL_LINES, st.text(max_size=80)), max_size=40), st.booleans())
def test_new_text_never_raises_and_invents_nothing(lines: list[str], forwarded: bool) -> None:
    from bot.channels.mailparse import split_new_text

    text = "\n".join(lines)
    new = split_new_text(text, forwarded=forwarded)
    squeezed = re.sub(r"[\s\u00ad\u200b-\u200d\ufeff]+", "", text)  # spacing and invisible characters aside
    # Every word of the new text is the writer's own.
    assert all(word in squeezed for word in new.split())


@SETTINGS
@given(st.text(max_size=60), st.sampled_from(["q", "b"]))
@example("x <victim@third.example>", "q")
@example("x\r\nBcc: evil@example.org", "b")
def test_a_display_name_never_becomes_the_recipient(name: str, encoding: str) -> None:
    from email.header import Header

    encoded = Header(name, "utf-8").encode() if encoding == "b" else \
        "=?utf-8?q?" + "".join(f"={b:02X}" for b in name.encode()) + "?="
    parsed = parse_mail(f"From: {encoded} <sender@asso.example>\r\nMessage-ID: <p@asso.example>\r\n\r\nBonjour\r\n"
                        .encode())
    assert parsed.sender in {"sender@asso.example", ""} and parsed.reply_to in {"sender@asso.example", ""}
    assert parsed.sender or parsed.unanswerable
