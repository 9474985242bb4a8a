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
