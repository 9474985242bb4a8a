"""The warehouse resource: Allixios' PostgreSQL (embedded by default, or ALLIXIOS_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
from sqlalchemy.engine import URL

from allixios.db import server
from allixios.db.engine import connect


class WarehouseResource(dg.ConfigurableResource):
    """Connections to the application database. Leave ``database_url`` empty for the default."""

    database_url: str = ""

    def url(self) -> URL:
        if self.database_url:
            return server._parse_url(self.database_url)
        return server.app_url()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A transaction: committed when the block ends normally, rolled back on error."""
        with connect(self.url()) as conn:
            yield conn
