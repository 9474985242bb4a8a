"""Provider exceptions (litellm / OpenAI SDK / httpx) mapped to what the client does about them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from allixios.ai import secrets
from allixios.ai.catalogue import Deployment


@dataclass
class ProviderFailure:
    error_class: str  # RateLimit, Timeout, ServerError, ConnectionError, MalformedResponse, BadRequest, AuthError, ...
    message: str  # scrubbed, one line
    retryable: bool  # retry / fail over; False = stop the request now
    counts_for_circuit: bool  # the deployment looks down (5xx, timeout, connection, unreadable body)
    retry_after_s: float | None = None
    circuit_state: str | None = None  # filled in after the failure is recorded


# what json / the OpenAI SDK say when a provider's response body cannot be parsed
_UNREADABLE_BODY = ("expecting value", "expecting property name", "expecting ',' delimiter", "unterminated string",
                    "extra data", "jsondecodeerror", "invalid json", "invalid control character")
_NOISE = re.compile(r"litellm\.\w+:\s*|\s*LiteLLM: model group '[^']*' failed with the error above\.|\s*No fallback was attempted\.|"
                    r"\s*Received Model Group=\S+|\s*Available Model Group Fallbacks=\S+")


def _without_litellm_noise(text: str) -> str:
    text = text.split("Traceback (most recent call last)", 1)[0]
    return _NOISE.sub(" ", text).strip()


def _status_code(exc: BaseException) -> int | None:
    for attr in ("status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def retry_after_seconds(exc: BaseException) -> float | None:
    """Retry-After (seconds or retry-after-ms) from the provider's response headers, if any."""
    header_sources = [getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None)]
    response = getattr(exc, "response", None)
    if response is not None:
        header_sources.append(getattr(response, "headers", None))
    for headers in header_sources:
        if not headers:
            continue
        try:
            ms = headers.get("retry-after-ms")
            if ms is not None:
                return float(ms) / 1000.0
            value = headers.get("retry-after")
            if value is not None:
                return max(0.0, float(value))
        except (TypeError, ValueError, AttributeError):
            continue
    return None


def _openai_connection_error() -> type[BaseException]:
    """The OpenAI SDK's connection error (the direct path's, allixios.ai.openai_direct)."""
    import openai

    return openai.APIConnectionError


def classify(exc: BaseException, d: Deployment, secret_values: list[str]) -> ProviderFailure:
    from allixios.ai.router import litellm_module  # configured: a bare import would fetch litellm's price map

    litellm = litellm_module()

    text = _without_litellm_noise(str(exc))
    raw = text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}"
    message = secrets.scrub(raw, secret_values) or type(exc).__name__
    code = _status_code(exc)
    lowered = raw.lower()

    if isinstance(exc, litellm.RateLimitError) or code == 429:
        return ProviderFailure("RateLimit", message, True, False, retry_after_seconds(exc))
    if (isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)) or code in (401, 403)
            or "missing credentials" in lowered or "api_key client option must be set" in lowered):
        env = d.api_key_env or "the provider key"
        return ProviderFailure(
            "AuthError", f"{d.id}: authentication failed ({code or 'auth'}) — check {env} ({message})", False, False
        )
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ProviderFailure("ContextWindowExceeded", f"{d.id}: prompt too long for {d.model} ({message})", False, False)
    if isinstance(exc, (litellm.Timeout, TimeoutError)) or "timed out" in lowered or "timeout" in type(exc).__name__.lower():
        return ProviderFailure("Timeout", message, True, True)
    if isinstance(exc, (litellm.BadRequestError, litellm.NotFoundError, litellm.UnprocessableEntityError)) or code in (400, 404, 422):
        return ProviderFailure("BadRequest", f"{d.id}: request rejected ({code or 400}), not retried ({message})", False, False)
    if any(marker in lowered for marker in _UNREADABLE_BODY):
        return ProviderFailure("MalformedResponse", message, True, True)
    if isinstance(exc, (litellm.APIConnectionError, _openai_connection_error())) and (code is None or code >= 500):
        return ProviderFailure("ConnectionError", message, True, True)
    if code is not None and code >= 500 or isinstance(exc, (litellm.InternalServerError, litellm.ServiceUnavailableError)):
        return ProviderFailure("ServerError", message, True, True)
    return ProviderFailure(type(exc).__name__, message, True, True)
