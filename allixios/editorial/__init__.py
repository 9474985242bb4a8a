"""Content management for editors: find, read, edit, lock, delete/restore and revert articles.

Plain domain code (no Dagster import), used by `allixios articles ...` and by jobs that must respect
editors (regeneration and refresh skip articles with an active edit lock, see `locks.py`).
"""
