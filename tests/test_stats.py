"""Statistics and exports, over requests built through the real pipeline across several months."""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.channels.mailparse import parse_mail
from bot.cli import cli
from bot.config import Config
from bot.export import export_period
from bot.message import Incoming
from bot.service import Core
from bot.stats import month_summary, year_summary
from tests.conftest import make_config
from tests.mails import mail

PARIS = ZoneInfo("Europe/Paris")
STAFF = "terminal:alice"


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=PARIS).astimezone(dt.UTC)


class Desk:
    """Builds requests through intake and review, then stamps the answer time the outbox would write."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.n = 0

    def email(self, when: dt.datetime, text: str, **kw: object) -> tuple[int, int | None]:
        self.n += 1
        incoming = parse_mail(mail(text, message_id=f"<m{self.n}@asso.example>",
                                   sender=f"Personne {self.n} <p{self.n}@asso.example>", **kw))  # type: ignore[arg-type]
        incoming.received_at = when
        taken = self.core.intake.take(incoming)
        return taken.request_id, taken.draft_id

    def telegram(self, when: dt.datetime, text: str) -> tuple[int, int | None]:
        self.n += 1
        chat = str(7000 + self.n)
        taken = self.core.intake.take(Incoming(channel="telegram", external_id=f"{chat}:1", sender=chat,
                                               sender_name="Awa", text=text, new_text=text, reply_to=chat,
                                               conversation=chat, received_at=when))
        return taken.request_id, taken.draft_id

    def answer(self, request_id: int, draft_id: int | None, hours: float, text: str | None = None) -> None:
        assert draft_id is not None
        self.core.review.approve(draft_id, STAFF, text)
        received = dt.datetime.fromisoformat(self.core.db["requests"].get(request_id)["received_at"])
        self.core.db["requests"].update(request_id, {"status": "answered",
                                                     "answered_at": (received + dt.timedelta(hours=hours)).isoformat()})


@pytest.fixture
def history(tmp_path: Path) -> Core:
    core = Core.build(make_config(tmp_path))
    desk = Desk(core)
    # December 2025: outside the 2026 year-to-date.
    desk.answer(*desk.email(at(2025, 12, 15), "Comment adhérer au réseau ?"), hours=5)
    # January 2026.
    desk.answer(*desk.email(at(2026, 1, 20), "Proposez-vous une formation à l'éducation à la citoyenneté ECSI ?"),
                hours=3)
    # September 2026.
    desk.answer(*desk.email(at(2026, 9, 3), "Le FONJEP ISI finance quoi exactement ?"), hours=4)
    desk.answer(*desk.telegram(at(2026, 9, 10), "comment partir avec le corps europeen de solidarite ?"), hours=6)
    # October 2026.
    amp = desk.email(at(2026, 10, 1, 0), "Comment obtenir une subvention de l'Agence des Micro-Projets ?",
                     subject="Micro-projet")
    desk.answer(*amp, hours=2)
    follow = parse_mail(mail("Merci, et quand déposer ?", subject="Re: Micro-projet", message_id="<f@asso.example>",
                             sender="Personne 5 <p5@asso.example>", headers={"In-Reply-To": "<m5@asso.example>"}))
    follow.received_at = at(2026, 10, 2)
    assert core.intake.take(follow).request_id == amp[0]  # a follow-up, not a new request
    civic = desk.email(at(2026, 10, 5), "Comment partir en service civique à l'étranger ?")
    desk.answer(*civic, hours=10, text="Bonjour, voici notre réponse revue.")
    core.review.set_appointment(civic[0], STAFF)
    desk.answer(*desk.telegram(at(2026, 10, 6), "c'est quoi votre numéro de téléphone ?"), hours=1)
    by_hand = desk.telegram(at(2026, 10, 7), "notre dossier de puits, on peut venir vous voir ?")
    assert by_hand[1] is not None
    core.review.reject(by_hand[1], STAFF)
    core.review.answered_by_hand(by_hand[0], STAFF, "acc-rendez-vous")
    core.db["requests"].update(by_hand[0], {"answered_at": (at(2026, 10, 7) + dt.timedelta(hours=30)).isoformat()})
    desk.email(at(2026, 10, 8), "Je suis absente", headers={"Auto-Submitted": "auto-replied"})
    thanks = desk.email(at(2026, 10, 9), "merci !")
    assert thanks[1] is not None
    core.review.ignore(thanks[1], STAFF)
    desk.email(at(2026, 10, 31, 23), "L'agence de l'eau finance-t-elle les puits ?")  # open, late on the 31st
    desk.email(at(2026, 11, 1, 0), "Comment adhérer au réseau ?")  # November in Paris, October in UTC
    return core


def test_month_figures(history: Core) -> None:
    s = month_summary(history.db, 2026, 10, PARIS)
    assert s.total == 5
    assert (s.machine, s.ignored, s.appointments) == (1, 1, 1)
    assert {k: dict(v) for k, v in s.by_category_channel().items()} == {
        "accompagnement": {"telegram": 1}, "financement": {"email": 2}, "information": {"telegram": 1},
        "volontariat": {"email": 1}}
    assert dict(s.by_outcome()) == {"sent_as_drafted": 2, "sent_after_edit": 1, "answered_by_hand": 1, "open": 1,
                                    "ignored": 1, "machine": 1}
    assert s.by_entry()[0][1] == 1 and len(s.by_entry()) == 5
    assert s.response_hours() == [1.0, 2.0, 10.0, 30.0]
    assert s.median_hours() == 6.0
    assert s.p90_hours() == pytest.approx(24.0)
    assert s.year_to_date == 8  # January 1 + September 2 + October 5
    assert {m: sum(c.values()) for m, c in s.by_month().items()} == {1: 1, 9: 2, 10: 5}


def test_year_count(history: Core) -> None:
    s = year_summary(history.db, 2026, PARIS)
    assert s.total == 9 and s.year_to_date == 9
    assert dict(s.by_channel()) == {"email": 6, "telegram": 3}
    assert {m: sum(c.values()) for m, c in s.by_month().items()} == {1: 1, 9: 2, 10: 5, 11: 1}
    assert year_summary(history.db, 2025, PARIS).total == 1


def test_export_files(history: Core, tmp_path: Path) -> None:
    s = month_summary(history.db, 2026, 10, PARIS)
    requests_csv, summary_csv, xlsx, png = export_period(s, tmp_path / "out", "RESACOOP", 2026, 10)
    raw = requests_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Excel
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["id", "reçue le", "répondue le", "canal", "catégorie", "fiche", "résultat",
                       "délai (heures)", "langue", "accompagnement"]
    assert len(rows) == 1 + 7
    civic = next(r for r in rows if r[5] == "vol-service-civique")
    assert civic[6] == "sent_after_edit" and civic[7] == "10,0" and civic[9] == "oui"
    text = raw.decode("utf-8-sig") + summary_csv.read_text(encoding="utf-8-sig")
    assert "@asso.example" not in text and "Personne" not in text and "Awa" not in text  # no personal data
    assert "service civique" not in text.lower()  # no message text either
    summary_rows = list(csv.reader(io.StringIO(summary_csv.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert ["délai médian (heures)", "6,0"] in summary_rows
    assert ["cumul 2026 au 2026-10", "8"] in summary_rows
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Totaux", "Par catégorie et canal", "Par fiche (top 15)", "Par résultat",
                               "Délais de réponse"]
    totals = {row[0]: row[1] for row in book["Totaux"].iter_rows(min_row=2, values_only=True)}
    assert totals["demandes 2026-10"] == 5 and totals["accompagnements personnalisés"] == 1
    cross = list(book["Par catégorie et canal"].iter_rows(values_only=True))
    assert cross[-1] == ("total", 3, 2, 5)
    times = {row[0]: row[1] for row in book["Délais de réponse"].iter_rows(min_row=2, values_only=True)}
    assert times["délai 90e centile (heures)"] == 24.0
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert 1000 <= width <= 3000 and 600 <= height <= 2000
    assert 20_000 < png.stat().st_size < 2_000_000


def test_cli_stats(history: Core, tmp_path: Path) -> None:
    config: Config = history.config
    runner = CliRunner()
    exported = runner.invoke(cli, ["--config", config.source, "stats", "export", "--month", "2026-10",
                                   "--out", str(tmp_path / "x")])
    assert exported.exit_code == 0, exported.output
    assert "2026-10: 5 requests (8 since January)" in exported.output
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "chart-2026-10.png", "requests-2026-10.csv", "summary-2026-10.csv", "summary-2026-10.xlsx"]
    year = runner.invoke(cli, ["--config", config.source, "stats", "year", "2026"])
    assert year.exit_code == 0, year.output
    assert "9 information requests in 2026" in year.output
    assert "oct." in year.output and "telegram" in year.output
    bad = runner.invoke(cli, ["--config", config.source, "stats", "export", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
