"""``guichet kb check``'s findings in plain French for the web desk: which field, what to do, no parser
wording. Errors stop a save; warnings (a source read long ago, a call with no end…) are shown beside
the entry and as short badges in the list."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ...errors import KnowledgeError
from ...knowledge.layout import NETWORK_FILE, VARIABLES

LABELS = {"slug": "Code de la fiche", "category": "Catégorie", "title": "Titre", "questions": "Questions types",
          "keywords": "Mots-clés", "links": "Liens", "sources": "Sources", "valid_from": "Ouvert le",
          "valid_until": "Clos le", "ended": "Dispositif terminé", "replaced_by": "Remplacé par",
          "reviewed": "Relue le", "answer": "Réponse", "answer_en": "Réponse en anglais",
          "title_en": "Titre en anglais", "front matter": "En-tête", "file": "Fichier",
          "network.knowledge": "Surcouche du réseau"}
# What the network lacks, as "le réseau n'a pas …" ends.
FACTS = {"name": "de nom", "website": "de site web", "email": "d'adresse de courriel",
         "phone": "de numéro de téléphone", "address": "d'adresse postale",
         "booking_url": "de lien de prise de rendez-vous", "membership_url": "de page d'adhésion",
         "office_hours": "d'horaires d'ouverture (HH:MM-HH:MM)"}
KNOWN = ", ".join(f"{{{{ network.{v} }}}}" for v in VARIABLES)
SOURCE_LINE = "une par ligne : titre | adresse | date de lecture AAAA-MM-JJ"
# Matched against "field: problem"; the first that matches gives the advice.
PROBLEMS = (
    (r"missing required field", "à remplir"),
    (r"at least one is required", "il en faut au moins une"),
    (r"expected a list of non-empty texts", "une par ligne, sans ligne vide"),
    (r"use lowercase letters", "lettres minuscules sans accent, chiffres et tirets seulement "
                               "(par exemple fin-micro-projets)"),
    (r"unknown category", "choisissez une catégorie de la liste"),
    (r"^sources.*malformed link", f"l'adresse doit commencer par https:// ({SOURCE_LINE})"),
    (r"malformed link", "l'adresse doit commencer par https:// (une par ligne : titre | adresse)"),
    (r"the date the page was read", f"indiquez le jour où la page a été lue ({SOURCE_LINE})"),
    (r"^sources.*(expected|unknown field)", SOURCE_LINE),
    (r"not a date", "une date au format AAAA-MM-JJ"),
    (r"is before valid_from", "la date de clôture est avant la date d'ouverture"),
    (r"empty answer", "la réponse est vide"),
    (r"duplicate slug", "ce code est déjà celui d'une autre fiche"),
    (r"unknown variable (?P<variable>\{\{.*?\}\})",
     f"variable inconnue {{variable}} ; les variables possibles sont {KNOWN.replace('{', '{{').replace('}', '}}')}"),
    (r"\{\{ network\.(?P<name>\w+) \}\} is used but the network has no",
     "{{{{ network.{name} }}}} est utilisée mais le réseau n'a pas {fact} : renseignez {name} dans la section "
     f"[network] de guichet.toml ou dans le {NETWORK_FILE} de sa surcouche"),
    (r"no entry '(?P<slug>[^']+)' for this network", "aucune fiche « {slug} » pour ce réseau : choisissez une fiche "
                                                     "de la liste"),
    (r"only an ended scheme is replaced", "seul un dispositif terminé est remplacé : cochez « Dispositif terminé »"),
    (r"an entry cannot replace itself", "une fiche ne se remplace pas elle-même"),
    (r"expected true or false", "oui ou non"),
    (r"read by no network", "ce fichier n'est lu par aucun réseau : rangez-le dans national/ ou networks/<réseau>/"),
    (r"not valid YAML", "illisible (l'en-tête n'est pas du YAML valide) : faites vérifier le fichier avec "
                        "guichet kb check"),
    (r"unknown (field|key)", "champ inconnu"),
)


def _label(field_name: str) -> str:
    name = field_name if field_name in LABELS else field_name.split("[")[0].split(".")[0]
    return LABELS.get(name, name)


def plain(exc: KnowledgeError) -> str:
    """A ``kb check`` error in plain French: the field's label, then what to do."""
    problem = str(exc).removeprefix(f"{exc.path}: {exc.field}: ")
    for pattern, french in PROBLEMS:
        match = re.search(pattern, f"{exc.field}: {problem}")
        if match:
            words = match.groupdict()
            words["fact"] = FACTS.get(words.get("name") or "", "de cette information")
            return f"{_label(exc.field)} : {french.format(**words)}."
    return f"{_label(exc.field)} : {problem}."


@dataclass(frozen=True)
class Finding:
    """A ``kb check`` warning about one entry: a badge for the list, a sentence for the entry's page."""

    short: str
    text: str


def _day(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")


def _quoted(python_repr: str) -> str:
    return f"« {python_repr[1:-1]} »"


WARNINGS = (
    (r"^valid_until: past \((?P<date>[\d-]+)\)", "appel clos le {date}",
     "Clos le : l'appel est clos depuis le {date} ; les brouillons le disent fermé. Mettez à jour les dates si "
     "une nouvelle édition est ouverte."),
    (r"^valid_until: a call", "appel sans date de clôture",
     "Clos le : c'est un appel (date d'ouverture remplie) sans date de clôture ; les brouillons ne diront jamais "
     "qu'il est clos."),
    (r"^reviewed: no review date", "jamais relue", "Relue le : aucune date de relecture."),
    (r"^reviewed: not reviewed for over a year \((?P<date>[\d-]+)\)", "pas relue depuis le {date}",
     "Relue le : pas relue depuis plus d'un an (le {date})."),
    (r"^sources\[\d+\]\.checked: read over a year ago \((?P<date>[\d-]+)\); re-check (?P<url>\S+)",
     "source à revérifier",
     "Sources : {url} a été lue il y a plus d'un an (le {date}) ; relisez la page, corrigez la réponse s'il le "
     "faut et mettez la date de lecture à jour."),
    (r"^sources: none, but the answer states .*\((?P<quote>.*)\)$", "sans source",
     "Sources : aucune, alors que la réponse donne des montants, des âges, des durées ou des dates ({quote}) ; "
     "indiquez la page d'où ils viennent."),
    (r"^(?P<field>answer|answer_en): quotes a year-stamped figure \((?P<quote>.*?)\);", "chiffre daté",
     "{field} : cite un chiffre d'activité daté ({quote}) ; ces chiffres vieillissent mal et surprennent la "
     "personne qui demande de l'aide."),
    (r"^answer: promises (?P<offer>'[^']*'|\"[^\"]*\") \((?P<word>'[^']*'|\"[^\"]*\")\)", "promesse non tenue",
     "Réponse : promet {offer} ({word}), ce que le réseau ne propose pas ; retirez la promesse."),
)


def finding(warning: str) -> Finding:
    """One warning of ``kb check`` about an entry, without the file's path (``field: problem``)."""
    for pattern, short, text in WARNINGS:
        match = re.search(pattern, warning)
        if match:
            words = {k: v for k, v in match.groupdict().items() if v is not None}
            for key, value in words.items():
                words[key] = (_day(value) if key == "date" else _quoted(value) if key in ("quote", "offer", "word")
                              else _label(value) if key == "field" else value)
            return Finding(short.format(**words), text.format(**words))
    field_name, _, problem = warning.partition(": ")
    return Finding("à revoir", f"{_label(field_name)} : {problem}")
