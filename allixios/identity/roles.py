"""Roles and the permission matrix (documented in docs/areas/api.md, generated from this table).

A credential's permissions are its user's role's permissions, narrowed by the API key's scopes when
the key has any. `operator` is the role of people running the CLI and the platform (health,
executions, metrics), not of content work.
"""

from __future__ import annotations

from allixios.errors import ValidationError

ROLES = ("owner", "admin", "editor", "writer", "analyst", "viewer", "operator")

_ALL = set(ROLES)
_MATRIX: dict[str, set[str]] = {
    "articles:read": _ALL,
    "articles:write": {"owner", "admin", "editor", "writer"},
    "articles:lock": {"owner", "admin", "editor", "writer"},
    "articles:force_unlock": {"owner", "admin"},
    "articles:delete": {"owner", "admin", "editor"},
    "articles:publish": {"owner", "admin", "editor"},
    "content:request": {"owner", "admin", "editor", "writer", "operator"},
    "executions:read": {"owner", "admin", "editor", "writer", "analyst", "operator"},
    "executions:cancel": {"owner", "admin", "editor", "operator"},
    "ai:read": {"owner", "admin", "editor", "writer", "analyst", "operator"},
    "ai:manage": {"owner", "admin"},
    "analytics:read": {"owner", "admin", "editor", "analyst", "operator"},
    "analytics:write": {"owner", "admin", "operator"},  # imports' postbacks (affiliate networks)
    "system:read": {"owner", "admin", "operator"},
    "users:manage": {"owner", "admin"},
    "keys:manage": {"owner", "admin"},
}
PERMISSIONS = tuple(_MATRIX)


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}", fix=f"use one of {', '.join(ROLES)}")
    return role


def check_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    bad = sorted(set(scopes) - set(PERMISSIONS))
    if bad:
        raise ValidationError(f"unknown scope(s) {', '.join(bad)}", fix=f"use scopes from: {', '.join(PERMISSIONS)}")
    return sorted(set(scopes))


def permissions(role: str, scopes: list[str] | tuple[str, ...] | None = None) -> frozenset[str]:
    granted = {p for p, roles in _MATRIX.items() if role in roles}
    if scopes:
        granted &= set(scopes)
    return frozenset(granted)


def matrix_markdown() -> str:
    head = "| permission | " + " | ".join(ROLES) + " |\n|---|" + "---|" * len(ROLES) + "\n"
    rows = "".join(
        f"| `{p}` | " + " | ".join("✓" if r in roles else "" for r in ROLES) + " |\n" for p, roles in _MATRIX.items()
    )
    return head + rows
