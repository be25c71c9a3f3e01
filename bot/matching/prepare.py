"""Text preparation for matching: fold, expand abbreviations and synonyms, drop stop words, stem."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from itertools import chain, pairwise

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")

# Written the way people type on a phone; keys are folded (no accents, lowercase).
ABBREVIATIONS = {
    "asso": "association", "assos": "associations", "aap": "appel projets", "aaps": "appel projets",
    "qqn": "quelqu", "qq1": "quelqu", "qqch": "quelque chose", "rdvs": "rendezvous",
    "pb": "probleme", "pbs": "problemes", "tel": "telephone", "tél": "telephone", "infos": "information",
    "info": "information", "dc": "donc", "pr": "pour", "ds": "dans", "tt": "tout", "bcp": "beaucoup",
    "jsuis": "je suis", "chui": "je suis", "jai": "j ai", "jveux": "je veux", "jvoudrais": "je voudrais",
    "educ": "education", "pop": "populaire", "sc": "service civique", "m2": "master", "m1": "master",
    "newsletters": "newsletter", "mail": "courriel", "svc": "service civique",
    "webinar": "webinaire", "webinars": "webinaire", "visio": "visioconference", "ong": "ong",
    "subv": "subvention", "subvs": "subventions", "dossiers": "dossier", "fonjeps": "fonjep",
}
# Only when typed in capitals: as lowercase words they are ordinary French ("si", "ces").
UPPER_ABBREVIATIONS = {"SI": "solidarite internationale", "CES": "corps europeen solidarite",
                       "SC": "service civique", "RI": "relations internationales", "CA": "conseil administration"}
_UPPER = re.compile(r"\b(" + "|".join(UPPER_ABBREVIATIONS) + r")\b")

STOP_WORDS = frozenset("""
a ai aie ait as au aux avec avoir avons avez ont c ca ce ceci cela celle celles celui ces cet cette ceux chez
comme comment d dans de des du donc dont elle elles en encore est et etaient etait etc ete etre eu fait faire
faut il ils j je jusqu l la le les leur leurs lui m ma mais me meme mes moi mon n ne ni nos notre nous o on ou
par pas peu peut peuvent plus pour pourquoi qu quand que quel quelle quelles quels qui quoi s sa sans se ses
si son sont sur t ta te tes toi ton tous tout toute toutes tres tu un une vos votre vous y deja aussi alors
autre autres avant apres bien car cet ici la-bas lors pendant puis sera seront serait sont soit suis es
voudrais voudrions souhaite souhaiterais souhaitons aimerais aimerions cherche cherchons savoir possible
bonjour bonsoir salut slt bjr cc coucou madame monsieur mesdames messieurs merci mercii cordialement
salutations bonne journee avance svp stp sil plait vos nous notre nos vous votre genre truc trucs bref
hello hi dear thanks thank regards best the an and or of to in for on with at by from is are be can i we
you my our your me us it this that there what how when where which who do does would could should will have
has please sir madam good morning afternoon am im
va vais vont fais fait peux veux veut voulons voulez dois doit devons ok okay oui non
""".split())

# Compounds that must stay one word (split, "rendez-vous" loses its meaning to stop words).
COMPOUNDS = {
    r"rendez[- ]?vous": "rendezvous", r"rdv": "rendezvous", r"micro[- ]?projets?": "microprojet",
    r"co[- ]?financ\w*": "cofinancement", r"e[- ]?mails?": "courriel", r"hors[- ]?sujet": "horssujet",
}
# Where Snowball merges unrelated words (département → "depart", like départ) or splits related ones.
STEM_OVERRIDES = {
    "departement": "departement", "departements": "departement", "departemental": "departement",
    "departementale": "departement", "departementaux": "departement", "regional": "region",
    "regionale": "region", "regionaux": "region", "jeunesse": "jeun", "benevole": "benevol",
    "benevoles": "benevol", "benevolat": "benevol", "europeen": "europ", "europeens": "europ",
    "europeenne": "europ", "europeennes": "europ",
    # "quelques semaines" is not "quelqu'un" (whose apostrophe leaves "quelqu").
    "quelque": "quelque", "quelques": "quelque",
}
_COMPOUND_WORDS = list(COMPOUNDS.values())
# A text can hold a compound only if it holds one of these (tests/test_matching.py checks that
# every way of writing each compound has one); most texts have none and skip the regex scan.
_COMPOUND_HINTS = ("rendez", "rdv", "micro", "cofinanc", "co-financ", "co financ", "email", "e-mail", "e mail",
                   "hors-sujet", "hors sujet", "horssujet")
# The look-ahead lets the scan skip, at C speed, every word that cannot start a compound.
_COMPOUND = re.compile(r"\b(?=[" + "".join(sorted({p[0] for p in COMPOUNDS})) + "])(?:"
                       + "|".join(f"({pattern})" for pattern in COMPOUNDS) + r")\b")
_FRENCH = snowballstemmer.stemmer("french")
_ENGLISH_HINTS = frozenset("the and is are you we our my with for what how can could would please hello hi "
                           "thanks thank looking want which where when do does i am".split())
_FRENCH_HINTS = frozenset("le la les des et est je nous vous pour avec une un du au aux bonjour merci "
                          "comment quand quel quelle notre votre sur dans".split())
# Very common words of the other languages requesters write in, folded, chosen to be rare in French
# (and in each other): "que", "de", "la", "en", "con" are shared, so they count for none, nor does
# Italian "il" (a French word too).
_OTHER_HINTS = {
    "es": frozenset("el los las del y para por estoy tengo quiero queremos nuestra nuestro nuestros hola gracias "
                    "usted ustedes muy esta este estamos hay tambien pero informacion asociacion ayuda proyecto "
                    "proyectos puedo podemos saludos cordiales buenos dias necesito quisiera soy somos".split()),
    "pt": frozenset("nao voce obrigado obrigada ola estou tenho gostaria gostariamos nossa nosso nossos muito com "
                    "em do dos das uma um pelo pela sao isso tambem informacao informacoes associacao projeto "
                    "projetos apoio posso podemos preciso atenciosamente bom oi tudo bem quero fazer voces ao "
                    "aos somos".split()),
    "it": frozenset("gli della delle dello degli nel nella nei sono siamo vorrei vorremmo grazie buongiorno "
                    "salve ciao che per questo questa anche molto associazione progetto progetti informazioni "
                    "di cordiali saluti posso possiamo".split()),
    "de": frozenset("der die das und ist ich wir sie nicht mit fur ein eine einen wie guten tag hallo danke bitte "
                    "unser unsere unseren mochten mochte konnen verein projekt auf auch haben sehr geehrte "
                    "geehrter damen herren gruss grussen freundlichen".split()),
}


def fold(text: str) -> str:
    """Lowercase, accents removed, ligatures split (œ → oe)."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae").replace("’", "'")
    # NFKD splits letters from accents; dropping what is not ASCII then keeps the bare letters.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def detect_language(text: str) -> str:
    """The language a message is written in: 'fr' (the default), 'en', 'es', 'pt', 'it' or 'de', by
    counting very common words of each; another language needs at least two of its words and more
    than French has."""
    words = _WORD.findall(fold(text))
    counts = {"en": sum(w in _ENGLISH_HINTS for w in words)}
    counts.update({language: sum(w in hints for w in words) for language, hints in _OTHER_HINTS.items()})
    french = sum(w in _FRENCH_HINTS for w in words)
    language, count = max(counts.items(), key=lambda item: item[1])
    return language if count >= 2 and count > french else "fr"


def _expand_upper(text: str) -> str:
    if not any(abbreviation in text for abbreviation in UPPER_ABBREVIATIONS):
        return text  # the common case, found without a regex scan (which costs more on long answers)
    return _UPPER.sub(lambda m: " " + UPPER_ABBREVIATIONS[m.group(1)] + " ", text)


def stem(word: str) -> str:
    """French Snowball stem of a folded word."""
    return STEM_OVERRIDES.get(word) or str(_FRENCH.stemWord(word))


class Synonyms:
    """Phrase → extra words, from the curated ``knowledge/synonyms.yaml`` (data, not code)."""

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        # Phrases by their first word: most words start no phrase and cost one look-up.
        self.by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, target in (mapping or {}).items():
            words = tuple(_WORD.findall(fold(phrase)))
            if words:
                self.by_first.setdefault(words[0], []).append((words, fold(target)))

    def expand(self, words: list[str]) -> list[str]:
        """``words`` followed by the words of every synonym target their phrases call for."""
        extra: dict[str, None] = {}
        by_first = self.by_first
        for start, word in enumerate(words):
            if word in by_first:
                for phrase, target in by_first[word]:
                    if len(phrase) == 1 or tuple(words[start:start + len(phrase)]) == phrase:
                        extra[target] = None
        return words + _WORD.findall(" ".join(extra)) if extra else words


def _group(match: re.Match[str]) -> int:
    # Each compound pattern is a group of its own (patterns here have no groups inside).
    return (match.lastindex or 1) - 1


@lru_cache(maxsize=262144)
def _kept(word: str) -> tuple[str, ...]:
    # Per-word work (abbreviation, stop word, stem) is cached: the same words recur all day.
    return tuple(w for w in ABBREVIATIONS.get(word, word).split()
                 if w not in STOP_WORDS and (len(w) > 1 or w.isdigit()))


@lru_cache(maxsize=262144)
def _word_tokens(word: str) -> tuple[str, ...]:
    return tuple(map(stem, _kept(word)))


def _words(text: str) -> list[str]:
    folded = fold(_expand_upper(text))
    if any(hint in folded for hint in _COMPOUND_HINTS):  # most texts have none: skip the regex scan
        folded = _COMPOUND.sub(lambda m: _COMPOUND_WORDS[_group(m)], folded)
    return _WORD.findall(folded)


def tokens(text: str, synonyms: Synonyms | None = None) -> list[str]:
    """Stemmed content words of ``text``, abbreviations and synonyms expanded."""
    words = _words(text)
    if synonyms is not None:
        words = synonyms.expand(words)
    return list(chain.from_iterable(map(_word_tokens, words)))


def pairs(text: str, skip: Callable[[str], bool] | None = None) -> list[str]:
    """Each two adjacent content words of ``text`` written as one and stemmed: "Pass'Monde",
    "pass monde" and "passmonde" all give "passmond" (how people write a scheme's name varies).
    ``skip``: pairs with a word (folded, not stemmed) it is true of are left out."""
    kept = list(chain.from_iterable(map(_kept, _words(text))))
    return [_joined(a, b) for a, b in pairwise(kept) if skip is None or not (skip(a) or skip(b))]


@lru_cache(maxsize=65536)
def _joined(first: str, second: str) -> str:
    return stem(first + second)


def split_questions(text: str) -> list[str]:
    """The question sentences of a message (those ending with '?'), longest context first."""
    parts = re.split(r"(?<=[?])\s+|\n{2,}", text)
    return [p.strip() for p in parts if p.strip().endswith("?") and len(p.strip()) > 12]
