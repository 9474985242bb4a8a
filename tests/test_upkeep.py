"""Upkeep: the database maintenance job's before/after figures (purge by month, VACUUM of a table
full of dead tuples, REINDEX CONCURRENTLY of a bloated index, ANALYZE), and the security scans:
pip-audit of a requirements file pinning a known-vulnerable release, secrets in the landing folder.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from allixios.automation import db_upkeep, security
from allixios.db import server
from allixios.db.engine import connect
from allixios.tenants import ensure_tenant


@pytest.fixture
def scratch(db):
    """A table with 40,000 rows, 90 % of them deleted: dead tuples, and an index mostly empty.
    Autovacuum is off for it so the job, not the daemon, is what cleans it."""
    with psycopg.connect(server.libpq_conninfo(db), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.upkeep_scratch")
        conn.execute("CREATE TABLE public.upkeep_scratch (id bigint PRIMARY KEY, label text) "
                     "WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO public.upkeep_scratch SELECT g, md5(g::text) FROM generate_series(1, 40000) g")
        conn.execute("ANALYZE public.upkeep_scratch")
        conn.execute("DELETE FROM public.upkeep_scratch WHERE id % 10 <> 0")
    yield db
    with psycopg.connect(server.libpq_conninfo(db), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.upkeep_scratch")


def _dead(conn) -> int:
    for _ in range(100):  # the DELETE's counts reach the shared statistics a moment after its commit
        conn.execute("SELECT pg_stat_clear_snapshot()")
        n = conn.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'upkeep_scratch'").fetchone()[0]
        if n:
            return n
        import time

        time.sleep(0.1)
    return 0


def test_the_maintenance_job_reports_before_and_after(scratch):
    with connect(scratch) as conn:
        tenant = ensure_tenant(conn, "acme")
        # raw events of three months: two years back and more is purged, the rest stays
        for day, n in ((date(2023, 3, 5), 3), (date(2023, 4, 9), 2), (date.today(), 4)):
            for i in range(n):
                conn.execute("""INSERT INTO raw.page_events (event_date, event_id, tenant_id, event_ts, article_id,
                                 source_file) VALUES (%s, %s, %s, %s, gen_random_uuid(), 'f.jsonl')""",
                             (day, f"e{day}{i}", tenant.id, day))
    with psycopg.connect(server.libpq_conninfo(scratch), autocommit=True) as conn:
        assert _dead(conn) >= 30000
    from allixios_assets.definitions import defs

    result = defs.resolve_job_def("maintenance_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=[dg.AssetKey("database_upkeep")])
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("database_upkeep")[0].metadata.items()}
    assert meta["purged_rows"] == 5 and "2023-03" in meta["purged_months"] and "2023-04" in meta["purged_months"]
    assert "upkeep_scratch" in meta["vacuum"] and meta["dead_tuples_before"] >= 30000
    assert meta["dead_tuples_after"] < meta["dead_tuples_before"] / 10
    assert "upkeep_scratch_pkey" in meta["reindex"] and meta["index_bytes_after"] < meta["index_bytes_before"]
    assert meta["analyzed_tables"] > 10
    with connect(scratch) as conn:
        assert conn.execute("SELECT count(*) FROM raw.page_events").fetchone()[0] == 4


def test_bloat_estimate_sees_a_freshly_built_index_as_tight(scratch):
    with psycopg.connect(server.libpq_conninfo(scratch), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE public.upkeep_scratch")
        conn.execute("REINDEX INDEX public.upkeep_scratch_pkey")
        conn.execute("INSERT INTO public.upkeep_scratch SELECT g, 'x' FROM generate_series(50001, 90000) g")
        conn.execute("REINDEX INDEX public.upkeep_scratch_pkey")
        conn.execute("ANALYZE public.upkeep_scratch")
        bloat = {i["index"]: i["bloat"] for i in db_upkeep.index_bloat(conn)}
    assert bloat["public.upkeep_scratch_pkey"] < db_upkeep.UpkeepPolicy.max_bloat


VULNERABLE_PIN = "requests==2.19.1\n"  # CVE-2018-18074 (PYSEC-2018-28), fixed in 2.20.0


def test_the_audit_reports_a_known_vulnerable_pin(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text(VULNERABLE_PIN)
    result = security.audit_dependencies(req, timeout=120)
    if not result.reachable:
        pytest.skip("pip-audit could not fetch PyPI's vulnerability data from this machine "
                    f"({result.error or result.not_audited[0]['reason']})")
    assert any(v["name"] == "requests" and v["version"] == "2.19.1" for v in result.vulnerable), result
    alerts = security.findings_as_alerts(result, None)
    assert alerts and alerts[0].kind == "vulnerable_dependency" and "requests 2.19.1" in alerts[0].message


def test_the_audit_reports_a_known_vulnerable_pin_from_offline_osv_data(tmp_path, capsys):
    """pip-audit's own OSV service against a local copy of the advisory (this machine reaches no
    vulnerability service): the real PYSEC-2018-28 record, as OSV's PyPI export carries it."""
    from allixios.automation import osv_offline

    osv = Path(__file__).parent / "fixtures" / "osv"
    index = osv_offline.load(osv)
    assert osv_offline.query(index, "Requests", "2.19.1") and not osv_offline.query(index, "requests", "2.20.0")
    req = tmp_path / "requirements.txt"
    req.write_text(VULNERABLE_PIN + "requests-toolbelt==1.0.0\n")
    result = security.audit_dependencies(req, timeout=120, osv_db=osv)
    assert result.reachable and result.audited == 2 and not result.not_audited, result
    assert [(v["name"], v["version"], v["id"]) for v in result.vulnerable] == [("requests", "2.19.1", "PYSEC-2018-28")]
    assert result.vulnerable[0]["fix_versions"] == ["2.20.0"] and "CVE-2018-18074" in result.vulnerable[0]["aliases"]
    alerts = security.findings_as_alerts(result, None)
    assert alerts and alerts[0].kind == "vulnerable_dependency" and "requests 2.19.1" in alerts[0].message
    clean = tmp_path / "clean.txt"
    clean.write_text("requests==2.20.0\n")
    assert not security.audit_dependencies(clean, timeout=120, osv_db=osv).vulnerable
    from allixios.cli import main

    assert main(["security", "audit", "--requirements", str(req), "--osv-db", str(osv)]) == 1
    assert "vulnerable: requests 2.19.1: PYSEC-2018-28 (fixed in 2.20.0)" in capsys.readouterr().out


def test_an_unreachable_vulnerability_service_is_not_reported_clean(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("this-package-does-not-exist-allixios==0.0.1\n")
    result = security.audit_dependencies(req, timeout=120)
    assert not result.vulnerable
    assert result.not_audited or result.error  # never "0 vulnerabilities" for a pin nobody checked
    assert not result.reachable


def test_secrets_in_the_tree_and_landing_are_found_by_fingerprint_never_value(tmp_path, db):
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    aws = "AKIA" + "Q" * 16
    slack = "https://hooks.slack.com/services/" + "T0000ABCD/B0000WXYZ/" + "a1b2c3d4e5f6g7h8i9j0"
    (root / "src" / "config.py").write_text(f"KEY = '{aws}'\nok = 1\n")
    (root / "src" / "fixture.py").write_text(f"KEY = '{aws}'  # allixios:allow-secret\n")
    landing = tmp_path / "landing" / "topics"
    landing.mkdir(parents=True)
    (landing / "export.csv").write_text(f"title,hook\nx,{slack}\n")
    found = security.scan_secrets(root, [landing])
    assert {(f["path"], f["line"], f["kind"]) for f in found} == {
        ("src/config.py", 1, "aws_access_key_id"), ("topics/export.csv", 2, "slack_webhook")}
    alerts = security.findings_as_alerts(None, found)
    from allixios.automation.business_alerts import raise_alerts

    with connect(db) as conn:
        assert len(raise_alerts(conn, alerts)) == 2
        assert raise_alerts(conn, alerts) == []  # once per week per finding
        stored = " ".join(r[0] + str(r[1]) for r in conn.execute("SELECT message, details FROM business_alerts"))
    assert aws not in stored and slack not in stored and "a1b2c3d4" not in stored


def test_the_cli_exit_codes_say_what_ci_needs(tmp_path):
    import subprocess
    import sys

    req = tmp_path / "requirements.txt"
    req.write_text("this-package-does-not-exist-allixios==0.0.1\n")
    done = subprocess.run([sys.executable, "-m", "allixios.cli", "security", "audit", "--requirements", str(req)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 3, done.stdout + done.stderr  # nothing audited: never reported clean
    assert done.stderr.count("\n") == 1 and "— fix:" in done.stderr
    missing = subprocess.run([sys.executable, "-m", "allixios.cli", "security", "audit", "--requirements",
                              str(tmp_path / "nope.txt")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "— fix:" in missing.stderr
