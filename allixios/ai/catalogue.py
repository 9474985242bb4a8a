"""The model catalogue (config/models.yaml): task aliases mapped to ordered deployments.

Plain data, no litellm import: the CLI and model selection read it cheaply, and the litellm Router
is built from it in `allixios.ai.router`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from allixios.ai import secrets
from allixios.errors import ConfigError
from allixios.settings import repo_path

MODELS_FILE_ENV = "ALLIXIOS_MODELS_FILE"
TASK_ALIASES = ("writer", "researcher", "judge", "embedder")


@dataclass(frozen=True)
class Policy:
    """Retry, backoff and circuit settings (the catalogue's `defaults`)."""

    timeout_s: float = 60.0
    max_attempts_per_deployment: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    max_retry_after_s: float = 60.0
    circuit_failure_threshold: int = 5
    circuit_cooldown_s: float = 60.0
    min_history_articles: int = 5
    # rate limits (rpm/tpm, rpd/tpd of each deployment) count in fixed windows of these lengths,
    # shared by every process through ai_rate_windows; tests shorten the minute
    rate_window_s: float = 60.0
    rate_day_window_s: float = 86400.0
    # load balancing: deployments whose quality per cost is within this fraction of the best share
    # the traffic (weighted shuffle, like litellm's simple-shuffle); 0 = always the best one
    balance_within: float = 0.1
    # routing that learns from money (allixios.ai.learned_routing): a Thompson-sampling bandit per
    # niche over the writer's deployments, rewarded with each article's net revenue; opt-in
    learned_routing: bool = False
    learned_min_days: int = 7  # days of revenue data before an article counts as evidence
    learned_usd_per_view: float = 0.0  # engagement in the reward: each view counts as this many USD
    # chat calls to self-hosted OpenAI-compatible servers (openai/... with an api_base) through the
    # OpenAI SDK instead of litellm's wrapper around it (allixios.ai.openai_direct); false = litellm
    direct_openai_compatible: bool = True


@dataclass(frozen=True)
class Similarity:
    """Cosine thresholds calibrated for ONE embedding model's vectors (the catalogue's ``similarity:``).

    Cosines of two models live on different scales (MiniLM paraphrases score ~0.6, hashing ones ~0.1),
    so every threshold belongs to the model whose vectors it compares. The defaults are the values
    Allixios used before thresholds were per model: uncalibrated for any real model.
    """

    topic_duplicate: float = 0.92  # a topic candidate's headline vs a live article's or today's topic's headline
    cannibalization: float = 0.80  # two published articles' headlines (seo_reports)
    document_duplicate: float | None = None  # two published articles' whole documents (None: not checked)
    search_min: float = 0.05  # semantic search: chunks less similar to the query are not candidates


@dataclass(frozen=True)
class Deployment:
    id: str
    alias: str
    model: str  # litellm "provider/model"
    api_base: str | None = None
    api_key_env: str | None = None
    input_price_per_mtok: float | None = None  # catalogue override, USD per million tokens
    output_price_per_mtok: float | None = None
    rpm: int | None = None  # requests per minute (the seed's RateLimit.requestsPerMinute), enforced
    tpm: int | None = None  # tokens per minute
    rpd: int | None = None  # requests per day
    tpd: int | None = None  # tokens per day
    weight: float = 1.0  # share of traffic among deployments of similar value (load balancing)
    max_tokens: int | None = None  # the model's output limit: max_tokens sent never exceeds it
    languages: tuple[str, ...] = ()  # languages it writes well (BCP 47 primary tags); empty = any
    content_types: tuple[str, ...] = ()  # e.g. article, faq, product; empty = any
    default_params: tuple[tuple[str, Any], ...] = ()  # sent with every call, e.g. temperature
    fine_tuned_from: str | None = None  # a fine-tuned model: the deployment id it was trained from
    timeout_s: float = 60.0
    quality_prior: float = 70.0
    typical_latency_ms: int = 1000
    stand_in: bool = False
    dimension: int | None = None
    responder: str | None = None  # offline chat stand-ins: "module:function" answering messages
    similarity: Similarity = field(default_factory=Similarity)  # embedding deployments: calibrated thresholds

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0] if "/" in self.model else "openai"

    @property
    def runs_locally(self) -> bool:
        """Served in this process by the offline provider (a stand-in or a local model such as
        MiniLM): nothing is paid, so a budget never refuses it."""
        return self.stand_in or self.provider == "offline"

    @property
    def limits(self) -> dict[str, int]:
        """The configured rate limits: {'rpm': 2, 'tpd': 100000, ...}."""
        return {k: v for k in ("rpm", "tpm", "rpd", "tpd") if (v := getattr(self, k)) is not None}

    @property
    def has_price_override(self) -> bool:
        return self.input_price_per_mtok is not None

    def key_status(self) -> str:
        """'not needed', 'set' or 'missing ENV' — never the key itself."""
        if not self.api_key_env:
            return "not needed"
        return "set" if secrets.read_secret(self.api_key_env) else f"missing {self.api_key_env}"

    @property
    def available(self) -> bool:
        return self.key_status() != f"missing {self.api_key_env}"


@dataclass(frozen=True)
class Catalogue:
    path: Path
    policy: Policy
    aliases: dict[str, tuple[Deployment, ...]] = field(default_factory=dict)

    def deployments(self, alias: str) -> tuple[Deployment, ...]:
        try:
            return self.aliases[alias]
        except KeyError:
            raise ConfigError(
                f"model alias {alias!r} is not in the catalogue {self.path}",
                fix=f"use one of {', '.join(sorted(self.aliases))} or add it to {self.path.name}",
            ) from None

    def usable(self, alias: str) -> tuple[Deployment, ...]:
        """Deployments that can be called now: real ones with their key set; stand-ins only when none is.

        Offline stand-ins never serve as fallbacks for a real provider: a production outage must not
        quietly publish stand-in text.
        """
        available = [d for d in self.deployments(alias) if d.available]
        real = [d for d in available if not d.stand_in]
        return tuple(real or available)

    def deployment(self, deployment_id: str) -> Deployment:
        for deployments in self.aliases.values():
            for d in deployments:
                if d.id == deployment_id:
                    return d
        raise ConfigError(f"deployment {deployment_id!r} is not in the catalogue {self.path}", fix="see `allixios ai models`")

    def all_deployments(self) -> list[Deployment]:
        return [d for deployments in self.aliases.values() for d in deployments]


def catalogue_path(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path).expanduser().resolve()
    configured = os.environ.get(MODELS_FILE_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return repo_path("config", "models.yaml")


_POLICY_KEYS = set(Policy.__dataclass_fields__)
_DEPLOYMENT_KEYS = {
    "id", "model", "api_base", "api_key_env", "price", "rpm", "tpm", "timeout_s", "quality_prior",
    "typical_latency_ms", "stand_in", "dimension", "responder", "description", "similarity",
    "rpd", "tpd", "weight", "max_tokens", "languages", "content_types", "default_params", "fine_tuned_from",
}
_LIMIT_NAMES = {"rpm": "requests per minute", "tpm": "tokens per minute", "rpd": "requests per day",
                "tpd": "tokens per day", "max_tokens": "output tokens"}


def _limit(path: Path, deployment_id: str, raw: dict, key: str) -> int | None:
    """A positive whole limit, or None when unset. Zero would block every call: refused with the fix."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _bad(path, f"deployment {deployment_id!r} {key} = {value!r} is not a whole number",
                   f"set {key}: to a positive number of {_LIMIT_NAMES[key]}, or remove it")
    if value <= 0:
        raise _bad(path, f"deployment {deployment_id!r} has {key}: {value}, so no call could ever be made",
                   f"set {key}: to a positive number of {_LIMIT_NAMES[key]}, or remove {key} for no limit")
    return int(value)


def _words(path: Path, deployment_id: str, raw: dict, key: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(path, f"deployment {deployment_id!r} {key} must be a list of names", f"write {key}: [en, de]")
    return tuple(v.strip().lower() for v in value)
_SIMILARITY_KEYS = set(Similarity.__dataclass_fields__)


def _similarity(path: Path, deployment_id: str, raw: Any) -> Similarity:
    if raw is None:
        return Similarity()
    if not isinstance(raw, dict) or set(raw) - _SIMILARITY_KEYS:
        raise _bad(path, f"deployment {deployment_id!r} similarity must map {', '.join(sorted(_SIMILARITY_KEYS))} to cosines",
                   "write similarity: {topic_duplicate: 0.75, cannibalization: 0.75, search_min: 0.2}")
    values = {}
    for key, value in raw.items():
        if value is None and key == "document_duplicate":
            values[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
            raise _bad(path, f"deployment {deployment_id!r} similarity {key} = {value!r} is not a cosine from -1 to 1",
                       f"set similarity.{key} to a number such as 0.75")
        values[key] = float(value)
    return Similarity(**values)


_RESERVED_PARAMS = {"model", "messages", "max_tokens", "timeout", "api_key", "api_base", "input"}


def _default_params(path: Path, deployment_id: str, raw: Any) -> tuple[tuple[str, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or set(raw) & _RESERVED_PARAMS:
        raise _bad(path, f"deployment {deployment_id!r} default_params must map parameter names to values "
                         f"(not {', '.join(sorted(_RESERVED_PARAMS))})", "write default_params: {temperature: 0.7}")
    return tuple(sorted(raw.items()))


def _bad(path: Path, what: str, fix: str) -> ConfigError:
    return ConfigError(f"model catalogue {path}: {what}", fix=fix)


def _deployment(path: Path, alias: str, raw: Any, policy: Policy) -> Deployment:
    if not isinstance(raw, dict):
        raise _bad(path, f"alias {alias!r} has an entry that is not a mapping", "give each deployment id: and model:")
    unknown = set(raw) - _DEPLOYMENT_KEYS
    if unknown:
        raise _bad(path, f"deployment {raw.get('id')!r} has unknown field(s) {', '.join(sorted(unknown))}",
                   f"use only {', '.join(sorted(_DEPLOYMENT_KEYS))}")
    for required in ("id", "model"):
        if not raw.get(required):
            raise _bad(path, f"a deployment of alias {alias!r} has no {required}", f"add {required}: to it")
    price = raw.get("price")
    if price is not None and (not isinstance(price, dict) or "input" not in price):
        raise _bad(path, f"deployment {raw['id']!r} price must be {{input: X, output: Y}} (USD per million tokens)",
                   "write price: {input: 0.15, output: 0.60}")
    try:
        quality = float(raw.get("quality_prior", 70))
        deployment = Deployment(
            id=str(raw["id"]),
            alias=alias,
            model=str(raw["model"]),
            api_base=raw.get("api_base"),
            api_key_env=raw.get("api_key_env"),
            input_price_per_mtok=float(price["input"]) if price else None,
            output_price_per_mtok=float(price.get("output", 0)) if price else None,
            rpm=_limit(path, str(raw["id"]), raw, "rpm"),
            tpm=_limit(path, str(raw["id"]), raw, "tpm"),
            rpd=_limit(path, str(raw["id"]), raw, "rpd"),
            tpd=_limit(path, str(raw["id"]), raw, "tpd"),
            weight=float(raw.get("weight", 1.0)),
            max_tokens=_limit(path, str(raw["id"]), raw, "max_tokens"),
            languages=_words(path, str(raw["id"]), raw, "languages"),
            content_types=_words(path, str(raw["id"]), raw, "content_types"),
            default_params=_default_params(path, str(raw["id"]), raw.get("default_params")),
            fine_tuned_from=str(raw["fine_tuned_from"]) if raw.get("fine_tuned_from") else None,
            timeout_s=float(raw.get("timeout_s", policy.timeout_s)),
            quality_prior=quality,
            typical_latency_ms=int(raw.get("typical_latency_ms", 1000)),
            stand_in=bool(raw.get("stand_in", False)),
            dimension=int(raw["dimension"]) if raw.get("dimension") else None,
            responder=raw.get("responder"),
            similarity=_similarity(path, str(raw["id"]), raw.get("similarity")),
        )
    except (TypeError, ValueError) as exc:
        raise _bad(path, f"deployment {raw.get('id')!r} has a bad value ({exc})", "use numbers for prices, limits and timeouts") from None
    if deployment.weight <= 0:
        raise _bad(path, f"deployment {deployment.id!r} weight {deployment.weight} is not positive",
                   "use a positive weight (its share of traffic among deployments of similar value)")
    if not 0 <= quality <= 100:
        raise _bad(path, f"deployment {deployment.id!r} quality_prior {quality} is outside 0-100", "use a score from 0 to 100")
    if deployment.api_key_env and deployment.api_key_env.startswith(("sk-", "sk_")):
        raise _bad(path, f"deployment {deployment.id!r} api_key_env looks like a key, not a variable name",
                   "put the key in an environment variable and write its NAME in api_key_env")
    return deployment


def load_catalogue(path: str | os.PathLike | None = None) -> Catalogue:
    file = catalogue_path(path)
    if not file.is_file():
        raise ConfigError(f"model catalogue {file} does not exist", fix=f"create it (see config/models.yaml) or unset {MODELS_FILE_ENV}")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise _bad(file, f"is not valid YAML ({str(exc).splitlines()[0]})", "fix the YAML syntax") from None
    defaults = data.get("defaults") or {}
    unknown = set(defaults) - _POLICY_KEYS
    if unknown:
        raise _bad(file, f"unknown defaults {', '.join(sorted(unknown))}", f"use only {', '.join(sorted(_POLICY_KEYS))}")
    try:
        policy = Policy(**{k: type(getattr(Policy, k))(v) for k, v in defaults.items()})
    except (TypeError, ValueError) as exc:
        raise _bad(file, f"bad defaults ({exc})", "use numbers in defaults") from None
    raw_aliases = data.get("aliases")
    if not isinstance(raw_aliases, dict) or not raw_aliases:
        raise _bad(file, "has no aliases", "add aliases: writer: [- id: ..., model: ...]")
    aliases: dict[str, tuple[Deployment, ...]] = {}
    seen: set[str] = set()
    for alias, entries in raw_aliases.items():
        if not isinstance(entries, list) or not entries:
            raise _bad(file, f"alias {alias!r} has no deployments", "list at least one deployment under it")
        deployments = tuple(_deployment(file, str(alias), e, policy) for e in entries)
        for d in deployments:
            if d.id in seen:
                raise _bad(file, f"deployment id {d.id!r} is used twice", "give every deployment its own id")
            seen.add(d.id)
        aliases[str(alias)] = deployments
    return Catalogue(path=file, policy=policy, aliases=aliases)
