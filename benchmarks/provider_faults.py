"""provider_faults: the generation run with 5 % 429/5xx/timeouts on one of two deployments vs the fault-free run.

Goal (issue 8): >= 99.5 % success, <= 1.3x the fault-free run's time, zero lost or double-counted
ai_usage rows (ledger rows with an HTTP attempt = requests the provider received; at most one
success row per request; article cost = its successful call's cost). Both runs happen here, on
fresh niches of the same database, after a warm-up run.
"""

from __future__ import annotations

import os
from datetime import date

from benchmarks import generation as gen
from benchmarks.harness import log

DESCRIPTION = "1,000 topics with 5 % 429/5xx/timeouts on one of two deployments vs the fault-free run"
SIZES = {
    "quick": {"topics": 32, "concurrency": 32, "warmup_topics": 8, "fault_share": 0.05, "rounds": 1},
    "full": {"topics": 1000, "concurrency": 32, "warmup_topics": 64, "fault_share": 0.05, "rounds": 2},
}
SUCCESS_GOAL = 0.995
TIME_RATIO_GOAL = 1.3


def missing_dependencies() -> str | None:
    from benchmarks.generation_throughput import missing_dependencies as generation_missing

    return generation_missing()


def faults(share: float) -> list[dict]:
    """`share` of deployment A's requests fail, split evenly: 429 (Retry-After 1 s), 500, and hangs past
    the 2 s timeout. The server tries the faults in order, so later fractions are conditional."""
    each = share / 3
    kinds = [("rate_limit", {"retry_after": 1.0}), ("server_error", {}), ("hang", {"hang_s": 30.0})]
    out, left = [], 1.0
    for kind, extra in kinds:
        out.append({"kind": kind, "fraction": each / left, "model": gen.WRITER_A, "endpoint": "chat", **extra})
        left -= each
    return out


def _chat_count(provider) -> int:
    return sum(1 for r in provider.requests() if r["endpoint"] == "chat")


def run(ctx) -> None:
    from allixios.ai.catalogue import MODELS_FILE_ENV, load_catalogue

    report, p = ctx.report, ctx.params
    os.environ[gen.KEY_ENV] = "bench-local-key"
    day = date.today()
    with gen.ProviderProcess(gen.LATENCY_MS, ctx.workdir / "provider.log") as provider:
        path = gen.write_catalogue(ctx.workdir / "models.yaml", provider.url, two_deployments=True)
        os.environ[MODELS_FILE_ENV] = str(path)
        catalogue = load_catalogue(path)
        # rounds alternate fault-free and faulty runs on fresh niches, so drift in machine load hits both sides
        runs_by_side: dict[str, list] = {"fault_free": [], "faulty": []}
        sent = {"fault_free": 0, "faulty": 0}
        by_deployment = {side: {gen.WRITER_A: [0, 0], gen.WRITER_B: [0, 0]} for side in sent}
        niche_keys: dict[str, list[str]] = {"fault_free": [], "faulty": []}
        warmup = gen.add_niche_with_topics(ctx.url, "warmup", p["warmup_topics"], day)
        gen.run_pipeline(ctx.url, catalogue, warmup, day, p["concurrency"])
        for n in range(p["rounds"]):
            for side in ("fault_free", "faulty"):
                key = gen.add_niche_with_topics(ctx.url, f"{side}_{n}", p["topics"], day)
                niche_keys[side].append(key)
                if side == "faulty":
                    provider.set_faults(faults(p["fault_share"]))
                else:
                    provider.clear_faults()
                before = len(provider.requests())
                run = gen.run_pipeline(ctx.url, catalogue, key, day, p["concurrency"])
                chat = [r for r in provider.requests()[before:] if r["endpoint"] == "chat"]
                runs_by_side[side].append(run)
                sent[side] += len(chat)
                for m in (gen.WRITER_A, gen.WRITER_B):
                    by_deployment[side][m][0] += sum(1 for r in chat if r["model"] == m)
                    by_deployment[side][m][1] += sum(1 for r in chat if r["model"] == m and r["fault"])
                log(f"round {n + 1} {side}: {run.drafted}/{run.topics} drafted, {len(chat)} provider requests, "
                    f"{run.total_s:.1f} s")
        provider.clear_faults()
    runs = {side: gen.merge_runs(rs) for side, rs in runs_by_side.items()}
    audits = {name: gen.ledger_audit(ctx.url, niche_keys[name], sent[name]) for name in runs}

    clean, faulty = runs["fault_free"], runs["faulty"]
    success = faulty.drafted / faulty.topics
    report.metric("topics per run", faulty.topics // p["rounds"])
    report.metric("rounds (fault-free run, then faulty run)", p["rounds"])
    report.metric("injected on deployment A", f"{100 * p['fault_share']:.1f} % of its requests: 429 / 500 / hang, evenly")
    report.metric("success rate with faults", success)
    report.metric("fault-free runs, total", clean.total_s, "s")
    report.metric("runs with faults, total", faulty.total_s, "s")
    for name in runs:
        a, b = by_deployment[name][gen.WRITER_A], by_deployment[name][gen.WRITER_B]
        report.metric(f"{name}: requests to A (faulted) / B (faulted), all rounds", f"{a[0]} ({a[1]}) / {b[0]} ({b[1]})")
    report.ratio("time with faults / fault-free", faulty.total_s, clean.total_s, "drafts -> scored -> embedded, same work")
    report.ratio("LLM stage with faults / fault-free", faulty.llm_s, clean.llm_s, "request_drafts only (where the faults bite)")
    report.goal("success rate", success, ">=", SUCCESS_GOAL)
    report.goal("time / fault-free time", faulty.total_s / clean.total_s, "<=", TIME_RATIO_GOAL)
    for name, audit in audits.items():
        report.goal(f"{name}: ledger rows with an HTTP attempt - provider requests",
                    abs(audit["rows with an HTTP attempt"] - audit["provider requests logged"]), "<=", 0)
        report.goal(f"{name}: requests with more than one success row", audit["requests with more than one success row"], "<=", 0)
        report.goal(f"{name}: success rows - articles", abs(audit["success rows"] - audit["articles"]), "<=", 0)
        report.goal(f"{name}: |success cost - article cost| USD", abs(audit["success cost"] - audit["article generation_cost"]),
                    "<=", 1e-6)
        report.goal(f"{name}: topics lost (neither drafted nor failed)", audit["topics neither drafted nor marked failed"], "<=", 0)
    headers, rows = gen.stage_table(runs)
    report.table("stages", headers, rows)
    report.table("ledger reconciliation", ["check"] + list(audits),
                 [[k] + [audits[n][k] for n in audits] for k in audits["faulty"]])
    report.note(f"policy: {gen.POLICY}")
