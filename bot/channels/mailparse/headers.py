"""Headers read from their raw bytes: text with repairs staff are told about, addresses, ids, date.

The compat32 parser keeps a header's 8-bit bytes as surrogates and hands back a
lossy ``Header`` object for them, so everything here starts from
``Message.raw_items()``. Addresses are parsed from the undecoded header and
only display names are decoded: an encoded word can never become an address.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.utils
import re
from datetime import UTC, datetime
from email import policy
from email.errors import ObsoleteHeaderDefect, UndecodableBytesDefect
from email.message import Message

# Control characters, and every character str.splitlines() treats as a line break (NEL, LS, PS…):
# the email package refuses them in headers, and a receiving parser could split a header on them.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(?==\?)")
_SINGLE_BYTE = {"cp1252", "iso8859-15"}
# Mail labelled ISO-8859-1 is very often windows-1252 (curly quotes, œ, €), as browsers assume.
MISLABELLED = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_ADDR_SPEC = re.compile(r"[\w!#$%&'*+/=?^`{|}~.-]+@[\w-]+(\.[\w-]+)+")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_NAME_BEFORE_ANGLE = re.compile(r"(?s)(.*)<[^<>]*>\s*(\([^()]*\))?\s*")
_ADDRESS_IN_NAME = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def strip_controls(text: str) -> str:
    """``text`` on one line: control characters and line breaks become spaces."""
    return _CONTROLS.sub(" ", text).strip()


def charset_name(charset: str | None) -> str:
    """A declared charset as Python names it, mislabelled Latin-1 read as windows-1252; "" if unknown."""
    try:
        name = codecs.lookup((charset or "").strip().strip('"')).name
    except (LookupError, ValueError):
        return ""
    return MISLABELLED.get(name, name)


def _shown(charset: str) -> str:
    return {"cp1252": "windows-1252"}.get(charset, charset or "inconnu")


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class Headers:
    """One message's headers. ``notes`` lists the repairs that were guessed, for staff."""

    def __init__(self, msg: Message, declared: str = "") -> None:
        # Unfolded once: a folded header is one value.
        self._raw = [(name.lower(), re.sub(r"\r?\n(?=[ \t])", "", value) if isinstance(value, str) else str(value))
                     for name, value in msg.raw_items()]
        self.declared = charset_name(declared)
        self.notes: list[str] = []

    def raw(self, name: str) -> str:
        """The first ``name`` header as received (8-bit bytes as surrogates), or ""."""
        name = name.lower()
        return next((value for key, value in self._raw if key == name), "").strip()

    def text(self, name: str) -> str:
        """A header as readable text on one line (encoded words decoded, 8-bit bytes repaired)."""
        return strip_controls(decode(self.raw(name), declared=self.declared, name=name, notes=self.notes))

    def addresses(self, name: str) -> tuple[list[tuple[str, str]], str | None]:
        """``[(display name, address)]`` parsed from the raw header, or a problem when it is not clean."""
        raw = self.raw(name)
        if not raw:
            return [], None
        # The structure is read with every encoded word replaced by a plain atom.
        neutral = _ENCODED_WORD.sub("x", raw)
        try:
            header = policy.default.header_factory(name, neutral)
            found = [(a.display_name, a.addr_spec) for a in header.addresses]
        except Exception:  # noqa: BLE001 - any parser failure means "not clean"
            return [], f"en-tête {name} illisible : « {strip_controls(raw)[:120]} »"
        serious = [d for d in header.defects if not isinstance(d, ObsoleteHeaderDefect | UndecodableBytesDefect)]
        bad = [address for _, address in found if not _ADDR_SPEC.fullmatch(address)]
        if serious or bad or not found:
            return [], f"adresse {name} illisible : « {strip_controls(self.text(name))[:120]} »"
        if len(found) == 1:
            named = _NAME_BEFORE_ANGLE.fullmatch(raw)
            # "Name <address>", or the older "address (Name)" whose name is a comment.
            display = named[1] if named else found[0][0] or email.utils.parseaddr(raw)[0]
            display = decode(display, declared=self.declared, name=name, notes=self.notes)
            found = [(_unquote(display), found[0][1])]
        else:
            found = [(decode(display, declared=self.declared, name=name, notes=self.notes), address)
                     for display, address in found]
        return [(strip_controls(display), address.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
                for display, address in found], None

    def message_id(self) -> str:
        """The Message-ID as received: 8-bit bytes are never folded into U+FFFD (two ids would collide)."""
        found = _MSG_ID.findall(self.raw("Message-ID"))
        return _lossless(found[0]) if found else ""

    def refs(self) -> list[str]:
        ids = [_lossless(i) for name in ("In-Reply-To", "References") for i in _MSG_ID.findall(self.raw(name))]
        return list(dict.fromkeys(ids))

    def date(self) -> datetime:
        now = datetime.now(UTC)
        try:
            parsed = email.utils.parsedate_to_datetime(self.text("Date"))
        except (TypeError, ValueError, IndexError):
            return now
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # A Date from the future (wrong clock) would break response times.
        return min(parsed.astimezone(UTC), now)


def _bytes(data: bytes, declared: str, encoded: bool, name: str, notes: list[str]) -> str:
    """Declared charset, then UTF-8, then windows-1252; a note when the result is a guess."""
    # Valid UTF-8 beyond ASCII is no accident: it wins over a raw header's unknown charset and
    # over a Latin-1 label (the "wrong declared charset" mojibake).
    utf8_first = not encoded or (declared in _SINGLE_BYTE and not data.isascii() and _utf8(data) is not None)
    order = ["utf-8", declared, "cp1252"] if utf8_first else [declared, "utf-8", "cp1252"]
    expected = declared if encoded else "utf-8"
    for charset in dict.fromkeys(c for c in order if c):
        try:
            text = data.decode(charset)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
        if charset != expected:
            said = f"déclaré {_shown(declared)}" if encoded else "octets bruts"
            guess = "" if charset == "utf-8" else " (deviné)"
            notes.append(f"en-tête {name} réparé : {said}, lu en {_shown(charset)}{guess}")
        return text
    notes.append(f"en-tête {name} illisible en partie")
    return data.decode("cp1252", errors="replace")


def decode(value: str, *, declared: str = "", name: str = "", notes: list[str] | None = None) -> str:
    """Encoded words decoded and 8-bit bytes read (declared charset, then UTF-8, then windows-1252).

    ``notes`` is told of every guessed repair.
    """
    notes = [] if notes is None else notes
    data = value.encode("utf-8", "surrogateescape")
    if not data.isascii():
        value = _bytes(data, declared, False, name, notes)
    if "=?" not in value:
        return value
    # Adjacent encoded words of one charset are decoded together: a character may straddle two.
    value = _BETWEEN_WORDS.sub(r"\1", value)
    pieces: list[str] = []
    last, run, run_charset = 0, b"", ""
    for word in _ENCODED_WORD.finditer(value):
        charset = charset_name(word[1].partition("*")[0])  # RFC 2231 may add "*language"
        if word.start() != last or charset != run_charset:
            if run:
                pieces.append(_bytes(run, run_charset, True, name, notes))
            pieces.append(value[last:word.start()])
            run, run_charset = b"", charset
        run += _word_bytes(word[2], word[3])
        last = word.end()
    if run:
        pieces.append(_bytes(run, run_charset, True, name, notes))
    pieces.append(value[last:])
    return "".join(pieces)


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding in "Qq":
        return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]),
                      text.replace("_", " ").encode("ascii", "surrogateescape"))
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return text.encode("ascii", "surrogateescape")


def _unquote(display: str) -> str:
    display = display.strip()
    if len(display) >= 2 and display[0] == display[-1] == '"':
        display = display[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return display.strip()


def _lossless(value: str) -> str:
    data = value.encode("utf-8", "surrogateescape")
    return _utf8(data) or data.decode("ascii", errors="backslashreplace")


def names_an_other_address(display: str, address: str) -> str | None:
    """An address written in a display name that is not the sender's own (a spoofing sign)."""
    return next((found for found in _ADDRESS_IN_NAME.findall(display) if found.lower() != address.lower()), None)
