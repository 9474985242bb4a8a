"""Where Allixios keeps its state and how it reaches its database.

Everything is read from the environment at call time (never at import), so tests and
sub-processes can point Allixios elsewhere by setting variables.
"""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_URL_ENV = "ALLIXIOS_DATABASE_URL"
DAGSTER_DATABASE_URL_ENV = "ALLIXIOS_DAGSTER_DATABASE_URL"
HOME_ENV = "ALLIXIOS_HOME"
DEFAULT_TENANT_SLUG = "sample"


def project_root() -> Path:
    """The checkout Allixios runs from: the nearest folder above the package with a pyproject.toml."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "allixios_assets").is_dir():
            return parent
    return Path.cwd()


def home() -> Path:
    """Project-local state folder (embedded database, Dagster home, landing folders)."""
    configured = os.environ.get(HOME_ENV)
    path = Path(configured).expanduser() if configured else project_root() / ".allixios"
    return path.resolve()


def pgdata_dir() -> Path:
    return home() / "pg"


def dagster_home() -> Path:
    return home() / "dagster"


def landing_dir(kind: str) -> Path:
    """Landing folder for incoming files: ``events``, ``topics``."""
    return home() / "landing" / kind


def repo_path(*parts: str) -> Path:
    return project_root().joinpath(*parts)
