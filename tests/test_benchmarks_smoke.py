"""Smoke test of `python -m benchmarks --quick`: every benchmark whose dependencies exist runs and writes a
well-formed result with ratios. Never asserts on timings (those are the benchmarks' job, not a test's).

The benchmarks create their own `allixios_bench_*` databases on the server the session points at.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from allixios import settings

ROOT = settings.project_root()
FAST = ("vector_search", "hybrid_search", "event_ingest", "site_build", "embedder_quality", "search_console_import",
        "learned_routing")
# a provider process and litellm start-up, dbt and Dagster start-ups: tens of seconds each even at --quick
SLOW = ("score_drop_sensor", "generation_throughput", "provider_faults", "dbt_marts", "pipeline_overhead", "capacity")


def _ready(names: tuple[str, ...]) -> list[str]:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.__main__ import load

        return [n for n in names if load(n).missing_dependencies() is None]
    finally:
        sys.path.remove(str(ROOT))


def _run(names: list[str], output: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", "--quick", *names, "--output", str(output), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def _check_report(report: dict) -> None:
    name = report["name"]
    assert report["status"] == "ok", f"{name}: {report.get('error')}"
    assert report["size"] == "quick"
    assert report["ratios"], f"{name} reports no ratio against its baseline"
    for key, ratio in report["ratios"].items():
        assert isinstance(ratio["value"], float | int) and math.isfinite(ratio["value"]) and ratio["value"] >= 0, (name, key)
        assert ratio["baseline"] not in (None, 0), (name, key)
        assert ratio["note"], (name, key)
    assert report["goals"], f"{name} checks no goal"
    for goal in report["goals"]:
        assert goal["op"] in (">=", "<=") and isinstance(goal["met"], bool), (name, goal)
        assert goal["value"] is not None, (name, goal)
    assert report["peak_rss_mb"] > 0 and report["elapsed_s"] > 0
    assert report["metrics"] and report["machine"]["cores"] >= 1


def _check_run(names: list[str], tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = _run(names, output)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(output.read_text())
    assert set(results["benchmarks"]) == set(names)
    for name in names:
        _check_report(results["benchmarks"][name])
        assert f"## {name} (quick) — ok" in done.stdout  # the printed table
    # each benchmark's own database is dropped afterwards
    created = re.findall(r"database (allixios_bench_\w+)", done.stdout)
    assert len(created) == len(names)
    from allixios.db.engine import connect

    with connect() as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (created,)).fetchall()
    assert left == []


def test_fast_benchmarks_run_and_write_ratios(database_url, tmp_path):
    names = _ready(FAST)
    assert names, "no benchmark can run: the schema-only ones (vector_search) always should"
    _check_run(names, tmp_path)


@pytest.mark.slow
def test_llm_dbt_and_dagster_benchmarks_run_and_write_ratios(database_url, tmp_path):
    names = _ready(SLOW)
    if not names:
        pytest.fail(f"{SLOW} are waiting for their areas; see `python -m benchmarks --list`")
    _check_run(names, tmp_path)


def test_unknown_benchmark_is_one_clear_error(database_url, tmp_path):
    done = _run(["no_such_benchmark"], tmp_path / "results.json")
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown benchmark no_such_benchmark" in lines[0] and "fix:" in lines[0]
    assert not (tmp_path / "results.json").exists()


def test_harness_percentiles_goals_and_merge(tmp_path):
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import harness as h
    finally:
        sys.path.remove(str(ROOT))
    assert h.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert h.percentile([5.0], 95) == 5.0
    assert h.Goal("x", 0.96, ">=", 0.95).met and not h.Goal("x", 12.0, "<=", 10.0).met
    assert not h.Goal("x", None, ">=", 1.0).met
    path = tmp_path / "results.json"
    h.merge_results(path, {"cores": 2}, [h.Report("a", "quick").as_dict()])
    h.merge_results(path, {"cores": 2}, [h.Report("b", "full").as_dict()])
    data = json.loads(path.read_text())
    assert set(data["benchmarks"]) == {"a", "b"} and data["benchmarks"]["b"]["size"] == "full"
    assert data["benchmarks"]["a"]["commit"] and "recorded_at" in data["benchmarks"]["a"]
    stopped = h.Report("a", "quick", status="error", error="child exited with -15 and wrote no result").as_dict()
    data = h.merge_results(path, {"cores": 2}, [stopped])  # kept in the history, not as the latest figure
    assert data["benchmarks"]["a"]["status"] == "ok"
    assert json.loads(h.history_path(path).read_text().splitlines()[-1])["status"] == "error"
    # a run is recorded with the commit it started on; a checkout that moved meanwhile makes it "dirty"
    now = h.provenance()
    moved = {**h.Report("c", "quick").as_dict(), "started_on": {"commit": "0" * 40, "dirty": False}}
    h.merge_results(path, {"cores": 2}, [moved])
    row = json.loads(h.history_path(path).read_text().splitlines()[-1])
    assert row["commit"] == "0" * 40 and row["dirty"] is True and "changed during the run" in row["notes"][-1]
    same = {**h.Report("d", "quick").as_dict(), "started_on": {"commit": now["commit"], "dirty": now["dirty"]}}
    row = json.loads(json.dumps(h.merge_results(path, {"cores": 2}, [same])["benchmarks"]["d"]))
    assert row["commit"] == now["commit"] and row["dirty"] == now["dirty"] and "started_on" not in row


def test_history_keeps_every_run_and_goals_are_decided_on_the_median_of_three(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import harness as h
    finally:
        sys.path.remove(str(ROOT))
    path = tmp_path / "results.json"
    # the runs measure one clean commit, whatever state this checkout is in while the test runs
    clean = {"recorded_at": "2026-12-02T07:00:00+0000", "host": "test", "commit": "c" * 40, "dirty": False,
             "changed_paths": []}
    monkeypatch.setattr(h, "provenance", lambda: dict(clean))

    def run(value):
        report = h.Report("sensor", "full")
        report.goal("ratio to the scan", value, "<=", 3.0)
        return h.merge_results(path, {"cores": 2}, [report.as_dict()])["benchmarks"]["sensor"]["decision"]

    first = run(2.5)  # one passing run decides nothing
    assert first["goals"][0]["met"] is None and first["goals"][0]["runs"] == 1
    run(4.8)
    third = run(3.4)  # the borderline pass is not the one kept: the median (3.4) misses
    goal = third["goals"][0]
    assert (goal["median"], goal["min"], goal["max"], goal["met"]) == (3.4, 2.5, 4.8, False)
    history = h.read_history(h.history_path(path))
    assert [r["goals"][0]["value"] for r in history] == [2.5, 4.8, 3.4]  # nothing overwritten
    assert not any(h._measured(p) for p in ("README.md", "docs/areas/ai.md", "BENCHMARKS.md"))
    assert h._measured("allixios/ai/client.py") and h._measured("benchmarks/harness.py")
    assert len({r["commit"] for r in history}) == 1
    run(2.0)
    # a run of uncommitted code is kept in the history but decides nothing
    now = h.provenance()
    dirty = h.Report("sensor", "full")  # started on uncommitted code, recorded on the clean commit
    dirty.goal("ratio to the scan", 9.9, "<=", 3.0)
    h.merge_results(path, {"cores": 2}, [{**dirty.as_dict(), "started_on": {"commit": now["commit"], "dirty": True}}])
    assert h.read_history(h.history_path(path))[-1]["dirty"] is True
    run(2.9)  # the newest three of the commit's code: 3.4, 2.0, 2.9 -> median 2.9 meets the goal
    latest = json.loads(path.read_text())["benchmarks"]["sensor"]["decision"]["goals"][0]
    assert latest["median"] == 2.9 and latest["met"] is True
    text = h.render_decisions(h.read_history(h.history_path(path)), ["sensor", "other"], "full")
    assert "median" in text and "no run in the history" in text


def test_runs_of_one_commit_can_share_a_set_up_copy(database_url, tmp_path):
    """`--reuse-setup`: the first run keeps its database after the set-up, the second starts from a copy
    of it (and says so), what is measured runs on both; `--drop-setups` removes the copies."""
    output = tmp_path / "results.json"
    done = _run(["vector_search"], output, "--repeat", "2", "--reuse-setup")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    setups = [r["metrics"]["set-up"]["value"] for r in runs]
    assert setups[0].startswith("built in this run") and setups[1].startswith("reused: a copy"), setups
    for r in runs:
        _check_report(r)
        assert r["metrics"]["schema index: HNSW build"]["value"] > 0  # the index is built on every copy
    copies = re.findall(r"starting from the set-up copy (allixios_benchsetup_\w+)", done.stdout)
    assert len(copies) == 1
    dropped = subprocess.run([sys.executable, "-m", "benchmarks", "--drop-setups"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert dropped.returncode == 0 and copies[0] in dropped.stdout, dropped.stdout + dropped.stderr
    from allixios.db.engine import connect

    created = re.findall(r"database (allixios_bench_\w+)", done.stdout)
    with connect() as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (created + copies,)).fetchall()
    assert len(created) == 2 and left == []
