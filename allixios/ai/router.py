"""litellm, configured once per process; the direct-call parameters and the Router built from the catalogue.

The hot path (`LLMClient` chat calls) calls ``litellm.acompletion`` directly with a deployment's
`call_params` (issue 19): the Router's per-call bookkeeping (deployment lookup, rpm/tpm counting in
process memory, its own logging objects) cost ~3 ms of CPU per call and none of it is used, because
Allixios routes, retries, fails over and counts rate windows itself. litellm's OpenAI-compatible
client is cached by litellm per (api_base, key, timeout), so connections are reused across calls.
The Router stays for the embedding deployments.

litellm keeps its settings in module globals that are not thread-safe, so they are set once under
a lock. The Router has one model group per deployment id (``model=deployment.id``) with retries,
fallbacks and cooldowns switched OFF: `allixios.ai.client` runs the retry/fallback/circuit loop
itself so that the ai_usage ledger gets exactly one row per HTTP attempt.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from allixios.ai import secrets
from allixios.ai.catalogue import Catalogue, Deployment

_lock = threading.RLock()
_configured = False
_routers: dict[tuple, Any] = {}


def litellm_module():
    """Import and configure litellm (offline price map, no telemetry, offline provider registered)."""
    global _configured
    if _configured:  # the hot path asks on every call: no lock once configured
        import litellm

        return litellm
    with _lock:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        if not _configured:
            litellm.suppress_debug_info = True
            litellm.telemetry = False
            litellm.drop_params = True  # e.g. response_format on providers without JSON mode
            litellm.num_retries = 0
            # every failure is already a row in ai_usage; litellm's own warnings would repeat it (and
            # its loop-change notices are expected: sync callers run each batch in a fresh loop)
            logging.getLogger("LiteLLM").setLevel(logging.ERROR)
            from allixios.ai import offline_provider

            offline_provider.register()
            _configured = True
        return litellm


# what a keyless OpenAI-compatible server (local server, vLLM, Ollama) gets: the SDK still wants a value
KEYLESS_API_KEY = "no-key-needed"


def _litellm_params(d: Deployment) -> dict[str, Any]:
    params: dict[str, Any] = {"model": d.model, "timeout": d.timeout_s, "max_retries": 0}
    if d.api_base:
        params["api_base"] = d.api_base
    if d.api_key_env:
        key = secrets.read_secret(d.api_key_env)
        if key:
            params["api_key"] = key
    elif d.api_base:
        params["api_key"] = KEYLESS_API_KEY
    if d.has_price_override:
        # litellm prices its own logging with these; without them it runs a costly "zero cost" diagnosis per call
        params["input_cost_per_token"] = d.input_price_per_mtok / 1e6
        params["output_cost_per_token"] = (d.output_price_per_mtok or 0.0) / 1e6
    if d.rpm:
        params["rpm"] = d.rpm
    if d.tpm:
        params["tpm"] = d.tpm
    return params


def call_params(d: Deployment) -> dict[str, Any]:
    """What ``litellm.acompletion`` needs for this deployment, besides the request (model, base, key, prices).

    Prices from the catalogue are passed along so litellm prices its own logging object with them
    instead of scanning its price map (a "zero cost" diagnosis) on every call.
    """
    litellm_module()
    from allixios.ai import offline_provider

    if d.provider == offline_provider.PROVIDER and d.responder:
        offline_provider.set_responder(d.model.split("/", 1)[1], d.responder)
    params = _litellm_params(d)
    params.pop("rpm", None), params.pop("tpm", None)  # Router bookkeeping only; windows are ratelimits'
    return params


def _cache_key(catalogue: Catalogue) -> tuple:
    stamp = catalogue.path.stat().st_mtime_ns if catalogue.path.exists() else 0
    keys = tuple(d.key_status() for d in catalogue.all_deployments())
    return (str(catalogue.path), stamp, keys)


def get_router(catalogue: Catalogue):
    """The process-wide Router for this catalogue (rebuilt only when the file or key set changes)."""
    key = _cache_key(catalogue)
    with _lock:
        router = _routers.get(key)
        if router is not None:
            return router
        litellm = litellm_module()
        from allixios.ai import offline_provider

        for d in catalogue.all_deployments():
            if d.provider == offline_provider.PROVIDER and d.responder:
                offline_provider.set_responder(d.model.split("/", 1)[1], d.responder)
        model_list = [
            {"model_name": d.id, "litellm_params": _litellm_params(d), "model_info": {"id": d.id}}
            for d in catalogue.all_deployments()
            if d.available
        ]
        router = litellm.Router(
            model_list=model_list,
            num_retries=0,
            max_fallbacks=0,
            disable_cooldowns=True,
            timeout=catalogue.policy.timeout_s,
        )
        # drop routers of older versions of the same file
        for old in [k for k in _routers if k[0] == key[0]]:
            _routers.pop(old)
        _routers[key] = router
        return router
