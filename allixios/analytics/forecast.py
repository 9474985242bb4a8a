"""Forecasts of views and revenue per published article, chosen by a backtest against seasonal naive.

History: the article's daily rows in ``marts.fct_article_daily_performance`` (a row for every day
the article was live, zero views included), the last ``lookback_days`` up to ``as_of``; a day
missing inside that span counts as 0.

Models (statsforecast, one fit per series): ``AutoETS`` with a forced additive weekly season
(``model="ZZA"``) and ``AutoTheta`` (season 7) from two weeks of history, without a season before;
and the documented simpler model ``WindowAverage`` (mean of the last 7 days). The baseline is ``SeasonalNaive`` (season 7, or the last value for a
history under two weeks).

Backtest, in the same run: every series with at least ``holdout + 7`` days is cut ``holdout``
days before ``as_of``; each model forecasts the cut-off days from what comes before. Per metric:

    MASE(model) = sum |y - model| / sum |y - seasonal naive|      (pooled over all series)

so 1.0 is exactly as good as seasonal naive and < 1 is better. The model with the lowest MASE
is the one that forecasts (refit on the whole history, 28 days ahead, 80 % and 95 % intervals);
when no model beats the baseline, the baseline itself forecasts and the check says so. Views and
revenue cannot be negative: forecasts and bounds are clipped at 0.

Predicted decay: an article whose views forecast falls below its floor within ``within_days``
(floor = ``floor_ratio`` (0.75) x its mean daily views over the last 14 days, for articles with at least
``min_baseline_views`` a day) is due for a refresh before the drop (`predicted_decay`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import psycopg

from allixios.automation.refresh_rules import refresh_allowed
from allixios.db.engine import fetch_dicts

FACT = "marts.fct_article_daily_performance"
TABLE = "marts.mart_article_forecast"
METRICS = ("views", "revenue_usd")
HORIZON = 28
LEVELS = (80, 95)
SEASON = 7
BASELINE = "SeasonalNaive"
CANDIDATES = ("AutoETS", "AutoTheta", "WindowAverage")


@dataclass(frozen=True)
class ForecastSettings:
    lookback_days: int = 90
    min_history_days: int = 7
    holdout_days: int = 7
    candidates: tuple[str, ...] = CANDIDATES


@dataclass
class Backtest:
    metric: str
    series: int
    errors: dict[str, float] = field(default_factory=dict)  # model -> sum of absolute errors

    def mase(self, model: str) -> float | None:
        base = self.errors.get(BASELINE)
        if not self.series or base is None or model not in self.errors:
            return None
        if base == 0:
            return 0.0 if self.errors[model] == 0 else math.inf
        return self.errors[model] / base

    @property
    def winner(self) -> str:
        scored = [(self.mase(m), m) for m in self.errors if m != BASELINE and self.mase(m) is not None]
        best = min(scored, default=(None, BASELINE))
        return best[1] if best[0] is not None and best[0] < 1 else BASELINE


def _model(name: str, n: int):
    from statsforecast.models import (
        AutoETS,
        AutoTheta,
        Naive,
        SeasonalNaive,
        WindowAverage,
    )

    seasonal = n >= 2 * SEASON
    if name == "AutoETS":
        # the weekly season is forced (model "ZZA": error and trend chosen by AICc, additive season):
        # left to AICc, short histories drop the season and lose to seasonal naive (see the benchmark)
        return AutoETS(season_length=SEASON, model="ZZA") if seasonal else AutoETS(season_length=1)
    if name == "AutoTheta":
        return AutoTheta(season_length=SEASON if seasonal else 1)
    if name == "WindowAverage":
        return WindowAverage(window_size=min(SEASON, n))
    if name == BASELINE:
        return SeasonalNaive(season_length=SEASON) if n >= SEASON else Naive()
    raise ValueError(f"unknown forecast model {name!r}")


def _predict(name: str, y: np.ndarray, h: int, level: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    """The model's forecast of ``h`` days after ``y`` (with intervals when ``level``); a constant
    series or a model that cannot fit falls back to the baseline's answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast warns on constant series; the fallback covers them
        try:
            out = _model(name, len(y)).forecast(y=y.astype(float), h=h, level=list(level) if level else None)
        except Exception:  # noqa: BLE001 - an unfit model for one series must not stop the others
            if name == BASELINE:
                raise
            out = _model(BASELINE, len(y)).forecast(y=y.astype(float), h=h, level=list(level) if level else None)
    if level and not all(f"lo-{lv}" in out for lv in level):
        # WindowAverage has no intervals: the baseline's residual spread around the model's mean
        resid = np.abs(y[SEASON:] - y[:-SEASON]) if len(y) > SEASON else np.abs(np.diff(y)) if len(y) > 1 else np.zeros(1)
        scale = float(np.std(resid)) if len(resid) else 0.0
        for lv in level:
            z = {80: 1.2816, 95: 1.96}[lv]
            width = z * scale * np.sqrt(np.arange(1, h + 1))
            out[f"lo-{lv}"] = out["mean"] - width
            out[f"hi-{lv}"] = out["mean"] + width
    return out


def load_history(conn: psycopg.Connection, as_of: date, settings: ForecastSettings = ForecastSettings(),
                 tenant_id=None) -> dict[tuple, dict[str, Any]]:
    """{(tenant, niche, article): {"days": n, "views": array, "revenue_usd": array}} for live articles."""
    start = as_of - timedelta(days=settings.lookback_days - 1)
    rows = fetch_dicts(
        conn,
        f"""SELECT f.tenant_id, a.niche_id, f.article_id, f.day, f.views, f.revenue_usd
            FROM {FACT} f JOIN articles a ON a.id = f.article_id
            WHERE f.day BETWEEN %s AND %s AND a.status = 'published' AND a.deleted_at IS NULL
              AND (%s::uuid IS NULL OR f.tenant_id = %s::uuid)
            ORDER BY f.article_id, f.day""",
        (start, as_of, tenant_id, tenant_id),
    )
    series: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["tenant_id"], r["niche_id"], r["article_id"])
        series.setdefault(key, {"first": r["day"], "points": {}})["points"][r["day"]] = r
    out = {}
    for key, s in series.items():
        n = (as_of - s["first"]).days + 1
        if n < settings.min_history_days:
            continue
        days = [s["first"] + timedelta(days=i) for i in range(n)]
        out[key] = {
            "days": n,
            "views": np.array([float(s["points"][d]["views"]) if d in s["points"] else 0.0 for d in days]),
            "revenue_usd": np.array([float(s["points"][d]["revenue_usd"]) if d in s["points"] else 0.0 for d in days]),
        }
    return out


def backtest(history: dict[tuple, dict[str, Any]], settings: ForecastSettings = ForecastSettings()) -> dict[str, Backtest]:
    """Pooled absolute errors per model over the held-out last days of every long-enough series."""
    result = {m: Backtest(m, 0, {name: 0.0 for name in (*settings.candidates, BASELINE)}) for m in METRICS}
    h = settings.holdout_days
    for s in history.values():
        if s["days"] < h + SEASON:
            continue
        for metric in METRICS:
            y = s[metric]
            train, test = y[:-h], y[-h:]
            result[metric].series += 1
            for name in (*settings.candidates, BASELINE):
                pred = np.clip(_predict(name, train, h)["mean"], 0, None)
                result[metric].errors[name] += float(np.abs(test - pred).sum())
    return result


def forecast_articles(history: dict[tuple, dict[str, Any]], winners: dict[str, str], as_of: date) -> list[dict[str, Any]]:
    """Rows of mart_article_forecast: every article x metric x day 1..28 ahead, with intervals."""
    rows = []
    for (tenant_id, niche_id, article_id), s in history.items():
        for metric in METRICS:
            model = winners[metric]
            out = _predict(model, s[metric], HORIZON, LEVELS)
            for i in range(HORIZON):
                point = max(0.0, float(out["mean"][i]))
                rows.append({
                    "tenant_id": tenant_id, "niche_id": niche_id, "article_id": article_id, "as_of": as_of,
                    "metric": metric, "target_day": as_of + timedelta(days=i + 1), "horizon_days": i + 1,
                    "model": model, "forecast": point,
                    **{f"{side}_{lv}": max(0.0, float(out[f"{side}-{lv}"][i])) for lv in LEVELS for side in ("lo", "hi")},
                    "history_days": s["days"],
                })
                # intervals always contain the point (clipping at 0 can only move the lower bounds)
                for lv in LEVELS:
                    rows[-1][f"lo_{lv}"] = min(rows[-1][f"lo_{lv}"], point)
                    rows[-1][f"hi_{lv}"] = max(rows[-1][f"hi_{lv}"], point)
    return rows


def write_forecasts(conn: psycopg.Connection, as_of: date, rows: list[dict[str, Any]]) -> int:
    """Replace the forecasts made on ``as_of`` (a re-run writes the same rows again, never twice)."""
    conn.execute(f"DELETE FROM {TABLE} WHERE as_of = %s", (as_of,))
    cols = ("tenant_id", "niche_id", "article_id", "as_of", "metric", "target_day", "horizon_days", "model",
            "forecast", "lo_80", "hi_80", "lo_95", "hi_95", "history_days")
    with conn.cursor() as cur, cur.copy(f"COPY {TABLE} ({', '.join(cols)}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(tuple(r[c] for c in cols))
    return len(rows)


def run_forecasts(conn: psycopg.Connection, as_of: date, settings: ForecastSettings = ForecastSettings()) -> dict[str, Any]:
    """Backtest, choose per metric, forecast every live article, write the mart. Returns the figures."""
    history = load_history(conn, as_of, settings)
    tests = backtest(history, settings)
    winners = {m: tests[m].winner for m in METRICS}
    rows = forecast_articles(history, winners, as_of)
    written = write_forecasts(conn, as_of, rows)
    return {
        "as_of": as_of, "articles": len(history), "rows": written, "winners": winners,
        "backtest": {m: {"series": t.series, "mase": {name: t.mase(name) for name in t.errors}} for m, t in tests.items()},
    }


@dataclass(frozen=True)
class DecayPolicy:
    within_days: int = 7
    floor_ratio: float = 0.75  # a 25 % fall, as the score-drop policy's drop_pct
    min_baseline_views: float = 5.0
    baseline_days: int = 14


def predicted_decay(conn: psycopg.Connection, as_of: date, policy: DecayPolicy = DecayPolicy(),
                    cooldown_days: int = 7, limit: int = 500) -> list[dict[str, Any]]:
    """Live articles whose views forecast (made on ``as_of``) falls below their floor within N days.

    Left out as in the score-drop policy: locked articles, articles with a refresh request within
    the cooldown, tenants whose AI budget is spent.
    """
    return fetch_dicts(
        conn,
        f"""
        WITH baseline AS (
            SELECT article_id, avg(views) AS views
            FROM {FACT} WHERE day > %(as_of)s::date - %(bdays)s AND day <= %(as_of)s
            GROUP BY article_id
        ), first_below AS (
            SELECT DISTINCT ON (f.article_id) f.tenant_id, f.niche_id, f.article_id, f.target_day, f.forecast,
                   f.lo_80, f.hi_80, f.model, b.views AS baseline_views, %(ratio)s * b.views AS floor_views
            FROM {TABLE} f JOIN baseline b ON b.article_id = f.article_id
            WHERE f.as_of = %(as_of)s AND f.metric = 'views' AND f.horizon_days <= %(within)s
              AND b.views >= %(min_views)s AND f.forecast < %(ratio)s * b.views
            ORDER BY f.article_id, f.target_day
        )
        SELECT d.tenant_id, t.slug AS tenant, d.niche_id, n.partition_key AS niche_key, d.article_id,
               d.target_day, round(d.forecast::numeric, 1)::float AS forecast_views,
               round(d.baseline_views::numeric, 1)::float AS baseline_views,
               round(d.floor_views::numeric, 1)::float AS floor_views, d.model
        FROM first_below d
        JOIN articles a ON a.id = d.article_id AND a.status = 'published' AND a.deleted_at IS NULL
        JOIN tenants t ON t.id = d.tenant_id AND t.deleted_at IS NULL
        JOIN niches n ON n.id = d.niche_id
        WHERE {refresh_allowed('d')}
        ORDER BY d.tenant_id, d.niche_id, d.target_day
        LIMIT %(limit)s
        """,
        {"as_of": as_of, "bdays": policy.baseline_days, "ratio": policy.floor_ratio, "within": policy.within_days,
         "min_views": policy.min_baseline_views, "cooldown": cooldown_days, "limit": limit},
    )


def describe_decay(row: dict[str, Any]) -> str:
    return (f"predicted_decay: views forecast {row['forecast_views']}/day on {row['target_day']} "
            f"below the floor {row['floor_views']}/day ({row['baseline_views']}/day baseline), model {row['model']}")


def latest_forecast_day(conn: psycopg.Connection) -> date | None:
    """The newest forecast day; None before any forecast (or where the marts schema was rebuilt without it)."""
    if conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
        return None
    return conn.execute(f"SELECT max(as_of) FROM {TABLE}").fetchone()[0]
