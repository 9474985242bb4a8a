"""Shared request-model base: strict (unknown fields are refused, not ignored)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(BaseModel):
    items: list[dict]
    next_cursor: str | None = None
