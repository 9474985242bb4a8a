"""`article_forecasts`: views and revenue 7 and 28 days ahead per published article, with the
backtest against seasonal naive as an asset check (see allixios/analytics/forecast.py).

Written to ``marts.mart_article_forecast`` (a marts table with tenant Row-Level Security, not a
dbt model: the model fitting is Python). Its own daily job and schedule (02:30 UTC, after the
night's analytics run) so the analytics job does not wait for model fitting.
"""

from datetime import date

import dagster as dg

from allixios.analytics.forecast import BASELINE, METRICS, ForecastSettings, run_forecasts
from allixios_assets.partitions import daily_partitions
from resources.warehouse import WarehouseResource

BACKTEST_CHECK = "forecast_beats_seasonal_naive"


class ForecastConfig(dg.Config):
    lookback_days: int = ForecastSettings.lookback_days
    holdout_days: int = ForecastSettings.holdout_days


def _fmt(value) -> str:
    return "" if value is None else f"{value:.3f}"


@dg.asset(
    name="article_forecasts",
    group_name="analytics",
    partitions_def=daily_partitions,
    kinds={"python", "postgres"},
    owners=["team:analytics"],
    deps=[dg.AssetKey(["marts", "fct_article_daily_performance"])],
    check_specs=[dg.AssetCheckSpec(BACKTEST_CHECK, asset="article_forecasts", description=(
        "Backtest in the same run: the chosen model's MASE (pooled absolute error over the held-out days / that of "
        "seasonal naive) is below 1 for views and revenue, i.e. it beats seasonal naive."))],
    description="Per published article, views and revenue for each of the next 28 days (7- and 28-day totals in "
    "the metadata) with 80 %/95 % prediction intervals, from its daily history in fct_article_daily_performance; "
    "the model (statsforecast AutoETS / AutoTheta, or a 7-day window average) is the one that wins the backtest. "
    "Rows in marts.mart_article_forecast.",
)
def article_forecasts(context: dg.AssetExecutionContext, config: ForecastConfig, warehouse: WarehouseResource):
    as_of = date.fromisoformat(context.partition_key)
    settings = ForecastSettings(lookback_days=config.lookback_days, holdout_days=config.holdout_days)
    with warehouse.connection() as conn:
        res = run_forecasts(conn, as_of, settings)
        totals = conn.execute(
            """SELECT metric, sum(forecast) FILTER (WHERE horizon_days <= 7), sum(forecast)
               FROM marts.mart_article_forecast WHERE as_of = %s GROUP BY metric""", (as_of,)).fetchall()
    table = "| metric | series | " + " | ".join(n for n in res["backtest"]["views"]["mase"]) + " | chosen |\n"
    table += "|---" * (len(res["backtest"]["views"]["mase"]) + 3) + "|\n"
    for metric in METRICS:
        bt = res["backtest"][metric]
        table += f"| {metric} | {bt['series']} | " + " | ".join(_fmt(v) for v in bt["mase"].values()) + \
            f" | {res['winners'][metric]} |\n"
    context.log.info(f"forecast {res['articles']} article(s) as of {as_of}: models {res['winners']}")
    metadata = {
        "articles": res["articles"],
        "rows": res["rows"],
        "backtest_mase": dg.MetadataValue.md(table),
        **{f"model_{m}": res["winners"][m] for m in METRICS},
        **{f"{m}_next_7d": float(a or 0) for m, a, _ in totals},
        **{f"{m}_next_28d": float(b or 0) for m, _, b in totals},
    }
    yield dg.MaterializeResult(metadata=metadata)
    scored = {m: res["backtest"][m] for m in METRICS if res["backtest"][m]["series"]}
    mase = {m: bt["mase"][res["winners"][m]] for m, bt in scored.items()}
    passed = all(res["winners"][m] != BASELINE and v is not None and v < 1 for m, v in mase.items())
    yield dg.AssetCheckResult(
        check_name=BACKTEST_CHECK, asset_key="article_forecasts", passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=("no series is long enough to backtest yet" if not scored else
                     "; ".join(f"{m}: {res['winners'][m]} MASE {_fmt(v)} vs seasonal naive 1.0" for m, v in mase.items())),
        metadata={**{f"mase_{m}": float(v) for m, v in mase.items() if v is not None},
                  **{f"series_{m}": bt["series"] for m, bt in scored.items()}},
    )


forecast_job = dg.define_asset_job(
    "forecast_job", selection=dg.AssetSelection.assets(article_forecasts), executor_def=dg.in_process_executor,
    tags={"area": "analytics"}, description="One day: backtest, choose a model, forecast every live article.",
)


@dg.schedule(job=forecast_job, cron_schedule="30 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every night after the analytics run: forecasts as of the day that just ended (UTC).")
def daily_forecast_schedule(context: dg.ScheduleEvaluationContext):
    from datetime import timedelta

    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"forecast:{day}", partition_key=day, tags={"allixios/trigger": "daily_forecast_schedule"})
