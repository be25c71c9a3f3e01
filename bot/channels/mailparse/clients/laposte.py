"""La Poste webmail and other Zimbra-based ones (Free too): "Mail original" above the quoted mail."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="laposte",
    history=(r"-{3,}\s*(mail original|message original)\s*-{3,}",),
    forward=(r"-{3,}\s*mail transféré\s*-{3,}",),
    other_keys=("envoyé", "copie à"),
)
