"""The Dagster instance Allixios runs on: $DAGSTER_HOME with PostgreSQL storage."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from allixios import settings
from allixios.db import server


def prepare_dagster_home(home: Path | None = None) -> Path:
    """Create DAGSTER_HOME with the repository's dagster.yaml and point its storage at PostgreSQL.

    Sets DAGSTER_HOME and ALLIXIOS_DAGSTER_PG_URL in this process's environment (inherited by
    run workers and dbt sub-processes).
    """
    home = home or Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home())
    home.mkdir(parents=True, exist_ok=True)
    source = settings.repo_path("dagster.yaml")
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != source.read_text():
        shutil.copyfile(source, target)
    url = server.dagster_url()
    server.ensure_database(url, require_pgvector=False)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["ALLIXIOS_DAGSTER_PG_URL"] = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return home


def get_instance() -> dg.DagsterInstance:
    prepare_dagster_home()
    return dg.DagsterInstance.get()
