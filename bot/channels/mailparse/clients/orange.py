"""Orange (Wanadoo) webmail: the "Message du 02/10/23 10:12" block above the quoted mail."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="orange",
    history=(
        r"-*\s*message du\s*:?\s*\d{1,2}/\d{1,2}/\d{2,4}[\s\d:h]*-*",
        r"-{3,}\s*mail d'origine\s*-{3,}",
    ),
    footer=(r"envoyé (depuis|de) (l'application )?(mail orange|mon mobile orange)\S*",),
)
