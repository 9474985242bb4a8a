"""The Allixios API: FastAPI on uvicorn, every route under /v1.

`create_app()` builds the app; `allixios serve` runs it. The API plans and records; generation runs
as Dagster runs launched through the code location (see `runs.py`). No Dagster import at module
level: the launcher is imported when the first run is launched.
"""
