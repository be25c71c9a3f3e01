from __future__ import annotations

import pytest

from bot.channels.mailparse import parse_mail, split_new_text
from tests.mails import mail


def test_plain_utf8() -> None:
    m = parse_mail(mail("Bonjour, où trouver un financement ?", subject="Aide"))
    assert m.text.strip() == "Bonjour, où trouver un financement ?"
    assert m.sender == "marie@asso.example"
    assert m.sender_name == "Marie Durand"
    assert m.subject == "Aide"
    assert m.machine is None and m.problems == []


def test_html_only_mail_becomes_text() -> None:
    raw = mail(text="", html="<html><body><p>Bonjour,</p><p>Quelles <b>formations</b> proposez-vous ?</p>"
                             "<script>x()</script></body></html>")
    m = parse_mail(raw)
    assert "Quelles formations proposez-vous ?" in m.text
    assert "<p>" not in m.text


def test_multipart_alternative_prefers_plain() -> None:
    m = parse_mail(mail("texte brut", html="<p>texte html</p>"))
    assert m.text.strip() == "texte brut"


def test_windows_1252_labelled_iso_8859_1() -> None:
    raw = ("From: a@b.fr\r\nSubject: x\r\nMessage-ID: <w@b.fr>\r\n"
           "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
           "L\x92\xe9cole \x93Jean Moulin\x94 co\xfbte 5\x80\r\n").encode("latin-1")
    m = parse_mail(raw)
    assert m.text.strip() == "L’école “Jean Moulin” coûte 5€"


def test_windows_1252_declared() -> None:
    raw = (b"From: a@b.fr\r\nMessage-ID: <w2@b.fr>\r\nContent-Type: text/plain; charset=windows-1252\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\nB=9Cuf et p=E2t=E9\r\n")
    assert parse_mail(raw).text.strip() == "Bœuf et pâté"


def test_encoded_word_headers() -> None:
    raw = (b"From: =?ISO-8859-1?Q?Ren=E9e_L=E9ger?= <renee@x.fr>\r\n"
           b"Subject: =?UTF-8?B?UHLDqXBhcmVyIHVuIGTDqXBhcnQ=?=\r\nMessage-ID: <e@x.fr>\r\n\r\nhello\r\n")
    m = parse_mail(raw)
    assert m.sender_name == "Renée Léger"
    assert m.subject == "Préparer un départ"


def test_unknown_charset_does_not_raise() -> None:
    raw = b"From: a@b.fr\r\nMessage-ID: <u@b.fr>\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xc3\xa9\r\n"
    assert parse_mail(raw).text.strip() == "café"


def test_attachments_recorded_not_inlined() -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "a@b.fr"
    msg["Message-ID"] = "<att@b.fr>"
    msg.set_content("Voici notre budget en pièce jointe.")
    msg.add_attachment(b"%PDF-1.4 " + b"x" * 5000, maintype="application", subtype="pdf", filename="budget.pdf")
    m = parse_mail(msg.as_bytes())
    assert m.text.strip() == "Voici notre budget en pièce jointe."
    assert [(a.filename, a.content_type, a.size) for a in m.attachments] == [("budget.pdf", "application/pdf", 5009)]


def test_quoted_history_and_signature_are_split_off() -> None:
    text = ("Merci ! Et pour le FONJEP, quelles sont les dates ?\n\nCordialement,\nPaul Martin\n"
            "Président, Asso Les Puits\n\n"
            "Le lun. 3 nov. 2026 à 10:00, RESACOOP <info@reseau.example> a écrit :\n"
            "> Bonjour,\n> voici les informations sur l'AMP.\n")
    assert split_new_text(text) == "Merci ! Et pour le FONJEP, quelles sont les dates ?"


@pytest.mark.parametrize(("text", "new"), [
    # A signature with no sign-off before it, which mail-parser-reply keeps.
    ("Bonjour,\n\nQuel financement pour un puits ?\n\nPaul Martin\nTrésorier, Asso Les Puits\n"
     "12 rue des Lilas, 69003 Lyon\n07 98 76 54 32\nwww.lespuits.org",
     "Bonjour,\n\nQuel financement pour un puits ?"),
    ("Bonjour,\nComment adhérer au réseau ?\n\nEnvoyé de mon iPhone", "Bonjour,\nComment adhérer au réseau ?"),
    ("Comment adhérer ?\n\nSent from my Android phone", "Comment adhérer ?"),
    # A last paragraph about the association is content, not a signature: it stays.
    ("Bonjour,\n\nNous cherchons un financement.\n\nNotre association agit au Togo.\nL'association a 10 membres.",
     "Bonjour,\n\nNous cherchons un financement.\n\nNotre association agit au Togo.\nL'association a 10 membres."),
    ("Comment adhérer ?\n\nMarie", "Comment adhérer ?\n\nMarie"),
])
def test_signature_without_sign_off(text: str, new: str) -> None:
    assert split_new_text(text) == new


def test_english_quoted_reply() -> None:
    text = "Thanks, and what about the civic service?\n\nOn Mon, 3 Nov 2026 at 10:00, Info <i@x.org> wrote:\n> old"
    assert split_new_text(text) == "Thanks, and what about the civic service?"


def test_missing_message_id_gets_a_stable_one() -> None:
    raw = b"From: a@b.fr\r\nSubject: x\r\n\r\nbody\r\n"
    first, second = parse_mail(raw), parse_mail(raw)
    assert first.external_id == second.external_id and first.external_id.startswith("<")
    assert "no Message-ID" in first.problems


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "marie@asso.example", "auto-submitted"),
        ({"X-Autoreply": "yes"}, "marie@asso.example", "auto-reply header"),
        ({"Precedence": "bulk"}, "marie@asso.example", "precedence"),
        ({"Precedence": "junk"}, "marie@asso.example", "precedence"),
        ({"List-Id": "<news.asso.example>"}, "marie@asso.example", "mailing list"),
        ({"Return-Path": "<>"}, "marie@asso.example", "bounce"),
        ({}, "MAILER-DAEMON@mx.example", "machine sender"),
        ({}, "no-reply@plateforme.example", "machine sender"),
        ({}, "noreply@plateforme.example", "machine sender"),
        ({}, "info@reseau.example", "own address"),
    ],
)
def test_machine_messages_are_recognised(headers: dict[str, str], sender: str, reason: str) -> None:
    m = parse_mail(mail(sender=sender, headers=headers), own_address="info@reseau.example")
    assert m.machine is not None and reason in m.machine


def test_auto_reply_subject_and_report() -> None:
    assert parse_mail(mail(subject="Réponse automatique : absence")).machine == "auto-reply subject"
    report = (b"From: postmaster@mx.example\r\nMessage-ID: <r@mx>\r\n"
              b"Content-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n\r\n"
              b"--XX\r\nContent-Type: text/plain\r\n\r\nDelivery failed\r\n--XX--\r\n")
    assert parse_mail(report).machine is not None


def test_own_message_id_domain_is_a_loop() -> None:
    raw = mail(message_id="<123.456@guichet.reseau.example>")
    assert parse_mail(raw, own_domain="guichet.reseau.example").machine == "our own message (loop)"


def test_person_is_not_a_machine() -> None:
    assert parse_mail(mail(), own_address="info@reseau.example").machine is None


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe", b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
                                 b"From: <<<>>>\r\nSubject: =?utf-8?q?=ZZ?=\r\n\r\n\xff"])
def test_garbage_never_raises_and_keeps_raw(raw: bytes) -> None:
    m = parse_mail(raw)
    assert m.raw == raw
    assert m.problems


def test_large_base64_is_measured_not_parsed() -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "a@b.fr"
    msg["Message-ID"] = "<big@b.fr>"
    msg.set_content("Voici le dossier.")
    payload = bytes(range(256)) * 4000 + b"xyz"  # 1,024,003 bytes: over the elision size, padded base64
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename="dossier.pdf")
    msg.add_attachment(b"petit", maintype="application", subtype="pdf", filename="petit.pdf")
    parsed = parse_mail(msg.as_bytes())
    assert parsed.text.strip() == "Voici le dossier."
    assert [(a.filename, a.size) for a in parsed.attachments] == [("dossier.pdf", 1_024_003), ("petit.pdf", 5)]
    assert parsed.raw == msg.as_bytes()
