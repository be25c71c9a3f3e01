"""Exchange servers and corporate Outlook: legal disclaimers, "[cid:…]" images, "before printing" lines."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="exchange",
    footer=(r".{0,30}(pensez|penser|think|consider).{0,40}(environnement|environment|planète|planet|arbres?|trees?)"
            r".{0,40}(imprimer|print|impression).{0,60}",
            r".{0,30}(avant d'imprimer|before printing).{0,80}",),
    inline=(r"\[cid:[^\]\n]{0,200}\]",),
    tail=(
        r"(ce|le présent) (message|courriel|e-?mail|mail)( électronique)?( et (toutes )?(les|ses) "
        r"(pièces|fichiers) (jointes?|attachés|joints))? (est|sont|peut|peuvent|contien|ainsi) .{0,40}"
        r"(confidenti|destinataire|réservé|exclusive)",
        r"(les informations|l'information) contenues? dans ce (message|courriel|e-?mail)",
        r"si vous (avez reçu|recevez|n'êtes pas (le|la) destinataire).{0,40}(message|courriel|e-?mail)",
        r"(avertissement|avis de confidentialité|confidentialité|disclaimer|confidentiality notice)\s*:",
        r"(this|the information in this) (e-?mail|message)( and any (attachments?|files))?"
        r" (is|are|may|contains|transmitted).{0,40}(confidential|intended|privileged)",
        r"if you (have )?received this (e-?mail|message|communication) in error",
    ),
)
