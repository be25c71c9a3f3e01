"""The review core speaks English to the log; staff read French. One place says each error in French."""

from __future__ import annotations

import re
from collections.abc import Callable

from ....errors import AlreadyDecided, GuichetError, NotFound, NotStaff

DONE = {"approved": "envoyé", "rejected": "mis de côté pour une réponse à la main", "ignored": "ignoré",
        "superseded": "remplacé par une relance", "forgotten": "effacé à la demande de la personne"}
_KNOWN = (
    (re.compile(r"still waiting to be sent"), "Une réponse à cette demande attend encore d'être envoyée : "
                                              "réessayez quand elle sera partie (onglet Envoi)."),
    (re.compile(r"has no text"), "Ce brouillon n'a pas de texte : écrivez la réponse."),
    (re.compile(r"is empty"), "Le texte est vide."),
    (re.compile(r"longer than (\d+)"), "Le texte est trop long."),
    (re.compile(r"only uncertain or failed"), "Seules les réponses incertaines ou en échec peuvent être relancées."),
    (re.compile(r"already answered"), "Cette demande a déjà reçu une réponse."),
    (re.compile(r"no message to answer"), "Cette demande n'a plus de message (effacé) : impossible d'y répondre."),
)


def french(exc: GuichetError, who: Callable[[str | None], str]) -> str:
    """A sentence for staff; ``who`` turns an actor into the name the team knows."""
    if isinstance(exc, AlreadyDecided):
        return f"Déjà traité par {who(exc.by)} ({DONE.get(exc.state, exc.state)})." if exc.by else \
            f"Déjà traité ({DONE.get(exc.state, exc.state)})."
    if isinstance(exc, NotStaff):
        return "Réservé à l'équipe du réseau."
    if isinstance(exc, NotFound):
        return "Introuvable : cette demande, ce brouillon ou cette fiche n'existe pas."
    message = str(exc)
    claimed = re.search(r"claimed by (.+)$", message)
    if claimed:
        return f"{who(claimed.group(1))} s'en occupe déjà."
    for pattern, sentence in _KNOWN:
        if pattern.search(message):
            return sentence
    return message
