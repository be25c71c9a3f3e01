"""A staff card's look: the draft as Telegram HTML that always fits, and its buttons.

Everything is measured after escaping, in UTF-16 code units as Telegram counts, and the question
and the draft are shortened as text before any markup is added, so a card can never lose a
closing tag. Pure functions: the desk (``bot.desks.telegram``) decides when to post or edit.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from ..channels.telegram import split_text
from ..knowledge import Entry
from ..render import TELEGRAM_LIMIT, utf16_len
from ..review import DraftView
from ..stats import CHANNEL_LABELS as CHANNELS

# Telegram's limit, in UTF-16 code units once the markup is parsed; the HTML we send is never shorter.
LIMIT = TELEGRAM_LIMIT
# Kept free on every card for the line added when it is closed or replaced.
RESERVE = 300


def esc(text: object) -> str:
    """Escape for Telegram's HTML parse mode: a question containing <b> cannot forge markup."""
    return html.escape(str(text), quote=False)


def fit(text: str, budget: int) -> tuple[str, bool]:
    """``text`` escaped for HTML in at most ``budget`` units, cut as text (never inside markup); and
    whether it was cut."""
    text = text.strip()
    if utf16_len(esc(text)) <= budget:
        return esc(text), False
    low, high = 0, len(text)
    while low < high:  # the longest prefix whose escaped form fits with its ellipsis
        middle = (low + high + 1) // 2
        if utf16_len(esc(text[:middle].rstrip()) + "…") <= budget:
            low = middle
        else:
            high = middle - 1
    space = text.rfind(" ", 0, low)
    cut = space if space > low - 40 else low
    return esc(text[:cut].rstrip()) + "…", True


def card(view: DraftView, entries: dict[str, Entry]) -> tuple[str, bool]:
    """The staff card for a draft (HTML that always fits a Telegram message with room for an outcome
    line), and whether the question or the draft had to be shortened."""
    who = view.requester_name or view.requester
    if view.channel == "email" and view.requester_name:
        who = f"{view.requester_name} <{view.requester}>"
    lines = [f"📨 <b>Demande n°{view.request_id}</b> · {CHANNELS.get(view.channel, view.channel)} · "
             f"brouillon {view.id}", f"<b>De :</b> {fit(who, 150)[0]}"]
    if view.channel == "email":  # where the reply will go: staff see it before they send (Reply-To)
        lines.append(f"<b>Réponse à :</b> {fit(view.recipient, 200)[0]}")
    if view.subject:
        lines.append(f"<b>Objet :</b> {fit(view.subject, 200)[0]}")
    middle = []
    if view.slug:
        title = entries[view.slug].title if view.slug in entries else view.slug
        how = f"confiance {view.confidence:.2f}" if view.confidence is not None else "choisie par l'équipe"
        middle.append(f"<b>Fiche :</b> {esc(view.slug)} — {fit(title, 150)[0]} ({how})")
    else:
        candidates = ", ".join(f"{c['slug']} {c['confidence']:.2f}" for c in view.candidates[:3]) or "aucun"
        middle.append(f"⚠️ <b>À traiter à la main</b> (candidats : {esc(candidates)})")
    middle += [f"📝 {fit(note, 200)[0]}" for note in view.notes[:6]]
    middle += [f"➕ Autre question : {fit(other, 160)[0]}" for other in view.others[:5]]
    if len(view.others) > 5:
        middle.append(f"➕ … et {len(view.others) - 5} autre(s) question(s)")
    question_label, draft_label = "<b>Question :</b>\n<i>", "</i>"
    draft_head, draft_tail = "<b>Brouillon :</b>\n<pre>", "</pre>"
    fixed = "\n".join([*lines, question_label + draft_label, *middle])
    room = LIMIT - RESERVE - utf16_len(fixed) - (utf16_len(draft_head + draft_tail) + 1 if view.text else 0)
    question_need, draft_need = utf16_len(esc(view.question.strip())), utf16_len(esc((view.text or "").strip()))
    # The draft is what staff approve: it gets two thirds when both are long, either takes what the other leaves.
    question_room = min(question_need, max(room // 3, room - draft_need))
    question, cut_question = fit(view.question, question_room)
    parts = [*lines, f"{question_label}{question}{draft_label}", *middle]
    cut_draft = False
    if view.text:
        draft, cut_draft = fit(view.text, room - utf16_len(question))
        parts.append(f"{draft_head}{draft}{draft_tail}")
    if cut_question or cut_draft:
        parts.append("✂️ Texte raccourci : « Texte complet » le montre en entier.")
    return "\n".join(parts), cut_question or cut_draft


def render(view: DraftView, entries: dict[str, Entry]) -> str:
    """The staff card for a draft (HTML, under Telegram's 4,096 characters)."""
    return card(view, entries)[0]


def full_parts(view: DraftView) -> list[str]:
    """The question and the draft whole, in as many plain-text messages as they need."""
    texts = [f"Question complète (demande n°{view.request_id}) :\n\n{view.question.strip()}"]
    if view.text:
        texts.append(f"Brouillon {view.id} complet :\n\n{view.text.strip()}")
    parts = [part for text in texts for part in split_text(text, 3500)]
    while any(utf16_len(part) > LIMIT for part in parts):  # characters outside the BMP count twice
        parts = [half for part in parts for half in ((part,) if utf16_len(part) <= LIMIT else
                                                     (part[:len(part) // 2], part[len(part) // 2:]))]
    return parts


def keyboard(view: DraftView, full: bool = False) -> InlineKeyboardMarkup:
    def button(label: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=f"g:{view.id}:{action}")

    first = [button("✅ Envoyer", "send")] if view.text else []
    first.append(button("✏️ Modifier" if view.text else "✏️ Écrire la réponse", "edit"))
    last = [button("🚫 Ignorer", "ignore")] + ([button("📄 Texte complet", "full")] if full else [])
    return InlineKeyboardMarkup([first, [button("🔁 Autre fiche", "other"), button("✍️ Répondre moi-même", "hand")],
                                 last])


def candidates_keyboard(view: DraftView) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(f"{c['slug']} ({c['confidence']:.2f})",
                                  callback_data=f"g:{view.id}:pick:{c['slug']}")]
            for c in view.candidates[:5] if c["slug"] != view.slug]
    rows.append([InlineKeyboardButton("↩️ Retour", callback_data=f"g:{view.id}:back")])
    return InlineKeyboardMarkup(rows)


def actor_for(user_id: int, first_name: str) -> str:
    """``telegram:<id>:<first name>``: the id decides who is staff, the name is shown to the team."""
    return f"telegram:{user_id}:{first_name.replace(':', ' ')[:40]}"


def actor_id(actor: str | None) -> str:
    """The Telegram user id in an actor (``telegram:1:Alice`` → 1), "" for another kind of actor."""
    parts = (actor or "").split(":", 2)
    return parts[1] if len(parts) > 1 and parts[0] == "telegram" else ""


def display_name(actor: str | None) -> str:
    """The name to show for an actor (``terminal:alice`` → alice, ``telegram:1:Alice`` → Alice)."""
    parts = (actor or "?").split(":", 2)
    return parts[-1] or parts[0]
