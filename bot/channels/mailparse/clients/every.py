"""Every client's rule, in one list: the new-text reader and the signature cutter take their patterns
from here, so a client added here counts everywhere."""

from __future__ import annotations

from . import (
    Client,
    android,
    apple,
    blackberry,
    exchange,
    free,
    gmail,
    laposte,
    lists,
    mutt,
    orange,
    outlook,
    protonmail,
    thunderbird,
    yahoo,
)

CLIENTS: tuple[Client, ...] = (outlook.CLIENT, gmail.CLIENT, apple.CLIENT, thunderbird.CLIENT, orange.CLIENT,
                               laposte.CLIENT, free.CLIENT, yahoo.CLIENT, android.CLIENT, blackberry.CLIENT,
                               exchange.CLIENT, lists.CLIENT, mutt.CLIENT, protonmail.CLIENT)
