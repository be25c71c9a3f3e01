"""Mutt and NeoMutt: the "* Name <address> [date]:" attribution of their French and compact setups
(their default "On …, Name wrote:" is Gmail's shape)."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="mutt",
    history=(r"\*\s.{1,200}?\s\[\d{1,4}[-./]\d{1,2}[-./]\d{1,4}[^\]\n]{0,40}\]\s*:",),
)
