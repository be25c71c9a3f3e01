"""BlackBerry: its footers."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="blackberry",
    footer=(r"(sent|envoyé)( wirelessly)? (from|de|depuis|via|avec) (my |mon )?(appareil )?(mobile )?"
            r"blackberry.{0,60}",),
)
