"""Where a network's entries come from: the national pack, the network's overlay and its facts.

An overlay entry is merged onto the national entry of the same slug before it is validated: its
front-matter fields replace the national ones, its body (when it has one) replaces the answer,
and what it leaves out (typically ``questions`` and ``keywords``) is kept. Network facts are
substituted into the text first, so an entry is validated as the requester will read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import NetworkConfig
from ..errors import KnowledgeError
from . import _yaml_file, parse_post, read_post

NATIONAL = "national"
NETWORKS = "networks"
NETWORK_FILE = "network.yaml"
# Facts an overlay's network.yaml may give; a non-empty [network] key of the config wins.
FACTS = ("website", "email", "phone", "address", "booking_url", "membership_url")
VARIABLES = ("name", *FACTS, "office_hours")
_VARIABLE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass
class Raw:
    """One entry file's front matter and body, before validation (merged for an overlay)."""

    path: Path
    slug: str
    meta: dict[str, Any]
    body: str
    origin: str
    overrides: str = ""


@dataclass
class NetworkFile:
    """An overlay's ``network.yaml``: the network's public facts and the offers it does not make."""

    path: str = ""
    facts: dict[str, str] = field(default_factory=dict)
    # offer → words that promise it ("relecture de dossiers": [relire, relirons…])
    not_offered: dict[str, tuple[str, ...]] = field(default_factory=dict)


def overlays(root: Path) -> list[str]:
    """The networks that have an overlay under ``root``."""
    return sorted(p.name for p in (root / NETWORKS).glob("*") if p.is_dir())


def _read_dir(directory: Path, origin: str, errors: list[str], pending: Mapping[Path, str]) -> list[Raw]:
    raws: list[Raw] = []
    seen: dict[str, Path] = {}
    for path in sorted({*directory.glob("*.md"), *(p for p in pending if p.parent == directory)}):
        try:
            meta, body = parse_post(pending[path], str(path)) if path in pending else read_post(path)
        except KnowledgeError as exc:
            errors.append(str(exc))
            continue
        slug = str(meta.get("slug") or "").strip()
        if not slug:
            errors.append(f"{path}: slug: missing required field")
            continue
        if slug in seen:
            errors.append(f"{path}: slug: duplicate slug {slug!r} (also in {seen[slug]})")
            continue
        seen[slug] = path
        raws.append(Raw(path, slug, meta, body, origin))
    return raws


def read_network_file(directory: Path) -> NetworkFile:
    """``network.yaml`` of an overlay, validated; empty when there is none."""
    path = directory / NETWORK_FILE
    if not path.exists():
        return NetworkFile()
    data = _yaml_file(path) or {}
    name = str(path)
    if not isinstance(data, dict):
        raise KnowledgeError(name, "file", f"expected keys such as {', '.join(FACTS)}, not_offered")
    facts: dict[str, str] = {}
    not_offered: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        if key == "not_offered":
            if not isinstance(value, dict) or not all(
                    isinstance(words, list) and words and all(isinstance(w, str) and w.strip() for w in words)
                    for words in value.values()):
                raise KnowledgeError(name, "not_offered", "expected 'offer: [words that promise it]'")
            not_offered = {str(offer): tuple(w.strip() for w in words) for offer, words in value.items()}
        elif key in FACTS:
            if not isinstance(value, str) or not value.strip():
                raise KnowledgeError(name, str(key), "expected a non-empty text")
            facts[key] = value.strip()
        else:
            raise KnowledgeError(name, str(key), f"unknown key (known: {', '.join(FACTS)}, not_offered)")
    return NetworkFile(name, facts, not_offered)


def collect(root: Path, network: str, errors: list[str],
            pending: Mapping[Path, str] | None = None) -> tuple[list[Raw], NetworkFile]:
    """The entries a network reads under ``root`` (national + its overlay, or a flat folder);
    ``pending`` gives texts to read in place of the files at those paths (written or not yet)."""
    pending = pending or {}
    if not (root / NATIONAL).is_dir():
        return _read_dir(root, "", errors, pending), NetworkFile()
    errors.extend(f"{stray}: slug: read by no network: move it into {NATIONAL}/ or {NETWORKS}/<network>/"
                  for stray in sorted({*root.glob("*.md"), *(p for p in pending if p.parent == root)}))
    merged = {raw.slug: raw for raw in _read_dir(root / NATIONAL, NATIONAL, errors, pending)}
    if not network:
        return list(merged.values()), NetworkFile()
    directory = root / NETWORKS / network
    if not directory.is_dir():
        known = ", ".join(overlays(root)) or "none"
        errors.append(f"{root}: network.knowledge: no overlay {network!r} in {root / NETWORKS} (known: {known})")
        return list(merged.values()), NetworkFile()
    try:
        facts = read_network_file(directory)
    except KnowledgeError as exc:
        errors.append(str(exc))
        facts = NetworkFile()
    for raw in _read_dir(directory, network, errors, pending):
        base = merged.get(raw.slug)
        if base is not None:
            raw = Raw(raw.path, raw.slug, {**base.meta, **raw.meta}, raw.body or base.body, network, str(base.path))
        merged[raw.slug] = raw
    return list(merged.values()), facts


def own_dir(root: Path, network: str) -> Path:
    """Where a network's edits and new entries go: its overlay (the national pack when no overlay is
    chosen; a flat folder keeps its entries side by side)."""
    if not (root / NATIONAL).is_dir():
        return root
    return root / NETWORKS / network if network else root / NATIONAL


def national_under(raw: Raw) -> Raw | None:
    """The national entry under ``raw``: the same entry when it is national, the one an overlay entry
    replaces, None for the network's own entries and a flat folder's."""
    if raw.origin == NATIONAL:
        return raw
    if not raw.overrides:
        return None
    meta, body = read_post(Path(raw.overrides))
    return Raw(Path(raw.overrides), raw.slug, meta, body, NATIONAL)


def find(root: Path, network: str, slug: str) -> tuple[Raw | None, Raw | None]:
    """Entry ``slug`` as ``network`` reads it, before variables are filled in (an overlay entry merged
    onto the national one), and ``national_under`` it; (None, None) when there is no such entry."""
    raw = next((r for r in collect(root, network, [])[0] if r.slug == slug), None)
    return (raw, national_under(raw)) if raw is not None else (None, None)


def hours_fr(office_hours: str) -> str:
    """"09:00-17:30" as a French reader writes it ("de 9 h à 17 h 30"); "" when malformed."""
    match = _HOURS.match(office_hours or "")
    if not match:
        return ""
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return f"de {h1} h{f' {m1:02d}' if m1 else ''} à {h2} h{f' {m2:02d}' if m2 else ''}"


def network_values(network: NetworkConfig, facts: NetworkFile) -> dict[str, str]:
    """What ``{{ network.<key> }}`` stands for: the config's [network] key, else network.yaml."""
    values = {"name": network.name, "office_hours": hours_fr(network.office_hours)}
    for key in FACTS:
        values[key] = str(getattr(network, key) or facts.facts.get(key, ""))
    return values


def _substitute(text: str, values: dict[str, str], where: str, problems: list[tuple[str, str]]) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        name = expression.removeprefix("network.")
        if not expression.startswith("network.") or name not in VARIABLES:
            problems.append((where, f"unknown variable {{{{ {expression} }}}} "
                                    f"(known: {', '.join('network.' + v for v in VARIABLES)})"))
        elif not values.get(name):
            setting = "office_hours (HH:MM-HH:MM)" if name == "office_hours" else name
            problems.append((where, f"{{{{ network.{name} }}}} is used but the network has no {name}: set "
                                    f"[network] {setting} in the config or {name} in the overlay's {NETWORK_FILE}"))
        else:
            return values[name]
        return match.group(0)
    return _VARIABLE.sub(one, text)


def resolve(raw: Raw, values: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The entry's front matter and body with the network's facts written in; raises
    KnowledgeError naming the field of the first variable the network cannot fill."""
    problems: list[tuple[str, str]] = []
    meta = dict(raw.meta)
    body = _substitute(raw.body, values, "answer", problems)
    if isinstance(meta.get("answer_en"), str):
        meta["answer_en"] = _substitute(meta["answer_en"], values, "answer_en", problems)
    if isinstance(meta.get("links"), list):
        links = []
        for i, link in enumerate(meta["links"]):
            if isinstance(link, dict):
                link = {key: _substitute(value, values, f"links[{i}].{key}", problems)
                        if isinstance(value, str) else value for key, value in link.items()}
            links.append(link)
        meta["links"] = links
    if problems:
        raise KnowledgeError(str(raw.path), *problems[0])
    return meta, body
