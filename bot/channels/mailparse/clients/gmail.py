"""Gmail: its attribution line in every language (Apple Mail and Thunderbird write the same shape),
wrapped over up to three lines, its older "date, name <address>:" form, its forwards and images."""

from __future__ import annotations

from . import Client

_WROTE = (r"a\s+[ée]crit|wrote|sent|escribi[óo]|escreveu|schrieb|ha\s+scritto|schreef|geschreven|skrev|"
          r"napisa[łl](\(a\))?|kirjoitti|написала?|пишет|đã viết")

CLIENT = Client(
    name="gmail",
    history=(
        # "Le lun. 2 oct. 2023 à 10:12, Marie <m@x.fr> a écrit :", "On Mon, … wrote:", "Am … schrieb …:"
        # (the colon may be missing only when the verb ends the line: "On … John <j@x.org> wrote")
        rf"(?=.*\d)(le|on|el|em|am|il|op|den|dnia|w dniu|в)\s.{{4,240}}?\s({_WROTE})(\s*:?|\b[^:]{{0,60}}:)",
        # The same in languages that open on the weekday: "tor. 2. des. 2021 kl. 10:12 skrev John <j@x.no>:"
        rf"(?=.*\d)(?=.*@).{{4,240}}?\s({_WROTE})\b[^:]{{0,60}}:",
        # "2014-10-17 11:28 GMT+03:00 Postmaster <postmaster@x.org>:", and without the colon
        r"(?=.*\d{1,2}[:.h]\d\d).{0,160}?<?[\w.+-]+@[\w-]+(\.[\w-]+)+>?\s*:",
        r"\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\s.{1,100}<[\w.+-]+@[\w-]+(\.[\w-]+)+>",
    ),
    forward=(
        r"-{3,}\s*(forwarded message|message transféré|mensaje reenviado|mensagem encaminhada|"
        r"weitergeleitete nachricht|messaggio inoltrato)\s*-{3,}",
    ),
    inline=(r"\[image:[^\]\n]{0,200}\]",),
)
