"""Dagster resources: warehouse (PostgreSQL), LLM, embeddings, dbt.

``resource_defs()`` is what ``allixios_assets.definitions`` binds; each resource reads its
settings from the environment through ``EnvVar`` or defaults, never at import time.
"""

from __future__ import annotations

from typing import Any


def resource_defs() -> dict[str, Any]:
    from resources.warehouse import WarehouseResource

    defs: dict[str, Any] = {"warehouse": WarehouseResource()}
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
