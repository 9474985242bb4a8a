"""Per-tenant access settings the API reads: the SSO issuer and the allowed callback hosts.

Kept in `tenants.settings` under `sso` ({issuer, jwks_url, audience}) and `callback_hosts` (list).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb

from allixios.editorial.audit import record_audit
from allixios.errors import ValidationError
from allixios.tenants import Tenant


def configure_sso(conn: psycopg.Connection, tenant: Tenant, issuer: str | None, jwks_url: str | None = None,
                  audience: str | None = None, *, actor: str) -> dict | None:
    """Accept tokens of `issuer`, verified with the keys at `jwks_url`; issuer None switches SSO off."""
    if issuer is None:
        conn.execute("UPDATE tenants SET settings = settings - 'sso', updated_at = now() WHERE id = %s", (tenant.id,))
        record_audit(conn, tenant_id=tenant.id, actor=actor, action="tenant.sso_off", entity_type="tenant",
                     entity_id=tenant.id)
        return None
    for name, value in (("issuer", issuer), ("jwks_url", jwks_url)):
        parts = urlsplit(value or "")
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValidationError(f"SSO {name} {value!r} is not an http(s) URL", fix=f"give the identity provider's {name}")
    if issuer == "allixios":
        raise ValidationError("the SSO issuer cannot be Allixios itself", fix="give the identity provider's issuer")
    taken = conn.execute("SELECT slug FROM tenants WHERE settings->'sso'->>'issuer' = %s AND id <> %s",
                         (issuer, tenant.id)).fetchone()
    if taken:
        raise ValidationError(f"issuer {issuer!r} is already the SSO issuer of another tenant",
                              fix="each tenant needs its own issuer (realm)")
    sso = {"issuer": issuer, "jwks_url": jwks_url, "audience": audience}
    conn.execute("UPDATE tenants SET settings = jsonb_set(settings, '{sso}', %s), updated_at = now() WHERE id = %s",
                 (Jsonb(sso), tenant.id))
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="tenant.sso", entity_type="tenant",
                 entity_id=tenant.id, details=sso)
    return sso


def set_callback_hosts(conn: psycopg.Connection, tenant: Tenant, hosts: list[str], *, actor: str) -> list[str]:
    clean = sorted({h.strip().lower() for h in hosts if h.strip()})
    bad = [h for h in clean if any(ch in h for ch in "/@?# \t")]
    if bad:
        raise ValidationError(f"not host names: {', '.join(bad)}", fix="give bare host names or IP addresses")
    conn.execute("UPDATE tenants SET settings = jsonb_set(settings, '{callback_hosts}', %s), updated_at = now() "
                 "WHERE id = %s", (Jsonb(clean), tenant.id))
    record_audit(conn, tenant_id=tenant.id, actor=actor, action="tenant.callback_hosts", entity_type="tenant",
                 entity_id=tenant.id, details={"hosts": clean})
    return clean
