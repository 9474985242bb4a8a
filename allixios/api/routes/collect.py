"""`POST /v1/collect`: the beacon's collector. Public, bound to a site key and its origins.

Order of checks (each refusal answers one problem with the reason and is counted in
``collector_refusals``): body size, Do-Not-Track/GPC (honoured: 204, nothing kept), JSON shape,
site key, Origin, rate limit, bots, event fields. Accepted events are appended to the
write-ahead log and fsynced (group commit) before the 202; the lander moves them into the tenant's landing feed
and ``raw`` (allixios/collector/lander.py), where the file-ingest contract validates them.
"""

from __future__ import annotations

import os
import re
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from allixios.api.problems import problem_doc, problem_response

MAX_BODY = int(os.environ.get("ALLIXIOS_COLLECTOR_MAX_BODY_BYTES") or 16_384)
MAX_EVENTS = 50  # per request (a page that queued events sends them as one array)
VISITOR_LIMIT_ENV, SITE_LIMIT_ENV = "ALLIXIOS_COLLECTOR_RATE_VISITOR", "ALLIXIOS_COLLECTOR_RATE_SITE"
DEFAULT_VISITOR_LIMIT, DEFAULT_SITE_LIMIT = 300, 120_000  # requests per minute
VIEW_ID = re.compile(r"^[A-Za-z0-9]{8,64}$")
TYPES = ("view", "engage", "click")
# the clock rule (docs/areas/collector.md): the beacon stamps events as it sends them, so a page time
# far from the collector's is the device's clock, not the reader's moment
SKEW_S = 300
MAX_SKEW_S = 24 * 3600
CLAMPED_REASON = "clock skew: event time replaced by the receive time (kept as ts_client)"


@asynccontextmanager
async def lifespan(app):
    """Each worker lands the log in the background (one at a time through an advisory lock)."""
    lander = None
    if os.environ.get("ALLIXIOS_COLLECTOR_LANDER", "1") != "0":
        from allixios.collector.lander import Lander

        lander = Lander()
        lander.start()
    try:
        yield
    finally:
        if lander is not None:
            await run_in_threadpool(lander.stop)


router = APIRouter(tags=["collector"], lifespan=lifespan)


class Refused(Exception):
    def __init__(self, status: int, code: str, reason: str, fix: str, tenant_id=None, headers=None):
        super().__init__(reason)
        self.status, self.code, self.reason, self.fix, self.tenant_id = status, code, reason, fix, tenant_id
        self.headers = headers or {}


def _cors(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


@router.options("/collect", include_in_schema=False)
async def preflight(request: Request) -> Response:
    origin = request.headers.get("origin")
    return Response(status_code=204, headers={**_cors(origin), "Access-Control-Allow-Methods": "POST",
                                              "Access-Control-Allow-Headers": "Content-Type",
                                              "Access-Control-Max-Age": "86400"})


@router.post("/collect", status_code=202, summary="Page views, engagement and link clicks from the site beacon",
             description="Public: bound to the site key in the body and the site's allowed origins. Answers 202 "
                         "once the events are durable (write-ahead log, fsync); 204 when Do-Not-Track/GPC is on.",
             responses=problem_doc(400, 403, 413, 422, 429))
async def collect(request: Request) -> Response:
    return await respond(request, await request.body())


async def respond(request: Request, body: bytes) -> Response:
    """The answer to one beacon request (the route's body, and the fast path's)."""
    origin = request.headers.get("origin")
    try:
        accepted = await _accept(request, body, origin)
    except Refused as exc:
        if exc.code != "DNT":
            await run_in_threadpool(_count, exc.tenant_id, exc.reason)
        if exc.status == 204:
            return Response(status_code=204, headers=_cors(origin))
        return problem_response(request, exc.code, exc.reason, exc.fix, status=exc.status,
                                headers={**_cors(origin), **exc.headers})
    return Response(content=f'{{"accepted":{accepted}}}', status_code=202, media_type="application/json",
                    headers={**_cors(origin), "Cache-Control": "no-store"})


class FastPath:
    """Pure ASGI, outermost: an ordinary beacon POST (a Content-Length within the collector's limit)
    goes straight to ``respond``, past the framework's routing and middleware stack, which were a
    third of an accept's CPU (the collector's route is the API's most frequent request by far).
    Anything else, including oversized or chunked bodies, takes the normal way (the guard, the route)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v1/collect":
            return await self.app(scope, receive, send)
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                break
        if length is None or not length.isdigit() or int(length) > MAX_BODY:
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request = Request(scope)
        response = await respond(request, b"".join(chunks))
        await response(scope, receive, send)


async def too_large(scope, limit: int) -> None:
    """The API's body guard refused a body before reading it (a 10 MB post): counted, tenant unknown."""
    if scope.get("path") == "/v1/collect":
        await run_in_threadpool(_count, None, f"body over the API limit of {limit} bytes (refused before reading it)")


def _count(tenant_id, reason: str, hits: int = 1) -> None:
    from allixios.collector.lander import record_refusal
    from allixios.db.engine import connect

    with connect() as conn:
        record_refusal(conn, tenant_id, reason, hits)


def _event_times(events: list[dict], received: datetime, tenant_id) -> tuple[list[str], int]:
    """Each event's time by the clock rule: the page's own time when it is within SKEW_S of the
    collector's clock and on the same UTC day; otherwise the time the collector received it (the
    page's value kept as ``ts_client``); a page clock more than MAX_SKEW_S off refuses the request."""
    out, clamped = [], 0
    for ev in events:
        try:
            ts = datetime.fromisoformat(ev["ts"])
        except ValueError:
            raise Refused(422, "VALIDATION_ERROR", "malformed event: timestamp ts must be an ISO 8601 text",
                          "send what the beacon sends", tenant_id) from None
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
        skew = (ts - received).total_seconds()
        if abs(skew) > MAX_SKEW_S:
            raise Refused(422, "VALIDATION_ERROR",
                          f"clock skewed: timestamp {abs(skew) / 3600:.0f} h {'ahead of' if skew > 0 else 'behind'} "
                          f"the collector's clock (more than {MAX_SKEW_S // 3600} h)",
                          "set the device's clock; the beacon stamps events when it sends them", tenant_id)
        if abs(skew) > SKEW_S or ts.astimezone(UTC).date() != received.date():
            out.append(received.isoformat())
            clamped += 1
        else:
            out.append(ev["ts"])
    return out, clamped


def _parse(body: bytes) -> list[dict]:
    import json

    if len(body) > MAX_BODY:
        raise Refused(413, "PAYLOAD_TOO_LARGE", f"collector body over {MAX_BODY} bytes",
                      f"send at most {MAX_EVENTS} events and {MAX_BODY} bytes per request")
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused(400, "MALFORMED_REQUEST", "body is not JSON", "send one event object or an array of them") from None
    events = data if isinstance(data, list) else [data]
    if not events or len(events) > MAX_EVENTS or not all(isinstance(e, dict) for e in events):
        raise Refused(400, "MALFORMED_REQUEST", f"body must be an event object or an array of 1 to {MAX_EVENTS}",
                      "send what the beacon sends")
    return events


def _field_problem(ev: dict) -> str | None:
    if ev.get("t") not in TYPES:
        return f"event type must be one of {', '.join(TYPES)}"
    if not isinstance(ev.get("v"), str) or not VIEW_ID.match(ev["v"]):
        return "view id v must be 8 to 64 letters or digits"
    if not isinstance(ev.get("n", 0), int):
        return "sequence n must be a whole number"
    if not isinstance(ev.get("u"), str) or not ev["u"].startswith("/") or len(ev["u"]) > 4096:
        return "page u must be the page's path (starting with /, at most 4096 characters)"
    if not isinstance(ev.get("ts"), str) or len(ev["ts"]) > 64:
        return "timestamp ts must be an ISO 8601 text"
    for name in ("e", "s"):
        if ev.get(name) is not None and (not isinstance(ev[name], int | float) or isinstance(ev[name], bool)):
            return f"{name} must be a number"
    for name in ("r", "h"):
        if ev.get(name) is not None and (not isinstance(ev[name], str) or len(ev[name]) > 4096):
            return f"{name} must be a URL text of at most 4096 characters"
    if ev["t"] == "click" and not ev.get("h"):
        return "a click needs its link h"
    return None


def _site_and_salt(key: str, today) -> tuple:
    """The cache misses of the hot path: one connection for the site's row and today's salt."""
    from allixios.collector import privacy, sites
    from allixios.db.engine import connect

    with connect() as conn:
        return sites.by_key(conn, key), privacy.daily_salt(conn, today)


async def _accept(request: Request, body: bytes, origin: str | None) -> int:
    """Checks in the event loop; the database only on a cache miss (site row, salt: seconds-long
    caches), the rate limit in this worker's memory; then the group-committed log (one fdatasync
    shared by every request of the round) before the 202."""
    from allixios.collector import privacy, sites, wal
    from allixios.collector.throttle import throttle

    if request.headers.get("dnt") == "1" or request.headers.get("sec-gpc") == "1":
        raise Refused(204, "DNT", "do-not-track honoured", "")
    events = _parse(body)
    key = events[0].get("k")
    if not isinstance(key, str) or not key or len(key) > 100 or any(e.get("k") != key for e in events):
        raise Refused(400, "MALFORMED_REQUEST", "every event needs the same site key k", "send the key from the page")
    ua = request.headers.get("user-agent", "")
    ip = request.client.host if request.client else ""
    received = datetime.now(UTC)
    today = received.date()
    found, site = sites.cached(key)
    salt = privacy.cached_salt(today)
    if not found or salt is None:
        site, salt = await run_in_threadpool(_site_and_salt, key, today)
    if site is None:
        raise Refused(403, "AUTHORIZATION_ERROR", "unknown site key",
                      "use the key of the site's beacon tag (`allixios collector site`)")
    if not origin or origin.lower() not in site.allowed_origins:
        raise Refused(403, "AUTHORIZATION_ERROR",
                      f"origin {origin or '(none)'} is not one of this site's origins",
                      "serve the page from an allowed origin or add it (`allixios collector site --origin`)",
                      site.tenant_id)
    visitor_limit = int(os.environ.get(VISITOR_LIMIT_ENV) or DEFAULT_VISITOR_LIMIT)
    site_limit = int(os.environ.get(SITE_LIMIT_ENV) or DEFAULT_SITE_LIMIT)
    visitor = privacy.visitor_hash(salt, key, ip, ua)
    decision = throttle.hit(f"v:{visitor}", f"s:{site.tenant_id}", visitor_limit, site_limit)
    if not decision.allowed:
        raise Refused(429, "RATE_LIMIT_ERROR", f"collector rate limit of {decision.limit}/min per "
                      f"{'visitor' if decision.scope == 'credential' else 'site'}",
                      "send fewer events (the beacon sends a few per page view)", site.tenant_id,
                      decision.headers())
    bot = privacy.bot_reason(ua, any(e.get("wd") is True for e in events), site.allow_headless)
    if bot:
        raise Refused(403, "AUTHORIZATION_ERROR", bot, "real readers' browsers are counted; bots are not",
                      site.tenant_id)
    for ev in events:
        problem = _field_problem(ev)
        if problem:
            raise Refused(422, "VALIDATION_ERROR", f"malformed event: {problem}", "send what the beacon sends",
                          site.tenant_id)
    device = privacy.device(ua)
    rx = received.isoformat()
    times, clamped = _event_times(events, received, site.tenant_id)
    records = [{"t": e["t"], "v": e["v"], "n": e.get("n", 0), "u": e["u"], "ts": ts, "r": e.get("r"),
                "e": e.get("e"), "s": e.get("s"), "h": e.get("h"), "a": bool(e.get("a")), "vh": visitor,
                "dev": device, "tenant": site.tenant_slug, "rx": rx,
                **({"ts_client": e["ts"]} if ts != e["ts"] else {})} for e, ts in zip(events, times, strict=True)]
    if clamped:
        await run_in_threadpool(_count, site.tenant_id, CLAMPED_REASON, clamped)
    await wal.shared().append_async(today.isoformat(), site.tenant_slug, records)
    return len(records)


def collector_app():
    """The collector alone (its route, problem details, the body guard, the lander), for `make run`'s
    simulated readers: the same code as in the API, without the API's start-up (model catalogue, signing key)."""
    from fastapi import FastAPI

    from allixios.api import problems
    from allixios.api.app import DEFAULT_MAX_BODY, Guard

    app = FastAPI(title="Allixios collector", openapi_url=None, docs_url=None, redoc_url=None)
    problems.install(app)
    app.include_router(router, prefix="/v1")
    app.add_middleware(Guard, max_body=DEFAULT_MAX_BODY, on_too_large=too_large)
    app.add_middleware(FastPath)
    return app
