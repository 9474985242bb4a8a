"""Analytics domain: traffic simulator, event-file parsing and validation (polars), COPY loading,
analyst access (roles and Row-Level Security) and the KPIs over the dbt marts.

No Dagster import here; `allixios_assets/analytics/` wraps these functions as assets.
"""
