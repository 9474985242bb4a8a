"""CDN purge by URL through a configurable HTTP API; Cloudflare's request shape is the default.

Default request (Cloudflare): ``POST {api_url}/zones/{zone}/purge_cache`` with
``Authorization: Bearer <token>`` and ``{"files": [url, ...]}``, at most ``batch_size`` URLs per
request (Cloudflare accepts 30 per call on most plans). Another provider is one config change away:
``path``, ``field``, ``auth_header`` and ``auth_scheme`` are settings. The token is read from the
environment variable named by ``token_env`` at call time, never stored.

When a batch fails, the URLs of that batch and of every later batch are reported as not purged
(``PurgeFailed.remaining``) so the caller keeps exactly those pending; batches already accepted are
not sent again.
"""

from __future__ import annotations

from typing import Any

import httpx

from allixios.publishing.targets import SecretNames, TargetError

DEFAULTS: dict[str, Any] = {
    "api_url": "https://api.cloudflare.com/client/v4",
    "path": "/zones/{zone}/purge_cache",
    "field": "files",
    "auth_header": "Authorization",
    "auth_scheme": "Bearer",
    "batch_size": 30,
    "timeout": 10.0,
}
CONFIG_KEYS = {"zone", "token_env", *DEFAULTS}
MAX_BATCH = 500


class PurgeFailed(TargetError):
    """Some URLs were not purged; ``remaining`` are exactly those (to keep pending)."""

    def __init__(self, message: str, *, remaining: list[str], requests: int, fix: str | None = None):
        super().__init__(message, fix=fix)
        self.remaining = remaining
        self.requests = requests


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    from allixios.errors import ValidationError

    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise ValidationError(f"unknown CDN setting(s): {', '.join(sorted(unknown))}",
                              fix=f"use only {', '.join(sorted(CONFIG_KEYS))}")
    merged = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
    if not str(merged["api_url"]).startswith(("http://", "https://")):
        raise ValidationError(f"CDN API URL {merged['api_url']!r} is not an http(s) URL", fix="pass --api-url https://...")
    if "{zone}" in merged["path"] and not merged.get("zone"):
        raise ValidationError("the CDN purge path needs a zone", fix="pass --zone ZONE_ID")
    if not merged.get("token_env"):
        raise ValidationError("the CDN target needs the NAME of the environment variable holding its API token",
                              fix="pass --token-env CLOUDFLARE_API_TOKEN (the token itself stays in the environment)")
    try:
        merged["batch_size"] = int(merged["batch_size"])
    except (TypeError, ValueError):
        merged["batch_size"] = 0
    if not 1 <= merged["batch_size"] <= MAX_BATCH:
        raise ValidationError(f"CDN batch size {config.get('batch_size')!r} is out of range", fix=f"use 1-{MAX_BATCH}")
    return merged


class CdnTarget:
    kind = "cdn"

    def __init__(self, name: str, config: dict[str, Any]):
        self.name = name
        self.config = check_config(config)
        self.secrets = SecretNames(name, [self.config["token_env"]])

    @property
    def endpoint(self) -> str:
        return self.config["api_url"].rstrip("/") + self.config["path"].format(zone=self.config.get("zone", ""))

    def _headers(self) -> dict[str, str]:
        token = self.secrets.require(self.config["token_env"], "the CDN API token")
        scheme = self.config["auth_scheme"]
        return {self.config["auth_header"]: f"{scheme} {token}" if scheme else token}

    def check(self) -> str:
        """Only what can be checked without purging anything: the token is in the environment."""
        self._headers()
        return f"token found in ${self.config['token_env']}; purges go to {self.endpoint} ({self.config['batch_size']} URLs per request)"

    def purge(self, urls: list[str]) -> int:
        if not urls:
            return 0
        headers = self._headers()
        size = self.config["batch_size"]
        batches = [urls[i:i + size] for i in range(0, len(urls), size)]
        done = 0
        with httpx.Client(timeout=float(self.config["timeout"])) as client:
            for i, batch in enumerate(batches):
                try:
                    self._send(client, headers, batch)
                except TargetError as exc:
                    remaining = [u for b in batches[i:] for u in b]
                    raise PurgeFailed(
                        f"{exc.message} ({len(remaining)} of {len(urls)} URLs not purged yet)",
                        remaining=remaining, requests=done + 1, fix=exc.fix,
                    ) from None
                done += 1
        return done

    def _send(self, client: httpx.Client, headers: dict[str, str], batch: list[str]) -> None:
        where = f"CDN target {self.name!r} ({self.endpoint})"
        try:
            response = client.post(self.endpoint, headers=headers, json={self.config["field"]: batch})
        except httpx.TimeoutException:
            raise TargetError(f"{where} did not answer within {self.config['timeout']}s",
                              fix="check the CDN API is reachable; the purge is retried on the next run") from None
        except httpx.HTTPError as exc:
            raise TargetError(f"{where} could not be reached: {self.secrets.scrub(type(exc).__name__ + ': ' + str(exc))}",
                              fix="check --api-url and the network; the purge is retried on the next run") from None
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            pass
        if response.status_code in (401, 403):
            raise TargetError(f"{where} refused the token (HTTP {response.status_code})",
                              fix=f"set a valid token with cache-purge permission in ${self.config['token_env']}")
        if response.status_code >= 400 or (isinstance(body, dict) and body.get("success") is False):
            detail = ""
            if isinstance(body, dict) and body.get("errors"):
                first = body["errors"][0]
                detail = first.get("message", str(first)) if isinstance(first, dict) else str(first)
            elif response.text:
                detail = response.text
            raise TargetError(f"{where} answered HTTP {response.status_code}: {self.secrets.scrub(detail, 200)}",
                              fix="the purge is retried on the next run; check the zone and the CDN status page")
