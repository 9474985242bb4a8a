"""Routing that learns from money: a Thompson-sampling bandit per niche over the writer deployments,
rewarded with what each article earned.

Evidence: ``marts.mart_ai_cost_roi`` (one row per article: revenue to date, generation cost from the
ledger, views, days with data) joined to ``articles`` for the deployment (``ai_model_used``) and
``prompt_version`` that wrote it, in the niche. Reward of an article = ``net_usd`` (revenue to
date minus its generation cost) + ``engagement_usd_per_view`` × views (default 0: money only).
Articles with fewer than ``min_days`` days of data have not had time to earn and are left out, and
so are **articles written by an offline stand-in** (the offline writer's text and the traffic
simulator's revenue are not results): they are counted as excluded and named in the evidence.

The model per arm (deployment, and prompt version when the request names one) is a Normal with
unknown mean and a shared, estimated variance. **Prior** (documented, deliberately weak): each arm
starts as if it had ``PRIOR_ARTICLES`` = 2 articles earning the niche's mean reward over every arm
(0 when the niche has no evidence), with the niche's pooled reward variance (at least
``MIN_SD_USD``² so that identical early results do not freeze the choice). Posterior after n
articles with mean r̄: mean = (2·μ0 + n·r̄)/(2 + n), sd = σ/√(2 + n). Each selection draws one
value per arm from its posterior and ranks by it (Thompson sampling): an arm with no articles is
drawn from the wide prior, so a new model — a fine-tuned one registered in the catalogue, say —
keeps being tried until its own articles show what it earns; a clearly worse arm is tried less and
less. The reasoning stored in ``model_selections`` names each arm's n, mean and draw.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from uuid import UUID

import psycopg

PRIOR_ARTICLES = 2.0
MIN_SD_USD = 0.05


@dataclass(frozen=True)
class Arm:
    deployment_id: str
    n: int
    mean: float  # mean reward of its articles (0 when n = 0)
    sum_sq: float  # sum of squared deviations from that mean


@dataclass(frozen=True)
class Evidence:
    arms: dict[str, Arm]
    excluded_stand_in: int  # articles of offline stand-ins, never learned from
    excluded_young: int  # articles with fewer than min_days days of data

    def prior(self) -> tuple[float, float]:
        """(μ0, σ) shared by every arm: the niche's pooled mean and sd of rewards."""
        n = sum(a.n for a in self.arms.values())
        if n == 0:
            return 0.0, 1.0
        mu = sum(a.n * a.mean for a in self.arms.values()) / n
        ss = sum(a.sum_sq + a.n * (a.mean - mu) ** 2 for a in self.arms.values())
        sd = math.sqrt(ss / (n - 1)) if n > 1 else 1.0
        return mu, max(sd, MIN_SD_USD)


def posterior(arm: Arm | None, mu0: float, sd: float) -> tuple[float, float]:
    n = arm.n if arm else 0
    mean = (PRIOR_ARTICLES * mu0 + n * (arm.mean if arm else 0.0)) / (PRIOR_ARTICLES + n)
    return mean, sd / math.sqrt(PRIOR_ARTICLES + n)


def draw(evidence: Evidence, deployment_ids: list[str], rng: random.Random | None = None) -> dict[str, tuple[float, str]]:
    """deployment id -> (Thompson draw, evidence text) for `selection.rank(bandit=...)`."""
    rng = rng or random
    mu0, sd = evidence.prior()
    out = {}
    for dep in deployment_ids:
        arm = evidence.arms.get(dep)
        mean, spread = posterior(arm, mu0, sd)
        value = rng.gauss(mean, spread)
        seen = f"n={arm.n}, mean net ${arm.mean:.4f}/article" if arm else "n=0 (prior only: exploring)"
        out[dep] = (value, f"{seen}, posterior ${mean:.4f}±{spread:.4f}, draw ${value:.4f}")
    return out


def evidence(conn: psycopg.Connection, tenant_id: UUID, niche_id: UUID | None, deployments, *,
             prompt_version: str | None = None, min_days: int = 7, engagement_usd_per_view: float = 0.0) -> Evidence:
    """The niche's per-article rewards per deployment from the ROI mart (stand-ins excluded, counted)."""
    names = {d.id: d for d in deployments} | {d.model: d for d in deployments}
    exists = conn.execute("SELECT to_regclass('marts.mart_ai_cost_roi') IS NOT NULL").fetchone()[0]
    if not exists:  # dbt has not built the marts yet: nothing learned, the prior decides
        return Evidence({}, 0, 0)
    rows = conn.execute(
        """SELECT a.ai_model_used, m.net_usd::float8 + %(epv)s * m.views_to_date, m.days_with_data
           FROM marts.mart_ai_cost_roi m JOIN articles a ON a.id = m.article_id
           WHERE m.cost_line = 'article' AND m.tenant_id = %(t)s
             AND (%(n)s::uuid IS NULL OR m.niche_id = %(n)s) AND a.ai_model_used IS NOT NULL
             AND (%(pv)s::text IS NULL OR a.prompt_version = %(pv)s) AND a.deleted_at IS NULL""",
        {"t": tenant_id, "n": niche_id, "pv": prompt_version, "epv": engagement_usd_per_view}).fetchall()
    rewards: dict[str, list[float]] = {}
    stand_in = young = 0
    for model, reward, days in rows:
        d = names.get(model)
        if d is None:
            if str(model).startswith("offline/"):
                stand_in += 1  # a stand-in no longer in the alias: still never evidence
            continue
        if d.stand_in:
            stand_in += 1
            continue
        if (days or 0) < min_days:
            young += 1
            continue
        rewards.setdefault(d.id, []).append(float(reward))
    arms = {}
    for dep, values in rewards.items():
        mean = sum(values) / len(values)
        arms[dep] = Arm(dep, len(values), mean, sum((v - mean) ** 2 for v in values))
    return Evidence(arms, stand_in, young)


def describe(ev: Evidence) -> str:
    parts = [f"learned from marts.mart_ai_cost_roi: {sum(a.n for a in ev.arms.values())} article(s)"]
    if ev.excluded_stand_in:
        parts.append(f"{ev.excluded_stand_in} stand-in article(s) excluded (offline writer output is not evidence)")
    if ev.excluded_young:
        parts.append(f"{ev.excluded_young} too young to count")
    mu0, sd = ev.prior()
    parts.append(f"prior: {PRIOR_ARTICLES:g} articles at ${mu0:.4f}, sd ${sd:.4f}")
    return ", ".join(parts)
