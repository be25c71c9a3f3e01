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


def test_format_flowed_is_joined_before_anything_else() -> None:
    raw = (b"From: a@b.fr\r\nMessage-ID: <fl@b.fr>\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
           b"Bonjour, comment trier nos \r\nd\xc3\xa9chets au festival ?\r\n\r\n> Le texte cit\xc3\xa9 est \r\n> "
           b"joint aussi.\r\n")
    parsed = parse_mail(raw)
    assert "comment trier nos déchets au festival ?" in parsed.text
    assert "> Le texte cité est joint aussi." in parsed.text
    assert parsed.new_text == "Bonjour, comment trier nos déchets au festival ?"


def test_format_flowed_delsp_and_signature_separator() -> None:
    raw = (b"From: a@b.fr\r\nMessage-ID: <fl2@b.fr>\r\nContent-Type: text/plain; format=flowed; delsp=yes\r\n\r\n"
           b"Un mot coup\xc3\xa9 en deux : sub \r\nvention.\r\n-- \r\nMarie\r\n")
    parsed = parse_mail(raw)
    assert "subvention." in parsed.text
    assert parsed.new_text == "Un mot coupé en deux : subvention."


def test_html_entities_and_signature_separator() -> None:
    raw = mail(text="", html="<p>R&eacute;union &agrave; Lyon&nbsp;: o&ugrave; s&rsquo;inscrire ?</p>"
                             "<p>-- <br>Marie</p><hr><p>1. premier point</p>")
    parsed = parse_mail(raw)
    assert "Réunion à Lyon : où s’inscrire ?" in parsed.text
    assert "\\" not in parsed.text and "* * *" not in parsed.text
    assert parsed.new_text == "Réunion à Lyon : où s’inscrire ?"


def test_html_quote_is_not_new_text() -> None:
    raw = mail(text="", html="<div>Merci, et pour le Togo ?</div><div class=gmail_quote><div>Le lun. 2 oct. 2023 "
                             "&agrave; 10:12, Info &lt;info@reseau.example&gt; a &eacute;crit&nbsp;:</div>"
                             "<blockquote>Voici les dates.</blockquote></div>")
    assert parse_mail(raw).new_text == "Merci, et pour le Togo ?"


@pytest.mark.parametrize("raw_subject", [
    b"Subject: =?utf-8?Q?R=E9union_du_r=E9seau?=",        # declared utf-8, bytes are Latin-1
    b"Subject: R\xe9union du r\xe9seau",                    # raw 8-bit header, not UTF-8
    b"Subject: =?iso-8859-1?Q?R=C3=A9union_du_r=C3=A9seau?=",  # declared Latin-1, bytes are UTF-8
])
def test_broken_header_is_repaired_with_a_note(raw_subject: bytes) -> None:
    raw = b"From: a@b.fr\r\nMessage-ID: <h@b.fr>\r\n" + raw_subject + b"\r\n\r\nBonjour\r\n"
    parsed = parse_mail(raw)
    assert parsed.subject == "Réunion du réseau"
    assert any(p.startswith("en-tête Subject réparé") for p in parsed.problems)


def test_raw_utf8_header_needs_no_note() -> None:
    raw = "From: Renée Léger <renee@x.fr>\r\nSubject: Réunion\r\nMessage-ID: <u8@x.fr>\r\n\r\nBonjour\r\n"
    parsed = parse_mail(raw.encode("utf-8"))
    assert (parsed.sender_name, parsed.subject, parsed.problems) == ("Renée Léger", "Réunion", [])


def test_accented_sender_name_in_cp1252_is_not_mojibake() -> None:
    raw = b"From: Ren\xe9e L\xe9ger <renee@x.fr>\r\nMessage-ID: <n@x.fr>\r\n\r\nBonjour\r\n"
    parsed = parse_mail(raw)
    assert parsed.sender_name == "Renée Léger" and parsed.sender == "renee@x.fr"
    assert any("From réparé" in p for p in parsed.problems)


def test_eight_bit_message_ids_stay_distinct() -> None:
    first = parse_mail(b"From: a@b.fr\r\nMessage-ID: <caf\xe9@b.fr>\r\n\r\nun\r\n")
    second = parse_mail(b"From: a@b.fr\r\nMessage-ID: <caf\xe8@b.fr>\r\n\r\ndeux\r\n")
    assert first.external_id != second.external_id
    assert "\ufffd" not in first.external_id + second.external_id
    assert parse_mail(b"From: a@b.fr\r\nMessage-ID: <caf\xc3\xa9@b.fr>\r\n\r\nx\r\n").external_id == "<café@b.fr>"


def deep_mime(levels: int) -> bytes:
    head = b"From: Marie <marie@asso.example>\r\nSubject: Profond\r\nMessage-ID: <deep@asso.example>\r\n"
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                       for i in range(levels))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(levels)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nBonjour, une question ?" + closing


@pytest.mark.parametrize("levels", [50, 1000])
def test_deep_mime_keeps_headers_and_says_so(levels: int) -> None:
    parsed = parse_mail(deep_mime(levels))
    assert (parsed.sender, parsed.subject, parsed.external_id) == ("marie@asso.example", "Profond",
                                                                   "<deep@asso.example>")
    assert any("imbriquées" in p for p in parsed.problems)


def test_shallow_mime_is_read_whole() -> None:
    parsed = parse_mail(deep_mime(5))
    assert parsed.new_text == "Bonjour, une question ?" and parsed.problems == []


@pytest.mark.parametrize(("from_header", "sender", "name"), [
    # An encoded word is a display name, never an address (issue 9: it made Guichet mail the victim).
    (b"=?utf-8?q?x_<victim@third.example>?= <attacker@evil.example>", "attacker@evil.example",
     "x <victim@third.example>"),
    (b"=?utf-8?q?Ren=C3=A9e?= <Renee@X.fr>", "renee@x.fr", "Renée"),
    (b'"Durand, Marie" <m@x.fr>', "m@x.fr", "Durand, Marie"),
    (b"Marie D. <m@x.fr>", "m@x.fr", "Marie D."),
    (b"m@x.fr (Marie)", "m@x.fr", "Marie"),
    (b"=?utf-8?q?x=0D=0ABcc:_evil@x?= <a@b.fr>", "a@b.fr", "x Bcc: evil@x"),
])
def test_address_is_parsed_from_the_raw_header(from_header: bytes, sender: str, name: str) -> None:
    parsed = parse_mail(b"From: " + from_header + b"\r\nMessage-ID: <s@x>\r\n\r\nBonjour\r\n")
    assert (parsed.sender, parsed.sender_name, parsed.reply_to) == (sender, name, sender)
    assert not parsed.unanswerable


def test_an_address_in_the_display_name_is_pointed_out() -> None:
    parsed = parse_mail(b"From: =?utf-8?q?x_<victim@third.example>?= <attacker@evil.example>\r\n\r\nBonjour\r\n")
    assert any("victim@third.example" in p and "attacker@evil.example" in p for p in parsed.problems)


@pytest.mark.parametrize("header", [
    b"From: alice@example.org)<bob@example.org>",
    b"From: bob <bob@evil.example> <x@y.fr>",
    b"From: Marie <m@x.fr>, Paul <p@x.fr>",
    b"From: <<<>>>",
    b"From: marie@localhost-only",
    b"From: a@b.fr\r\nReply-To: =?utf-8?q?=0D=0A?= <<bad>>",
])
def test_address_that_does_not_parse_cleanly_is_not_answered(header: bytes) -> None:
    parsed = parse_mail(header + b"\r\nMessage-ID: <bad@x>\r\n\r\nBonjour, comment adherer ?\r\n")
    assert parsed.unanswerable
    assert parsed.new_text == "Bonjour, comment adherer ?"


def test_no_draft_for_an_address_that_does_not_parse_cleanly() -> None:
    from bot.config import Config, StorageConfig
    from bot.service import Core

    core = Core.build(Config(storage=StorageConfig(database=":memory:")))
    raw = mail("Bonjour, comment obtenir une subvention de l'Agence des Micro-Projets ?",
               sender="Mallory <mallory@evil.example>").replace(b"From: Mallory <mallory@evil.example>",
                                                                 b"From: x <a@evil.example> <b@victim.example>")
    taken = core.take_mail(raw)
    draft = core.review.get(taken.draft_id or 0)
    assert core.db["messages"].count == 1 and draft.text is None
    assert any("pas de brouillon" in note for note in draft.notes)


@pytest.mark.parametrize(("reply_to", "reply", "note"), [
    ("Marie <marie@asso.example>", "marie@asso.example", None),
    ("Secrétariat <secretariat@asso.example>", "secretariat@asso.example", "Reply-To différent"),
    ("a@asso.example, b@autre.example", "a@asso.example", "a@asso.example, b@autre.example"),
])
def test_reply_to_that_differs_is_named_for_staff(reply_to: str, reply: str, note: str | None) -> None:
    parsed = parse_mail(mail(headers={"Reply-To": reply_to}))
    assert parsed.reply_to == reply
    notes = [p for p in parsed.problems if "Reply-To" in p]
    assert (note in notes[0]) if note else notes == []


@pytest.mark.parametrize(("text", "new"), [
    # Interleaved: the answers between quote blocks stay, the quotes go.
    ("Le lun. 2 oct. 2023 à 10:12, Info <info@reseau.example> a écrit :\n> Quel pays ?\nLe Togo.\n\n"
     "> Quel montant ?\n5 000 euros environ.\n", "Le Togo.\n\n5 000 euros environ."),
    # Bottom-posted.
    ("> Pouvez-vous préciser votre projet ?\n\nUn forage au Burkina Faso.", "Un forage au Burkina Faso."),
    # The French attribution wrapped over two lines.
    ("Merci !\n\nLe lun. 15 nov. 2021 à 19:42, Info Réseau <info@reseau.example>\na écrit :\n\nTexte d'origine",
     "Merci !"),
    # An Outlook block cut at its first line, not its last.
    ("Bien reçu.\n\nDe : Info <info@reseau.example>\nEnvoyé le : lundi 2 octobre 2023 10:12\nÀ : Marie\n"
     "Objet : Adhésion\n\nTexte d'origine", "Bien reçu."),
    ("Bien reçu.\n\n-----Reply Message-----\nTexte d'origine", "Bien reçu."),
    ("Réponse dans la même ligne. On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Hi",
     "Réponse dans la même ligne."),
    ("Merci\n\n2014-10-17 11:28 GMT+03:00 Info <\ninfo@reseau.example>:\n\n> Bonjour", "Merci"),
    # A list with "- " is not a signature.
    ("Nos questions :\n- le calendrier\n- le budget\n\nMerci", "Nos questions :\n- le calendrier\n- le budget"),
    ("Thanks for the help\n\nregards\nJohn", "Thanks for the help"),
    ("Here is the file.\n\n-Abhishek Kona", "Here is the file."),
    ("Bonjour\n\nEnvoyé à partir de Outlook pour iOS<https://aka.ms/o0ukef>", "Bonjour"),
    ("Voici le devis.\n\nSent from my BlackBerry® wireless device", "Voici le devis."),
    ("Bonjour [cid:image001.png@01D9F5A1.2B3C4D50] voici\n\nP Pensez à l'environnement avant d'imprimer ce message",
     "Bonjour voici"),
    ("Question ?\n\nCe message et toutes les pièces jointes sont confidentiels et établis à l'attention exclusive "
     "de ses destinataires.", "Question ?"),
    ("Une question ?\n\n_______________________________________________\nReseau-info mailing list\n"
     "reseau-info@lists.example.org", "Une question ?"),
    # Mutt's attribution: "* Name <address> [date]:", then interleaved answers.
    ("* Réseau Info <info@reseau.example> [2025-03-14 09:30 +0100]:\n> Quelle date ?\n\nLe 3 mai.\n\n"
     "> Combien de personnes ?\n\nDouze.", "Le 3 mai.\n\nDouze."),
    ("Voici.\n\n* Info <info@reseau.example> [14.03.25 09:30]:\n> Quelle date ?", "Voici."),
    # Proton Mail's footer, in French and English, above its "Original Message" block.
    ("Un dossier déjà commencé est-il recevable ?\n\nEnvoyé avec la messagerie sécurisée Proton Mail.\n\n"
     "------- Original Message -------\nLe mardi 3 juin 2025 à 11:20, Info <info@reseau.example> a écrit :\n\n"
     "> Bonjour", "Un dossier déjà commencé est-il recevable ?"),
    ("Is there a deadline?\n\nSent with Proton Mail secure email.", "Is there a deadline?"),
    ("Merci.\n\nSent with ProtonMail Secure Email.", "Merci."),
])
def test_new_text_shapes(text: str, new: str) -> None:
    assert split_new_text(text) == new


@pytest.mark.parametrize("text", [
    # Ordinary sentences that look a little like attributions or headers stay whole.
    "Pour 2027, écrivez à contact@asso.example :\nnous répondons vite. Est-ce possible ?",
    "Le 12 mars, le comité a écrit à la mairie.\nFaut-il aussi écrire à la Région ?",
    "Objet : demande d'information\nDate : 12 mars\nQuel est le calendrier ?",
    "> 100 participants attendus, est-ce trop pour la salle ?",
])
def test_text_that_only_looks_like_history_stays(text: str) -> None:
    assert " ".join(split_new_text(text).split()) == " ".join(text.lstrip("> ").split())


def test_forward_headers_run_into_the_body() -> None:
    text = ("---------- Forwarded message ---------\nFrom: Paul <p@asso.example>\nSubject: Stage\n"
            "Bonjour,\nest-ce possible ?")
    assert split_new_text(text) == "Bonjour,\nest-ce possible ?"


def test_forwarded_mail_keeps_its_body_not_its_headers() -> None:
    text = ("Pouvez-vous lui répondre ?\n\n---------- Forwarded message ---------\nDe : Paul <paul@asso.example>\n"
            "Date: lun. 2 oct. 2023 à 10:12\nSubject: Volontariat\nTo: <marie@asso.example>\n\n"
            "Bonjour, comment partir en service civique ?\n")
    assert split_new_text(text) == "Pouvez-vous lui répondre ?\n\nBonjour, comment partir en service civique ?"


def test_outlook_forward_read_from_the_subject() -> None:
    text = ("\n________________________________\nDe : Paul <paul@asso.example>\nEnvoyé : lundi 2 octobre 2023\n"
            "À : Marie\nObjet : Volontariat\n\nBonjour, comment partir en service civique ?\n")
    assert split_new_text(text, forwarded=True) == "Bonjour, comment partir en service civique ?"


def test_report_keeps_its_human_text() -> None:
    report = (b"From: Marie <marie@asso.example>\r\nMessage-ID: <rr@asso.example>\r\nSubject: Lu : Adhesion\r\n"
              b"Content-Type: multipart/report; report-type=disposition-notification; boundary=XX\r\n\r\n"
              b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVotre message\r\n\r\n  \xc3\x80 : Info\r\n"
              b"  Objet : Adhesion\r\n\r\na \xc3\xa9t\xc3\xa9 lu le lundi 2 octobre 2023.\r\n--XX--\r\n")
    parsed = parse_mail(report)
    assert parsed.machine is not None and "a été lu le lundi 2 octobre 2023." in parsed.new_text


def test_out_of_office_without_headers_is_a_machine() -> None:
    away = mail("Bonjour,\n\nJe suis absente du bureau jusqu'au 12 octobre inclus. Pour toute urgence, "
                "contactez le secrétariat.\n\nMarie", subject="Re: Question financement")
    assert parse_mail(away).machine == "out-of-office text"
    asking = mail("Bonjour, je suis absente en août : peut-on déposer le dossier en septembre ?")
    assert parse_mail(asking).machine is None
