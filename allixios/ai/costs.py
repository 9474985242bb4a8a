"""Prices and cost estimates: the catalogue's override, else litellm's local price map.

`estimate_cost` runs before a call (prompt tokens counted with litellm's tokenizer, output at the
expected length); the budget reserves the worst case (output at the cap), so a call that is let
through cannot overspend even when it writes more than expected.
"""

from __future__ import annotations

from dataclasses import dataclass

from allixios.ai.catalogue import Deployment
from allixios.errors import ConfigError

# Prompt tokens counted before the call (litellm's tokenizer) differ from the provider's own count:
# little for OpenAI models (tiktoken is exact up to message framing), more for providers whose
# tokenizer litellm only approximates. The reservation covers the count times this margin.
PROMPT_TOKEN_MARGIN = 1.10  # any provider not listed
PROMPT_TOKEN_MARGINS = {
    "openai": 1.10, "azure": 1.10, "text-completion-openai": 1.10,
    "anthropic": 1.25, "bedrock": 1.25, "vertex_ai": 1.25, "gemini": 1.25,
    "mistral": 1.20, "cohere": 1.20, "groq": 1.20, "together_ai": 1.20, "ollama": 1.20,
    "offline": 1.0,
}
OUTPUT_CAP_FACTOR = 2  # default max output tokens = expected x this


@dataclass(frozen=True)
class Price:
    input_per_token: float
    output_per_token: float
    source: str  # "catalogue" or "litellm price map"


@dataclass(frozen=True)
class CostEstimate:
    deployment_id: str
    tokens_in: int
    expected_tokens_out: int
    max_tokens_out: int
    expected_usd: float  # the seed's estimateCost: prompt + expected output
    reserve_usd: float  # worst case held against the budget until the call settles


_price_cache: dict[str, Price] = {}


def price_of(d: Deployment) -> Price:
    if d.has_price_override:
        return Price(d.input_price_per_mtok / 1e6, (d.output_price_per_mtok or 0.0) / 1e6, "catalogue")
    cached = _price_cache.get(d.model)
    if cached:
        return cached
    from allixios.ai.router import litellm_module

    litellm = litellm_module()
    try:
        info = litellm.get_model_info(model=d.model)
    except Exception:
        info = None
    if not info or info.get("input_cost_per_token") is None:
        raise ConfigError(
            f"no price known for deployment {d.id!r} (model {d.model}) in litellm's local price map",
            fix=f"add price: {{input: USD_PER_MTOK, output: USD_PER_MTOK}} to {d.id} in config/models.yaml",
        )
    price = Price(float(info["input_cost_per_token"]), float(info.get("output_cost_per_token") or 0.0), "litellm price map")
    _price_cache[d.model] = price
    return price


def prompt_token_margin(d: Deployment) -> float:
    return PROMPT_TOKEN_MARGINS.get(d.provider, PROMPT_TOKEN_MARGIN)


def cost_usd(d: Deployment, tokens_in: int, tokens_out: int) -> float:
    price = price_of(d)
    return round(tokens_in * price.input_per_token + tokens_out * price.output_per_token, 8)


def count_prompt_tokens(d: Deployment, messages: list[dict]) -> int:
    from allixios.ai.router import litellm_module

    return int(litellm_module().token_counter(model=d.model, messages=messages))


def count_text_tokens(d: Deployment, texts: list[str]) -> int:
    from allixios.ai.router import litellm_module

    litellm = litellm_module()
    return sum(int(litellm.token_counter(model=d.model, text=t)) for t in texts if t)


def estimate_cost(d: Deployment, messages: list[dict], expected_output_tokens: int = 1500,
                  max_output_tokens: int | None = None, prompt_tokens: int | None = None) -> CostEstimate:
    tokens_in = prompt_tokens if prompt_tokens is not None else count_prompt_tokens(d, messages)
    cap = max_output_tokens or expected_output_tokens * OUTPUT_CAP_FACTOR
    margin_in = int(tokens_in * prompt_token_margin(d)) + 8
    return CostEstimate(
        deployment_id=d.id,
        tokens_in=tokens_in,
        expected_tokens_out=expected_output_tokens,
        max_tokens_out=cap,
        expected_usd=cost_usd(d, tokens_in, expected_output_tokens),
        reserve_usd=cost_usd(d, margin_in, cap),
    )
