"""Application tables that the marts read but no Dagster asset writes: declared as external assets.

``tenants`` and ``niches`` are written by the CLI (`allixios niches add`, `allixios seed`), the
topic intake sensor and the API; dbt reads them as the sources ``app.tenants`` / ``app.niches``.
Declaring them here (rather than leaving dagster-dbt's nameless stubs in group "default") gives the
catalog their description, owner and columns, and the lineage its true start.
"""

import dagster as dg

_COMMON = {"group_name": "app", "owners": ["team:platform"], "kinds": {"postgres"}}


def _schema(*columns: tuple[str, str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_, description) for name, type_, description in columns])


tenants = dg.AssetSpec(
    "tenants",
    description="The tenants: every row of every other table belongs to one (tenant_id). Created by "
    "`allixios seed` and the API; soft-deleted tenants (deleted_at set) are left out of the marts.",
    metadata={
        "dagster/table_name": "public.tenants",
        "dagster/column_schema": _schema(
            ("id", "uuid", "Tenant id, the tenant_id of every row it owns."),
            ("slug", "text", "Short unique name (CLI --tenant, site folder)."),
            ("name", "text", "Display name."),
            ("settings", "jsonb", "Per-tenant quality bars and knobs (allixios/tenants.py DEFAULT_SETTINGS)."),
            ("deleted_at", "timestamptz", "Set when the tenant is soft-deleted."),
        ),
    },
    **_COMMON,
)

niches = dg.AssetSpec(
    "niches",
    description="The niche catalogue of each tenant: the keys of the content partitions' niche dimension "
    "(partition_key = tenant_slug.niche_slug). Written by `allixios niches add/remove`, `allixios seed` and "
    "the topic intake sensor; niche_partitions_sensor keeps Dagster's partition keys equal to the active rows.",
    metadata={
        "dagster/table_name": "public.niches",
        "dagster/column_schema": _schema(
            ("id", "uuid", "Niche id."),
            ("tenant_id", "uuid", "Owning tenant."),
            ("slug", "text", "Niche name, unique per tenant."),
            ("name", "text", "Display name."),
            ("seed_keywords", "text[]", "Keywords topic research expands."),
            ("daily_quota", "integer", "Articles per day the content graph drafts for the niche."),
            ("partition_key", "text", "The niche's key in the content partitions (tenant_slug.niche_slug)."),
            ("active", "boolean", "Only active niches are partitions."),
        ),
    },
    **_COMMON,
)

APP_TABLES = [tenants, niches]
