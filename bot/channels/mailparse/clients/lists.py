"""Mailing lists (Mailman, Sympa, Google Groups): the footer each adds to every message."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="lists",
    tail=(
        r"[\w.-]+ mailing list\s*$",
        r"(pour (vous )?(désabonner|désinscrire)|to unsubscribe|se désabonner|se désinscrire|désinscription)",
        r"(vous recevez ce message|you received this message|vous avez reçu ce message)( car|,| parce| because)",
    ),
)
