"""Provider keys: read only from the environment (or a file the environment names), never stored.

`scrub` removes key values (and anything shaped like a key) from text before it reaches a log,
the ai_usage ledger, Dagster metadata or an exception message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# "Bearer <token>", "api_key=<token>", "x-api-key: <token>", and common key prefixes (sk-, sk-ant-, AIza...)
_KEY_SHAPES = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|x-api-key|authorization|access[_-]?token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
    re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,})"),
    re.compile(r"\b(AIza[0-9A-Za-z_\-]{20,})"),
]
REDACTED = "[REDACTED]"


def read_secret(env_name: str) -> str | None:
    """The value of ``env_name``, or of the file named by ``<env_name>_FILE``; None when neither is set."""
    value = os.environ.get(env_name)
    if value:
        return value.strip()
    file_name = os.environ.get(f"{env_name}_FILE")
    if file_name:
        path = Path(file_name).expanduser()
        if path.is_file():
            return path.read_text().strip() or None
    return None


def known_secret_values(env_names: list[str | None]) -> list[str]:
    values = []
    for name in env_names:
        if name:
            value = read_secret(name)
            if value and len(value) >= 4:
                values.append(value)
    return values


def scrub(text: str | None, secret_values: list[str] | None = None, limit: int = 500) -> str | None:
    """Text safe to store or show: known key values and key-shaped tokens replaced, length bounded."""
    if text is None:
        return None
    for value in sorted(secret_values or [], key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for shape in _KEY_SHAPES:
        if shape.groups == 1 and shape.pattern.startswith(r"\b"):
            text = shape.sub(REDACTED, text)
        else:
            text = shape.sub(lambda m: m.group(1) + REDACTED, text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
