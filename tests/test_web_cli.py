"""The administrator's commands: ``guichet staff`` and the CLI desk's French, local, secret-free output."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import staff
from bot.cli import cli
from bot.service import Core
from tests.conftest import ENV, make_config
from tests.mails import mail
from tests.servers.smtp import SmtpServer
from tests.webdesk import cheap_hashes, web_section

QUESTION = "Comment obtenir une subvention de l'Agence des Micro-Projets ?"


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashes(monkeypatch)


def no_secrets_config(tmp_path: Path) -> Path:
    """Every channel configured, as on the server, but none of the secrets in the environment."""
    path = tmp_path / "guichet.toml"
    path.write_text(f'[storage]\ndatabase = "{tmp_path / "g.db"}"\n[network]\ntimezone = "Europe/Paris"\n'
                    '[imap]\nhost = "imap.example.org"\nusername = "info"\n[smtp]\nhost = "smtp.example.org"\n'
                    '[telegram]\nstaff_chat_id = -1001\n' + web_section(8089, "https://guichet.reseau.example"))
    return path


def test_read_only_commands_need_no_secret_and_speak_french(tmp_path: Path) -> None:
    path = no_secrets_config(tmp_path)
    from bot.config import load

    core = Core.build(load(path, env={}, secrets=False))
    taken = core.take_mail(mail(QUESTION))
    runner = CliRunner()
    env = {name: "" for name in ENV}
    listed = runner.invoke(cli, ["--config", str(path), "drafts", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "(Agence des Micro-Projets)" in listed.output
    assert "confiance forte" in listed.output and "1 brouillon(s) en attente" in listed.output
    created = core.review.get(taken.draft_id or 0).created_at
    local = dt.datetime.fromisoformat(created).astimezone(core.config.network.tz).strftime("%d/%m %H:%M")
    assert local in listed.output  # Paris time, not UTC
    shown = runner.invoke(cli, ["--config", str(path), "drafts", "show", str(taken.draft_id)], env=env)
    assert shown.exit_code == 0 and "--- brouillon ---" in shown.output and "fiche :" in shown.output
    for command in (["status"], ["stats", "year", "2026"], ["outbox", "list"], ["staff", "list"]):
        result = runner.invoke(cli, ["--config", str(path), *command], env=env)
        assert result.exit_code == 0, (command, result.output)
    # A command that reaches a server still stops, naming the variable.
    doctor = runner.invoke(cli, ["--config", str(path), "doctor"], env=env)
    assert doctor.exit_code == 2 and "GUICHET_IMAP_PASSWORD is not set" in doctor.output


def test_approve_shows_recipient_and_asks_at_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import desk

    config = make_config(tmp_path)
    core = Core.build(config)
    taken = core.take_mail(mail(QUESTION))
    monkeypatch.setattr(desk, "interactive", lambda: True)
    runner = CliRunner()
    declined = runner.invoke(cli, ["--config", config.source, "drafts", "approve", str(taken.draft_id)], input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "À : Marie Durand <marie@asso.example> · par e-mail" in declined.output
    assert "rien n'est envoyé" in declined.output
    assert core.db["outbox"].count == 0
    accepted = runner.invoke(cli, ["--config", config.source, "drafts", "approve", str(taken.draft_id)], input="o\n")
    assert accepted.exit_code == 0 and "approuvé" in accepted.output
    assert core.db["outbox"].count == 1


def test_drafts_pick_redoes_the_draft(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    core = Core.build(config)
    taken = core.take_mail(mail(QUESTION))
    result = CliRunner().invoke(cli, ["--config", config.source, "drafts", "pick", str(taken.draft_id),
                                      "vol-service-civique"])
    assert result.exit_code == 0, result.output
    assert "Partir en service civique" in result.output
    assert core.review.get(taken.draft_id or 0).slug == "vol-service-civique"
    unknown = CliRunner().invoke(cli, ["--config", config.source, "drafts", "pick", str(taken.draft_id), "nope"])
    assert unknown.exit_code == 2


def test_staff_add_list_disable(tmp_path: Path) -> None:
    path = no_secrets_config(tmp_path)
    runner = CliRunner()
    added = runner.invoke(cli, ["--config", str(path), "staff", "add", "Alice Martin", "alice@reseau.example",
                                "--telegram-id", "111"], input="un long mot de passe\nun long mot de passe\n",
                          env={name: "" for name in ENV})
    assert added.exit_code == 0, added.output
    assert "mot de passe enregistré" in added.output
    linked = runner.invoke(cli, ["--config", str(path), "staff", "add", "Bob", "bob@reseau.example", "--link"])
    assert "https://guichet.reseau.example/mot-de-passe/" in linked.output
    listed = runner.invoke(cli, ["--config", str(path), "staff", "list"])
    assert "Alice Martin" in listed.output and "Telegram 111" in listed.output and "sans mot de passe" in listed.output
    duplicate = runner.invoke(cli, ["--config", str(path), "staff", "add", "Autre", "ALICE@reseau.example"],
                              input="un long mot de passe\nun long mot de passe\n")
    assert duplicate.exit_code == 2 and "existe déjà" in duplicate.output
    disabled = runner.invoke(cli, ["--config", str(path), "staff", "disable", "alice@reseau.example"])
    assert disabled.exit_code == 0
    assert "désactivé" in runner.invoke(cli, ["--config", str(path), "staff", "list"]).output
    from bot.store import open_db

    db = open_db(tmp_path / "g.db")
    assert [e["kind"] for e in db.query("SELECT kind FROM events WHERE kind LIKE 'staff.%' ORDER BY id")] == \
        ["staff.added", "staff.password_set", "staff.added", "staff.link_created", "staff.disabled"]


def test_staff_link_is_mailed(tmp_path: Path, smtp: SmtpServer, secrets: None) -> None:
    config = make_config(tmp_path, smtp=smtp, extra=web_section(8090, "https://guichet.reseau.example"))
    result = CliRunner().invoke(cli, ["--config", config.source, "staff", "add", "Chloé", "chloe@reseau.example",
                                      "--send"])
    assert result.exit_code == 0, result.output
    message = smtp.received[0].message
    assert message["To"] == "chloe@reseau.example"
    assert message["From"] == "RESACOOP Information <info@reseau.example>"
    assert message["Subject"] == "Guichet : choisissez votre mot de passe"
    assert message["Auto-Submitted"] == "auto-generated"  # written by a machine: no auto-reply to it
    assert message["Message-ID"].endswith("@guichet.reseau.example>")
    assert "https://guichet.reseau.example/mot-de-passe/" in message.get_content()


def test_a_telegram_id_on_an_account_makes_its_holder_staff(tmp_path: Path) -> None:
    core = Core.build(make_config(tmp_path))
    assert not core.review.is_staff("telegram:333:Carla")
    staff.add(core.db, "Carla", "carla@reseau.example", telegram_id=333)
    assert core.review.is_staff("telegram:333:Carla") and core.review.is_staff("web:1:Carla")
    assert staff.display_name(core.db, "telegram:333:Caro") == "Carla"
    staff.disable(core.db, "carla@reseau.example")
    assert not core.review.is_staff("telegram:333:Carla") and not core.review.is_staff("web:1:Carla")
