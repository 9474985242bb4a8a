"""LLMClient: every LLM call of Allixios goes through here.

For one request: answer from the ledger if the request_id already succeeded (no new paid call, no
new row); else select the deployments (quality per cost, recorded in model_selections), and walk
them in order. Per attempt: take the deployment's shared circuit permit, reserve the worst-case
cost against the tenant's budget and claim the request with a 'pending' ai_usage row (all in one
transaction, BEFORE the paid HTTP call; the calls of a step that reach admission together share
that transaction, see _GroupCommit), call litellm (its own retries, fallbacks and
cooldowns are off), then complete that row, settle the reservation and update the circuit in one
transaction. A process killed mid-call leaves its pending row: the next caller sees its owner is
gone and counts it as possibly paid (see ledger.recover_interrupted). Two callers with the same
request_id at the same time: one holds the claim and pays; the other waits and replays its answer. Retries: exponential backoff with full jitter on 429 (Retry-After honoured), 5xx,
timeouts, connection errors and malformed responses; then the next deployment. 400 and auth
errors stop at once. Provider failures never raise: they come back as a CompletionResult.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import random
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy.engine import URL

from allixios.ai import budgets, caps, circuit, ledger, openai_direct, owners, ratelimits, secrets
from allixios.ai.catalogue import Catalogue, Deployment, load_catalogue
from allixios.ai.costs import CostEstimate, cost_usd
from allixios.ai.errors_map import ProviderFailure, classify
from allixios.ai.selection import (
    Candidate,
    ModelSelection,
    NoModelAvailableError,
    amend_selection,
    load_overrides,
    quality_history,
    record_selections,
    select_model,
    selection_inputs,
)
from allixios.db.engine import connect
from allixios.errors import ValidationError

SUCCESS, ERROR, SKIPPED_BUDGET, CIRCUIT_OPEN = "success", "error", "skipped_budget", "circuit_open"
DB_WORKERS = 8  # below the engine's 15 pooled connections, leaving room for the caller's own
HISTORY_TTL_S = 60.0  # how long a client reuses a niche's quality history for selection
INPUTS_TTL_S = 1.0  # how long it reuses the other selection inputs (circuits, budget left, in flight)
BATCH_MAX = 64  # completed attempts written in one transaction at most
CLAIM_POLL_S = 0.1  # how often a caller waiting for the same request's call in flight looks again
CLAIM_WAIT_S = 900.0  # how long it waits at most before reporting the request as busy
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


@dataclass
class CompletionRequest:
    task: str  # catalogue alias: "writer", "researcher", "judge"
    messages: list[dict]  # OpenAI chat messages
    tenant_id: UUID
    request_id: str  # stable per logical request, e.g. f"draft:{topic_id}" -> idempotent ledger
    run_id: str | None = None
    article_id: UUID | None = None
    topic_id: UUID | None = None
    niche_id: UUID | None = None
    expected_output_tokens: int = 1500
    json_response: bool = True
    validate: Callable[[str], Any] | None = None  # raise ValueError -> malformed, retried, then reported
    max_output_tokens: int | None = None  # provider max_tokens; default 2 x expected (bounds the reservation)
    max_cost_usd: float | None = None  # selection constraints (seed: max cost per article, max latency)
    max_latency_ms: int | None = None
    # cost caps enforced at call time (allixios.ai.caps): all calls of the content request / of the topic
    content_request_id: UUID | None = None
    request_cap_usd: float | None = None
    topic_cap_usd: float | None = None
    language: str | None = None  # deployments declaring languages / content_types are chosen only within them
    content_type: str | None = None
    prompt_version: str | None = None  # learned routing compares deployments on articles of this prompt


@dataclass
class CompletionResult:
    status: str  # success | error | skipped_budget | circuit_open
    text: str | None
    parsed: Any  # validate(text) when given, else the JSON value when json_response, else None
    model: str
    deployment_id: str
    provider: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0  # of the successful attempt (every attempt's cost is in ai_usage)
    latency_ms: int = 0
    error_class: str | None = None
    error_message: str | None = None
    selection: dict | None = None  # modelId, provider, estimatedCost, estimatedQuality, reasoning
    attempts: int = 0  # ai_usage rows this call added
    replayed: bool = False  # answered from the ledger: the request_id had already succeeded
    total_cost_usd: float = 0.0  # all attempts of this call, including failed and malformed ones

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS


def _parse(text: str, req: CompletionRequest) -> Any:
    """The validated value, or ValueError when the text is malformed."""
    if req.validate is not None:
        try:
            return req.validate(text)
        except ValueError:
            raise
        except Exception as exc:  # a validator's KeyError/TypeError on bad input means the same thing
            raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    if req.json_response:
        match = _FENCE.match(text)
        return json.loads(match.group(1) if match else text)
    return None


class _Busy(Exception):  # noqa: N818 (a signal, not an error)
    """The request's call is in flight in another live process (rolls back the admission)."""

    def __init__(self, owner: str):
        super().__init__(owner)
        self.owner = owner


_BUSY = object()  # _try_deployment: wait for the other caller, then replay


@dataclass(frozen=True)
class _Limited:
    """_try_deployment: the deployment's rate-limit window is full (no call made)."""

    wait_s: float
    limit: str


@dataclass(frozen=True)
class _Refused:
    """_try_deployment: the budget or a cost cap refused this deployment's worst case (no call made)."""

    result: CompletionResult
    amount_usd: float
    cap: bool  # a cost cap (cheaper deployments may still fit) or the tenant budget


@dataclass
class _Admission:
    permit: circuit.Permit
    reservation: budgets.Reservation | None = None
    pending_id: int | None = None
    rate: ratelimits.RatePermit | None = None
    cap_reason: str | None = None


@dataclass
class _Call:
    """Book-keeping of one complete() call."""

    req: CompletionRequest
    selection: ModelSelection | None = None
    attempts: int = 0
    total_cost: float = 0.0
    last: CompletionResult | None = None
    secret_values: list[str] = field(default_factory=list)
    rate_wait_ms: int = 0  # waited for rate-limit windows; written on the next attempt's row
    rate_limited_on: list[str] = field(default_factory=list)


class LLMClient:
    """Quality-per-cost routing, ledger, budgets, retries, failover and circuits over a litellm Router."""

    def __init__(self, catalogue: Catalogue | None = None, database_url: URL | None = None, concurrency: int = 8,
                 sleep: Callable[[float], Any] | None = None):
        self.catalogue = catalogue or load_catalogue()
        self.database_url = database_url
        self.concurrency = max(1, int(concurrency))
        self._sleep = sleep or asyncio.sleep
        self._executor: ThreadPoolExecutor | None = None
        self._router = None
        self._executor_lock = threading.Lock()
        self._history: dict[tuple, tuple[float, Any]] = {}  # key -> (expires, value): see _cached
        self._params: dict[str, dict[str, Any]] = {}  # deployment id -> litellm call parameters
        self._groups: dict[str, _GroupCommit] = {}  # "prepare" | "admit" | "record" -> its group commit
        self._inputs_cache: dict[tuple, tuple] = {}  # (task, tenant) -> (expires, SelectionInputs, others' in flight)
        self._own_in_flight: dict[str, int] = {}  # deployment id -> this client's calls between admission and record
        self._direct = openai_direct.Transport()  # OpenAI-compatible servers without litellm's wrapper

    # -- database helpers (sync psycopg, run in worker threads) ---------------------------------

    def _db(self, fn: Callable, *args) -> Any:
        with connect(self.database_url) as conn:
            return fn(conn, *args)

    async def _in_db(self, fn: Callable, *args) -> Any:
        """Database work in this client's worker threads (bounded below the connection pool's size)."""
        if self._executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(DB_WORKERS, thread_name_prefix="allixios-llm-db")
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(self._db, fn, *args))

    def router(self):
        """Prepare litellm for this catalogue's deployments (import, configuration, direct-call
        parameters); called once before timing-sensitive work. Returns the process-wide Router."""
        if self._router is None:
            from allixios.ai.router import get_router

            self._router = get_router(self.catalogue)
            for d in self.catalogue.all_deployments():
                if d.available:
                    self._call_params(d)
        return self._router

    def _call_params(self, d: Deployment) -> dict[str, Any]:
        """The deployment's litellm parameters, built once per client (keys are read from the environment once)."""
        params = self._params.get(d.id)
        if params is None:
            from allixios.ai.router import call_params

            params = self._params[d.id] = call_params(d)
        return params

    # -- public API ------------------------------------------------------------------------------

    async def complete(self, req: CompletionRequest) -> CompletionResult:
        self._check(req)
        call = _Call(req, secret_values=secrets.known_secret_values([d.api_key_env for d in self.catalogue.all_deployments()]))
        try:
            prepared = await self._group("prepare", self._prepare_many).submit(req)
        except NoModelAvailableError as exc:
            return await self._unavailable(call, exc)
        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            if isinstance(prepared, CompletionResult):
                return prepared  # answered from the ledger
            call.selection = prepared
            outcome = await self._walk(call)
            if outcome is not _BUSY:
                return outcome
            # another process holds this request's claim: wait for its outcome, then replay it
            while await self._in_db(lambda conn: ledger.in_flight_owner(conn, req.request_id)):
                if time.monotonic() > deadline:
                    d = self.catalogue.deployments(req.task)[0]
                    return self._result(call, d, ERROR, error_class="RequestInFlight",
                                        error_message=f"request {req.request_id!r} is still in flight in another process")
                await asyncio.sleep(CLAIM_POLL_S)
            try:
                prepared = await self._in_db(self._prepare, req)
            except NoModelAvailableError as exc:
                return await self._unavailable(call, exc)

    async def _walk(self, call: _Call) -> CompletionResult | object:
        """Try the ranked deployments in order: failover, cheaper ones after a budget refusal, and
        waiting for rate-limit windows when every deployment that could serve is full."""
        policy = self.catalogue.policy
        todo = list(call.selection.ranked)
        refused: _Refused | None = None
        while True:
            limited: dict[str, tuple[Candidate, _Limited]] = {}
            for candidate in todo:
                if refused is not None and not (candidate.estimate.reserve_usd < refused.amount_usd - 1e-12
                                                or candidate.deployment.runs_locally):
                    continue  # after a refusal only cheaper deployments can fit
                result = await self._try_deployment(call, candidate)
                if result is _BUSY:
                    return _BUSY
                if isinstance(result, _Limited):
                    limited[candidate.deployment.id] = (candidate, result)
                    if candidate.deployment.id not in call.rate_limited_on:
                        call.rate_limited_on.append(candidate.deployment.id)
                    continue
                if isinstance(result, _Refused):
                    refused = result
                    cheaper = [c for c in todo if c.estimate.reserve_usd < result.amount_usd - 1e-12
                               and c is not candidate]
                    note = (f"admission refused {candidate.deployment.id}: {result.result.error_message}; "
                            + (f"trying cheaper {', '.join(c.deployment.id for c in cheaper)}" if cheaper
                               else "no cheaper deployment"))
                    await self._in_db(lambda conn, n=note: amend_selection(conn, call.selection.record_id, n))
                    continue
                if result is not None:
                    if refused is not None and result.ok:
                        await self._in_db(lambda conn, d=result.deployment_id: amend_selection(
                            conn, call.selection.record_id, f"served by cheaper {d} within the budget",
                            self.catalogue.deployment(d)))
                    return result
            if not limited:
                if refused is not None:
                    return refused.result
                assert call.last is not None
                return call.last
            candidate, soonest = min(limited.values(), key=lambda x: x[1].wait_s)
            if soonest.wait_s > policy.max_retry_after_s:
                d = candidate.deployment
                message = (f"rate limits reached on {', '.join(limited)} ({soonest.limit} of {d.id}); the next window "
                           f"opens in {soonest.wait_s:.0f} s > max_retry_after_s {policy.max_retry_after_s:g}")
                await self._record(call, d, ERROR, error_class="RateLimited", error_message=message)
                return self._result(call, d, ERROR, error_class="RateLimited", error_message=message)
            delay = soonest.wait_s + random.uniform(0.005, 0.05)
            call.rate_wait_ms += int(delay * 1000)
            await self._sleep(delay)
            todo = [c for c, _ in limited.values()]

    async def complete_many(self, reqs: list[CompletionRequest], concurrency: int | None = None,
                            on_results: Callable[[list[tuple[int, CompletionResult]]], Any] | None = None
                            ) -> list[CompletionResult]:
        """The results in order. ``on_results``: called in a worker thread with (index, result) pairs
        as the results arrive (those that arrived while the previous call ran come together), so the
        caller's writes overlap the calls still waiting for their answers; all its calls have
        returned before this does, and the first exception it raises is raised here at the end."""
        gate = asyncio.Semaphore(max(1, concurrency or self.concurrency))
        sink = _ResultSink(asyncio.get_running_loop(), on_results) if on_results is not None else None

        async def one(i: int, r: CompletionRequest) -> CompletionResult:
            async with gate:
                result = await self.complete(r)
            if sink is not None:
                sink.put(i, result)
            return result

        results = list(await asyncio.gather(*(one(i, r) for i, r in enumerate(reqs))))
        if sink is not None:
            await sink.drain()
        return results

    def complete_many_sync(self, reqs: list[CompletionRequest], concurrency: int | None = None,
                           on_results: Callable[[list[tuple[int, CompletionResult]]], Any] | None = None
                           ) -> list[CompletionResult]:
        return _run_sync(self._closing(self.complete_many(reqs, concurrency, on_results)))

    def complete_sync(self, req: CompletionRequest) -> CompletionResult:
        return _run_sync(self._closing(self.complete(req)))

    async def _closing(self, coro):
        """``coro``, then the direct path's connections closed while their event loop still runs."""
        try:
            return await coro
        finally:
            await self._direct.aclose()

    def estimate_cost(self, req: CompletionRequest) -> CostEstimate:
        """The seed's estimateCost: what the request would cost on the deployment it would get now."""
        from allixios.ai.selection import rank

        selection = rank(self.catalogue, req.task, req.messages, expected_output_tokens=req.expected_output_tokens,
                         max_output_tokens=req.max_output_tokens, max_cost_usd=req.max_cost_usd,
                         max_latency_ms=req.max_latency_ms)
        return selection.chosen.estimate

    # -- steps -----------------------------------------------------------------------------------

    def _check(self, req: CompletionRequest) -> None:
        self.catalogue.deployments(req.task)  # ConfigError naming the aliases when unknown
        if not req.request_id:
            raise ValidationError("an LLM request has no request_id", fix="pass a stable id such as f'draft:{topic_id}'")
        if not req.messages or not all(isinstance(m, dict) and "role" in m for m in req.messages):
            raise ValidationError(f"request {req.request_id!r} has no valid messages", fix="pass OpenAI chat messages [{'role': ..., 'content': ...}]")

    def _replay(self, conn, req: CompletionRequest) -> CompletionResult | None:
        prior = ledger.recorded_success(conn, req.request_id)
        if prior is None or prior["response_text"] is None:
            return None
        try:
            parsed = _parse(prior["response_text"], req)
        except ValueError:
            return None  # the validator changed and rejects the stored answer: ask again
        return CompletionResult(
            SUCCESS, prior["response_text"], parsed, prior["model"], prior["deployment_id"], prior["provider"],
            prior["tokens_in"], prior["tokens_out"], float(prior["cost_usd"]), prior["latency_ms"], replayed=True,
        )

    def _prepare_many(self, conn, reqs: list[CompletionRequest]
                      ) -> list[CompletionResult | ModelSelection | NoModelAvailableError]:
        """One transaction for the requests that reach preparation together (see _GroupCommit): per
        request the recorded answer if it already succeeded (one query finds which did), else its
        recorded selection; the overrides are read once per tenant in the transaction."""
        done = ledger.succeeded_among(conn, sorted({r.request_id for r in reqs}))
        overrides: dict[Any, Any] = {}
        out: list[CompletionResult | ModelSelection | NoModelAvailableError] = []
        for req in reqs:
            if req.tenant_id not in overrides:
                overrides[req.tenant_id] = load_overrides(conn, req.tenant_id)
            try:
                out.append(self._prepare(conn, req, replay=req.request_id in done,
                                         overrides=overrides[req.tenant_id], record=False))
            except NoModelAvailableError as exc:  # nothing written for this one; the others go on
                out.append(exc)
        # the selections of the batch recorded with one INSERT (issue 19), in the same transaction
        todo = [(i, r) for i, (r, o) in enumerate(zip(reqs, out, strict=True)) if isinstance(o, ModelSelection)]
        ids = record_selections(conn, [(out[i], r.task, r.tenant_id, r.niche_id, r.run_id) for i, r in todo])
        for (i, _), record_id in zip(todo, ids, strict=True):
            out[i] = dataclasses.replace(out[i], record_id=record_id)
        return out

    def _cached(self, key: tuple, ttl_s: float, compute: Callable[[], Any]) -> Any:
        """``compute()``, reused for ``ttl_s`` seconds per key (a niche's history, its bandit evidence,
        a tenant's flag: selection inputs that may lag by that much)."""
        cached = self._history.get(key)
        if cached is None or cached[0] < time.monotonic():
            self._history[key] = cached = (time.monotonic() + ttl_s, compute())
        return cached[1]

    def _prepare(self, conn, req: CompletionRequest, replay: bool = True, overrides=None, record: bool = True
                 ) -> CompletionResult | ModelSelection:
        """The recorded answer if the request already succeeded, else the recorded selection.
        ``replay`` False: the caller knows it has no successful attempt. ``record`` False: the caller
        records the selection itself (`_prepare_many`: one INSERT for the batch)."""
        answer = self._replay(conn, req) if replay else None
        if answer is not None:
            return answer
        history = self._cached((req.task, req.tenant_id, req.niche_id), HISTORY_TTL_S, lambda: quality_history(
            conn, self.catalogue.deployments(req.task), req.tenant_id, req.niche_id))
        bandit, note = self._bandit(conn, req)
        return select_model(
            conn, self.catalogue, req.task, req.messages, tenant_id=req.tenant_id, niche_id=req.niche_id,
            run_id=req.run_id, expected_output_tokens=req.expected_output_tokens,
            max_output_tokens=req.max_output_tokens, max_cost_usd=req.max_cost_usd,
            max_latency_ms=req.max_latency_ms, history=history, language=req.language,
            content_type=req.content_type, bandit=bandit, bandit_note=note, inputs=self._inputs(conn, req, overrides),
            record=record,
        )

    def _inputs(self, conn, req: CompletionRequest, overrides=None):
        """Selection's other inputs (circuits, budget left, calls in flight), read at most once per
        INPUTS_TTL_S per task and tenant: they only order the candidates, and admission re-checks
        circuits, budgets and rate windows under locks. Calls in flight = the other processes' count
        from the snapshot plus this client's own count now, so least-busy balancing stays current.
        A circuit failure or a budget refusal seen by this client drops the snapshot. Overrides
        (switches, failover orders) are read in every preparation transaction (once per tenant for
        the calls prepared together): an operator's drain takes effect on the next call, in every
        process, and nothing re-checks them later."""
        key = (req.task, req.tenant_id)
        with self._executor_lock:
            cached = self._inputs_cache.get(key)
        if cached is None or cached[0] < time.monotonic():
            mine = dict(self._own_in_flight)
            fresh = selection_inputs(conn, self.catalogue, req.task, req.tenant_id)
            cached = (time.monotonic() + INPUTS_TTL_S, fresh,
                      {k: max(0, v - mine.get(k, 0)) for k, v in fresh.busy.items()})
            with self._executor_lock:
                self._inputs_cache[key] = cached
        _, inputs, others = cached
        busy = {d: others.get(d, 0) + self._own_in_flight.get(d, 0) for d in set(others) | set(self._own_in_flight)}
        return dataclasses.replace(inputs, busy=busy,
                                   overrides=overrides if overrides is not None else load_overrides(conn, req.tenant_id))

    def _forget_inputs(self) -> None:
        with self._executor_lock:
            self._inputs_cache.clear()

    def _bandit(self, conn, req: CompletionRequest) -> tuple[dict | None, str | None]:
        """Thompson draws per writer deployment from the niche's revenue evidence (when enabled)."""
        policy = self.catalogue.policy
        if req.task != "writer":
            return None, None
        from allixios import plans

        # the tenant's plan/flag decides first; read at most once per INPUTS_TTL_S per tenant, as the
        # other selection inputs (a query per writer call was a tenth of the preparation's time)
        tenant_flag = self._cached(("learned_routing flag", req.tenant_id), INPUTS_TTL_S,
                                   lambda: plans.flag(conn, req.tenant_id, "learned_routing"))
        if not (policy.learned_routing if tenant_flag is None else tenant_flag):
            return None, None
        from allixios.ai import learned_routing

        usable = [d for d in self.catalogue.usable(req.task) if not d.stand_in]
        if len(usable) < 2:
            return None, None  # nothing to choose between (stand-ins are never learned from)
        ev = self._cached(("bandit", req.tenant_id, req.niche_id, req.prompt_version), HISTORY_TTL_S,
                          lambda: learned_routing.evidence(
                              conn, req.tenant_id, req.niche_id, self.catalogue.deployments(req.task),
                              prompt_version=req.prompt_version, min_days=policy.learned_min_days,
                              engagement_usd_per_view=policy.learned_usd_per_view))
        return learned_routing.draw(ev, [d.id for d in usable]), learned_routing.describe(ev)

    def _admit_many(self, conn, items: list[tuple[Deployment, CompletionRequest, Any]]) -> list[_Admission | _Busy]:
        """One transaction, before the paid calls: each request's claim (a pending ai_usage row), a
        slot in its deployment's rate-limit windows, its circuit permit, the cost caps, then the budget.
        Each item is decided as it would be alone, in the order given; the statements are shared
        (issue 19: one query for what is in flight, one INSERT of every claim, one read of a circuit
        per deployment, one budget lock and one reservation write per tenant, one UPDATE linking them).

        Lock order, the same as one admission alone and as recording (`_write_all`): the claims first
        (nothing else is locked while a claim may wait on the one-pending-row index for another
        caller's completion, which takes the tenant's ai_spend rows: no deadlock), then rate windows
        (by deployment), circuits, cap locks (sorted), ai_spend (by tenant). An item whose call is
        not made has its claim deleted and its window slot given back in the same transaction.
        """
        policy = self.catalogue.policy
        owner = owners.current_owner()
        out: list[_Admission | _Busy | None] = [None] * len(items)
        busy = ledger.in_flight_owners(conn, sorted({req.request_id for _, req, _ in items}))
        todo: list[int] = []
        seen: dict[str, int] = {}
        for i, (_, req, _) in enumerate(items):
            if req.request_id in busy:
                out[i] = _Busy(busy[req.request_id])
            elif req.request_id in seen:  # the same request twice in one batch: the second waits and replays
                out[i] = _Busy(owner)
            else:
                seen[req.request_id] = i
                todo.append(i)
        claims = ledger.claim_many(conn, [(self._attempt_record(items[i][1], items[i][0], "pending"),
                                           items[i][2].reserve_usd) for i in todo], owner)
        pending: dict[int, int] = {}
        for i, claim in zip(todo, claims, strict=True):
            if claim.granted:
                pending[i] = claim.pending_id
            else:
                out[i] = _Busy(claim.busy_owner or "unknown")  # lost the race
        # checked after the claims: an insert racing the other caller's completion waits on the unique
        # index until that completion commits, so its success is visible here -> replay it
        done = ledger.succeeded_among(conn, [items[i][1].request_id for i in pending])
        for i in [i for i in pending if items[i][1].request_id in done]:
            if self._replay(conn, items[i][1]) is not None:
                ledger.drop_claim(conn, pending.pop(i))
                out[i] = _Busy("finished")
        rates: dict[int, ratelimits.RatePermit] = {}
        for i in sorted(pending, key=lambda i: items[i][0].id):
            d, _, est = items[i]
            rate = ratelimits.acquire(conn, d, est.tokens_in + est.expected_tokens_out, policy)
            if rate.allowed:
                rates[i] = rate
            else:
                ledger.drop_claim(conn, pending.pop(i))  # no call: as a 429 would, without asking
                out[i] = _Admission(circuit.Permit(True), rate=rate)
        permits: dict[int, circuit.Permit] = {}
        shared: dict[str, circuit.Permit] = {}  # a closed (or still open) circuit, read once per deployment
        for i in sorted(pending, key=lambda i: items[i][0].id):
            d = items[i][0]
            permit = shared.get(d.id)
            if permit is None:
                permit = circuit.acquire(conn, d.id, policy.circuit_cooldown_s)
            if not permit.probe:
                shared[d.id] = permit  # a won probe is this call's alone: the next one asks again
            if permit.allowed:
                permits[i] = permit
            else:
                ratelimits.give_back(conn, d, rates[i])
                ledger.drop_claim(conn, pending.pop(i))  # no call: the caller records why
                out[i] = _Admission(permit)
        order = sorted(pending)
        for key in sorted({k for i in order for k in caps.lock_keys(
                content_request_id=items[i][1].content_request_id, request_cap_usd=items[i][1].request_cap_usd,
                topic_id=items[i][1].topic_id, topic_cap_usd=items[i][1].topic_cap_usd)}):
            caps.lock(conn, key)
        tenants = {t: budgets.TenantReservations(conn, t, owner=owner)
                   for t in sorted({items[i][1].tenant_id for i in order}, key=str)}
        held: dict[object, list[int]] = {t: [] for t in tenants}
        for n, i in enumerate(order):
            d, req, est = items[i]
            reserve_usd = est.reserve_usd
            # a later item's claim is not counted against this one's cap (alone it would not exist yet)
            cap = caps.check(conn, content_request_id=req.content_request_id, request_cap_usd=req.request_cap_usd,
                             topic_id=req.topic_id, topic_cap_usd=req.topic_cap_usd, amount_usd=reserve_usd,
                             own_pending_id=pending[i], other_ids=[pending[j] for j in order[n + 1:]])
            if cap is not None:
                ratelimits.give_back(conn, d, rates[i])
                ledger.drop_claim(conn, pending[i])
                out[i] = _Admission(permits[i], budgets.Reservation(None, False, reserve_usd, cap), cap_reason=cap)
                continue
            refused = tenants[req.tenant_id].ask(req.request_id, reserve_usd, run_id=req.run_id)
            if refused is not None:
                # committed, not rolled back: what the budget recovered from dead processes stays recovered
                ratelimits.give_back(conn, d, rates[i])
                ledger.drop_claim(conn, pending[i])
                out[i] = _Admission(permits[i], refused)
                continue
            held[req.tenant_id].append(i)
        links: list[tuple[int, budgets.Reservation]] = []
        for t, reservations in tenants.items():
            for i, reservation in zip(held[t], reservations.commit(), strict=True):
                links.append((pending[i], reservation))
                out[i] = _Admission(permits[i], reservation, pending[i], rates[i])
        ledger.attach_reservations(conn, links)
        assert all(o is not None for o in out)
        return out  # type: ignore[return-value]

    @staticmethod
    def _attempt_record(req: CompletionRequest, d: Deployment, status: str, **kw) -> ledger.Attempt:
        return ledger.Attempt(
            tenant_id=req.tenant_id, request_id=req.request_id, task=req.task, model=d.model, deployment_id=d.id,
            provider=d.provider, status=status, run_id=req.run_id, article_id=req.article_id, topic_id=req.topic_id,
            content_request_id=req.content_request_id, **kw,
        )

    async def _unavailable(self, call: _Call, exc: NoModelAvailableError) -> CompletionResult:
        """No deployment can be tried. When circuits are the reason, that is recorded in the ledger."""
        req = call.req
        blocked = await self._in_db(lambda conn: circuit.blocked(conn, self.catalogue.policy.circuit_cooldown_s))
        open_ones = [d for d in self.catalogue.usable(req.task) if d.id in blocked]
        message = secrets.scrub(exc.one_line(), call.secret_values)
        if open_ones:
            d = open_ones[0]
            await self._record(call, d, CIRCUIT_OPEN, error_class="CircuitOpen", error_message=message)
            return self._result(call, d, CIRCUIT_OPEN, error_class="CircuitOpen", error_message=message)
        d = self.catalogue.deployments(req.task)[0]
        return self._result(call, d, ERROR, error_class="NoModelAvailable", error_message=message)

    async def _try_deployment(self, call: _Call, candidate: Candidate) -> CompletionResult | None:
        """Attempts on one deployment; a result ends the request, None moves on to the next deployment."""
        d, req, policy = candidate.deployment, call.req, self.catalogue.policy
        estimate = candidate.estimate
        for n in range(policy.max_attempts_per_deployment):
            try:
                admission = await self._group("admit", self._admit_many, _abandon_admission).submit((d, req, estimate))
            except _Busy:
                return _BUSY
            permit, reservation, pending_id = admission.permit, admission.reservation, admission.pending_id
            if admission.rate is not None and not admission.rate.allowed:
                return _Limited(admission.rate.wait_s, admission.rate.limit or "rate limit")
            if not permit.allowed:
                self._forget_inputs()  # the snapshot thought this circuit usable
                call.last = self._result(call, d, CIRCUIT_OPEN, error_class="CircuitOpen",
                                         error_message=f"circuit of {d.id} is {permit.state.replace('_', '-')}")
                return None
            if not reservation.granted:
                self._forget_inputs()  # the budget left has changed the ranking's preference
                error_class = "CostCapExceeded" if admission.cap_reason else "BudgetExceeded"
                await self._record(call, d, SKIPPED_BUDGET, error_class=error_class, error_message=reservation.reason)
                return _Refused(self._result(call, d, SKIPPED_BUDGET, error_class=error_class,
                                             error_message=reservation.reason),
                                reservation.amount_usd, cap=admission.cap_reason is not None)
            self._own_in_flight[d.id] = self._own_in_flight.get(d.id, 0) + 1
            try:
                outcome = await self._attempt(call, d, estimate.max_tokens_out, reservation, permit, pending_id,
                                              admission.rate)
            finally:
                self._own_in_flight[d.id] -= 1
            if isinstance(outcome, CompletionResult):
                return outcome
            failure: ProviderFailure = outcome
            if not failure.retryable:
                return call.last  # fail fast: 400, auth, not found
            if failure.circuit_state == circuit.OPEN or permit.probe:
                return None  # this deployment is down: fail over now
            if n + 1 >= policy.max_attempts_per_deployment:
                return None
            delay = self._delay(n, failure)
            if delay is None:
                return None  # Retry-After longer than we are willing to wait: fail over
            await self._sleep(delay)
        return None

    def _delay(self, n: int, failure: ProviderFailure) -> float | None:
        policy = self.catalogue.policy
        if failure.retry_after_s is not None:
            if failure.retry_after_s > policy.max_retry_after_s:
                return None
            return failure.retry_after_s + random.uniform(0, 0.1)
        return random.uniform(0, min(policy.backoff_max_s, policy.backoff_base_s * 2**n))

    async def _attempt(self, call: _Call, d: Deployment, max_tokens: int, reservation: budgets.Reservation,
                       permit: circuit.Permit, pending_id: int | None,
                       rate: ratelimits.RatePermit | None = None) -> CompletionResult | ProviderFailure:
        req = call.req
        if d.max_tokens:
            max_tokens = min(max_tokens, d.max_tokens)
        kwargs: dict[str, Any] = {**dict(d.default_params), **self._call_params(d), "messages": req.messages,
                                  "max_tokens": max_tokens, "timeout": d.timeout_s}
        if req.json_response:
            kwargs["response_format"] = {"type": "json_object"}
        # litellm's own async call, not the Router: routing, retries and rate windows are ours; an
        # OpenAI-compatible server gets the SDK call litellm would make, without its wrapper (openai_direct)
        if openai_direct.eligible(d, self.catalogue.policy.direct_openai_compatible):
            request = self._direct.acompletion(kwargs)
        else:
            request = _litellm().acompletion(**kwargs)
        started = time.perf_counter()
        try:
            # the outer guard catches a provider that never returns even past the client timeout
            response = await asyncio.wait_for(request, timeout=d.timeout_s + 5)
        except Exception as exc:  # every provider failure becomes a ledger row, never an exception
            latency = int((time.perf_counter() - started) * 1000)
            failure = classify(exc, d, call.secret_values)
            failure.circuit_state = await self._record(
                call, d, ERROR, latency_ms=latency, error_class=failure.error_class, error_message=failure.message,
                reservation=reservation, circuit_failure=failure.counts_for_circuit, pending_id=pending_id, rate=rate,
            )
            call.last = self._result(call, d, ERROR, latency_ms=latency, error_class=failure.error_class,
                                     error_message=failure.message)
            return failure
        except BaseException:
            # cancelled (an outer timeout, a stopped run) while the request may have reached the
            # provider: count it as possibly paid now rather than leave it 'pending' under this live
            # process, where it would hold the budget and block a retry of the request
            if pending_id is not None:
                with contextlib.suppress(Exception):  # left pending, it is recovered when this process ends
                    await self._in_db(lambda conn: ledger.interrupt(conn, pending_id))
            raise
        latency = int((time.perf_counter() - started) * 1000)
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = cost_usd(d, tokens_in, tokens_out)
        text = response.choices[0].message.content if response.choices else None
        if isinstance(text, str):  # a provider echoing its key must not put it into articles or the ledger
            text = secrets.scrub_text(text, call.secret_values)
        try:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("empty response")
            parsed = _parse(text, req)
        except ValueError as exc:
            message = secrets.scrub(f"malformed response from {d.id}: {exc}", call.secret_values)
            await self._record(call, d, ERROR, tokens_in, tokens_out, cost, latency, "MalformedResponse", message,
                               reservation=reservation, circuit_success=permit.probe, pending_id=pending_id, rate=rate)
            call.last = self._result(call, d, ERROR, latency_ms=latency, error_class="MalformedResponse", error_message=message)
            return ProviderFailure("MalformedResponse", message, retryable=True, counts_for_circuit=False)
        flag_class, flag = _beyond_reservation(d, reservation, cost, tokens_out, max_tokens)
        await self._record(call, d, SUCCESS, tokens_in, tokens_out, cost, latency, flag_class, flag,
                           response_text=text, reservation=reservation, circuit_success=True, pending_id=pending_id,
                           rate=rate, batch=pending_id is not None)
        return self._result(call, d, SUCCESS, text, parsed, tokens_in, tokens_out, cost, latency)

    async def _record(self, call: _Call, d: Deployment, status: str, tokens_in: int = 0, tokens_out: int = 0,
                      cost: float = 0.0, latency_ms: int = 0, error_class: str | None = None,
                      error_message: str | None = None, response_text: str | None = None,
                      reservation: budgets.Reservation | None = None, circuit_failure: bool = False,
                      circuit_success: bool = False, pending_id: int | None = None,
                      rate: ratelimits.RatePermit | None = None, batch: bool = False) -> str | None:
        """One ledger row (the pending one completed, or a new one), its budget settlement and the
        circuit update, in one transaction. ``batch``: in the transaction of whatever other completions
        are waiting to be written (group commit, see _GroupCommit); used for successes only, whose
        pending row is already committed, so a crash before the batch commits loses no paid call."""
        req = call.req
        attempt = self._attempt_record(
            req, d, status, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost, latency_ms=latency_ms,
            error_class=error_class, error_message=secrets.scrub(error_message, call.secret_values),
            response_text=response_text, rate_wait_ms=call.rate_wait_ms,
            rate_limited_on=list(call.rate_limited_on) or None,
        )
        call.rate_wait_ms, call.rate_limited_on = 0, []  # written on this row

        write = _Write(d, attempt, pending_id, rate, tokens_in + tokens_out, reservation, cost,
                       circuit_failure, circuit_success, error_class)
        if circuit_failure:
            self._forget_inputs()
        if batch:
            state = await self._group("record", self._write_many).submit(write)
        else:
            state = await self._in_db(lambda conn: _write_all(conn, [write], self.catalogue.policy)[0])
        call.attempts += 1
        call.total_cost += cost
        return state

    def _write_many(self, conn, writes: list[_Write]) -> list[str | None]:
        return _write_all(conn, writes, self.catalogue.policy)

    def _group(self, name: str, run: Callable[[Any, list], list],
               abandon: Callable[[Any, Any, Any], None] | None = None) -> _GroupCommit:
        """This event loop's group commit ``name`` (sync callers run each batch of calls in a new loop)."""
        loop = asyncio.get_running_loop()
        group = self._groups.get(name)
        if group is None or group.loop is not loop:
            group = self._groups[name] = _GroupCommit(self, loop, run, abandon)
        return group

    def _result(self, call: _Call, d: Deployment, status: str, text: str | None = None, parsed: Any = None,
                tokens_in: int = 0, tokens_out: int = 0, cost: float = 0.0, latency_ms: int = 0,
                error_class: str | None = None, error_message: str | None = None) -> CompletionResult:
        return CompletionResult(
            status, text, parsed, d.model, d.id, d.provider, tokens_in, tokens_out, cost, latency_ms, error_class,
            secrets.scrub(error_message, call.secret_values),
            call.selection.as_record() if call.selection else None, call.attempts, False, round(call.total_cost, 8),
        )


@dataclass
class _Write:
    """What recording one attempt writes (see LLMClient._record)."""

    d: Deployment
    attempt: ledger.Attempt
    pending_id: int | None
    rate: ratelimits.RatePermit | None
    tokens: int
    reservation: budgets.Reservation | None
    cost: float
    circuit_failure: bool
    circuit_success: bool
    error_class: str | None


def _write_all(conn, writes: list[_Write], policy) -> list[str | None]:
    """Record attempts in one transaction, in the lock order of admission: rate windows first, then
    the ledger rows with their budget settlement (ai_spend), then the circuits (one success update
    per deployment). Returns each attempt's circuit state after a counted failure, else None."""
    for w in sorted(writes, key=lambda w: w.d.id):
        ratelimits.correct(conn, w.d, w.rate, w.tokens)
    for w in writes:
        if w.pending_id is not None:
            ledger.finish(conn, w.pending_id, w.attempt)
        else:
            ledger.record_attempt(conn, w.attempt)
        budgets.settle(conn, w.reservation, w.cost)
    states: list[str | None] = []
    succeeded: set[str] = set()
    for w in writes:
        if w.circuit_failure:
            states.append(circuit.record_failure(conn, w.d.id, w.error_class or "Error", policy.circuit_failure_threshold))
            continue
        if w.circuit_success and w.d.id not in succeeded:
            circuit.record_success(conn, w.d.id)
            succeeded.add(w.d.id)
        states.append(None)
    return states


class _GroupCommit:
    """Group commit on one event loop (issue 19): the items submitted while a transaction of this
    group is in flight go together in the next one, ``run(conn, items)`` -> one outcome per item
    (an exception instance is raised to its caller), so at concurrency 32 an item costs a share of
    one commit instead of a commit of its own. Each caller waits until the transaction holding its
    item has committed. A transaction that fails (e.g. a deadlock with another process) is retried
    one item per transaction, so one bad item cannot take the others with it. Used for a request's
    preparation (replay check + recorded selection), its admission (claim, rate windows, circuit,
    caps, budget: `_admit_many`) and the completion of successful attempts (`_write_all`).

    Why a crash still loses no paid call: an admission's pending row is committed before its caller
    gets the admission, so before the HTTP request; a process killed while completions are queued
    leaves pending rows that `ledger.recover_interrupted` counts as possibly paid.
    """

    def __init__(self, client: LLMClient, loop: asyncio.AbstractEventLoop, run: Callable[[Any, list], list],
                 abandon: Callable[[Any, Any, Any], None] | None = None):
        self.client, self.loop, self.run, self.abandon = client, loop, run, abandon
        self.queue: list[tuple[Any, asyncio.Future]] = []
        self.flushing = False

    async def submit(self, item: Any) -> Any:
        future = self.loop.create_future()
        self.queue.append((item, future))
        if not self.flushing:
            self.flushing = True
            self.loop.create_task(self._flush())
        try:
            outcome = await future
        except asyncio.CancelledError:
            # cancelled after its outcome was set but before this caller resumed: the flush saw a live
            # caller, so what the transaction holds for it is undone here (else by the flush)
            if (self.abandon is not None and future.done() and not future.cancelled()
                    and not isinstance(future.result(), BaseException)):
                with contextlib.suppress(Exception):
                    await self.client._in_db(lambda conn: self.abandon(conn, item, future.result()))
            raise
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _flush(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:BATCH_MAX], self.queue[BATCH_MAX:]
                items = [item for item, _ in batch]
                try:
                    outcomes = await self.client._in_db(self.run, items)
                except Exception:
                    for item, future in batch:  # one at a time: the others still go through
                        try:
                            outcome = await self.client._in_db(lambda conn, it=item: self.run(conn, [it])[0])
                        except Exception as exc:
                            _settle_future(future, error=exc)
                        else:
                            _settle_future(future, outcome)
                    continue
                orphans = [(item, outcome) for (item, future), outcome in zip(batch, outcomes, strict=True)
                           if not _settle_future(future, outcome)]
                if orphans and self.abandon is not None:
                    # their callers were cancelled while the transaction ran: undo what it holds for them
                    await self.client._in_db(lambda conn, o=orphans: [self.abandon(conn, *x) for x in o])
        finally:
            self.flushing = False


def _abandon_admission(conn, item: tuple[Deployment, CompletionRequest, Any], admission: Any) -> None:
    """An admission whose caller was cancelled before it got it: no call will be made, so its claim,
    rate-window slot and budget reservation are given back (as for a refused one)."""
    if not isinstance(admission, _Admission) or admission.pending_id is None:
        return
    ratelimits.give_back(conn, item[0], admission.rate)
    ledger.drop_claim(conn, admission.pending_id)
    budgets.settle(conn, admission.reservation, 0.0)


class _ResultSink:
    """Hands arrived results to a callback in a worker thread, one call at a time (see complete_many)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fn: Callable[[list[tuple[int, CompletionResult]]], Any]):
        self.loop, self.fn = loop, fn
        self.queue: list[tuple[int, CompletionResult]] = []
        self.task: asyncio.Task | None = None
        self.error: BaseException | None = None

    def put(self, i: int, result: CompletionResult) -> None:
        self.queue.append((i, result))
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())

    async def _run(self) -> None:
        while self.queue and self.error is None:
            batch, self.queue = self.queue, []
            try:
                await asyncio.to_thread(self.fn, batch)
            except Exception as exc:  # raised by drain(); the results are not lost: the ledger has them
                self.error = exc

    async def drain(self) -> None:
        while self.task is not None and not self.task.done():
            await self.task
        if self.queue and self.error is None:
            self.task = self.loop.create_task(self._run())
            await self.task
        if self.error is not None:
            raise self.error


def _settle_future(future: asyncio.Future, value: Any = None, error: BaseException | None = None) -> bool:
    """False when the caller is gone (cancelled, e.g. by an outer timeout); what the transaction
    wrote stays written (see _GroupCommit.abandon)."""
    if future.done():
        return False
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return True


def _litellm():
    from allixios.ai.router import litellm_module

    return litellm_module()


def _beyond_reservation(d: Deployment, reservation: budgets.Reservation, cost: float, tokens_out: int,
                        max_tokens: int) -> tuple[str | None, str | None]:
    """A flag for a response the provider billed beyond what was reserved (it ignored max_tokens, or
    counted more prompt tokens than the margin allows). The cost is settled as billed either way."""
    if tokens_out > max_tokens:
        return "BeyondReservation", (f"{d.id} returned {tokens_out} output tokens although max_tokens was {max_tokens}; "
                                     f"cost ${cost:.6f} vs ${reservation.amount_usd:.6f} reserved")
    if cost > reservation.amount_usd + 1e-9:
        return "BeyondReservation", (f"{d.id} billed ${cost:.6f}, more than the ${reservation.amount_usd:.6f} "
                                     "reserved (prompt counted above the tokenizer margin)")
    return None, None


def _run_sync(coro):
    """Run a coroutine from sync code (Dagster assets), also when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="allixios-llm")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def summarize_results(results: list[CompletionResult]) -> dict[str, Any]:
    """Counts, tokens and cost of a batch for asset metadata (replayed answers cost nothing new)."""
    by_status: dict[str, int] = {}
    by_model: dict[str, dict[str, float]] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
        m = by_model.setdefault(r.deployment_id, {"calls": 0, "ok": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0})
        m["calls"] += 1
        m["ok"] += int(r.ok)
        if not r.replayed:
            m["tokens_in"] += r.tokens_in
            m["tokens_out"] += r.tokens_out
            m["cost_usd"] += r.total_cost_usd
    lines = ["| deployment | calls | ok | tokens in | tokens out | cost USD |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {k} | {v['calls']} | {v['ok']} | {v['tokens_in']} | {v['tokens_out']} | {v['cost_usd']:.6f} |"
              for k, v in sorted(by_model.items())]
    return {
        "requests": len(results),
        "succeeded": by_status.get(SUCCESS, 0),
        "failed": by_status.get(ERROR, 0),
        "skipped_budget": by_status.get(SKIPPED_BUDGET, 0),
        "circuit_open": by_status.get(CIRCUIT_OPEN, 0),
        "replayed": sum(r.replayed for r in results),
        "cost_usd": round(sum(r.total_cost_usd for r in results if not r.replayed), 8),
        "by_model_markdown": "\n".join(lines),
    }
