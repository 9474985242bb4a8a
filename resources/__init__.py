"""Dagster resources: warehouse (PostgreSQL), LLM, embeddings, dbt.

``resource_defs()`` is what ``allixios_assets.definitions`` binds. Settings that come from the
environment are bound as ``dg.EnvVar`` (``from_env``): Dagster resolves them when a run starts
and the UI's resource page names the variable, never its value (database URLs carry passwords).
An unset optional variable binds the resource's default instead (e.g. the embedded database).
"""

from __future__ import annotations

import os
from typing import Any


def from_env(name: str, default: str = ""):
    """``dg.EnvVar(name)`` when the variable is set, else ``default`` (EnvVar requires a value)."""
    import dagster as dg

    return dg.EnvVar(name) if os.environ.get(name, "").strip() else default


def resource_defs() -> dict[str, Any]:
    from allixios.settings import DATABASE_URL_ENV
    from resources.warehouse import WarehouseResource

    defs: dict[str, Any] = {"warehouse": WarehouseResource(database_url=from_env(DATABASE_URL_ENV))}
    for extra in _optional_resources():
        defs.update(extra)
    return defs


def _optional_resources() -> list[dict[str, Any]]:
    """Resources owned by other areas (LLM, embeddings, dbt), added as each lands."""
    found: list[dict[str, Any]] = []
    import importlib

    for module in ("resources.llm", "resources.embeddings", "resources.dbt"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        found.append(mod.resource_defs())
    return found
