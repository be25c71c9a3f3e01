"""Drafting a reply from a matched entry with the jinja2 templates in ``templates/``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import jinja2

from .config import NetworkConfig
from .knowledge import Entry
from .matching import Match
from .matching.prepare import fold

# A runner-up at least this likely is named at the end of the draft: the requester's question may be
# about both (a well paid by a water agency or by a micro-project grant). Calibrated confidences are
# peaked, so this is rare (3 % of drafts on our labelled files); the second entry is then the right one
# 3 times in 12, the first 7 times.
SEE_ALSO = 0.2

# Words that make a display name an organisation, a role or a shared mailbox rather than a person
# (folded: lowercase, no accents). One of them anywhere in the name is enough.
NOT_A_PERSON = frozenset("""
association associations asso assos collectif collective comite federation fondation fonds ong ngo reseau
mairie ville commune communaute agglomeration metropole departement region conseil prefecture ministere
ecole college lycee universite faculte institut iut campus academie
jardin jardins partages maison centre club cercle amicale amis foyer atelier ateliers compagnie theatre
cooperative scop sarl sas sa eurl entreprise societe groupe agence cabinet bureau service services
secretariat accueil contact contacts info infos information communication direction administration
presidence president presidente tresorier tresoriere tresorerie comptabilite benevoles equipe team staff
coordination coordinateur coordinatrice support admin webmaster noreply newsletter projets projet
office union syndicat eglise paroisse mosquee temple bibliotheque mediatheque musee festival
et pour of the and for
""".split())
# Articles start organisation names ("Les Amis du Togo"), never a person's; as particles further on
# they belong to surnames ("Marie de la Tour", "Yann Le Gall").
ARTICLES = frozenset("le la les l des aux un une the a".split())
CIVILITIES = frozenset("m mr mme mlle mrs ms mx dr pr madame monsieur mademoiselle".split())


def _is_name_word(word: str) -> bool:
    return bool(word) and word[0].isalpha() and all(c.isalpha() or c in "-'’" for c in word)


def _capitalised(word: str) -> str:
    # "jean-luc" and "JEAN-LUC" become "Jean-Luc"; a name written with care ("DeShawn") stays.
    if not (word.islower() or word.isupper()):
        return word
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def first_name(sender_name: str) -> str:
    """A first name to greet with, or "" when the display name does not look like a person's.

    An organisation, a role, an address or a shared mailbox ("Jardins partagés de Vienne",
    "Mairie de X", "Secrétariat", "contact@…", "Info Asso") gets no name, nor does a name all in
    capitals. "DURAND Marie" and "Durand, Marie" (surname first) greet Marie; "Marie Durand -
    Asso X" greets Marie; a civility with a surname only ("Mme Durand") gets no name.
    """
    name = re.sub(r"[\"“”«»]", "", sender_name).strip()
    if "@" in name or "&" in name or re.search(r"\d|https?:|www\.|\.(fr|org|com|net|eu)\b", name, re.I):
        return ""
    name = re.split(r"\s[-–—|/]\s|[(\[]", name)[0]  # "Marie Durand - Asso X", "Marie (Asso X)"
    surname_first = "," in name
    if surname_first:
        surname, _, given = name.partition(",")
        name = f"{given} {surname}"
    # Emoji and other signs without letters are dropped ("Awa 🌍").
    words = [w.strip(".,;:") for w in name.split() if any(c.isalpha() for c in w)]
    if not words or len(words) > 4 or not all(_is_name_word(w) for w in words):
        return ""
    article = not words[0].isupper() and fold(words[0]).split("'")[0] in ARTICLES
    if article or any(fold(w) in NOT_A_PERSON for w in words):
        return ""
    if fold(words[0]) in CIVILITIES:
        words = words[1:]
        if len(words) < 2:
            return ""  # "Mme Durand": a surname is not a first name
    if all(w.isupper() for w in words) and any(len(w) > 1 for w in words):
        return ""  # "ASSO LES PUITS", "RESACOOP", "MARIE DURAND": not something to greet with
    while not surname_first and len(words) > 1 and len(words[0]) > 1 and words[0].isupper():
        words = words[1:]  # "DURAND Marie", "LE GALL Yann": the French habit of the surname first, in capitals
    given = words[0]
    return _capitalised(given) if len(given) > 1 else ""  # "J. Dupont": an initial


class Drafter:
    """Renders replies (Markdown, see ``bot.render``): one template per language (``reply.fr.txt.j2``,
    ``reply.en.txt.j2``), and one-line notes for requesters who wrote in another language
    (``note.<language>.txt.j2``)."""

    def __init__(self, templates: str | Path, network: NetworkConfig) -> None:
        self.network = network
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # Markdown, escaped by bot.render for each channel
        )

    def render(self, entry: Entry, *, sender_name: str = "", language: str = "fr",
               today: dt.date | None = None, also: Entry | None = None) -> str:
        """The reply text for ``entry``: in English when the message was and the entry has an English
        answer, otherwise in French, with a note in the requester's language if they wrote in another;
        ``also`` (see ``see_also``) is named after the answer as another entry that may concern them."""
        today = today or dt.date.today()
        english = language == "en" and bool(entry.answer_en)
        template = self.env.get_template("reply.en.txt.j2" if english else "reply.fr.txt.j2")
        text = template.render(
            first_name=first_name(sender_name),
            entry=entry,
            answer=entry.answer_en if english else entry.answer,
            links=entry.links,
            expired=entry.expired(today),
            also=also,
            note="" if english or language == "fr" else self.language_note(language),
            signature=(self.network.signature_en or self.network.signature) if english else self.network.signature,
        )
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"

    def language_note(self, language: str) -> str:
        """The one line telling a requester that we answer in French, in their language if we have it
        (``templates/note.<language>.txt.j2``), otherwise in English."""
        try:
            if not re.fullmatch(r"[a-z]{2}", language):
                raise jinja2.TemplateNotFound(language)
            template = self.env.get_template(f"note.{language}.txt.j2")
        except jinja2.TemplateNotFound:
            template = self.env.get_template("note.en.txt.j2")
        return template.render().strip()


def see_also(match: Match, entries: Mapping[str, Entry]) -> Entry | None:
    """The entry a draft from ``match`` should also point to: its runner-up, when it is likely too."""
    if match.slug is None or len(match.candidates) < 2:
        return None
    second = match.candidates[1]
    if second.confidence < SEE_ALSO or second.slug == match.slug:
        return None
    return entries.get(second.slug)


_PREFIXES = re.compile(r"^\s*((re|ré|réf|ref|aw|sv|tr|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.I)


def base_subject(subject: str) -> str:
    """The subject without its reply and forward prefixes (Re, RE[2], Réf, TR, Fwd…)."""
    return _PREFIXES.sub("", subject or "").strip()


def reply_subject(subject: str) -> str:
    """``Re:`` once, whatever the original's prefixes."""
    base = base_subject(subject)
    return f"Re: {base}" if base else "Re: votre demande"


MAX_REFERENCES = 20


def reply_references(message_refs: list[str], message_id: str) -> list[str]:
    """The References of a reply to a message (RFC 5322 3.6.4): the message's own References, then
    its Message-ID.

    ``message_refs`` are stored as the message's In-Reply-To followed by its References, without
    repeats (``bot.channels.mailparse``), so its parent, when it has References, comes first: it is
    put back last, where it stands in its References.
    """
    parent_refs = [*message_refs[1:], *message_refs[:1]]
    return trim_references([*dict.fromkeys(r for r in parent_refs if r != message_id), message_id])


def trim_references(ids: list[str], limit: int = MAX_REFERENCES) -> list[str]:
    """At most ``limit`` ids, cut in the middle: the thread's root and the latest ones are kept."""
    if len(ids) <= limit:
        return list(ids)
    return [ids[0], *ids[len(ids) - limit + 1:]]
