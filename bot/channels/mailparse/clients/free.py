"""Free's older webmail (Horde IMP): "Selon Marie <m@free.fr>:" / "Citation …" attributions."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="free",
    history=(
        r"(selon|citation|quoting)\s.{1,120}?<?[\w.+-]+@[\w-]+(\.[\w-]+)+>?\s*:",
        r".{1,120}?<[\w.+-]+@[\w-]+(\.[\w-]+)+>\s+a\s+[ée]crit\s*:",
    ),
)
