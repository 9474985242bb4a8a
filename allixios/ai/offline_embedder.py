"""The OFFLINE EMBEDDER: a deterministic stand-in for a real embedding model (no download, no key).

Feature hashing of word unigrams and bigrams (signed, sublinear tf), L2-normalised, so texts that
share words have high cosine similarity. It captures lexical overlap, not meaning: configure a
real model in config/models.yaml for semantic quality.
"""

from __future__ import annotations

import hashlib
import math
import re

OFFLINE_EMBEDDING_MODEL = "offline/hashing-384"
OFFLINE_EMBEDDING_DIMENSION = 384

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from has have how in is it its of on or that the this to was were what "
    "when where which who why will with your you our we they their".split()
)


def _features(text: str) -> dict[str, float]:
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    counts: dict[str, float] = {}
    for w in words:
        counts[w] = counts.get(w, 0.0) + 1.0
    for a, b in zip(words, words[1:], strict=False):
        key = f"{a} {b}"
        counts[key] = counts.get(key, 0.0) + 0.5
    return counts


def embed_text(text: str, dimension: int = OFFLINE_EMBEDDING_DIMENSION) -> list[float]:
    vec = [0.0] * dimension
    for feature, count in _features(text).items():
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimension
        sign = 1.0 if digest[4] & 1 else -1.0
        vec[index] += sign * (1.0 + math.log(count)) if count >= 1 else sign * count
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:
        # an empty text still needs a valid unit vector for cosine distance
        vec[0] = 1.0
        return vec
    return [v / norm for v in vec]


def embed_texts(texts: list[str], dimension: int = OFFLINE_EMBEDDING_DIMENSION) -> list[list[float]]:
    return [embed_text(t, dimension) for t in texts]
