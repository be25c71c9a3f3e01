"""Proton Mail: its footer, in the languages of its interface (its "------- Original Message -------"
block opens on Gmail's attribution shape)."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="protonmail",
    history=(r"-{3,}\s*(original message|message d'origine)\s*-{3,}",),
    footer=(r"(envoyé avec la messagerie sécurisée|sent with|gesendet mit (der sicheren )?|enviado con|"
            r"enviado com|inviato con) ?proton ?mail( secure email| sicheren e-mail)?\.?",),
)
