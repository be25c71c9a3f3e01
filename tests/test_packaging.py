"""A regular install: the wheel carries the knowledge base, templates and example config."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from bot.config import REPO_ROOT

QUESTION = "Comment financer un micro-projet au Togo avec notre petite association ?"


def source_copy(dest: Path) -> Path:
    """What the build reads, copied (the links of bot/_data/ kept as links): a build in the work
    tree would leave build/ and egg-info behind."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md", "guichet.example.toml"):
        shutil.copy2(REPO_ROOT / name, dest / name)
    for folder in ("bot", "knowledge", "templates"):
        shutil.copytree(REPO_ROOT / folder, dest / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("build")
    source = source_copy(root / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(root / "dist"), str(source)],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    (built,) = (root / "dist").glob("guichet-*.whl")
    return built


def test_the_wheel_carries_the_shipped_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"bot/_data/{p.relative_to(REPO_ROOT)}" for folder in ("knowledge", "templates")
                for p in (REPO_ROOT / folder).rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert expected and expected <= names, sorted(expected - names)
    assert "bot/_data/guichet.example.toml" in names


@pytest.mark.slow
def test_installed_wheel_works_from_any_folder(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", str(wheel)], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)
    # The dependencies come from this environment (no download in a test); Guichet from the wheel.
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(purelib) / "borrowed-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def guichet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([venv / "bin" / "guichet", *args], cwd=elsewhere, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, stdin=subprocess.DEVNULL)

    where = subprocess.run([python, "-c", "import bot; print(bot.__file__)"], cwd=elsewhere, check=True,
                           capture_output=True, text=True).stdout
    assert where.startswith(str(venv)), where
    asked = guichet("ask", QUESTION)
    assert asked.returncode == 0, asked.stderr
    assert "entry: fin-amp-microprojets" in asked.stdout and "--- draft ---" in asked.stdout
    checked = guichet("kb", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr  # exit 0: no error in the shipped base
    assert list(elsewhere.iterdir()) == []  # nothing written where it ran
