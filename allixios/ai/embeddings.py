"""Embedders: one catalogue alias (default ``embedder``) -> one deployment, called through the litellm Router.

The keyless default is all-MiniLM-L6-v2 (``offline/minilm-l6-v2-int8``, 384 dims, a real local model,
``allixios/ai/minilm.py``); the hashing stand-in (``offline/hashing-384``) is only an explicit choice.
Both are served by the ``offline`` litellm custom provider, so they run the same Router code path as
``openai/text-embedding-3-small`` or any other litellm embedding model named in config/models.yaml.
Embeddings never fail over to another deployment: vectors of different models are not comparable.
Transient failures (429, 5xx, timeouts) are retried with backoff.

Every call is a row in ai_usage (issue 17: query embeddings for search too); a call without a
``request_id`` gets a fresh one (``embed:<uuid>``), without a tenant it is recorded with none.
Calls made for a tenant are budgeted like completions:
the worst case (tokens counted with the per-provider margin) is reserved and the request claimed
with a pending ai_usage row before the HTTP call, then settled with what the provider billed. A
refused reservation raises BudgetExceededError (and is recorded as skipped_budget). Local models
(``Deployment.runs_locally``) are recorded and counted but never refused: nothing is paid.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.engine import URL

from allixios.ai import budgets, ledger, owners, secrets
from allixios.ai.catalogue import Catalogue, Deployment, load_catalogue
from allixios.ai.costs import cost_usd, count_text_tokens, prompt_token_margin
from allixios.errors import BudgetExceededError, ConfigError, ValidationError

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
        budgeted = bool(texts)
        if budgeted and not request_id:
            import uuid

            request_id = f"embed:{uuid.uuid4()}"  # every call is recorded, also one-off ones
        held = self._admit(tenant_id, request_id, run_id, texts) if budgeted else None
        try:
            for start in range(0, len(texts), BATCH_SIZE):
                batch_vectors, batch_tokens = self._call(texts[start : start + BATCH_SIZE])
                vectors.extend(batch_vectors)
                tokens += batch_tokens
        except Exception as exc:
            if held is not None:  # tokens of completed batches were billed: settle them
                self._finish(held, tenant_id, request_id, run_id, tokens, cost_usd(self.deployment, tokens, 0),
                             int((time.perf_counter() - started) * 1000), "error", type(exc).__name__,
                             secrets.scrub(str(exc), secrets.known_secret_values([self.deployment.api_key_env])))
            raise
        except BaseException:
            if held is not None:  # stopped mid-call (an interrupt raised into the step): possibly paid
                self._interrupt(held[0])
            raise
        cost = cost_usd(self.deployment, tokens, 0)
        self.tokens_used += tokens
        self.cost_usd += cost
        if held is not None:
            self._finish(held, tenant_id, request_id, run_id, tokens, cost, int((time.perf_counter() - started) * 1000))
        return vectors

    def _attempt(self, tenant_id: UUID, request_id: str, run_id: str | None, status: str, **kw) -> ledger.Attempt:
        d = self.deployment
        return ledger.Attempt(tenant_id=tenant_id, request_id=request_id, task=d.alias, model=d.model, deployment_id=d.id,
                              provider=d.provider, status=status, run_id=run_id, **kw)

    def _admit(self, tenant_id: UUID, request_id: str, run_id: str | None, texts: list[str]
               ) -> tuple[int, budgets.Reservation] | None:
        """Reserve the worst case and claim the request (a pending row) before the paid call.

        None for the free offline stand-in when the request already succeeded (nothing to pay or count)."""
        from allixios.db.engine import connect

        d = self.deployment
        estimate_tokens = int(count_text_tokens(d, texts) * prompt_token_margin(d)) + 8 * len(texts)
        amount = cost_usd(d, estimate_tokens, 0)
        owner = owners.current_owner()
        deadline = time.monotonic() + 900
        while True:
            with connect(self.database_url) as conn:
                if d.runs_locally and ledger.recorded_success(conn, request_id) is not None:
                    return None  # a local model is free: a re-run adds no row
                if ledger.in_flight_owner(conn, request_id) is None:
                    # the claim first, holding no other lock while it may wait (as in LLMClient._admit_many)
                    claim = ledger.claim(conn, self._attempt(tenant_id, request_id, run_id, "pending"), amount,
                                         None, owner)
                    if claim.granted:
                        # a local model (MiniLM, or the hashing stand-in) costs nothing: it is recorded
                        # and counted, never refused; paid deployments reserve their worst case
                        reservation = (budgets.Reservation(None, True, amount) if d.runs_locally else
                                       budgets.reserve(conn, tenant_id, request_id, amount, owner=owner, run_id=run_id))
                        if reservation.granted:
                            ledger.attach_reservation(conn, claim.pending_id, reservation)
                            return claim.pending_id, reservation
                        ledger.drop_claim(conn, claim.pending_id)
                        ledger.record_attempt(conn, self._attempt(tenant_id, request_id, run_id, "skipped_budget",
                                                                  error_class="BudgetExceeded",
                                                                  error_message=reservation.reason))
                        conn.commit()
                        raise BudgetExceededError(
                            f"embedding request {request_id!r} not made: {reservation.reason}",
                            fix="raise the budget with `allixios ai budget set`, or wait for the next period",
                        )
                    conn.rollback()
            if time.monotonic() > deadline:
                raise EmbeddingError(f"embedding request {request_id!r} is still in flight in another process",
                                     fix="wait for that process, or stop it")
            time.sleep(0.1)  # the same request is in flight elsewhere: wait, then embed (vectors are not stored)

    def _finish(self, held, tenant_id: UUID, request_id: str, run_id: str | None, tokens: int, cost: float,
                latency_ms: int, status: str = "success", error_class: str | None = None,
                error_message: str | None = None) -> None:
        from allixios.db.engine import connect

        pending_id, reservation = held
        with connect(self.database_url) as conn:
            ledger.finish(conn, pending_id, self._attempt(
                tenant_id, request_id, run_id, status, tokens_in=tokens, cost_usd=cost, latency_ms=latency_ms,
                error_class=error_class, error_message=error_message, response_text="" if status == "success" else None))
            budgets.settle(conn, reservation, cost)

    def _interrupt(self, pending_id: int) -> None:
        """Count the cut-off request at its reserved worst case now (see ledger.interrupt): left
        'pending' under this live process it would block a retry of the same request for 15 minutes."""
        from allixios.db.engine import connect

        with contextlib.suppress(Exception), connect(self.database_url) as conn:  # else recovered at process end
            ledger.interrupt(conn, pending_id)

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
