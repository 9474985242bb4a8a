"""The `embeddings` resource: the catalogue's embedder (offline stand-in unless a real model has its key)."""

import dagster as dg

from allixios.ai.embeddings import Embedder, get_embedder


class EmbeddingsResource(dg.ConfigurableResource):
    """``alias`` names the catalogue entry; ``catalogue_path`` empty = ALLIXIOS_MODELS_FILE or config/models.yaml."""

    alias: str = "embedder"
    catalogue_path: str = ""
    database_url: str = ""

    def embedder(self) -> Embedder:
        from allixios.ai.catalogue import load_catalogue
        from allixios.db import server

        url = server._parse_url(self.database_url) if self.database_url else None
        return get_embedder(self.alias, load_catalogue(self.catalogue_path or None), database_url=url)


def resource_defs() -> dict:
    from allixios.ai.catalogue import MODELS_FILE_ENV
    from allixios.settings import DATABASE_URL_ENV
    from resources import from_env

    return {
        "embeddings": EmbeddingsResource(catalogue_path=from_env(MODELS_FILE_ENV), database_url=from_env(DATABASE_URL_ENV))
    }
