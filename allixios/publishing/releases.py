"""Release folders of a tenant's site and the one-step switch between them.

Layout under ``.allixios/sites/<tenant>/``: ``releases/<name>/`` (one complete site each; a build in
progress is ``releases/.<name>.partial`` and never served), and ``current`` — a symlink to the live
release, replaced by ``rename(2)`` so a reader sees the old site or the new one, never a mix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg

from allixios.errors import NotFoundError
from allixios.publishing.config import site_dir


def releases_dir(tenant_slug: str) -> Path:
    return site_dir(tenant_slug) / "releases"


def current_link(tenant_slug: str) -> Path:
    return site_dir(tenant_slug) / "current"


def live_release(tenant_slug: str) -> Path | None:
    link = current_link(tenant_slug)
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def list_releases(tenant_slug: str) -> list[str]:
    root = releases_dir(tenant_slug)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def switch_to(tenant_slug: str, name: str) -> None:
    """Point ``current`` at ``releases/<name>`` in one atomic rename."""
    link = current_link(tenant_slug)
    tmp = link.with_name("current.next")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(f"releases/{name}", tmp)
    os.replace(tmp, link)


def prune(conn: psycopg.Connection, tenant_id, tenant_slug: str, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` releases (never the live one) and any leftover partial build."""
    live = live_release(tenant_slug)
    names = list_releases(tenant_slug)
    doomed = [n for n in names[:-keep] if live is None or n != live.name] if keep > 0 else []
    for name in doomed:
        shutil.rmtree(releases_dir(tenant_slug) / name, ignore_errors=True)
    for partial in releases_dir(tenant_slug).glob(".*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
    if doomed:
        conn.execute("UPDATE site_releases SET status = 'pruned' WHERE tenant_id = %s AND release_name = ANY(%s)",
                     (tenant_id, doomed))
    return doomed


def rollback(conn: psycopg.Connection, tenant_id, tenant_slug: str, to: str | None = None) -> tuple[str | None, str]:
    """Make the release before the live one (or ``to``) live again; returns (previous live, new live)."""
    names = list_releases(tenant_slug)
    live = live_release(tenant_slug)
    live_name = live.name if live else None
    if to is None:
        older = [n for n in names if live_name is None or n < live_name]
        if not older:
            raise NotFoundError(f"site of {tenant_slug!r} has no release older than {live_name or 'none'} to roll back to",
                                fix="build the site first (`allixios site build`); see `allixios site status`")
        to = older[-1]
    elif to not in names:
        raise NotFoundError(f"release {to!r} of {tenant_slug!r} does not exist (kept: {', '.join(names) or 'none'})",
                            fix="pick a release listed by `allixios site status`")
    switch_to(tenant_slug, to)
    conn.execute("UPDATE site_releases SET status = 'rolled_back' WHERE tenant_id = %s AND release_name = %s",
                 (tenant_id, live_name))
    conn.execute("UPDATE site_releases SET status = 'live' WHERE tenant_id = %s AND release_name = %s",
                 (tenant_id, to))
    return live_name, to
