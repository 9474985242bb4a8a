"""Completion callbacks: only to hosts the tenant allows, signed with HMAC-SHA256, retried with backoff.

Tenants list allowed callback hosts in `tenants.settings.callback_hosts` (exact host names or IP
literals). A host name must resolve to public addresses only (no loopback, private, link-local or
metadata ranges) so a callback cannot be pointed at internal services; an IP literal the tenant
listed itself is trusted as written. The signature header is
`Allixios-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

from allixios.errors import ValidationError
from allixios.tenants import Tenant

RETRY_DELAYS_S = (1, 2, 4, 8, 16)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def check_callback_url(tenant: Tenant, url: str) -> str:
    parts = urlsplit(url)
    allowed = [str(h).lower() for h in (tenant.settings.get("callback_hosts") or [])]
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise ValidationError("the callback URL must be http(s)://host[:port]/path without credentials",
                              fix="send a URL like https://hooks.example.com/allixios")
    if host not in allowed:
        raise ValidationError(f"callback host {host!r} is not allowed for this tenant",
                              fix="an admin adds it to the tenant's callback_hosts setting "
                              "(`allixios tenants ...` / tenants.settings)")
    if parts.scheme == "http" and not _is_ip(host):
        raise ValidationError("callbacks to named hosts must use https", fix="use an https:// URL")
    return url


def _public_only(host: str, port: int) -> None:
    if _is_ip(host):
        return  # the tenant listed this literal address itself
    for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global:
            raise ValidationError(f"callback host {host!r} resolves to a non-public address",
                                  fix="use a host with public addresses only")


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(timestamp if timestamp is not None else time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def deliver(url: str, secret: str, payload: dict, *, delays: tuple[float, ...] = RETRY_DELAYS_S,
            timeout_s: float = 5.0) -> str:
    """POST the payload; 2xx ends it. Returns 'delivered (attempt n)' or 'failed: ...' after the retries."""
    import httpx

    parts = urlsplit(url)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    last = "not attempted"
    for attempt in range(1, len(delays) + 2):
        try:
            _public_only(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
                r = client.post(url, content=body, headers={"Content-Type": "application/json",
                                                             "Allixios-Signature": sign(secret, body),
                                                             "Allixios-Delivery-Attempt": str(attempt)})
            if 200 <= r.status_code < 300:
                return f"delivered (attempt {attempt})"
            last = f"HTTP {r.status_code}"
        except ValidationError as exc:
            return f"failed: {exc.message}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if attempt <= len(delays):
            time.sleep(delays[attempt - 1])
    return f"failed: {last} after {len(delays) + 1} attempts"
