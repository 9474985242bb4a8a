"""Model catalogues that point at a LocalLLMServer, for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FAST_POLICY = {
    "timeout_s": 2,
    "max_attempts_per_deployment": 2,
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.05,
    "max_retry_after_s": 5,
    "circuit_failure_threshold": 3,
    "circuit_cooldown_s": 2,
    "min_history_articles": 3,
    # deterministic ranking (the best quality per cost first); load-balancing tests ask for it
    "balance_within": 0,
}


def local_deployment(deployment_id: str, server_url: str, *, model: str | None = None, price_in: float = 1.0,
                     price_out: float = 2.0, quality: float = 80, latency_ms: int = 100, **extra: Any) -> dict:
    """An OpenAI-compatible deployment served by the local server (model name = the id unless given)."""
    return {
        "id": deployment_id,
        "model": f"openai/{model or deployment_id}",
        "api_base": server_url,
        "api_key_env": extra.pop("api_key_env", "ALLIXIOS_LOCAL_LLM_KEY"),
        "price": {"input": price_in, "output": price_out},
        "quality_prior": quality,
        "typical_latency_ms": latency_ms,
        **extra,
    }


def write_catalogue(path: str | Path, aliases: dict[str, list[dict]], **policy: Any) -> Path:
    path = Path(path)
    path.write_text(yaml.safe_dump({"defaults": {**FAST_POLICY, **policy}, "aliases": aliases}, sort_keys=False))
    return path
