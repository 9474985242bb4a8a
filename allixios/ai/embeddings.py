"""Embedders: one catalogue alias (default ``embedder``) -> one deployment, called through the litellm Router.

The offline default is the OFFLINE EMBEDDER stand-in (``offline/hashing-384``, 384 dims), served by
the ``offline`` litellm custom provider so it runs the same Router code path as
``openai/text-embedding-3-small`` or any other litellm embedding model named in config/models.yaml.
Embeddings never fail over to another deployment: vectors of different models are not comparable.
Transient failures (429, 5xx, timeouts) are retried with backoff.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.engine import URL

from allixios.ai import ledger, secrets
from allixios.ai.catalogue import Catalogue, Deployment, load_catalogue
from allixios.ai.costs import cost_usd
from allixios.errors import ConfigError, ValidationError

BATCH_SIZE = 128


class EmbeddingError(ConfigError):
    """The embedding provider failed after retries (message scrubbed of secrets)."""


@dataclass
class Embedder:
    model: str  # recorded with every vector, e.g. "offline/hashing-384"
    dimension: int
    deployment: Deployment
    catalogue: Catalogue
    database_url: URL | None = None
    tokens_used: int = field(default=0, init=False)  # running total of this embedder's calls
    cost_usd: float = field(default=0.0, init=False)

    @property
    def is_offline_stand_in(self) -> bool:
        return self.deployment.stand_in

    def embed(self, texts: list[str], *, tenant_id: UUID | None = None, request_id: str | None = None,
              run_id: str | None = None) -> list[list[float]]:
        """One vector per text, in order. With tenant_id and request_id the cost lands in ai_usage once."""
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValidationError("embed() takes a list of strings", fix="pass [text, ...]")
        vectors: list[list[float]] = []
        tokens = 0
        started = time.perf_counter()
        for start in range(0, len(texts), BATCH_SIZE):
            batch_vectors, batch_tokens = self._call(texts[start : start + BATCH_SIZE])
            vectors.extend(batch_vectors)
            tokens += batch_tokens
        cost = cost_usd(self.deployment, tokens, 0)
        self.tokens_used += tokens
        self.cost_usd += cost
        if tenant_id is not None and request_id and texts:
            self._record(tenant_id, request_id, run_id, tokens, cost, int((time.perf_counter() - started) * 1000))
        return vectors

    def _call(self, batch: list[str]) -> tuple[list[list[float]], int]:
        from allixios.ai.errors_map import classify
        from allixios.ai.router import get_router

        router = get_router(self.catalogue)
        policy = self.catalogue.policy
        # empty strings are rejected by some providers; embed a single space instead
        inputs = [t if t.strip() else " " for t in batch]
        secret_values = secrets.known_secret_values([self.deployment.api_key_env])
        for n in range(policy.max_attempts_per_deployment):
            try:
                response = router.embedding(model=self.deployment.id, input=inputs, timeout=self.deployment.timeout_s)
                break
            except Exception as exc:
                failure = classify(exc, self.deployment, secret_values)
                if not failure.retryable or n + 1 >= policy.max_attempts_per_deployment:
                    raise EmbeddingError(
                        f"embedding with {self.deployment.id} failed: {failure.message}",
                        fix="check the provider and its key, or use the offline embedder (unset the key)",
                    ) from None
                delay = failure.retry_after_s if failure.retry_after_s is not None else random.uniform(
                    0, min(policy.backoff_max_s, policy.backoff_base_s * 2**n))
                time.sleep(min(delay, policy.max_retry_after_s))
        data = sorted(response.data, key=lambda item: item["index"] if isinstance(item, dict) else item.index)
        vectors = [list(item["embedding"] if isinstance(item, dict) else item.embedding) for item in data]
        if len(vectors) != len(batch) or any(len(v) != self.dimension for v in vectors):
            raise EmbeddingError(
                f"{self.deployment.id} returned {len(vectors)} vectors of dimension "
                f"{len(vectors[0]) if vectors else 0} for {len(batch)} texts (expected {self.dimension})",
                fix=f"set dimension: to the model's real size for {self.deployment.id} in config/models.yaml",
            )
        usage = getattr(response, "usage", None)
        tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        return vectors, tokens

    def _record(self, tenant_id: UUID, request_id: str, run_id: str | None, tokens: int, cost: float, latency_ms: int) -> None:
        from allixios.db.engine import connect

        d = self.deployment
        with connect(self.database_url) as conn:
            if ledger.recorded_success(conn, request_id) is not None:
                return  # re-run of the same request: cost already on the ledger
            ledger.record_attempt(conn, ledger.Attempt(
                tenant_id=tenant_id, request_id=request_id, task=d.alias, model=d.model, deployment_id=d.id,
                provider=d.provider, status="success", tokens_in=tokens, cost_usd=cost, latency_ms=latency_ms,
                run_id=run_id, response_text="",
            ))


def get_embedder(alias: str = "embedder", catalogue: Catalogue | None = None, database_url: URL | None = None) -> Embedder:
    """The embedder of ``alias``: its first deployment with a key, else the offline stand-in."""
    catalogue = catalogue or load_catalogue()
    usable = catalogue.usable(alias)
    if not usable:
        raise ConfigError(f"no usable deployment for {alias!r}", fix="set its api_key_env or add the offline stand-in")
    d = usable[0]
    if not d.dimension:
        raise ConfigError(f"embedding deployment {d.id!r} has no dimension", fix=f"add dimension: N to {d.id} in {catalogue.path.name}")
    return Embedder(model=d.model, dimension=d.dimension, deployment=d, catalogue=catalogue, database_url=database_url)
