"""Outlook (desktop, web, mobile) and Windows Mail: header blocks, separators and app footers."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="outlook",
    history=(
        r"-{3,}\s*(original message|message d'origine|ursprüngliche nachricht|mensaje original|"
        r"messaggio originale|oorspronkelijk bericht|mensagem original|reply message|antwort nachricht|"
        r"oprindelig meddelelse|oprindelig besked|ursprungligt meddelande|alkuperäinen viesti)\s*-{3,}",
        r"_{20,}",
    ),
    # The block Outlook puts above the quoted mail, in the languages our requesters write.
    sender_keys=("from", "de", "von", "van", "da", "fra", "från", "od", "expéditeur"),
    other_keys=("sent", "envoyé", "envoyé le", "date", "datum", "fecha", "data", "to", "à", "a", "an", "aan",
                "para", "til", "till", "subject", "objet", "betreff", "asunto", "assunto", "oggetto", "onderwerp",
                "cc", "copie à", "enviado", "enviada", "inviato", "gesendet", "verzonden", "importance",
                "priorité"),
    footer=(
        r"(get|obtenir|télécharger) outlook (pour|for) (ios|android)\S*",
        r"(envoyé à partir de|sent from) (outlook|courrier|mail) (pour|for) (ios|android|windows)( \d+)?\S*",
    ),
)
