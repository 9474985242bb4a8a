"""The stand-in marker: which stored articles were written by an offline stand-in, not a real model.

``articles.metadata.stand_in`` (migration 019) is set when the current text comes from an offline
chat stand-in (``offline/writer`` and friends, served by the offline litellm provider) and removed
when a real model rewrites it. The site, the API (``stand_in`` on article responses) and the marts
(``dim_articles.is_stand_in``) read it; nothing infers it from prose. Local REAL models served by
the same provider (the MiniLM embedder) are not stand-ins and never write text.
"""

from __future__ import annotations

# the chat models the offline provider answers with allixios.content.offline_writer
STAND_IN_CHAT_MODELS = frozenset({"offline/writer", "offline/researcher", "offline/judge"})


def is_stand_in_model(model: str | None) -> bool:
    return (model or "") in STAND_IN_CHAT_MODELS


def marker(model: str | None, version: int | None = None) -> dict | None:
    """The ``stand_in`` value for text written by ``model`` (None: a real model wrote it)."""
    if not is_stand_in_model(model):
        return None
    out: dict = {"writer": "offline", "model": model}
    if version is not None:
        out["version"] = version
    return out
