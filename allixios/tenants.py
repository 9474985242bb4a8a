"""Tenants and niches: who owns content, and the niche catalogue that drives content partitions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.errors import NotFoundError, ValidationError

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")

# Per-tenant quality bars (the seed's: body >= 1000 chars, quality > 80, SEO > 70) and other knobs;
# any of them can be overridden in tenants.settings.
DEFAULT_SETTINGS: dict[str, Any] = {
    "min_body_chars": 1000,
    "min_quality": 80,
    "min_seo": 70,
    # None = the embedding model's calibrated similarity.topic_duplicate (config/models.yaml)
    "duplicate_similarity": None,
    "refresh_cooldown_days": 7,
    # business alerts (allixios/automation/business_alerts.py): non-critical alerts wait out the
    # quiet hours ("22:00-07:00" in alert_timezone); e-mail goes to alert_emails
    "alert_quiet_hours": None,
    "alert_timezone": "UTC",
    "alert_emails": [],
    # internal links Allixios may add to one article on its own (allixios/content/link_apply.py):
    # 0 = off; a per-niche override {niche_slug: cap} wins over the tenant's cap
    "auto_link_cap": 0,
    "auto_link_cap_by_niche": {},
    # competitors fetched over HTTP (allixios/automation/competitor_fetch.py): {niche_slug: [sitemap URLs]},
    # at most one request per host every competitor_fetch_interval_s seconds
    "competitor_sitemaps": {},
    "competitor_fetch_interval_s": 2.0,
}


@dataclass(frozen=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    settings: dict[str, Any]

    def setting(self, key: str) -> Any:
        return self.settings.get(key, DEFAULT_SETTINGS.get(key))


@dataclass(frozen=True)
class Niche:
    id: UUID
    tenant_id: UUID
    slug: str
    name: str
    seed_keywords: list[str]
    daily_quota: int
    partition_key: str
    active: bool


def niche_partition_key(tenant_slug: str, niche_slug: str) -> str:
    return f"{tenant_slug}.{niche_slug}"


def _check_slug(kind: str, slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError(
            f"{kind} slug {slug!r} is not valid",
            fix="use 1-63 lower-case letters, digits or underscores, starting with a letter or digit",
        )
    return slug


def ensure_tenant(conn: psycopg.Connection, slug: str, name: str | None = None, settings: dict | None = None) -> Tenant:
    slug = _check_slug("tenant", slug)
    conn.execute(
        """INSERT INTO tenants (slug, name, settings) VALUES (%s, %s, %s)
           ON CONFLICT (slug) DO NOTHING""",
        (slug, name or slug.replace("_", " ").title(), Jsonb(settings or {})),
    )
    return get_tenant(conn, slug)


def get_tenant(conn: psycopg.Connection, slug: str) -> Tenant:
    row = conn.execute(
        "SELECT id, slug, name, settings FROM tenants WHERE slug = %s AND deleted_at IS NULL", (slug,)
    ).fetchone()
    if not row:
        raise NotFoundError(f"tenant {slug!r} not found", fix="list tenants with `allixios niches list` or seed with `allixios seed`")
    return Tenant(row[0], row[1], row[2], dict(row[3] or {}))


def tenant_by_id(conn: psycopg.Connection, tenant_id: UUID) -> Tenant:
    row = conn.execute("SELECT id, slug, name, settings FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
    if not row:
        raise NotFoundError(f"tenant {tenant_id} not found")
    return Tenant(row[0], row[1], row[2], dict(row[3] or {}))


def update_tenant_settings(conn: psycopg.Connection, slug: str, changes: dict[str, Any]) -> Tenant:
    unknown = set(changes) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValidationError(f"unknown tenant setting(s): {', '.join(sorted(unknown))}", fix=f"use one of {', '.join(DEFAULT_SETTINGS)}")
    tenant = get_tenant(conn, slug)
    conn.execute(
        "UPDATE tenants SET settings = settings || %s, updated_at = now() WHERE id = %s", (Jsonb(changes), tenant.id)
    )
    return get_tenant(conn, slug)


_NICHE_COLS = "id, tenant_id, slug, name, seed_keywords, daily_quota, partition_key, active"


def _niche(row: tuple) -> Niche:
    return Niche(row[0], row[1], row[2], row[3], list(row[4] or []), row[5], row[6], row[7])


def add_niche(
    conn: psycopg.Connection,
    tenant: Tenant,
    slug: str,
    name: str | None = None,
    seed_keywords: list[str] | None = None,
    daily_quota: int = 5,
) -> Niche:
    """Create a niche (or re-activate a removed one). Idempotent for the same slug."""
    slug = _check_slug("niche", slug)
    if daily_quota < 0 or daily_quota > 1000:
        raise ValidationError(f"daily quota {daily_quota} is out of range", fix="use a number from 0 to 1000")
    keywords = [k.strip() for k in (seed_keywords or []) if k and k.strip()]
    row = conn.execute(
        f"""INSERT INTO niches (tenant_id, slug, name, seed_keywords, daily_quota, partition_key)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, slug) DO UPDATE
               SET active = true, deleted_at = NULL, updated_at = now(),
                   seed_keywords = CASE WHEN cardinality(EXCLUDED.seed_keywords) > 0
                                        THEN EXCLUDED.seed_keywords ELSE niches.seed_keywords END
            RETURNING {_NICHE_COLS}""",
        (tenant.id, slug, name or slug.replace("_", " ").title(), keywords, daily_quota, niche_partition_key(tenant.slug, slug)),
    ).fetchone()
    return _niche(row)


def remove_niche(conn: psycopg.Connection, tenant: Tenant, slug: str) -> Niche:
    """Stop scheduling a niche; its articles and history stay."""
    row = conn.execute(
        f"""UPDATE niches SET active = false, deleted_at = now(), updated_at = now()
            WHERE tenant_id = %s AND slug = %s RETURNING {_NICHE_COLS}""",
        (tenant.id, slug),
    ).fetchone()
    if not row:
        raise NotFoundError(f"niche {slug!r} not found for tenant {tenant.slug!r}", fix="see `allixios niches list`")
    return _niche(row)


def list_niches(conn: psycopg.Connection, tenant: Tenant | None = None, active_only: bool = True) -> list[Niche]:
    sql = f"SELECT {_NICHE_COLS} FROM niches WHERE true"
    params: list[Any] = []
    if tenant:
        sql += " AND tenant_id = %s"
        params.append(tenant.id)
    if active_only:
        sql += " AND active"
    return [_niche(r) for r in conn.execute(sql + " ORDER BY partition_key", params).fetchall()]


def niche_by_partition_key(conn: psycopg.Connection, partition_key: str) -> Niche:
    row = conn.execute(f"SELECT {_NICHE_COLS} FROM niches WHERE partition_key = %s", (partition_key,)).fetchone()
    if not row:
        raise NotFoundError(f"no niche has partition key {partition_key!r}", fix="add it with `allixios niches add`")
    return _niche(row)


def active_partition_keys(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """SELECT n.partition_key FROM niches n JOIN tenants t ON t.id = n.tenant_id
           WHERE n.active AND t.deleted_at IS NULL ORDER BY 1"""
    ).fetchall()
    return [r[0] for r in rows]

