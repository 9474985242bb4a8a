"""HTTP conditionals, caching and cursors shared by the routes.

Cache levels (the seed's): public documents (JWKS, OpenAPI) `public, max-age=300` so a CDN keeps
them; per-tenant reads `private, max-age=0, must-revalidate` with an ETag so browsers and clients
revalidate cheaply (304) and shared caches never mix tenants (`Vary: Authorization`); credentials
and tokens `no-store`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response

from allixios.api.problems import ApiProblem

PRIVATE = "private, max-age=0, must-revalidate"
PUBLIC = "public, max-age=300"
NO_STORE = "no-store"


def plain(value: Any) -> Any:
    if isinstance(value, (UUID,)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, memoryview | bytes):
        return None
    return value


def dumps(data: Any) -> bytes:
    return json.dumps(plain(data), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def etag_of(body: bytes, prefix: str = "") -> str:
    return f'"{prefix}{hashlib.sha256(body).hexdigest()[:20]}"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in header.split(","))


def cached_json(request: Request, data: Any, *, cache: str = PRIVATE, etag_prefix: str = "",
                status_code: int = 200) -> Response:
    """JSON with an ETag over the body; 304 when If-None-Match already names it."""
    body = dumps(data)
    etag = etag_of(body, etag_prefix)
    headers = {"ETag": etag, "Cache-Control": cache, "Vary": "Authorization, X-API-Key"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def json_response(data: Any, status_code: int = 200, cache: str = NO_STORE, headers: dict | None = None) -> Response:
    return Response(dumps(data), status_code=status_code, media_type="application/json",
                    headers={"Cache-Control": cache, **(headers or {})})


def article_etag(article_id: UUID, version: int, body_hash: str) -> str:
    return f'"v{version}-{body_hash[:16]}"'


def version_from_if_match(request: Request, required: bool = True) -> int | None:
    """The version number an If-Match ETag names ("v<n>-..."); 428 when missing and required."""
    header = request.headers.get("if-match")
    if not header:
        if required:
            raise ApiProblem("PRECONDITION_REQUIRED", "updates need If-Match (compare-and-swap)")
        return None
    tag = header.split(",")[0].strip().removeprefix("W/").strip('"')
    if not tag.startswith("v") or not tag[1:].split("-")[0].isdigit():
        raise ApiProblem("PRECONDITION_FAILED", "If-Match does not name a version of this article")
    return int(tag[1:].split("-")[0])


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(plain(list(parts))).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, n: int) -> list | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(values, list) and len(values) == n:
            return values
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiProblem("VALIDATION_ERROR", "the cursor is not one this API issued",
                     fix="pass the next_cursor of the previous page unchanged, or leave it out for the first page")


def time_range(since, until, default_days: int = 7):
    """``(since, until)`` of a report query: until defaults to now, since to ``default_days`` before it.

    Both must carry a time zone and since must not be after until; otherwise one 422 that names the fix."""
    from datetime import UTC, datetime, timedelta

    from allixios.api.problems import ApiProblem

    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=default_days)
    if since.tzinfo is None or until.tzinfo is None:
        raise ApiProblem("VALIDATION_ERROR", "since/until need a time zone", fix="send ISO 8601 times with Z or +00:00")
    if since > until:
        raise ApiProblem("VALIDATION_ERROR", "since is after until", fix="send since <= until (swap them)")
    return since, until
