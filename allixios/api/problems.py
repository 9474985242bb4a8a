"""RFC 9457 problem details with the seed's error classification and the fix; never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from allixios.errors import (
    AllixiosError,
    BudgetExceededError,
    ConfigError,
    ConflictError,
    DatabaseError,
    NotFoundError,
    ValidationError,
)

log = logging.getLogger("allixios.api")
PROBLEM_JSON = "application/problem+json"

# the seed's error classes -> HTTP status and a default fix
CODES: dict[str, tuple[int, str]] = {
    "VALIDATION_ERROR": (422, "correct the request as described in `detail`"),
    "MALFORMED_REQUEST": (400, "send a JSON body that parses"),
    "AUTHENTICATION_ERROR": (401, "send `Authorization: Bearer <token or API key>` (see POST /v1/auth/token)"),
    "AUTHORIZATION_ERROR": (403, "use a credential whose role or scopes allow this operation"),
    "RESOURCE_NOT_FOUND": (404, "check the id; ids of other tenants are not visible"),
    "METHOD_NOT_ALLOWED": (405, "see /docs for the methods of this path"),
    "CONFLICT": (409, "re-read the resource and retry with its current version"),
    "PRECONDITION_FAILED": (412, "GET the resource again and send its current ETag in If-Match"),
    "PRECONDITION_REQUIRED": (428, "send If-Match with the ETag from GET"),
    "PAYLOAD_TOO_LARGE": (413, "send a smaller body"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "send Content-Type: application/json"),
    "RATE_LIMIT_ERROR": (429, "wait for Retry-After seconds, then retry"),
    "PLAN_LIMIT_EXCEEDED": (403, "raise the limit (`allixios tenants limits`) or move to a larger plan"),
    "QUOTA_EXCEEDED": (429, "wait for the budget period to reset or raise the budget (`allixios ai budget`)"),
    "AI_PROVIDER_ERROR": (502, "retry later; see GET /v1/ai/providers for circuit states"),
    "DATABASE_ERROR": (503, "retry later; an operator should check `allixios db status`"),
    "CONFIGURATION_ERROR": (500, "an operator must fix the server configuration"),
    "INTERNAL_ERROR": (500, "retry later; if it persists, report the request id"),
}


class Problem(BaseModel):
    """application/problem+json (RFC 9457) with Allixios' `code` and `fix` extensions."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    fix: str
    instance: str | None = None


class ApiProblem(Exception):
    def __init__(self, code: str, detail: str, fix: str | None = None, *, status: int | None = None,
                 headers: dict[str, str] | None = None, **extra):
        super().__init__(detail)
        default_status, default_fix = CODES[code]
        self.code, self.detail, self.fix = code, detail, fix or default_fix
        self.status = status or default_status
        self.headers = headers or {}
        self.extra = extra


def problem_response(request: Request | None, code: str, detail: str, fix: str | None = None, *,
                     status: int | None = None, headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    default_status, default_fix = CODES[code]
    status = status or default_status
    body = {"type": f"https://allixios.dev/problems/{code.lower().replace('_', '-')}",
            "title": code.replace("_", " ").capitalize(), "status": status,
            "detail": " ".join(str(detail).split())[:2000], "code": code, "fix": fix or default_fix,
            "instance": request.url.path if request is not None else None, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _from_allixios(exc: AllixiosError) -> tuple[str, int | None]:
    from allixios.ai.selection import NoModelAvailableError
    from allixios.plans import PlanLimitError

    if isinstance(exc, PlanLimitError):
        return "PLAN_LIMIT_EXCEEDED", exc.status
    if isinstance(exc, NotFoundError):
        return "RESOURCE_NOT_FOUND", None
    if isinstance(exc, ValidationError):
        return "VALIDATION_ERROR", None
    if isinstance(exc, ConflictError):
        return "CONFLICT", None
    if isinstance(exc, BudgetExceededError):
        return "QUOTA_EXCEEDED", None
    if isinstance(exc, NoModelAvailableError):
        return "AI_PROVIDER_ERROR", 503
    if isinstance(exc, DatabaseError):
        return "DATABASE_ERROR", None
    if isinstance(exc, ConfigError):
        return "CONFIGURATION_ERROR", None
    return "VALIDATION_ERROR", None


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict]]:
    errors = []
    for e in exc.errors()[:20]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        errors.append({"field": loc, "message": e.get("msg", "invalid")})
    text = "; ".join(f"{x['field']}: {x['message']}" for x in errors[:5])
    return text or "the request is not valid", errors


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem):
        return problem_response(request, exc.code, exc.detail, exc.fix, status=exc.status, headers=exc.headers,
                                **exc.extra)

    @app.exception_handler(AllixiosError)
    async def _allixios(request: Request, exc: AllixiosError):
        code, status = _from_allixios(exc)
        return problem_response(request, code, exc.message, exc.fix, status=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        detail, errors = _validation_detail(exc)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem_response(request, "MALFORMED_REQUEST", f"the body is not valid JSON ({detail})")
        extra_fields = [x["field"] for x, e in zip(errors, exc.errors(), strict=False) if e.get("type") == "extra_forbidden"]
        fix = (f"remove the unknown field(s) {', '.join(extra_fields)}; see /openapi.json for the schema"
               if extra_fields else "correct the fields listed in `errors` (schema at /openapi.json)")
        return problem_response(request, "VALIDATION_ERROR", detail, fix, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "RESOURCE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
                415: "UNSUPPORTED_MEDIA_TYPE", 401: "AUTHENTICATION_ERROR", 403: "AUTHORIZATION_ERROR"}.get(
            exc.status_code, "VALIDATION_ERROR")
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        return problem_response(request, code, detail, status=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        import psycopg

        from allixios.errors import explain_database_error

        cause = getattr(exc, "orig", None) or exc
        if isinstance(cause, psycopg.errors.DataError):  # e.g. a NUL character or an out-of-range number
            return problem_response(request, "VALIDATION_ERROR", f"a value cannot be stored ({type(cause).__name__})",
                                    "remove NUL/control characters and keep numbers in range")
        explained = explain_database_error(exc)
        if explained is not None:
            return problem_response(request, "DATABASE_ERROR", explained.message, explained.fix)
        # the trace goes to the server log (no request body, no headers), never to the client
        log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        return problem_response(request, "INTERNAL_ERROR", "the server could not complete the request")




def problem_doc(*statuses: int) -> dict:
    """OpenAPI `responses` entries for the problem statuses an operation can answer."""
    return {s: {"model": Problem, "description": "problem details (RFC 9457)",
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}} for s in statuses}
