"""Allixios domain code: plain Python with no Dagster import.

The Dagster layer (``allixios_assets``, ``resources``, ``sensors``) stays thin and calls into here.
"""

__version__ = "0.1.0"
