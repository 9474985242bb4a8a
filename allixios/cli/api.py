"""`allixios serve`, `allixios users ...`, `allixios keys ...`: the API server and who may use it.

CLI writes are recorded in audit_log as `operator:<OS user or ALLIXIOS_USER>`.
"""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table

users_app = typer.Typer(help="Users of a tenant and their roles (e-mail and name are stored encrypted).",
                        no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once, stored as a hash) and token signing keys.", no_args_is_help=True)


def _operator() -> str:
    from allixios.editorial.articles import default_actor

    return f"operator:{default_actor()}"


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (127.0.0.1 keeps it local)."),
    port: int = typer.Option(8000, help="TCP port.", envvar="ALLIXIOS_API_PORT"),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes (rate limits and state are shared in PostgreSQL)."),
    dispatch: bool = typer.Option(True, help="Launch planned content requests as Dagster runs and send callbacks."),
) -> None:
    """Serve the Allixios API (OpenAPI at /openapi.json, docs at /docs, routes under /v1)."""
    import os

    import uvicorn

    from allixios.db import migrate

    migrate.upgrade()
    os.environ["ALLIXIOS_API_DISPATCH"] = "1" if dispatch else "0"
    uvicorn.run("allixios.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, proxy_headers=False, server_header=False)


@users_app.command("add")
def users_add(email: str, role: str = typer.Option("viewer", help="owner, admin, editor, writer, analyst, viewer, operator"),
              name: str = typer.Option(None, help="Display name (stored encrypted)."),
              service: bool = typer.Option(False, "--service", help="A service account, not a person."),
              tenant: str = TenantOption) -> None:
    """Add a user to a tenant."""
    from allixios.db.engine import connect
    from allixios.identity.users import add_user
    from allixios.tenants import get_tenant

    with connect() as conn:
        user = add_user(conn, get_tenant(conn, tenant), email, role=role, name=name,
                        kind="service" if service else "person", actor=_operator())
    typer.echo(f"user {user.id} added with role {user.role}")


@users_app.command("list")
def users_list(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """List users of a tenant."""
    from allixios.db.engine import connect
    from allixios.identity.users import list_users
    from allixios.tenants import get_tenant

    with connect() as conn:
        rows = [u.public() for u in list_users(conn, get_tenant(conn, tenant))]
    print_json(rows) if as_json else print_table(rows, ["id", "email", "name", "role", "kind", "disabled", "created_at"])


@users_app.command("role")
def users_role(user: str = typer.Argument(..., help="User id or e-mail."), role: str = typer.Argument(...),
               tenant: str = TenantOption) -> None:
    """Change a user's role (applies to their live tokens at once)."""
    from allixios.db.engine import connect
    from allixios.identity.users import set_role
    from allixios.tenants import get_tenant

    with connect() as conn:
        u = set_role(conn, get_tenant(conn, tenant), user, role, actor=_operator())
    typer.echo(f"user {u.id} now has role {u.role}")


@users_app.command("disable")
def users_disable(user: str = typer.Argument(..., help="User id or e-mail."),
                  enable: bool = typer.Option(False, "--enable", help="Enable again instead."),
                  tenant: str = TenantOption) -> None:
    """Disable a user: every key and token of theirs stops working at once."""
    from allixios.db.engine import connect
    from allixios.identity.users import set_disabled
    from allixios.tenants import get_tenant

    with connect() as conn:
        u = set_disabled(conn, get_tenant(conn, tenant), user, not enable, actor=_operator())
    typer.echo(f"user {u.id} {'disabled' if u.disabled else 'enabled'}")


@users_app.command("rekey")
def users_rekey() -> None:
    """After putting a new key first in ALLIXIOS_PII_KEYS: re-wrap every data key under it."""
    from allixios.db.engine import connect
    from allixios.identity.users import rekey

    with connect() as conn:
        n = rekey(conn)
    typer.echo(f"{n} encrypted value(s) re-wrapped under the current key")


@users_app.command("sso")
def users_sso(issuer: str = typer.Argument(None, help="The identity provider's issuer URL; omit to switch SSO off."),
              jwks_url: str = typer.Option(None, help="Where the provider publishes its signing keys (JWKS)."),
              audience: str = typer.Option(None, help="The audience its tokens carry for Allixios."),
              tenant: str = TenantOption) -> None:
    """Accept OpenID Connect tokens of the tenant's own identity provider (users must exist by e-mail)."""
    from allixios.db.engine import connect
    from allixios.identity.tenant_access import configure_sso
    from allixios.tenants import get_tenant

    with connect() as conn:
        sso = configure_sso(conn, get_tenant(conn, tenant), issuer, jwks_url, audience, actor=_operator())
    typer.echo(f"SSO accepts tokens of {sso['issuer']}" if sso else "SSO switched off")


@users_app.command("callback-hosts")
def users_callback_hosts(host: list[str] = typer.Argument(None, help="Hosts completion callbacks may go to."),
                         tenant: str = TenantOption) -> None:
    """Set the hosts this tenant's completion callbacks may be sent to (none: no callbacks)."""
    from allixios.db.engine import connect
    from allixios.identity.tenant_access import set_callback_hosts
    from allixios.tenants import get_tenant

    with connect() as conn:
        hosts = set_callback_hosts(conn, get_tenant(conn, tenant), host or [], actor=_operator())
    typer.echo(f"callback hosts: {', '.join(hosts) or '(none)'}")


@keys_app.command("create")
def keys_create(user: str = typer.Option(..., "--user", "-u", help="The key's user (id or e-mail)."),
                name: str = typer.Option(..., help="A label, e.g. 'ci pipeline'."),
                scope: list[str] = typer.Option([], "--scope", help="Narrow to these permissions (repeatable)."),
                expires_days: int = typer.Option(90, help="Days until it expires."),
                tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Create an API key. The secret is printed once; only its hash is stored."""
    from allixios.db.engine import connect
    from allixios.identity.keys import create_key
    from allixios.tenants import get_tenant

    with connect() as conn:
        key, secret = create_key(conn, get_tenant(conn, tenant), user, name=name, actor=_operator(),
                                 scopes=scope, expires_in_days=expires_days)
    if as_json:
        print_json({**key.public(), "secret": secret})
    else:
        typer.echo(f"key {key.id} (prefix {key.prefix}), expires {key.expires_at:%Y-%m-%d}")
        typer.echo(f"secret (shown once, store it now): {secret}")


@keys_app.command("list")
def keys_list(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """List API keys (never their secrets)."""
    from allixios.db.engine import connect
    from allixios.identity.keys import list_keys
    from allixios.tenants import get_tenant

    with connect() as conn:
        rows = [k.public() for k in list_keys(conn, get_tenant(conn, tenant))]
    print_json(rows) if as_json else print_table(
        rows, ["id", "prefix", "name", "scopes", "expires_at", "revoked_at", "last_used_at"])


@keys_app.command("revoke")
def keys_revoke(key: str = typer.Argument(..., help="Key id or prefix."), tenant: str = TenantOption) -> None:
    """Revoke a key: refused from the next request on, with every token minted from it."""
    from allixios.db.engine import connect
    from allixios.identity.keys import revoke_key
    from allixios.tenants import get_tenant

    with connect() as conn:
        k = revoke_key(conn, get_tenant(conn, tenant), key, actor=_operator())
    typer.echo(f"key {k.prefix} revoked at {k.revoked_at:%Y-%m-%d %H:%M:%S}")


@keys_app.command("rotate-signing")
def keys_rotate_signing() -> None:
    """Start signing tokens with a new key; tokens of the old one verify until they expire."""
    from allixios.db.engine import connect
    from allixios.identity.tokens import rotate_signing_key

    with connect() as conn:
        kid = rotate_signing_key(conn)
    typer.echo(f"signing with {kid}; previous keys retire after the access-token lifetime")

