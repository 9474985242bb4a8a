"""Envelope encryption for personal data (users' e-mail and name) and for server secrets.

Each value gets its own random data key (AES-256-GCM); the data key is wrapped with the key
encryption key (KEK) from the environment. The stored blob names the KEK it was wrapped with, so
keys rotate without re-encrypting data: put the new key first in ``ALLIXIOS_PII_KEYS`` (keep the
old ones after it), then `allixios users rekey` re-wraps every data key under the new KEK; drop the
old key afterwards. Lookups use a keyed hash (HMAC-SHA256 of the normalised e-mail) under a separate
index key (``ALLIXIOS_PII_INDEX_KEY``), so search never needs to decrypt.

``ALLIXIOS_PII_KEYS`` is ``id:base64key[,id:base64key...]`` (32-byte keys). With it unset, a key is
generated once into ``$ALLIXIOS_HOME/pii.keys`` (mode 0600) for local development.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from allixios.errors import ConfigError

KEYS_ENV = "ALLIXIOS_PII_KEYS"
INDEX_KEY_ENV = "ALLIXIOS_PII_INDEX_KEY"
_MAGIC = b"AX1"
_lock = threading.Lock()


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]
    index_key: bytes


_cached: tuple[tuple[str | None, str | None], Keyring] | None = None


def _parse(text: str, source: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        kid, sep, b64 = part.partition(":")
        try:
            raw = base64.b64decode(b64, validate=True) if sep else b""
        except ValueError:
            raw = b""
        if not kid or len(raw) != 32 or len(kid.encode()) > 32:
            raise ConfigError(f"{source} has a malformed key entry", fix="use id:BASE64 with a 32-byte key, e.g. "
                              "`python -c 'import os,base64;print(\"k1:\"+base64.b64encode(os.urandom(32)).decode())'`")
        keys[kid] = raw
    if not keys:
        raise ConfigError(f"{source} holds no key", fix="set it to id:BASE64 (32-byte key)")
    return keys


def _dev_keys() -> str:
    from allixios import settings

    path = settings.home() / "pii.keys"
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            line = "dev1:" + base64.b64encode(os.urandom(32)).decode() + "\n"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(line)
        return path.read_text().strip()


def keyring() -> Keyring:
    global _cached
    env = (os.environ.get(KEYS_ENV), os.environ.get(INDEX_KEY_ENV))
    if _cached and _cached[0] == env:
        return _cached[1]
    text = env[0] or _dev_keys()
    keys = _parse(text, KEYS_ENV if env[0] else "the development key file")
    current = next(iter(keys))
    if env[1]:
        index = _parse(env[1] if ":" in env[1] else f"i:{env[1]}", INDEX_KEY_ENV)
        index_key = next(iter(index.values()))
    else:  # derived from the oldest key given: stays stable while newer keys are put in front
        index_key = hmac.new(list(keys.values())[-1], b"allixios pii index", hashlib.sha256).digest()
    ring = Keyring(current, keys, index_key)
    _cached = (env, ring)
    return ring


def encrypt(plain: str | bytes, context: bytes = b"") -> bytes:
    """blob = AX1 | len(kid) | kid | nonce(12) | wrapped data key(48) | nonce(12) | ciphertext."""
    ring = keyring()
    data = plain.encode() if isinstance(plain, str) else plain
    dek = AESGCM.generate_key(bit_length=256)
    n1, n2 = os.urandom(12), os.urandom(12)
    wrapped = AESGCM(ring.keys[ring.current_id]).encrypt(n1, dek, _MAGIC)
    body = AESGCM(dek).encrypt(n2, data, context)
    kid = ring.current_id.encode()
    return _MAGIC + struct.pack("B", len(kid)) + kid + n1 + wrapped + n2 + body


def _split(blob: bytes) -> tuple[str, bytes, bytes, bytes, bytes]:
    if not blob.startswith(_MAGIC):
        raise ConfigError("an encrypted value has an unknown format", fix="re-write it with this version of Allixios")
    n = blob[3]
    kid = blob[4:4 + n].decode()
    rest = blob[4 + n:]
    return kid, rest[:12], rest[12:60], rest[60:72], rest[72:]


def _unwrap(kid: str, n1: bytes, wrapped: bytes) -> bytes:
    ring = keyring()
    if kid not in ring.keys:
        raise ConfigError(f"personal data is encrypted with key {kid!r}, which is not configured",
                          fix=f"add {kid}:... back to {KEYS_ENV} (keep old keys until `allixios users rekey` ran)")
    return AESGCM(ring.keys[kid]).decrypt(n1, wrapped, _MAGIC)


def decrypt(blob: bytes | memoryview | None, context: bytes = b"") -> str | None:
    if blob is None:
        return None
    kid, n1, wrapped, n2, body = _split(bytes(blob))
    return AESGCM(_unwrap(kid, n1, wrapped)).decrypt(n2, body, context).decode()


def rewrap(blob: bytes | memoryview) -> bytes:
    """The same ciphertext with its data key wrapped under the current KEK (rotation; data untouched)."""
    kid, n1, wrapped, n2, body = _split(bytes(blob))
    ring = keyring()
    if kid == ring.current_id:
        return bytes(blob)
    dek = _unwrap(kid, n1, wrapped)
    n1 = os.urandom(12)
    new_kid = ring.current_id.encode()
    return (_MAGIC + struct.pack("B", len(new_kid)) + new_kid + n1
            + AESGCM(ring.keys[ring.current_id]).encrypt(n1, dek, _MAGIC) + n2 + body)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> bytes:
    return hmac.new(keyring().index_key, normalise_email(email).encode(), hashlib.sha256).digest()


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
