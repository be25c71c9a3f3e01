"""Markdown replies rendered as plain text, HTML mail and Telegram HTML (bot.render)."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import knowledge
from bot.config import REPO_ROOT, NetworkConfig
from bot.draft import Drafter
from bot.render import html_fragment, mail_html, plain_text, split_html, telegram_html, telegram_parts, utf16_len
from tests.servers.botapi import check_text

ENTRIES = knowledge.load(REPO_ROOT / "knowledge")
DRAFTER = Drafter(REPO_ROOT / "templates", NetworkConfig(signature="L'équipe de RESACOOP\ninfo@resacoop.org"))

SAMPLE = """Bonjour Léa,

Le **service civique** est *ouvert* aux jeunes <b>sans</b> diplôme & sans frais.
Voir [le site officiel](https://www.service-civique.gouv.fr/missions?age=18&pays=sn).

- **Durée** : de 6 à 12 mois
- **Indemnité** : environ 600 €

Pour aller plus loin :
- France Volontaires : https://www.france-volontaires.org

L'équipe de RESACOOP
info@resacoop.org"""


def without_tags(telegram: str) -> str:
    return html.unescape(re.sub(r"<[^<>]*>", "", telegram))


def test_plain_text_has_no_marks_and_writes_links_out() -> None:
    text = plain_text(SAMPLE)
    assert "**" not in text and "*ouvert*" not in text
    assert "Le service civique est ouvert" in text
    assert "le site officiel (https://www.service-civique.gouv.fr/missions?age=18&pays=sn)" in text
    assert "- Durée : de 6 à 12 mois\n- Indemnité : environ 600 €" in text
    # A bare address stays as it is, once; the raw "<b>" is text, not markup to drop.
    assert text.count("https://www.france-volontaires.org") == 1 and "<b>sans</b>" in text
    # The layout is kept: paragraphs, lines of the signature.
    assert text.startswith("Bonjour Léa,\n\nLe service") and text.endswith("L'équipe de RESACOOP\ninfo@resacoop.org\n")


def test_html_is_rendered_and_safe() -> None:
    page = mail_html(SAMPLE + "\n\n[piège](javascript:alert(1)) <script>alert(1)</script>", "fr")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fr">' in page and '<meta charset="utf-8">' in page
    assert '<strong>service civique</strong>' in page and "<li" in page
    assert '<a href="https://www.service-civique.gouv.fr/missions?age=18&amp;pays=sn"' in page
    assert '<a href="https://www.france-volontaires.org"' in page and '<a href="mailto:info@resacoop.org"' in page
    # Raw HTML in the source is shown as text; unsafe link schemes are not links.
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;sans&lt;/b&gt;" in page
    assert 'href="javascript' not in page
    # Styles are inline: mail clients drop <style> blocks.
    assert "<style" not in page and re.search(r'<p style="[^"]+">', page)


def test_html_fragment_is_what_the_desks_preview() -> None:
    fragment = html_fragment("**Bonjour**")
    assert fragment.strip() == '<p style="margin:0 0 1em 0"><strong>Bonjour</strong></p>'


def test_telegram_html_uses_its_tags_and_escapes_text() -> None:
    text = telegram_html(SAMPLE + "\n\n# Titre\n\n> cité\n\n`code <x>`")
    assert "<b>service civique</b>" in text and "<i>ouvert</i>" in text and "&lt;b&gt;sans&lt;/b&gt;" in text
    assert "&amp; sans frais" in text and "• <b>Durée</b>" in text and "<b>Titre</b>" in text
    assert '<a href="https://www.service-civique.gouv.fr/missions?age=18&amp;pays=sn">le site officiel</a>' in text
    assert "<blockquote>cité</blockquote>" in text and "<code>code &lt;x&gt;</code>" in text
    assert not re.search(r"</?(p|ul|li|br|strong|em|h\d)\b", text)  # tags Telegram refuses
    # Telegram links bare addresses itself; only web links with a label of their own become <a>.
    assert telegram_html("[écrire](mailto:a@b.fr) https://x.fr/?a=1&b=2") == \
        "écrire (a@b.fr) https://x.fr/?a=1&amp;b=2\n"
    assert check_text(text, "HTML").startswith("Bonjour Léa,")


@pytest.mark.parametrize("language", ["fr", "en", "es"])
def test_every_entry_renders_cleanly_everywhere(language: str) -> None:
    for entry in ENTRIES:
        draft = DRAFTER.render(entry, sender_name="Léa Martin", language=language)
        text = plain_text(draft)
        assert "**" not in text and "](" not in text, entry.slug
        assert "<strong>" in html_fragment(draft) or "**" not in draft, entry.slug
        for part in telegram_parts(draft):
            check_text(part, "HTML")  # raises with Telegram's description when it would refuse it


def test_validating_bot_api_refuses_what_telegram_refuses() -> None:
    for bad, reason in [("<b>gras", "Can't find end tag"), ("<p>x</p>", 'Unsupported start tag "p"'),
                        ("<b>x</i>", "Unmatched end tag"), ("a </b>", "Unexpected end tag"),
                        ("1 < 2", "Unclosed start tag"), ("<b>x <i>y</b></i>", "Unmatched end tag")]:
        with pytest.raises(ValueError, match="can't parse entities: " + re.escape(reason)):
            check_text(bad, "HTML")
    assert check_text("<b>1 &lt; 2</b> &amp; <a href=\"https://x.fr/?a=1&amp;b=2\">lien</a>", "HTML") \
        == "1 < 2 & lien"
    assert check_text("<b>not parsed</b>", None) == "<b>not parsed</b>"
    with pytest.raises(ValueError, match="message is too long"):
        check_text("x" * 4097, None)


def test_long_answer_is_cut_into_valid_parts() -> None:
    paragraph = "Un **point important** avec <des> chevrons & [un lien](https://x.fr/a?b=1&c=2) et du texte. "
    markdown = "\n\n".join(paragraph * 8 for _ in range(30))
    parts = telegram_parts(markdown)
    assert len(parts) > 1
    for part in parts:
        assert utf16_len(part) <= 4096
        check_text(part, "HTML")
    # Nothing lost, nothing repeated: the parts read as the whole.
    shown = "".join(check_text(part, "HTML") for part in parts)
    assert re.sub(r"\s+", "", shown) == re.sub(r"\s+", "", without_tags(telegram_html(markdown)))
    # Cut at paragraph ends when there are some.
    assert all(part.endswith("texte.") for part in parts[:-1])


def test_a_long_paragraph_is_cut_between_words_with_its_tags_closed_and_reopened() -> None:
    parts = split_html("<b>" + "mot " * 3000 + "fin</b>", 1000)
    assert len(parts) >= 12
    for part in parts:
        assert part.startswith("<b>") and part.endswith("</b>") and utf16_len(part) <= 1000
        assert "mo</b>" not in part and "<b>t" not in part  # never inside a word
        check_text(part, "HTML")


def test_emoji_count_double_as_telegram_counts_them() -> None:
    parts = split_html("😀" * 3000, 4096)
    assert [utf16_len(p) for p in parts] == [4096, 1904]


_MARKDOWN_BITS = st.sampled_from(["**gras**", "*it*", "<b>", "&", "&amp;", "<", ">", "`c<d>`", "\n", "\n\n",
                                  "- ", "1. ", "> ", "[l](https://x.fr/?a=1&b=2)", "https://y.fr", "é", "😀",
                                  "mot", " ", "# ", "***", "_", "~~barré~~", '"', "\\"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_MARKDOWN_BITS, max_size=120), st.integers(min_value=60, max_value=400))
def test_any_markdown_gives_valid_telegram_parts(bits: list[str], limit: int) -> None:
    markdown = "".join(bits)
    whole = telegram_html(markdown)
    if whole.strip():
        check_text(whole, "HTML")
    parts = telegram_parts(markdown, limit)
    for part in parts:
        assert utf16_len(part) <= limit
        check_text(part, "HTML")
    shown = "".join(check_text(part, "HTML") for part in parts)
    assert re.sub(r"\s+", "", shown) == re.sub(r"\s+", "", without_tags(whole))


def test_a_part_whose_tags_leave_no_room_drops_their_markup_and_moves_on() -> None:
    # Found by the property below: the quote's and the link's opening tags alone fill a part, and
    # splitting looped for ever (the outbox would have hung on such an answer).
    parts = telegram_parts("\n\n >[l](https://x.fr/?a=1&b=2)**gras**", 60)
    assert parts and all(utf16_len(part) <= 60 for part in parts)
    assert "l" in "".join(parts) and "gras" in "".join(parts)
    for part in parts:
        check_text(part, "HTML")
    # A cut right after the link's opening tag: the quote around it is left empty too.
    parts = telegram_parts(" > [l](https://x.fr/?a=1&b=2)😀\\> - <b>> ", 65)
    assert parts and all(utf16_len(part) <= 65 and check_text(part, "HTML") is not None for part in parts)
