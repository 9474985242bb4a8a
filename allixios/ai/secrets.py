"""Provider keys: read only from the environment (or a file the environment names), never stored.

`scrub` removes key values (and anything shaped like a key) from text before it reaches a log,
the ai_usage ledger, Dagster metadata or an exception message. A known key is found in any letter
case, base64 (standard and url-safe, at any byte alignment, so also inside the base64 of a longer
text such as an Authorization header), percent-encoding and hex, and so is any tail of it of
TAIL_MIN characters or more (providers echo "...abcd1234"-style key endings).
"""

from __future__ import annotations

import base64
import functools
import os
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

# "Bearer <token>", "api_key=<token>", "x-api-key: <token>", and common key prefixes (sk-, sk-ant-, AIza...)
_KEY_SHAPES = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|x-api-key|authorization|access[_-]?token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
    re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,})"),
    re.compile(r"\b(AIza[0-9A-Za-z_\-]{20,})"),
]
REDACTED = "[REDACTED]"
TAIL_MIN = 8  # a key's tail this long or longer is scrubbed too


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 text that encodes ``raw`` wherever it sits in a longer byte string (3 alignments)."""
    cores = set()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw).decode().rstrip("=")
            start = -(-shift * 8 // 6)  # first character made only of the key's bits
            end = (8 * (shift + len(raw))) // 6  # last character not mixed with what follows
            core = encoded[start:end]
            if len(core) >= TAIL_MIN:
                cores.add(core)
    return cores


@functools.lru_cache(maxsize=64)
def _key_pattern(value: str) -> re.Pattern:
    raw = value.encode()
    case_insensitive = {value, quote(value, safe=""), quote_plus(value), quote(quote(value, safe=""), safe=""), raw.hex()}
    case_insensitive |= {value[-n:] for n in range(TAIL_MIN, len(value))}  # tails
    exact = _base64_cores(raw)
    # longest first, so a whole key wins over one of its tails
    insensitive = "|".join(re.escape(f) for f in sorted(case_insensitive, key=len, reverse=True) if f)
    sensitive = "|".join(re.escape(f) for f in sorted(exact, key=len, reverse=True))
    parts = [f"(?i:{insensitive})"] + ([f"(?:{sensitive})"] if sensitive else [])
    return re.compile("|".join(parts))


def scrub_text(text: str | None, secret_values: list[str] | None = None) -> str | None:
    """``text`` with every known key value (in its common encodings, and its long tails) replaced;
    layout and length kept (for stored answers)."""
    if not text:
        return text
    for value in sorted(secret_values or [], key=len, reverse=True):
        if len(value) >= 4:
            text = _key_pattern(value).sub(REDACTED, text)
    return text


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
    text = scrub_text(text, secret_values)
    for shape in _KEY_SHAPES:
        if shape.groups == 1 and shape.pattern.startswith(r"\b"):
            text = shape.sub(REDACTED, text)
        else:
            text = shape.sub(lambda m: m.group(1) + REDACTED, text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
