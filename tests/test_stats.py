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
from bot.config import Config, NetworkConfig
from bot.errors import ConfigError
from bot.export import MONTHS, cell_text, chart, entry_titles, export_period, summary_tables
from bot.message import Incoming
from bot.service import Core
from bot.stats import MONTH_NAMES, NO_ENTRY, OUTCOME_LABELS, Summary, month_summary, year_summary
from bot.workhours import Office
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
    assert desk.email(at(2026, 9, 25), "Quelle heure est-il à Tokyo ?")[1] is not None  # no entry: open, by hand
    # October 2026.
    amp = desk.email(at(2026, 10, 1, 0), "Comment obtenir une subvention de l'Agence des Micro-Projets ?",
                     subject="Micro-projet")
    desk.answer(*amp, hours=2)
    follow = parse_mail(mail("Merci, et quand déposer ?", subject="Re: Micro-projet", message_id="<f@asso.example>",
                             sender="Personne 6 <p6@asso.example>", headers={"In-Reply-To": "<m6@asso.example>"}))
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
    # Thursday 00:00 → 02:00: none; Tuesday 10:00 → 11:00: 1; Monday 10:00 → 20:00: 7.5 (office closes at
    # 17:30); Wednesday 10:00 → Thursday 16:00: 7.5 + 7.
    assert s.working_hours() == [0.0, 1.0, 7.5, 14.5]
    assert s.median_working_hours() == 4.25
    assert s.year_to_date == 9  # January 1 + September 3 + October 5
    assert {m: sum(c.values()) for m, c in s.by_month().items()} == {1: 1, 9: 3, 10: 5}
    assert s.by_month()[9][NO_ENTRY] == 1


def test_year_count(history: Core) -> None:
    s = year_summary(history.db, 2026, PARIS)
    assert s.total == 10 and s.year_to_date == 10
    assert dict(s.by_channel()) == {"email": 7, "telegram": 3}
    assert {m: sum(c.values()) for m, c in s.by_month().items()} == {1: 1, 9: 3, 10: 5, 11: 1}
    assert year_summary(history.db, 2025, PARIS).total == 1


def test_working_hours_skip_nights_weekends_and_public_holidays() -> None:
    office = Office.of(NetworkConfig(office_hours="09:00-17:30"))

    def hours(start: tuple[int, ...], end: tuple[int, ...]) -> float:
        return office.hours(dt.datetime(*start, tzinfo=PARIS), dt.datetime(*end, tzinfo=PARIS))

    assert hours((2026, 10, 30, 16), (2026, 11, 3, 10)) == 11.0  # Friday 1.5 h, weekend, Monday 8.5 h, Tuesday 1 h
    assert hours((2026, 11, 10, 16), (2026, 11, 12, 10)) == 2.5  # Wednesday 11 November is a public holiday
    assert hours((2026, 5, 22, 20), (2026, 5, 26, 9, 30)) == 0.5  # Pentecost Monday, from the holidays package
    assert hours((2026, 10, 24, 10), (2026, 10, 25, 18)) == 0.0  # a weekend, with the clock change
    assert Office.of(NetworkConfig(office_hours="8:30 - 12:00")).hours(
        dt.datetime(2026, 10, 5, 8, tzinfo=PARIS), dt.datetime(2026, 10, 5, 18, tzinfo=PARIS)) == 3.5
    for bad in ("9h-17h", "17:30-09:00", ""):
        with pytest.raises(ConfigError, match=r"network\.office_hours"):
            Office.of(NetworkConfig(office_hours=bad))


def test_response_time_across_the_clock_change(core: Core) -> None:
    desk = Desk(core)
    # Saturday 24 October 10:00 → Monday 26 October 10:00: 49 hours, the clocks went back an hour.
    desk.answer(*desk.email(at(2026, 10, 24), "Comment adhérer au réseau ?"), hours=49)
    (row,) = month_summary(core.db, 2026, 10, PARIS).rows
    assert row.answered is not None and row.answered.hour == 10
    assert row.response_hours == 49.0  # was 48: the wall-clock difference
    assert row.working_hours == 1.0  # Monday 09:00 → 10:00


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Excel
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def test_export_files(history: Core, tmp_path: Path) -> None:
    s = month_summary(history.db, 2026, 10, PARIS, today=dt.date(2026, 12, 4))
    titles = entry_titles(history.config)
    paths = export_period(s, tmp_path / "out", "RESACOOP", titles)
    assert [p.name for p in paths] == ["demandes-2026-10.csv", "synthese-2026-10.csv", "synthese-2026-10.xlsx",
                                       "graphique-2026-10.png"]
    requests_csv, summary_csv, xlsx, png = paths
    rows = read_csv(requests_csv)
    assert rows[0] == ["n°", "reçue le", "répondue le", "canal", "catégorie", "fiche", "résultat",
                       "délai (heures)", "délai (heures ouvrées)", "langue", "accompagnement personnalisé"]
    assert len(rows) == 1 + 7
    civic = next(r for r in rows if r[5] == titles["vol-service-civique"])
    assert civic[1:4] == ["2026-10-05 10:00", "2026-10-05 20:00", "e-mail"]
    assert civic[6:] == ["envoyée après modification", "10,0", "7,5", "français", "oui"]
    assert {r[6] for r in rows[1:]} <= set(OUTCOME_LABELS.values())
    assert next(r for r in rows if r[6] == "message automatique")[4:6] == ["", ""]  # not a request: no category
    text = requests_csv.read_text(encoding="utf-8-sig") + summary_csv.read_text(encoding="utf-8-sig")
    assert "@asso.example" not in text and "Personne" not in text and "Awa" not in text  # no personal data
    assert "service civique à l'étranger" not in text.lower()  # no message text either
    for code in ("sent_as_drafted", "sent_after_edit", "answered_by_hand", "vol-service-civique", "email;"):
        assert code not in text  # codes and slugs are for the program, not for the director
    summary_rows = read_csv(summary_csv)
    assert ["délai médian", "6,0", "4,2"] in summary_rows
    assert ["demandes en octobre 2026", "5"] in summary_rows
    assert ["cumul 2026 (janvier à octobre)", "9"] in summary_rows
    assert any(r[:1] == ["sans fiche"] and "aucune fiche" in r[1] for r in summary_rows)

    book = load_workbook(xlsx)
    assert book.sheetnames == ["Totaux", "Par mois", "Par catégorie et canal", "Par fiche (top 15)", "Par résultat",
                               "Délais de réponse", "Définitions", "Demandes"]
    totals = {row[0]: row[1] for row in book["Totaux"].iter_rows(min_row=2, values_only=True)}
    assert totals["demandes en octobre 2026"] == 5 and totals["accompagnements personnalisés"] == 1
    months = list(book["Par mois"].iter_rows(values_only=True))
    assert months[0] == ("mois", "financement", "volontariat", "formation", "accompagnement", "information",
                         "sans fiche", "total")
    assert [m[0] for m in months[1:]] == [*MONTH_NAMES[:10], "total"]
    by_month = {m[0]: m[-1] for m in months[1:]}
    assert (by_month["janvier"], by_month["septembre"], by_month["octobre"], by_month["mars"]) == (1, 3, 5, 0)
    assert by_month["total"] == 9 == s.year_to_date
    cross = list(book["Par catégorie et canal"].iter_rows(values_only=True))
    assert cross[0] == ("catégorie", "e-mail", "Telegram", "total") and cross[-1] == ("total", 3, 2, 5)
    entries = [row[0] for row in book["Par fiche (top 15)"].iter_rows(min_row=2, values_only=True)]
    assert titles["vol-service-civique"] in entries and "vol-service-civique" not in entries
    outcomes = {row[0]: row[1] for row in book["Par résultat"].iter_rows(min_row=2, values_only=True)}
    assert outcomes["envoyée après modification"] == 1 and outcomes["message automatique"] == 1
    times = {row[0]: row[1:] for row in book["Délais de réponse"].iter_rows(min_row=2, values_only=True)}
    assert times["délai du 90e centile"] == (24.0, 12.4)
    assert times["demandes répondues"] == (4, 4)
    requests = list(book["Demandes"].iter_rows(values_only=True))
    assert requests[0][0] == "n°" and len(requests) == 8
    civic_row = next(r for r in requests if r[5] == titles["vol-service-civique"])
    assert civic_row[1] == dt.datetime(2026, 10, 5, 10) and civic_row[7] == 10.0 and civic_row[8] == 7.5

    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1500, 840)
    assert 20_000 < png.stat().st_size < 2_000_000


def figure_text(s: Summary) -> tuple[list[str], str, list[str], list[str], list[float]]:
    """Tick labels, title, legend entries, free texts and bar totals of the chart, read back from the figure."""
    fig = chart(s, "RESACOOP")
    (ax,) = fig.axes
    legend = ax.get_legend()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    heights = [0.0] * len(ticks)
    for bar in ax.patches:
        heights[round(bar.get_x() + bar.get_width() / 2)] += bar.get_height()
    return (ticks, ax.get_title(), [t.get_text() for t in legend.get_texts()] if legend else [],
            [t.get_text() for t in fig.texts + ax.texts], heights)


def test_chart_reads_back(history: Core) -> None:
    ticks, title, legend, texts, heights = figure_text(
        month_summary(history.db, 2026, 10, PARIS, today=dt.date(2026, 11, 2)))
    assert ticks == list(MONTHS[:10])
    assert title == "RESACOOP — demandes d'information 2026 : 9 au total\n(janvier à octobre)"
    assert "sans fiche *" in legend and "financement" in legend
    assert any(t.startswith("* « sans fiche » : aucune fiche") for t in texts)
    assert heights == [1, 0, 0, 0, 0, 0, 0, 0, 3, 5]
    assert "1" in texts and "3" in texts and "5" in texts  # the totals above the bars


def test_a_month_not_over_is_marked(history: Core, tmp_path: Path) -> None:
    s = month_summary(history.db, 2026, 10, PARIS, today=dt.date(2026, 10, 8))
    assert s.partial_day == 8 and s.span() == "1er janvier au 8 octobre"
    ticks, title, *_ = figure_text(s)
    assert ticks[-1] == "oct.\n(jusqu'au 8)" and title.endswith("(1er janvier au 8 octobre)")
    tables = summary_tables(s, {})
    assert tables["Totaux"][1] == ["demandes en octobre 2026 (jusqu'au 8)", s.total]
    assert tables["Par mois"][-2][0] == "octobre (jusqu'au 8)"
    # The year so far, exported on 4 December: December is partial, the label says what it covers.
    year = year_summary(history.db, 2026, PARIS, today=dt.date(2026, 12, 4))
    assert year.months == list(range(1, 13)) and year.partial_day == 4
    totals = summary_tables(year, {})["Totaux"]
    assert totals[1] == ["demandes en 2026 (1er janvier au 4 décembre)", 10]
    assert not any("cumul" in str(row[0]) for row in totals)
    ticks, title, *_ = figure_text(year)
    assert ticks[-1] == "déc.\n(jusqu'au 4)" and "(1er janvier au 4 décembre)" in title
    assert figure_text(year_summary(history.db, 2026, PARIS, today=dt.date(2027, 1, 3)))[0][-1] == "déc."


def test_cli_stats(history: Core, tmp_path: Path) -> None:
    config: Config = history.config
    runner = CliRunner()
    exported = runner.invoke(cli, ["--config", config.source, "stats", "export", "--month", "2026-10",
                                   "--out", str(tmp_path / "x")])
    assert exported.exit_code == 0, exported.output
    assert "2026-10 : 5 demande(s) (9 depuis janvier), 1 accompagnement(s) personnalisé(s)" in exported.output
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "demandes-2026-10.csv", "graphique-2026-10.png", "synthese-2026-10.csv", "synthese-2026-10.xlsx"]
    year = runner.invoke(cli, ["--config", config.source, "stats", "year", "2026"])
    assert year.exit_code == 0, year.output
    assert "RESACOOP : 10 demande(s) d'information en 2026" in year.output
    assert "délai de réponse : médiane " in year.output and " h ouvrées)" in year.output
    assert "octobre" in year.output and "Telegram" in year.output and "e-mail" in year.output
    assert "« sans fiche » : aucune fiche" in year.output
    bad = runner.invoke(cli, ["--config", config.source, "stats", "export", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_stats_year_on_an_empty_log_says_so(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    result = CliRunner().invoke(cli, ["--config", config.source, "stats", "year", "2026"])
    assert result.exit_code == 0, result.output
    assert result.output == "RESACOOP : aucune demande enregistrée en 2026 (le journal est vide).\n"
    Desk(Core.build(config)).email(at(2025, 3, 3), "Comment adhérer au réseau ?")
    result = CliRunner().invoke(cli, ["--config", config.source, "stats", "year", "2026"])
    assert result.output == "RESACOOP : aucune demande enregistrée en 2026 (le journal ne contient que 2025).\n"


def test_an_empty_month_has_blanks_not_none(history: Core) -> None:
    s = month_summary(history.db, 2026, 6, PARIS, today=dt.date(2026, 12, 4))
    tables = summary_tables(s)
    assert tables["Délais de réponse"][2] == ["délai médian", "", ""]
    assert ["demandes en juin 2026", 0] in tables["Totaux"]
    assert all(cell is not None for table in tables.values() for row in table for cell in row)
    ticks, _, _, _, heights = figure_text(s)
    assert len(ticks) == 6 and heights[-1] == 0 and heights[0] == 1  # January's request is in the year so far
    assert cell_text(None) == "" and cell_text(4.25) == "4,2" and cell_text(dt.datetime(2026, 1, 2, 3, 4)) == \
        "2026-01-02 03:04"
