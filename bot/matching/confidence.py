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
    "lead",               # lexical and fuzzy evidence (0.7/0.3) minus the best other key's
    "cosine_gap",         # best cosine to the key's curated texts, minus the best over all keys
    "classifier",         # log-probability the classifier gives the key
    "learned_near",       # from 0 to 1 as the message becomes the same as one staff labelled with the key
    "learned_words",      # share of the message's words and pairs no curated text has that its labelled messages have
    "out_of_scope",       # 1 for an out-of-scope family (a prior for abstaining)
    "out_of_scope_chat",  # the same, on chat (Telegram) messages: short and informal, calibrated apart
    "learned_words_found",  # 0.5 for each of those words or pairs, up to 1 (a name and its pair say as much as five)
    "classifier_lead",    # the classifier's log-probability minus the best other key's, from -3 to 3, divided by 3
    "commerce",           # on out-of-scope families, how commercial the message's wording is (commerce.py), 0 to 1
    "silent",             # on out-of-scope families, 1 when the message asks nothing (asks.py): an announcement
)
# Cosines from which a labelled message counts as the same one again (a monthly newsletter, a
# sender writing twice, a template): from NEAR_FROM (nothing) to NEAR_TO (certain). Below, e5
# cannot tell a paraphrase of a question about the same entry from one about its neighbour: on
# our questions, the nearest labelled message has the right entry about half the time.
NEAR_FROM = 0.95
NEAR_TO = 0.99
# Fitted by scripts/calibrate.py (see the README for the figures): with the semantic layer, and
# for the lexical matcher alone (no embedder can load, or matcher.embedder = "none").
WEIGHTS = {
    "semantic": (4.85, 3.18, 1.21, -7.33, 9.62, 0.54, 1.19, 15.00, 1.76, 2.63, -0.84, 4.33, 0.40, 2.41, 3.23),
    "lexical": (7.50, 8.08, 1.59, -11.72, 15.61, 0.00, 0.00, 0.00, 2.77, 1.70, -0.32, 8.69, 0.00, 2.34, 4.44),
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


def best_other(values: Floats) -> Floats:
    """For each key, the best value among the other keys (0 when there is no other)."""
    first, second = np.sort(values)[::-1][:2] if len(values) > 1 else (values.max(), 0.0)
    out: Floats = np.where(values == first, second, first)
    return out
