"""From evidence to a calibrated confidence: one conditional-logit model over every key.

Each key (an entry, or an out-of-scope family) gets a row of features; the probability that
key ``k`` is the right one is ``softmax(features @ weights)[k]``, over all keys. The chance
that the message is out of scope is the sum over the out-of-scope families. The weights are
fitted by ``scripts/calibrate.py`` by maximum likelihood on our own labelled questions
(``tests/data/``), so a confidence of 0.8 means "right about 8 times in 10" on such messages.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

FEATURES = (
    "lexical",            # BM25F score over title, keywords, example questions, answer, learned messages
    "similarity",         # fuzzy similarity to the nearest example question
    "coverage",           # share of the message's information the entry's words explain
    "matched",            # 1 when the key shares a word with the message (among the 12 best)
    "cosine_gap",         # best cosine to the key's curated texts, minus the best over all keys
    "classifier",         # log-probability the classifier gives the key
    "learned",            # how much closer the message is to one staff labelled with the key than to
                          # any curated text (0 when it is farther by LEARNED_BELOW or more)
    "learned_near",       # 1 when the message is nearly the same as one staff labelled with the key
    "learned_lexical",    # the same in words (BM25 over the labelled messages)
    "out_of_scope",       # 1 for an out-of-scope family (a prior for abstaining)
    "out_of_scope_chat",  # the same, on chat (Telegram) messages: short and informal, calibrated apart
)
# A learned message counts when its cosine to the new one is at most this much below the best
# curated text's, and counts no more beyond LEARNED_ABOVE (e5's cosines are all high: unrelated
# French sentences score about 0.8, paraphrases 0.9).
LEARNED_BELOW = 0.15
LEARNED_ABOVE = 0.1
# Cosines from which a labelled message counts as the same one again (a monthly newsletter, a
# sender writing twice, a template): from NEAR_FROM (nothing) to NEAR_TO (certain).
NEAR_FROM = 0.95
NEAR_TO = 0.99
# Fitted by scripts/calibrate.py (see the README for the figures): with the semantic layer, and
# for the lexical matcher alone (no embedder can load, or matcher.embedder = "none").
WEIGHTS = {
    "semantic": (7.17, 0.98, 3.50, -2.82, -0.93, 0.90, -0.88, 10.79, 1.74, -0.24, 0.82),
    "lexical": (12.40, 7.97, 4.62, -6.98, 0.00, 0.00, 0.00, 0.00, 7.90, 1.01, 0.04),
}


def probabilities(features: Floats, weights: tuple[float, ...]) -> Floats:
    """The probability of each key (rows of ``features``) being the right one; sums to 1."""
    logits: Floats = features @ np.asarray(weights, dtype=np.float64)
    exp: Floats = np.exp(logits - logits.max())
    out: Floats = exp / exp.sum()
    return out


def near_evidence(learned: Floats) -> Floats:
    """Per key, from 0 to 1 as its closest labelled message becomes the same message."""
    return np.clip((learned - NEAR_FROM) / (NEAR_TO - NEAR_FROM), 0.0, 1.0)


def learned_evidence(learned: Floats, curated_best: float) -> Floats:
    """Per key, from 0 (learned messages far, or none) to 1 (far closer than any curated text)."""
    gap = np.clip(learned - curated_best, -LEARNED_BELOW, LEARNED_ABOVE)
    return (gap + LEARNED_BELOW) / (LEARNED_BELOW + LEARNED_ABOVE)
