"""Mail sent by machines (auto-replies, bounces, receipts, lists, our own): stored, never answered."""

from __future__ import annotations

import re

from .headers import Headers

_NOREPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|ne[-_.]?pas[-_.]?repondre|mailer-daemon|"
                      r"postmaster|bounces?)([-+.].*)?$", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*\[?(r[ée]ponse automatique|automatic reply|auto[- ]?reply|autosvar|auto:|out of (the )?office|"
    r"absence|absent(e)? du|message d'absence|abwesenheit|respuesta autom[áa]tica|fuera de la oficina|"
    r"risposta automatica|resposta autom[áa]tica|undeliverable|undelivered mail|returned mail|"
    r"delivery status notification|mail delivery (failed|system)|non remis|message non d[ée]livr[ée]|"
    r"[ée]chec de (la )?remise|notification d'[ée]tat de remise|accus[ée] de (lecture|r[ée]ception)|"
    r"read receipt|lu ?:|read ?:|non lu ?:|not read ?:)", re.I)
# An out-of-office notice sent without any of the headers above (some webmails, Exchange rules):
# short, opening on the absence, asking nothing.
_AWAY_TEXT = re.compile(
    r"^\W*((bonjour|hello|hi|hallo|hola|buongiorno|bom dia)\W+)?(merci pour votre (message|mail)\W+|"
    r"thank you for your (e-?mail|message)\W+)?"
    r"(je suis|je serai|nous sommes|i am|i'm|i will be|ich bin|estoy|sono|estou)\s+"
    r"(actuellement |currently |en ce moment |momentan )?"
    r"(absente?s?|en cong[ée]s?|out of (the )?office|away|on (annual )?leave|abwesend|ausente|assente|"
    r"fuera de la oficina)", re.I)
AWAY_TEXT_MAX = 700


def machine_reason(headers: Headers, content_type: str, sender: str, new_text: str, own_domain: str = "",
                   own_address: str = "") -> str | None:
    """Why this mail was sent by a machine (and must never be answered), or None."""
    auto = headers.text("Auto-Submitted").lower()
    if auto and auto != "no":
        return f"auto-submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if headers.text(name):
            return f"auto-reply header {name}"
    precedence = headers.text("Precedence").lower()
    if precedence in {"bulk", "list", "junk", "auto_reply"}:
        return f"precedence {precedence}"
    if headers.text("List-Id") or headers.text("List-Unsubscribe"):
        return "mailing list"
    if headers.text("Return-Path").replace(" ", "") == "<>":
        return "bounce (empty return path)"
    if content_type == "multipart/report":
        return "delivery or read report"
    local = sender.lower().partition("@")[0]
    if _NOREPLY.match(local):
        return f"machine sender {sender}"
    message_id = headers.message_id().lower()
    if own_domain and message_id.endswith("@" + own_domain.lower() + ">"):
        return "our own message (loop)"
    if own_address and sender.lower() == own_address.lower():
        return "from our own address (loop)"
    if _AUTO_SUBJECT.match(headers.text("Subject")):
        return "auto-reply subject"
    if len(new_text) < AWAY_TEXT_MAX and "?" not in new_text and _AWAY_TEXT.match(new_text):
        return "out-of-office text"
    return None
