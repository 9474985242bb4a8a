"""What a tenant's site looks like and where it lives: branding, base URL, language, theme folder.

Branding comes from the seed's tenant columns (``logo_url``, ``primary_color``, ``secondary_color``,
``custom_domain``); the rest from ``tenants.settings["site"]`` (keys below), all optional.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from allixios import settings
from allixios.errors import ConfigError
from allixios.tenants import Tenant

BASE_URL_ENV = "ALLIXIOS_SITE_BASE_URL"
DEFAULT_PORT = 4500
SITE_KEYS = ("base_url", "language", "per_page", "keep_releases", "theme_dir", "media_dir", "tagline")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_SECONDARY = "#f4f6f8"


@dataclass(frozen=True)
class SiteConfig:
    tenant_id: object
    tenant_slug: str
    name: str
    base_url: str  # absolute, no trailing slash
    language: str = "en"
    per_page: int = 20
    keep_releases: int = 5
    tagline: str = ""
    logo_url: str | None = None
    primary_color: str = DEFAULT_PRIMARY
    secondary_color: str = DEFAULT_SECONDARY
    theme_dir: Path | None = None
    media_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def on_primary(self) -> str:
        """Text colour on the primary colour: whichever of black/white contrasts more (WCAG)."""
        return _readable_on(self.primary_color)

    def fingerprint(self) -> str:
        """Hash of everything that shows on every page (a change re-renders every page)."""
        parts = [self.name, self.base_url, self.language, self.tagline, self.logo_url or "", self.primary_color,
                 self.secondary_color, str(self.per_page)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _readable_on(background: str) -> str:
    return "#ffffff" if contrast(background, "#ffffff") >= contrast(background, "#111111") else "#111111"


def _colour(value: str | None, default: str, what: str, warnings: list[str]) -> str:
    if not value:
        return default
    if not _HEX.match(value.strip()):
        warnings.append(f"tenant {what} {value!r} is not a #rgb/#rrggbb colour; using {default}")
        return default
    return value.strip()


def normalise_base_url(value: str) -> str:
    value = value.strip()
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"site base URL {value!r} is not an http(s) URL",
                          fix="set tenants.custom_domain to a host name or settings.site.base_url to https://host[/path]")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _base_url(custom_domain: str | None, site: dict) -> str:
    if custom_domain:
        return normalise_base_url(custom_domain)
    if site.get("base_url"):
        return normalise_base_url(str(site["base_url"]))
    if os.environ.get(BASE_URL_ENV):
        return normalise_base_url(os.environ[BASE_URL_ENV])
    return f"http://127.0.0.1:{DEFAULT_PORT}"


def site_base_url(tenant: Tenant, conn: psycopg.Connection | None = None) -> str:
    """The absolute base of the tenant's canonical URLs (no trailing slash): its custom domain, else
    settings.site.base_url, else $ALLIXIOS_SITE_BASE_URL, else the local `allixios site serve` address.
    Opens its own connection when ``conn`` is not given."""
    if conn is not None:
        return load_config(conn, tenant).base_url
    from allixios.db.engine import connect

    with connect() as own:
        return load_config(own, tenant).base_url


def site_host(conn: psycopg.Connection, tenant: Tenant) -> str:
    """The host of the tenant's site, so scoring counts absolute links to it as internal; empty when
    the site configuration is unusable (the site build reports that; scoring does not depend on it).
    The one helper every scorer of a tenant's text uses (pipeline, editor, revision loop)."""
    try:
        return urlsplit(site_base_url(tenant, conn)).hostname or ""
    except ConfigError:
        return ""


def _positive(site: dict, key: str, default: int) -> int:
    value = site.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"settings.site.{key} is {value!r}", fix=f"set it to a positive whole number (default {default})")
    return value


def load_config(conn: psycopg.Connection, tenant: Tenant, *, base_url: str | None = None) -> SiteConfig:
    row = conn.execute(
        "SELECT name, logo_url, primary_color, secondary_color, custom_domain, settings FROM tenants WHERE id = %s",
        (tenant.id,),
    ).fetchone()
    name, logo, primary, secondary, domain, tenant_settings = row
    site = dict((tenant_settings or {}).get("site") or {})
    unknown = set(site) - set(SITE_KEYS)
    if unknown:
        raise ConfigError(f"unknown settings.site key(s): {', '.join(sorted(unknown))}",
                          fix=f"use only {', '.join(SITE_KEYS)}")
    warnings: list[str] = []
    theme = Path(site["theme_dir"]).expanduser() if site.get("theme_dir") else settings.home() / "themes" / tenant.slug
    media = Path(site["media_dir"]).expanduser() if site.get("media_dir") else settings.landing_dir("media") / tenant.slug
    if logo and not (logo.startswith("https://") or logo.startswith("/")):
        warnings.append(f"tenant logo_url {logo!r} is neither https:// nor site-relative; not shown")
        logo = None
    return SiteConfig(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        name=name,
        base_url=normalise_base_url(base_url) if base_url else _base_url(domain, site),
        language=str(site.get("language") or "en"),
        per_page=_positive(site, "per_page", 20),
        keep_releases=_positive(site, "keep_releases", 5),
        tagline=str(site.get("tagline") or ""),
        logo_url=logo,
        primary_color=_colour(primary, DEFAULT_PRIMARY, "primary_color", warnings),
        secondary_color=_colour(secondary, DEFAULT_SECONDARY, "secondary_color", warnings),
        theme_dir=theme if theme.is_dir() else None,
        media_dir=media,
        warnings=warnings,
    )


def sites_root() -> Path:
    return settings.home() / "sites"


def site_dir(tenant_slug: str) -> Path:
    return sites_root() / tenant_slug


def media_store(tenant_slug: str) -> Path:
    """Where optimised image files live (content-hashed names), copied into each release's /media/."""
    return settings.home() / "media" / tenant_slug
