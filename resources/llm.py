"""The `llm` resource: an LLMClient over the model catalogue (litellm Router, ledger, budgets, failover)."""

import dagster as dg

from allixios.ai.client import LLMClient


class LLMResource(dg.ConfigurableResource):
    """LLM calls for assets. Keys come from the environment variables the catalogue names.

    ``catalogue_path`` empty = ALLIXIOS_MODELS_FILE or config/models.yaml; ``database_url`` empty =
    the application database (the ai_usage ledger, budgets and circuits live there).
    """

    catalogue_path: str = ""
    database_url: str = ""
    concurrency: int = 8

    def client(self) -> LLMClient:
        from allixios.ai.catalogue import load_catalogue
        from allixios.db import server

        url = server._parse_url(self.database_url) if self.database_url else None
        return LLMClient(load_catalogue(self.catalogue_path or None), database_url=url, concurrency=self.concurrency)


def resource_defs() -> dict:
    from allixios.ai.catalogue import MODELS_FILE_ENV
    from allixios.settings import DATABASE_URL_ENV
    from resources import from_env

    return {"llm": LLMResource(catalogue_path=from_env(MODELS_FILE_ENV), database_url=from_env(DATABASE_URL_ENV))}
