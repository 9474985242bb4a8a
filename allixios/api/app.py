"""The app factory: routes under /v1, problem details, body limit, rate-limit headers, lifespan."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI

from allixios.api import problems
from allixios.api.runs import RunLauncher

MAX_BODY_ENV = "ALLIXIOS_API_MAX_BODY_BYTES"
DEFAULT_MAX_BODY = 1_048_576
# Database connections per API worker, kept and on top: sync routes run on up to 40 threads (anyio's
# default), and a burst used to reopen the 10 overflow connections each time (allixios.db.engine);
# 2 workers x 25 stay inside the embedded server's max_connections (100) beside Dagster.
POOL_SIZE, POOL_OVERFLOW = 15, 10
log = logging.getLogger("allixios.api")


class Guard:
    """Pure ASGI middleware: refuses bodies over the limit (413) before the app reads them, and adds
    the headers a route left in `request.state.extra_headers` (rate-limit headers) to every answer."""

    def __init__(self, app, max_body: int, on_too_large=None):
        self.app, self.max_body, self.on_too_large = app, max_body, on_too_large

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await self._too_large(scope, send)
        chunks, size = [], 0
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    return await self._too_large(scope, send)
                chunks.append(chunk)
                more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = (scope.get("state") or {}).get("extra_headers") or {}
                if extra:
                    present = {k.lower() for k, _ in message.get("headers", [])}
                    message["headers"] = list(message.get("headers", [])) + [
                        (k.lower().encode(), v.encode()) for k, v in extra.items() if k.lower().encode() not in present]
            await send(message)

        await self.app(scope, replay if chunks else receive, send_with_headers)

    async def _too_large(self, scope, send):
        import json

        if self.on_too_large is not None:  # the collector keeps a count of what it refused (by reason)
            await self.on_too_large(scope, self.max_body)

        body = json.dumps({"type": "https://allixios.dev/problems/payload-too-large", "title": "Payload too large",
                           "status": 413, "code": "PAYLOAD_TOO_LARGE", "instance": scope.get("path"),
                           "detail": f"the body is over the limit of {self.max_body} bytes",
                           "fix": f"send at most {self.max_body} bytes (split large requests)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(*, launcher: RunLauncher | None = None, dispatch: bool | None = None,
               max_body: int | None = None) -> FastAPI:
    """The API. `launcher` starts Dagster runs (default: through the code location, imported lazily);
    `dispatch` runs the background dispatcher that launches planned requests and sends callbacks."""
    from allixios.api.routes import ai, analytics, articles, auth, collect, content, imports, links, system

    if dispatch is None:
        dispatch = os.environ.get("ALLIXIOS_API_DISPATCH", "1") != "0"
    from allixios.db.engine import size_pools

    size_pools(POOL_SIZE, POOL_OVERFLOW)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from allixios.db.engine import connect
        from allixios.identity.tokens import ensure_signing_key

        with connect() as conn:
            ensure_signing_key(conn)
        # the model catalogue and litellm's tokenizer: loaded now, not on the first content request
        from allixios.ai.catalogue import load_catalogue
        from allixios.ai.router import litellm_module

        load_catalogue()
        litellm_module()
        dispatcher = None
        if dispatch:
            from allixios.api.dispatch import Dispatcher

            dispatcher = Dispatcher(app.state.launcher)
            dispatcher.start()
        app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()

    app = FastAPI(
        title="Allixios API",
        version="1",
        summary="Content requests with an execution plan, executions, articles, AI and analytics.",
        description="Every operation is under /v1. Errors are RFC 9457 problem details with `code` and `fix`. "
        "Authenticate with `Authorization: Bearer <token>` (POST /v1/auth/token) or an API key.",
        openapi_url="/openapi.json",
        docs_url=None,  # served below from bundled files: a docs page must not need a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    from allixios.api.runs import default_launcher

    app.state.launcher = launcher or default_launcher()
    problems.install(app)
    # the collector first: the beacon's requests are the most numerous, and routes are matched in order
    for module in (collect, system, auth, content, articles, links, ai, analytics, imports):
        # every operation can answer these (body parsing, credentials, size and rate limits)
        app.include_router(module.router, prefix="/v1", responses=problems.problem_doc(400, 401, 413, 422, 429, 500))
    app.include_router(articles.publishing, prefix="/v1", responses=problems.problem_doc(400, 401, 413, 422, 429, 500))
    _serve_docs(app)
    limit = max_body or int(os.environ.get(MAX_BODY_ENV) or DEFAULT_MAX_BODY)
    app.add_middleware(Guard, max_body=limit, on_too_large=collect.too_large)
    app.add_middleware(collect.FastPath)  # outermost: beacon posts skip the stack (allixios/api/routes/collect.py)
    return app


def _serve_docs(app: FastAPI) -> None:
    """Interactive docs at /docs from the Swagger UI 5 files that the fastapi-offline wheel ships
    (FastAPI's default page loads them from a CDN, which a closed network or a strict CSP refuses)."""
    from importlib import resources

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    static = resources.files("fastapi_offline").joinpath("static")
    app.mount("/docs-static", StaticFiles(directory=str(static)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Allixios API — docs",
            swagger_js_url="/docs-static/swagger-ui-bundle.js", swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
        )
