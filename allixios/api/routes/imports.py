"""`POST /v1/affiliate/postback`: an affiliate network's server-to-server conversion postback.

The tenant is the credential's (an API key in `X-API-Key`, with `analytics:write`). The postback is
one order row of the affiliate import contract (docs/areas/analytics.md, "Imports"): it is appended,
fsynced, to the tenant's landing file `landing/affiliate/<tenant>/postback_<YYYY-MM-DD>.jsonl` before
the 202, and `allixios ingest affiliate` loads it with the network CSVs - the same validation,
rates of the day, reversals and reconciliation. A repeated postback (a network retry) is a counted
duplicate there, and a later status for an order supersedes the earlier one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os

from fastapi import APIRouter, Depends, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from allixios.api.auth import Principal, need
from allixios.api.problems import problem_doc
from allixios.api.routes._models import Strict

router = APIRouter(tags=["analytics"])


class Postback(Strict):
    order_id: str = Field(min_length=1, max_length=200, description="The network's order / transaction id.")
    status: str = Field(min_length=1, max_length=40, description="pending, approved, declined or reversed "
                        "(the networks' words for them are accepted too).")
    commission: float | None = Field(None, description="Commission in `currency` (a reversal may leave it out).")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217 code.")
    date: dt.date | None = Field(None, description="The order's day (default: today, UTC).")
    page: str | None = Field(None, max_length=4096, description="The page (sub id / click ref) of the order.")
    article_id: str | None = Field(None, max_length=64, description="The article, when the network passes it back.")
    network: str | None = Field(None, max_length=200, description="Network or program.")


def _append(tenant_slug: str, record: dict) -> str:
    from allixios.analytics.import_contracts import KINDS
    from allixios.analytics.imports import tenant_folder

    folder = tenant_folder("affiliate", tenant_slug)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"postback_{record['date']}.jsonl"
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one line at a time from every worker
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return f"{KINDS['affiliate'].folder}/{tenant_slug}/{name}"


@router.post("/affiliate/postback", status_code=202,
             summary="Record an affiliate network's conversion postback (loaded by `allixios ingest affiliate`)",
             responses=problem_doc(401, 403, 422, 429))
async def affiliate_postback(body: Postback, response: Response,
                             principal: Principal = Depends(need("analytics:write"))) -> dict:
    record = body.model_dump(mode="json")
    record["date"] = record["date"] or dt.datetime.now(dt.UTC).date().isoformat()
    landed = await run_in_threadpool(_append, principal.tenant.slug, record)
    return {"accepted": True, "order_id": body.order_id, "landed_in": landed, "loads_with": "allixios ingest affiliate"}
