"""A real uvicorn server for API tests, on a free port, with two tenants and a user per role.

The server runs in a thread of the test process against the session database; the Dagster
dispatcher is off unless a test asks for it (runs are launched by the dispatcher tests only).
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn

from allixios.db.engine import connect
from allixios.identity.roles import ROLES
from tests.db_support import empty_app_tables

BODY = ("## Why it matters\n\n" + "An emergency fund keeps a surprise bill from becoming debt. " * 20 +
        "\n\n## How to start\n\n" + "Save a small amount every week into a separate account. " * 20)


def truncate(url) -> None:
    empty_app_tables(url)
    from allixios.identity import tokens

    tokens._cache.clear()


@dataclass
class TenantWorld:
    slug: str
    tenant_id: str
    keys: dict[str, str] = field(default_factory=dict)  # role -> API key secret
    users: dict[str, str] = field(default_factory=dict)  # role -> user id
    key_ids: dict[str, str] = field(default_factory=dict)
    article_id: str = ""
    niche: str = "finance"


def make_world(url, slug: str) -> TenantWorld:
    from allixios.editorial.authoring import create_article
    from allixios.identity.keys import create_key
    from allixios.identity.users import add_user
    from allixios.tenants import add_niche, ensure_tenant

    with connect(url) as conn:
        tenant = ensure_tenant(conn, slug, settings={"callback_hosts": ["127.0.0.1"]})
        niche = add_niche(conn, tenant, "finance", "Finance", ["budgeting"], 3)
        world = TenantWorld(slug, str(tenant.id))
        for role in ROLES:
            user = add_user(conn, tenant, f"{role}@{slug}.example", role=role, name=f"{role.title()} Person",
                            actor="test")
            key, secret = create_key(conn, tenant, str(user.id), name=f"{role} key", actor="test")
            world.users[role], world.keys[role], world.key_ids[role] = str(user.id), secret, str(key.id)
        victim, _ = create_key(conn, tenant, world.users["viewer"], name="victim key", actor="test")
        world.key_ids["victim"] = str(victim.id)
        world.article_id = str(create_article(conn, tenant, niche, {
            "title": f"Emergency funds for {slug}", "content": BODY, "primary_keyphrase": "emergency fund"},
            actor="test"))
    return world


class ServerThread:
    def __init__(self, app):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 180  # generous: two test workers may start servers at once
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


def client(base: str, secret: str | None = None, **headers) -> httpx.Client:
    h = dict(headers)
    if secret:
        h["Authorization"] = f"Bearer {secret}"
    return httpx.Client(base_url=base, headers=h, timeout=30, trust_env=False)


@contextmanager
def tenants_api(url, *slugs: str, **app_options):
    """A clean slate, one world per tenant slug and the API app served: yields (server, *worlds)."""
    from allixios.api.app import create_app

    truncate(url)
    worlds = [make_world(url, slug) for slug in slugs]
    with ServerThread(create_app(dispatch=False, **app_options)) as server:
        yield (server, *worlds)
