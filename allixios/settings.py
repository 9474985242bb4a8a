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
UI_PORT_ENV = "ALLIXIOS_UI_PORT"
UI_URL_ENV = "ALLIXIOS_UI_URL"
DEFAULT_UI_PORT = 3000
# the landing folders the README names: event files (analytics) and topic files (topic intake)
LANDING_KINDS = ("events", "topics")
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


def state_folders() -> list[Path]:
    """Every folder of ``home()`` an operator is told to look in or drop files into (README)."""
    return [dagster_home(), *(landing_dir(kind) for kind in LANDING_KINDS)]


def ensure_state_folders() -> list[Path]:
    """Create the state folders (idempotent); the embedded server creates ``pg/`` itself."""
    folders = state_folders()
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def _port(env: str, default: int) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        from allixios.errors import ConfigError

        raise ConfigError(f"{env} is not a port number ({raw!r})", fix=f"set {env} to e.g. {default}, or unset it")
    return int(raw)


def ui_port() -> int:
    """The port `make dev` serves the Dagster UI on (ALLIXIOS_UI_PORT, default 3000)."""
    return _port(UI_PORT_ENV, DEFAULT_UI_PORT)


def site_port() -> int:
    """The port `make dev` serves the tenant site on (ALLIXIOS_SITE_PORT, default 4500)."""
    return _port("ALLIXIOS_SITE_PORT", 4500)


def api_port() -> int:
    """The port `make dev` serves the Allixios API on (ALLIXIOS_API_PORT, default 8000)."""
    return _port("ALLIXIOS_API_PORT", 8000)


def ui_url() -> str:
    """Base URL of the Dagster UI for links (run summaries, alerts): ALLIXIOS_UI_URL, else
    http://127.0.0.1:<ALLIXIOS_UI_PORT>, the address `make dev` serves."""
    configured = os.environ.get(UI_URL_ENV, "").strip()
    return configured.rstrip("/") if configured else f"http://127.0.0.1:{ui_port()}"


def repo_path(*parts: str) -> Path:
    return project_root().joinpath(*parts)
