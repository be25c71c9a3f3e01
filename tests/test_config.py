"""Configuration: TOML + environment secrets, failing loudly with the key's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import EXAMPLE_CONFIG, REPO_ROOT, Config, NetworkConfig, load, parse, shipped
from bot.errors import ConfigError

ENV = {"GUICHET_IMAP_PASSWORD": "pw", "GUICHET_SMTP_PASSWORD": "pw2", "GUICHET_TELEGRAM_TOKEN": "1:x"}


def test_example_config_parses(tmp_path: Path) -> None:
    config = load(Path(__file__).resolve().parent.parent / "guichet.example.toml", env=ENV)
    assert config.imap is not None and config.imap.password == "pw"
    assert config.smtp is not None and config.smtp.password == "pw2"
    assert config.telegram is None
    assert config.network.name == "RESACOOP"


def test_embedded_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load(env={})
    assert config == Config()
    assert config.imap is None and config.smtp is None


def test_relative_paths_are_taken_from_the_file(tmp_path: Path) -> None:
    config = parse('[storage]\ndatabase = "data/g.db"\n', env={}, base=tmp_path)
    assert config.storage.database == str(tmp_path / "data" / "g.db")


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("[imap]\nhost = 'h'\n", "imap.username", "missing required key"),
        ("[imap]\nhost = 'h'\nusername = 'u'\nport = 'x'\n", "imap.port", "expected int"),
        ("[imap]\nhost = 'h'\nusername = 'u'\npassword = 'p'\n", "imap.password", "GUICHET_IMAP_PASSWORD"),
        ("[matcher]\nthreshhold = 0.4\n", "matcher.threshhold", "unknown key"),
        ("[mailbox]\nhost = 'h'\n", "mailbox", "unknown section"),
        ("[telegram]\nstaff_chat_id = 5\nstaff_ids = ['a']\n", "telegram.staff_ids[0]", "expected int"),
        ("network = 3\n", "network", "expected a table"),
        ("[network\n", "<string>", "not valid TOML"),
    ],
)
def test_errors_name_the_key(text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text, env=ENV)
    assert caught.value.key == key
    assert message in str(caught.value)


def test_secret_must_be_in_the_environment() -> None:
    with pytest.raises(ConfigError, match="GUICHET_TELEGRAM_TOKEN is not set"):
        parse("[telegram]\nstaff_chat_id = -100\n", env={})


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml", env={})


def test_the_network_time_zone_falls_back_to_utc() -> None:
    assert NetworkConfig().tz.key == "Europe/Paris"
    assert NetworkConfig(timezone="Nowhere/Atlantis").tz.key == "UTC"
    assert NetworkConfig(timezone="").tz.key == "UTC"


def test_defaults_point_at_the_shipped_files() -> None:
    # In a checkout bot/_data/ links to the top-level folders; in a wheel it holds copies.
    config = Config()
    assert Path(config.knowledge.dir) == shipped("knowledge") and any(shipped("knowledge").rglob("*.md"))
    assert (Path(config.knowledge.templates) / "reply.fr.txt.j2").is_file()
    assert EXAMPLE_CONFIG == shipped("guichet.example.toml") and EXAMPLE_CONFIG.is_file()
    assert shipped("knowledge") == (REPO_ROOT / "knowledge").resolve()
