"""One content partition: a day of one niche of one tenant, and the tenant's quality bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from allixios.errors import ValidationError
from allixios.tenants import Niche, Tenant, niche_by_partition_key, tenant_by_id


@dataclass(frozen=True)
class Bars:
    """The tenant's publish bars (the seed's defaults: body >= 1000 chars, quality > 80, SEO > 70)."""

    min_body_chars: int
    min_quality: int
    min_seo: int

    @classmethod
    def of(cls, tenant: Tenant) -> Bars:
        return cls(int(tenant.setting("min_body_chars")), int(tenant.setting("min_quality")), int(tenant.setting("min_seo")))

    def failures(self, body_chars: int, quality: int, seo: int) -> list[str]:
        """Human-readable reasons an article misses the bars (empty when it passes them all)."""
        out = []
        if body_chars < self.min_body_chars:
            out.append(f"body is {body_chars} characters (needs at least {self.min_body_chars})")
        if quality <= self.min_quality:
            out.append(f"quality {quality} (needs more than {self.min_quality})")
        if seo <= self.min_seo:
            out.append(f"SEO {seo} (needs more than {self.min_seo})")
        return out

    def as_dict(self) -> dict:
        return {"min_body_chars": self.min_body_chars, "min_quality": self.min_quality, "min_seo": self.min_seo}


@dataclass(frozen=True)
class PartitionRef:
    tenant: Tenant
    niche: Niche
    day: date

    @property
    def bars(self) -> Bars:
        return Bars.of(self.tenant)

    @property
    def label(self) -> str:
        return f"{self.niche.partition_key}/{self.day.isoformat()}"


def as_date(day: date | str) -> date:
    if isinstance(day, date):
        return day
    try:
        return date.fromisoformat(str(day))
    except ValueError:
        raise ValidationError(f"{day!r} is not a date", fix="use YYYY-MM-DD") from None


def resolve_partition(conn: psycopg.Connection, day: date | str, niche_partition_key: str) -> PartitionRef:
    """The partition of ``day`` and the niche whose partition key is ``tenant_slug.niche_slug``."""
    niche = niche_by_partition_key(conn, niche_partition_key)
    return PartitionRef(tenant_by_id(conn, niche.tenant_id), niche, as_date(day))
