"""SQL kept as files next to the code that owns it."""

from __future__ import annotations

from importlib import resources


def read_sql(name: str) -> str:
    return resources.files("allixios.db").joinpath("sql", name).read_text()
