"""Tenants and niches declare locales; the glossary; bad input is one line naming the fix (real PostgreSQL, real CLI)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from allixios.content.locales.config import (
    add_glossary_entries,
    get_niche_locales,
    glossary_for,
    read_glossary_file,
    require_tenant_locale,
    set_niche_locales,
    set_tenant_locales,
    tenant_locales,
)
from allixios.db.engine import connect
from allixios.errors import ValidationError
from allixios.tenants import add_niche, ensure_tenant


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "allixios.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})


@pytest.fixture
def acme(db):
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "acme")
        niche = add_niche(conn, tenant, "garden", "Home Gardening", ["raised beds"])
    return tenant, niche


def test_tenant_defaults_to_english_and_declares_locales(acme, db):
    tenant, niche = acme
    with connect(db) as conn:
        assert tenant_locales(conn, tenant.id).locales == ["en"]
        got = set_tenant_locales(conn, tenant, "en,de,FR")
        assert got.default == "en" and got.locales == ["en", "de", "fr"]
        assert set_niche_locales(conn, tenant, "garden", ["de", "en"]) == ["de"]  # the default is the source language
        assert get_niche_locales(conn, niche) == ["de"]
        # a new default that a niche targeted stops being a target
        got = set_tenant_locales(conn, tenant, "de,en,fr", default="de")
        assert got.default == "de"
        assert get_niche_locales(conn, niche) == []


def test_locale_the_tenant_does_not_have_is_one_clear_line(acme, db):
    tenant, _ = acme
    with connect(db) as conn:
        with pytest.raises(ValidationError) as err:
            set_niche_locales(conn, tenant, "garden", "de")
        assert "tenant 'acme' has no locale 'de'" in str(err.value)
        assert "allixios locales set en,de --tenant acme" in err.value.fix
        with pytest.raises(ValidationError, match="locale 'xx' is not supported"):
            require_tenant_locale(conn, tenant, "xx")
        set_tenant_locales(conn, tenant, "en,de")
        set_niche_locales(conn, tenant, "garden", "de")
        with pytest.raises(ValidationError) as err:  # dropping a locale a niche still uses
            set_tenant_locales(conn, tenant, "en")
        assert "niche 'garden'" in str(err.value) and "allixios niches locales garden" in err.value.fix
    # the CLI says the same in one line, exit 2, no traceback
    out = cli("niches", "add", "travel", "--locale", "fr", "--tenant", "acme")
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in (out.stderr + out.stdout).splitlines() if ln.strip()]
    assert len(lines) == 1 and "has no locale 'fr'" in lines[0] and "fix:" in lines[0], lines
    assert "Traceback" not in out.stderr


def test_cli_sets_and_shows_locales(acme, db):
    assert cli("locales", "set", "en,de,es", "--tenant", "acme").returncode == 0
    out = cli("niches", "add", "travel", "--locale", "de", "-l", "es", "--tenant", "acme")
    assert out.returncode == 0 and "translated into de, es" in out.stdout, out.stderr
    out = cli("niches", "locales", "garden", "--set", "es", "--tenant", "acme")
    assert out.returncode == 0 and "target locales es" in out.stdout
    out = cli("locales", "show", "--tenant", "acme", "--json")
    assert '"default_locale": "en"' in out.stdout and '"es"' in out.stdout
    out = cli("locales", "supported")
    assert "Amstad" in out.stdout and "not available for sv" in out.stdout


def test_glossary_conflicts_are_refused_naming_both(acme, db, tmp_path):
    tenant, _ = acme
    with connect(db) as conn:
        set_tenant_locales(conn, tenant, "en,de")
        assert add_glossary_entries(conn, tenant, [("de", "raised bed", "Hochbeet", "cli")]) == 1
        with pytest.raises(ValidationError) as err:  # against the stored glossary
            add_glossary_entries(conn, tenant, [("de", "Raised Bed", "Beet", "cli")])
        assert "already translates to 'Hochbeet'" in str(err.value) and "--replace" in err.value.fix
        add_glossary_entries(conn, tenant, [("de", "Raised Bed", "Hochbeet", "cli")])  # the same: fine
        assert glossary_for(conn, tenant.id, "de") == [("Raised Bed", "Hochbeet")]
        add_glossary_entries(conn, tenant, [("de", "raised bed", "Hochbeet (Garten)", "cli")], replace=True)
        assert glossary_for(conn, tenant.id, "de") == [("raised bed", "Hochbeet (Garten)")]
    path = tmp_path / "glossary.csv"
    path.write_text("locale,term,translation\nde,compost,Kompost\nde,mulch,Mulch\nde,Compost,Komposterde\n")
    with connect(db) as conn, pytest.raises(ValidationError) as err:
        add_glossary_entries(conn, tenant, read_glossary_file(path))
    assert "two de translations: 'Kompost' (glossary.csv line 2) and 'Komposterde' (glossary.csv line 4)" in str(err.value)
    with connect(db) as conn:  # nothing of the refused file was written
        assert [t for t, _ in glossary_for(conn, tenant.id, "de")] == ["raised bed"]
    out = cli("locales", "glossary", "import", str(path), "--tenant", "acme")
    lines = [ln for ln in (out.stderr + out.stdout).splitlines() if ln.strip()]
    assert out.returncode == 2 and len(lines) == 1 and "fix: keep one translation per term" in lines[0], lines
    path.write_text("locale,term,translation\nde,compost,Kompost\nfr,compost,compost\n")
    out = cli("locales", "glossary", "import", str(path), "--tenant", "acme")
    assert out.returncode == 2 and "has no locale 'fr'" in out.stderr
