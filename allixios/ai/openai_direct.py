"""Chat calls to self-hosted OpenAI-compatible servers through the OpenAI SDK, not through litellm.

Why (issue 19): litellm's ``acompletion`` wraps the same OpenAI SDK call in its own logging object,
response-metadata and cost calculation (twice per call) and response conversion: ~4–5 ms of CPU per
call on this machine, about half of the client's CPU for a call, and none of it is used — Allixios
prices, logs and retries every call itself (ledger, budgets, circuits). On 2 cores that CPU is what
kept generation below its throughput goal.

Which deployments: ``openai/<model>`` with an ``api_base`` — vLLM, llama.cpp, Ollama's OpenAI API,
LocalAI, a test server — whose wire format *is* the OpenAI chat API. Everything else keeps going
through litellm, which is what knows each provider's dialect (Anthropic, Gemini, Bedrock, Azure …)
and hosted OpenAI's per-model quirks (``max_completion_tokens`` for reasoning models, dropped
parameters): provider coverage stays litellm's. ``defaults.direct_openai_compatible: false`` in the
catalogue sends these deployments through litellm as well.

Errors are the SDK's (``openai.RateLimitError`` …, each with its status code and response headers);
`errors_map.classify` reads both libraries' exceptions, so retries, Retry-After and circuits behave
the same on either path. One ``AsyncOpenAI`` per server, key and timeout per event loop, so
connections are reused across calls; the sync entry points close them when their loop ends.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from allixios.ai.catalogue import Deployment
from allixios.ai.router import KEYLESS_API_KEY

# Chat-completions parameters the SDK takes as arguments; any other default parameter of a deployment
# (e.g. vLLM's top_k) goes in the request body as the server's extension, as litellm sends it.
_SDK_ARGS = frozenset({
    "temperature", "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
    "top_logprobs", "seed", "user", "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "max_tokens", "max_completion_tokens", "extra_headers", "extra_body", "extra_query",
})
# litellm-only keys of the call parameters (prices for its logging, its retry count)
_LITELLM_ONLY = frozenset({"model", "api_base", "api_key", "timeout", "max_retries", "input_cost_per_token",
                           "output_cost_per_token"})


def eligible(d: Deployment, enabled: bool = True) -> bool:
    """Whether this deployment's chat calls take the direct path (see the module docstring)."""
    return enabled and d.provider == "openai" and d.model.startswith("openai/") and bool(d.api_base)


@functools.cache
def _tls_context():
    """The SDK's default TLS context, built once per process: loading the CA bundle costs ~40 ms of
    CPU, which a new SDK client (one per event loop: each sync batch) would otherwise pay again."""
    import httpx2  # the SDK's own HTTP library (openai 3 depends on it)

    return httpx2.create_ssl_context()


class Transport:
    """The direct path's SDK clients, for the event loop that is running (one client per server)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[tuple, Any] = {}

    def _client(self, base_url: str, api_key: str, timeout: float):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # clients of a finished loop hold connections it can no longer close
            self._loop, self._clients = loop, {}
        key = (base_url, api_key, timeout)
        client = self._clients.get(key)
        if client is None:
            import openai  # the SDK litellm itself depends on; imported on first use (no I/O at import)

            http = openai.DefaultAsyncHttpxClient(verify=_tls_context())
            client = self._clients[key] = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout,
                                                             max_retries=0, http_client=http)
        return client

    async def acompletion(self, kwargs: dict[str, Any]):
        """What ``litellm.acompletion(**kwargs)`` does for an eligible deployment: the same keyword
        arguments in, a response with ``.choices[0].message.content`` and ``.usage`` out."""
        client = self._client(kwargs["api_base"], kwargs.get("api_key") or KEYLESS_API_KEY,
                              float(kwargs.get("timeout") or 60.0))
        args: dict[str, Any] = {"messages": kwargs["messages"]}
        body: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in _SDK_ARGS:
                args[key] = value
            elif key not in _LITELLM_ONLY and key != "messages":
                body[key] = value
        if body:
            args["extra_body"] = {**body, **(args.get("extra_body") or {})}
        return await client.chat.completions.create(model=kwargs["model"].split("/", 1)[1], **args)

    async def aclose(self) -> None:
        """Close the running loop's clients (their connections); called before a sync run's loop ends."""
        if self._loop is not asyncio.get_running_loop():
            return  # nothing opened in this loop
        clients, self._clients, self._loop = list(self._clients.values()), {}, None
        for client in clients:
            await client.close()
