"""Vectors of knowledge texts, cached by content: a restart re-embeds nothing, an edit only itself.

Each text's vector is stored under a hash of the text, in one file per embedder
(``<embedder name>.npz``). Three places are read, in order: the vectors shipped with
the package for the shipped knowledge base (so ``guichet ask`` embeds only the question),
the cache file the running service keeps (``matcher.cache_dir``, by default beside the
database), and the embedder itself for what neither holds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .embed import Embedder, Vectors

SHIPPED = Path(__file__).resolve().parent / "vectors"


def text_key(text: str) -> str:
    """The cache key of a text: a hash of its exact content."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def _read(path: Path) -> dict[str, Vectors]:
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except (OSError, KeyError, ValueError):
        return {}  # missing or damaged: the texts are embedded again and the file rewritten
    return {str(k): v.astype(np.float32) for k, v in zip(keys, vectors, strict=True)}


def _rounded(vectors: Vectors) -> Vectors:
    # Stored in float16 (half the size); fresh vectors get the same rounding, so a result never
    # depends on whether a vector came from the cache or from the model.
    return np.asarray(vectors, dtype=np.float16).astype(np.float32)


class VectorCache:
    """Vectors by text for one embedder; ``path`` None keeps new ones in memory only."""

    def __init__(self, embedder: Embedder, path: Path | None = None, shipped: Path | None = SHIPPED) -> None:
        self.embedder = embedder
        self.path = path / f"{embedder.name}.npz" if path is not None else None
        self._known: dict[str, Vectors] = {}
        for source in (shipped / f"{embedder.name}.npz" if shipped else None, self.path):
            if source is not None and source.exists():
                self._known.update(_read(source))
        self._used: set[str] = set()
        self.embedded = 0  # how many texts this cache had to embed (for tests and the log)
        self._dirty = False
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str]) -> Vectors:
        """One row per text; the texts not cached yet are embedded in one batch."""
        keys = [text_key(t) for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in self._known))
            if missing:
                fresh = _rounded(self.embedder.embed(missing))
                for text, vector in zip(missing, fresh, strict=True):
                    self._known[text_key(text)] = vector
                self.embedded += len(missing)
                self._dirty = True
            self._used.update(keys)
            if not keys:
                return np.zeros((0, self.embedder.dim), dtype=np.float32)
            return np.stack([self._known[k] for k in keys])

    def save(self) -> None:
        """Write the vectors used since start (stale ones are dropped) if anything new was embedded."""
        if self.path is None or not self._dirty:
            return
        with self._lock:
            keys = sorted(self._used)
            vectors = np.stack([self._known[k] for k in keys]).astype(np.float16) if keys else np.zeros((0, 0))
            self._dirty = False
        write_npz(self.path, keys=np.array(keys), vectors=vectors)


def write_npz(path: Path, **arrays: npt.ArrayLike) -> None:
    """Save arrays to ``path`` atomically: written beside, then renamed, so a crash or a second
    process never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
