"""The command line: stable machine-readable output, help for every command, docs in the README."""

from __future__ import annotations

import json
import shlex
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import REPO_ROOT


def commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += commands(command, f"{full} ")
        else:
            found.append(full)
    return found


ALL = commands(cli)
GROUPS = ["", *(name for name, command in cli.commands.items() if isinstance(command, click.Group))]


@pytest.mark.parametrize("name", ALL)
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, f"guichet {name} --help has no example"


@pytest.mark.parametrize("name", GROUPS)
def test_the_top_level_and_every_group_have_an_example(name: str) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0
    example = result.output.split("Example", 1)[-1]
    assert "Example" in result.output and f"guichet {name}".strip() in example, \
        f"guichet {name} --help has no example".replace("  ", " ")


def examples(name: str) -> list[list[str]]:
    """The command lines in the examples of ``guichet NAME --help``, as argument lists."""
    text = CliRunner().invoke(cli, [*name.split(), "--help"]).output.split("Example", 1)[1]
    lines = [shlex.split(line.split("guichet ", 1)[1]) for line in text.splitlines() if "guichet " in line]
    return lines


def unparsed(ctx: click.Context) -> list[str]:
    # Click 8 keeps a group's subcommand name apart (protected_args, deprecated); Click 9 will not.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*getattr(ctx, "protected_args", []), *ctx.args]


@pytest.mark.parametrize("name", GROUPS + ALL)
def test_every_example_parses(name: str) -> None:
    # Each example's options and arguments exist: an example cannot go stale silently.
    for line in examples(name):
        args = line[:line.index("<")] if "<" in line else line  # a shell redirection ends the arguments
        command: click.Command = cli
        try:
            ctx = cli.make_context("guichet", list(args))
            while isinstance(command, click.Group) and (rest := unparsed(ctx)):
                _, sub, rest = command.resolve_command(ctx, rest)
                assert sub is not None, args
                command, ctx = sub, sub.make_context(sub.name, rest, parent=ctx)
        except click.BadParameter as exc:  # an example's file (answer.txt) need not exist here
            assert "No such file or directory" in exc.message or "does not exist" in exc.message, exc.message


@pytest.mark.parametrize("name", ALL)
def test_every_command_is_in_the_readme(name: str) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"guichet {name}" in readme, f"guichet {name} is not documented in README.md"


def test_match_json_shape(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["match", "--json", "Comment partir en service civique à l'étranger ?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"slug", "confidence", "candidates"}
    assert data["slug"] == "vol-service-civique"
    assert 0 <= data["confidence"] <= 1
    assert data["candidates"][0] == {"slug": "vol-service-civique", "confidence": data["confidence"]}


def test_match_json_abstains_with_null() -> None:
    result = CliRunner().invoke(cli, ["match", "--json", "Quelle heure est-il à Tokyo ?"])
    assert json.loads(result.output)["slug"] is None


def test_match_jsonl_one_line_per_input() -> None:
    lines = [{"id": "a", "text": "comment adhérer au réseau ?"},
             {"id": 7, "text": "merci beaucoup", "channel": "telegram"},
             {"id": "c", "text": "Bonjour", "subject": "Festisol : coup de pouce"}]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    result = CliRunner().invoke(cli, ["match", "--jsonl"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == ["a", 7, "c"]
    assert [set(o) for o in out] == [{"id", "slug", "confidence"}] * 3
    assert out[0]["slug"] == "acc-adhesion" and out[1]["slug"] is None and out[2]["slug"] == "fin-festisol"


def test_eval_prints_the_figures() -> None:
    result = CliRunner().invoke(cli, ["eval", "tests/data/questions.jsonl"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.splitlines()[-1])
    assert set(figures) == {"top1_accuracy", "top3_recall", "null_precision", "null_recall",
                            "confidently_wrong", "lines"}
    assert "top-1 accuracy (in scope)" in result.output


def test_ask_prints_entry_and_draft() -> None:
    result = CliRunner().invoke(cli, ["ask", "Comment financer un micro-projet au Togo avec notre petite asso ?"])
    assert result.exit_code == 0, result.output
    assert "entry: fin-amp-microprojets" in result.output
    assert "--- draft ---" in result.output and "Agence des Micro-Projets" in result.output
    assert "**" not in result.output  # as the requester reads it, not the Markdown staff edit
    staff_view = CliRunner().invoke(cli, ["ask", "--markdown", "Comment financer un micro-projet au Togo ?"])
    assert "**Agence des Micro-Projets (AMP)**" in staff_view.output


def test_ask_without_a_match_lists_the_best_candidates() -> None:
    result = CliRunner().invoke(cli, ["ask", "Pouvez-vous me prêter votre salle samedi pour un anniversaire ?"])
    assert result.exit_code == 0 and result.output.startswith("no match"), result.output
    shown = result.output.split("candidates: ", 1)[1].split(", ")
    best = result.output.split("best confidence ", 1)[1].split(")")[0]
    assert shown[0].endswith(best)  # the best candidate is listed first, not left out


def test_ask_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUICHET_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["ask", "Comment adhérer au réseau ?"])
    assert result.exit_code == 0, result.output
    assert "entry: acc-adhesion" in result.output
    assert list(tmp_path.iterdir()) == []  # no guichet.db: ask stores nothing


def test_run_with_no_channel_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUICHET_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 2
    assert ("nothing to run: no mailbox ([imap]), no Telegram bot ([telegram]) and no web desk ([web]) are "
            "configured") in result.output
    example = result.output.split("cp ", 1)[1].split()[0]
    assert Path(example).name == "guichet.example.toml" and Path(example).is_file()
    assert list(tmp_path.iterdir()) == []


def test_config_error_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "guichet.toml"
    bad.write_text('[imap]\nhost = "x"\nusername = "u"\nport = "993"\n')
    result = CliRunner().invoke(cli, ["--config", str(bad), "drafts", "list"], env={"GUICHET_IMAP_PASSWORD": "p"})
    assert result.exit_code == 2
    assert "config: imap.port: expected int, got '993'" in result.output


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    bad = tmp_path / "guichet.toml"
    bad.write_text('[smtp]\nhost = "smtp.example.org"\n')
    result = CliRunner().invoke(cli, ["--config", str(bad), "doctor"], env={"GUICHET_SMTP_PASSWORD": ""})
    assert result.exit_code == 2
    assert "smtp.password: environment variable GUICHET_SMTP_PASSWORD is not set" in result.output
