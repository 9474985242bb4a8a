"""learned_routing: regret of the revenue-learning router (Thompson sampling, allixios.ai.learned_routing)
against the best fixed choice, on simulated article outcomes.

SIMULATED OUTCOMES, not results: each niche has writer deployments whose articles earn a net revenue
(revenue to date minus generation cost, USD) drawn from a Normal with a per-(niche, deployment)
true mean and sd 0.6 — a stand-in world, seeded, so the benchmark measures the learning rule, not
any real model. The best deployment differs per niche, and the deployment with the best quality
per cost (what static selection picks) is not the one that earns most in two of the three niches.
Half-way through, a new deployment (e.g. a fine-tuned model registered in the catalogue) joins; in
one niche it is the best earner, so exploration must find it.

Policies, all run on the same outcome draws:
- ``thompson``: `learned_routing.draw` on the running evidence (the production code, prior included)
- ``static``: always the deployment with the best quality per cost (today's selection without revenue)
- ``uniform``: a random deployment each time
- ``best fixed``: in hindsight, the single deployment with the highest true mean in each niche
  (for the second half, the best including the new one) — the baseline regret is measured against.

Ratios: Thompson's cumulative net revenue / the best fixed choice's (1.0 = no regret), and
Thompson's regret / the static selector's regret.
"""

from __future__ import annotations

import random

from allixios.ai import learned_routing
from allixios.ai.learned_routing import Arm, Evidence

DESCRIPTION = "regret of Thompson-sampling routing on net revenue per article vs the best fixed choice (simulated)"
SIZES = {"quick": {"articles_per_niche": 400, "seeds": 3}, "full": {"articles_per_niche": 4000, "seeds": 10}}
NOISE_SD = 0.6
# true mean net revenue per article (USD) per niche and deployment; "new" joins half-way
WORLD = {
    "finance": {"cheap": 0.9, "mid": 1.4, "premium": 1.2, "new": 1.1},
    "gardening": {"cheap": 0.6, "mid": 0.5, "premium": 0.9, "new": 1.3},
    "travel": {"cheap": 0.8, "mid": 0.7, "premium": 0.75, "new": 0.4},
}
STATIC_CHOICE = "cheap"  # best quality per cost in the catalogue: what selection without revenue picks
REWARD_GOAL = 0.85  # Thompson earns at least 85 % of the best fixed choice at --quick sizes
NEW_ARM_SHARE_GOAL = 0.5  # in the niche where the new deployment is best, it gets most of the last quarter


def missing_dependencies() -> str | None:
    return None


class _Running:
    """Welford running mean / squared deviations per arm -> learned_routing.Arm."""

    def __init__(self) -> None:
        self.stats: dict[str, tuple[int, float, float]] = {}

    def add(self, arm: str, x: float) -> None:
        n, mean, ss = self.stats.get(arm, (0, 0.0, 0.0))
        n += 1
        delta = x - mean
        mean += delta / n
        ss += delta * (x - mean)
        self.stats[arm] = (n, mean, ss)

    def evidence(self) -> Evidence:
        return Evidence({a: Arm(a, n, m, ss) for a, (n, m, ss) in self.stats.items()}, 0, 0)


def _simulate(niche: str, horizon: int, seed: int) -> dict[str, dict]:
    truth = WORLD[niche]
    outcomes = random.Random(f"{niche}:{seed}:outcomes")
    # one outcome draw per (step, arm), shared by every policy: differences are the policies' own
    draws = [{a: outcomes.gauss(mu, NOISE_SD) for a, mu in truth.items()} for _ in range(horizon)]
    rng = random.Random(f"{niche}:{seed}:policy")
    running = _Running()
    out = {p: {"reward": 0.0, "picks": {}} for p in ("thompson", "static", "uniform", "best fixed")}
    half = horizon // 2
    best_first = max((a for a in truth if a != "new"), key=truth.get)
    best_second = max(truth, key=truth.get)
    for t in range(horizon):
        arms = [a for a in truth if a != "new" or t >= half]
        sampled = learned_routing.draw(running.evidence(), arms, rng)
        choice = max(arms, key=lambda a: sampled[a][0])
        running.add(choice, draws[t][choice])
        picks = {"thompson": choice, "static": STATIC_CHOICE, "uniform": rng.choice(arms),
                 "best fixed": best_first if t < half else best_second}
        for policy, arm in picks.items():
            out[policy]["reward"] += draws[t][arm]
            if t >= horizon * 3 // 4:
                out[policy]["picks"][arm] = out[policy]["picks"].get(arm, 0) + 1
    return out


def run(ctx) -> None:
    report, p = ctx.report, ctx.params
    horizon, seeds = p["articles_per_niche"], p["seeds"]
    totals = {pol: 0.0 for pol in ("thompson", "static", "uniform", "best fixed")}
    rows = []
    new_share = []
    for niche in WORLD:
        per = {pol: 0.0 for pol in totals}
        last_quarter: dict[str, int] = {}
        for seed in range(seeds):
            res = _simulate(niche, horizon, seed)
            for pol in per:
                per[pol] += res[pol]["reward"]
            for arm, k in res["thompson"]["picks"].items():
                last_quarter[arm] = last_quarter.get(arm, 0) + k
        for pol in per:
            totals[pol] += per[pol]
        quarter_total = sum(last_quarter.values()) or 1
        if max(WORLD[niche], key=WORLD[niche].get) == "new":
            new_share.append(last_quarter.get("new", 0) / quarter_total)
        rows.append([niche, round(per["best fixed"] / seeds, 1), round(per["thompson"] / seeds, 1),
                     round(per["static"] / seeds, 1), round(per["uniform"] / seeds, 1),
                     round((per["best fixed"] - per["thompson"]) / seeds, 1),
                     ", ".join(f"{a} {k / quarter_total:.0%}" for a, k in sorted(last_quarter.items(), key=lambda x: -x[1]))])
    report.table("net revenue per niche (USD, mean over seeds; SIMULATED outcomes)",
                 ["niche", "best fixed", "thompson", "static (quality/cost)", "uniform", "thompson regret",
                  "thompson picks, last quarter"], rows)
    regret_thompson = totals["best fixed"] - totals["thompson"]
    regret_static = totals["best fixed"] - totals["static"]
    report.metric("articles_simulated", horizon * seeds * len(WORLD), "articles")
    report.metric("regret_thompson_usd", round(regret_thompson / seeds, 2), "USD per seed")
    report.metric("regret_static_usd", round(regret_static / seeds, 2), "USD per seed")
    report.metric("regret_uniform_usd", round((totals["best fixed"] - totals["uniform"]) / seeds, 2), "USD per seed")
    reward = report.ratio("thompson_vs_best_fixed_reward", totals["thompson"], totals["best fixed"],
                          "Thompson's cumulative net revenue / the best fixed choice per niche (1.0 = no regret)")
    report.ratio("thompson_vs_static_regret", regret_thompson, regret_static,
                 "Thompson's regret / the regret of always taking the best quality-per-cost deployment")
    share = sum(new_share) / len(new_share)
    report.metric("new_deployment_share_last_quarter", round(share, 3), "",
                  "in the niche where the deployment added half-way is the best earner")
    report.goal("Thompson reward / best fixed", reward, ">=", REWARD_GOAL)
    report.goal("new best deployment's share of the last quarter", share, ">=", NEW_ARM_SHARE_GOAL)
    report.note("Outcomes are SIMULATED (a seeded stand-in world), never real results; in production the "
                "evidence is marts.mart_ai_cost_roi, with offline stand-in articles excluded.")
