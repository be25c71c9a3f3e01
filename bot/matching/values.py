"""The values the matcher takes and gives: a message's evidence, its answer, a labelled message."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .embed import Vectors

Floats = npt.NDArray[np.float64]
# How an out-of-scope family's key begins ("~offre-commerciale"); entries' keys are their slugs.
OUT_OF_SCOPE = "~"


@dataclass(frozen=True)
class Candidate:
    slug: str
    confidence: float


@dataclass(frozen=True)
class Match:
    """The matcher's answer: ``slug`` is None when it abstains."""

    slug: str | None
    confidence: float
    candidates: tuple[Candidate, ...] = ()
    language: str = "fr"
    others: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Learned:
    """A message staff labelled: with an entry's ``slug``, or None for "not for the base"."""

    slug: str | None
    text: str
    id: int | None = None
    vector: Vectors | None = None


@dataclass(frozen=True)
class Evidence:
    """The features of every key for one message (rows in the order of ``keys``)."""

    keys: tuple[str, ...]
    features: Floats
    out_of_scope: npt.NDArray[np.bool_]
