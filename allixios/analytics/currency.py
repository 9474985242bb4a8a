"""Reference exchange rates to US dollars, used to convert revenue at ingestion.

Offline and fixed on purpose: revenue marts must be reproducible, and nothing fetches from the
internet at run time. Update the table (and reload the affected days) when finance publishes new
rates; a currency that is not listed is rejected with its code.
"""

from __future__ import annotations

# units of USD per one unit of the currency
USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CHF": 1.13,
    "CAD": 0.73,
    "AUD": 0.66,
    "NZD": 0.60,
    "JPY": 0.0067,
    "CNY": 0.14,
    "INR": 0.012,
    "BRL": 0.18,
    "MXN": 0.058,
    "SEK": 0.095,
    "NOK": 0.094,
    "DKK": 0.145,
    "PLN": 0.25,
    "ZAR": 0.055,
    "SGD": 0.74,
    "KRW": 0.00073,
    "IDR": 0.000064,
}


def to_usd(amount: float, currency: str) -> float:
    return amount * USD_PER_UNIT[currency.upper()]


# --- rates of the day (imports) ------------------------------------------------------------------
# Imported money (affiliate commissions, ad revenue) is converted with the rate of its own day, from
# files finance lands in landing/fx_rates/ (any name ending .csv, one header row):
#     date,currency,usd_per_unit
#     2026-11-20,EUR,1.0712
# USD is always 1. A day without a rate for a currency is a rejected row naming the fix; the fixed
# table above is only the event feed's reference, never a silent fallback for imports.
RATES_FOLDER = "fx_rates"


def daily_rates(root=None):
    """Every landed rate as a polars frame (rate_day, currency_code, usd_per_unit). A bad rate row
    or two different rates for one currency and day stop the import with the file, line and fix:
    converting money with a guessed rate would be worse than not converting it."""
    from pathlib import Path

    import polars as pl

    from allixios import settings
    from allixios.analytics.reading import UnreadableFile, read_event_file
    from allixios.analytics.schemas import EventSchema
    from allixios.errors import ValidationError

    folder = Path(root) if root is not None else settings.landing_dir(RATES_FOLDER)
    schema = EventSchema(kind="fx_rate", columns=("date", "currency", "usd_per_unit"), required=(),
                         aliases=(("rate", "usd_per_unit"), ("usd", "usd_per_unit")))
    frames = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        try:
            parsed = read_event_file(path, "csv", schema)
        except UnreadableFile as exc:
            raise ValidationError(f"rates file {path.name}: {exc}", fix="land rates as CSV date,currency,usd_per_unit") from None
        if parsed.missing:
            raise ValidationError(f"rates file {path.name} has no {parsed.missing[0]} column",
                                  fix="use the header date,currency,usd_per_unit")
        frame = parsed.frame.select(
            pl.col("_line"), pl.col("_error"),
            pl.col("date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias("rate_day"),
            pl.col("currency").str.strip_chars().str.to_uppercase().alias("currency_code"),
            pl.col("usd_per_unit").str.strip_chars().cast(pl.Float64, strict=False).alias("usd_per_unit"),
        )
        bad = frame.filter(pl.col("_error").is_not_null()
                           | pl.any_horizontal(pl.all().exclude("_error").is_null()) | (pl.col("usd_per_unit") <= 0)
                           | ~pl.col("currency_code").str.contains(r"^[A-Z]{3}$").fill_null(False))
        if bad.height:
            raise ValidationError(f"rates file {path.name} line {bad[0, '_line']}: not a date, a currency code and a "
                                  "positive rate", fix="write e.g. 2026-11-20,EUR,1.0712 (USD per unit, decimal point)")
        frames.append(frame.drop("_line", "_error"))
    rates = (pl.concat(frames) if frames else
             pl.DataFrame(schema={"rate_day": pl.Date, "currency_code": pl.String, "usd_per_unit": pl.Float64}))
    clashes = rates.group_by("rate_day", "currency_code").agg(pl.col("usd_per_unit").n_unique().alias("n")).filter(
        pl.col("n") > 1)
    if clashes.height:
        day, code = clashes.row(0)[:2]
        raise ValidationError(f"two different rates for {code} on {day}", fix=f"keep one rate per currency and day in {folder}")
    return rates.unique(["rate_day", "currency_code"]).filter(pl.col("currency_code") != "USD")
