"""Remote publishing targets behind one small interface: WordPress sites and CDN purge APIs.

A target is built from its row in ``publishing_targets`` (``config`` holds URLs, user names and the
names of the environment variables holding secrets). It never touches the database: the caller
(`allixios.publishing.publications`) decides what to send, records the outcome and retries.

Every failure is a ``TargetError`` whose message is one line, already scrubbed of the target's
secrets, and says what to fix; nothing a target raises carries a credential.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from allixios.ai.secrets import known_secret_values, scrub

KINDS = ("wordpress", "cdn")


class TargetError(Exception):
    """A target refused or could not be reached. ``message`` is scrubbed and names the fix."""

    def __init__(self, message: str, *, fix: str | None = None, retryable: bool = True):
        self.message = " ".join(message.split())
        self.fix = fix
        self.retryable = retryable
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} — fix: {self.fix}" if self.fix else self.message


@dataclass(frozen=True)
class Image:
    """A featured image to upload: bytes from a local file, with its checksum and type."""

    path: Path
    filename: str
    mime: str
    sha256: str
    alt: str


@dataclass(frozen=True)
class LiveArticle:
    """The LIVE version of an article (the `article_versions` row at `published_version_number`)."""

    article_id: UUID
    tenant_id: UUID
    version_number: int
    title: str
    slug: str
    body_markdown: str
    excerpt: str | None
    meta_title: str | None
    meta_description: str | None
    tags: list[str]
    category: str | None
    featured_image_url: str | None
    published_at: datetime | None
    content_hash: str
    stand_in: bool = False  # written by the offline stand-in writer: targets must say so
    known_slugs: list[str] = field(default_factory=list)  # every slug it had (finds a post whose id was lost)
    image: Image | None = None


@dataclass(frozen=True)
class Delivery:
    """What a target did: its id and URL for the item, and how many remote writes that took."""

    remote_id: str | None
    remote_url: str | None
    writes: int
    remote_meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class ArticleTarget(Protocol):
    """A target that holds a copy of each live article (WordPress)."""

    name: str

    def payload_hash(self, article: LiveArticle) -> str:
        """Hash of everything this target would be sent for ``article`` (equal hash: no remote write)."""

    def publish(self, article: LiveArticle, remote_id: str | None, remote_meta: dict[str, Any]) -> Delivery:
        """Create or update the remote copy (``remote_id`` None: find it by slug, else create it)."""

    def unpublish(self, article: LiveArticle, remote_id: str | None) -> Delivery:
        """Take the remote copy down."""


class PurgeTarget(Protocol):
    """A target that drops cached copies of URLs (a CDN)."""

    name: str

    def purge(self, urls: list[str]) -> int:
        """Purge ``urls``; returns the number of requests made. Raises PartialPurge when some batches failed."""


class SecretNames:
    """Secrets of a target, read from the environment by NAME at call time and scrubbed from errors."""

    def __init__(self, target_name: str, env_names: list[str | None], basic_user: str | None = None):
        self.target_name = target_name
        self.env_names = [n for n in env_names if n]
        self.basic_user = basic_user

    def require(self, env_name: str | None, what: str) -> str:
        from allixios.ai.secrets import read_secret

        value = read_secret(env_name) if env_name else None
        if not value:
            raise TargetError(
                f"target {self.target_name!r}: {what} is not set (environment variable {env_name or '(none)'})",
                fix=f"export {env_name or 'the variable'}=... in the environment that runs Allixios "
                "(the secret is read from the environment, never stored)",
            )
        return value

    def values(self) -> list[str]:
        """Every known form of the secrets: raw, the Basic-auth header value, base64, upper/lower case."""
        out: list[str] = []
        for raw in known_secret_values(self.env_names):
            forms = {raw, raw.replace(" ", ""), raw.upper(), raw.lower(), base64.b64encode(raw.encode()).decode()}
            if self.basic_user is not None:
                forms.add(base64.b64encode(f"{self.basic_user}:{raw}".encode()).decode())
            out.extend(f for f in forms if len(f) >= 4)
        return out

    def scrub(self, text: str | None, limit: int = 400) -> str:
        return scrub(text or "", self.values(), limit=limit) or ""


def build_target(name: str, kind: str, config: dict[str, Any]):
    """The target object for a ``publishing_targets`` row."""
    if kind == "wordpress":
        from allixios.publishing.targets.wordpress import WordPressTarget

        return WordPressTarget(name, config)
    if kind == "cdn":
        from allixios.publishing.targets.cdn import CdnTarget

        return CdnTarget(name, config)
    raise TargetError(f"unknown target kind {kind!r}", fix=f"use one of {', '.join(KINDS)}", retryable=False)
