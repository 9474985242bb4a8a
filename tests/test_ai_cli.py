"""`allixios ai models|usage|budget|budget set` as an operator runs them (real CLI process, real database)."""

import json
import os
import subprocess
import sys

from allixios.ai import offline_provider
from allixios.ai.client import CompletionRequest, LLMClient
from allixios.testing.catalogues import local_deployment, write_catalogue

SECRET = "sk-cli-test-0123456789abcdef"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "allixios.cli", "ai", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env})


def test_budget_set_show_and_errors(sample_tenant):
    out = cli("budget", "set", "--tenant", "sample", "--daily", "1.5", "--monthly", "20")
    assert out.returncode == 0, out.stderr
    assert "daily $1.5" in out.stdout and "monthly $20" in out.stdout
    shown = json.loads(cli("budget", "--tenant", "sample", "--json").stdout)
    assert {(r["period"], r["limit_usd"], r["remaining_usd"]) for r in shown} == {("daily", 1.5, 1.5), ("monthly", 20.0, 20.0)}

    bad = cli("budget", "set", "--tenant", "sample", "--daily", "-3")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert bad.stderr.startswith("error: daily budget -3.0 is negative — fix:")
    missing = cli("budget", "--tenant", "nobody")
    assert missing.returncode == 2 and "tenant 'nobody' not found" in missing.stderr


def test_usage_reports_calls_tokens_cost_and_failures(sample_tenant, database_url):
    offline_provider.set_responder("writer", lambda messages: '{"ok": true}')
    try:
        client = LLMClient(database_url=database_url)
        for i in range(3):
            assert client.complete_sync(CompletionRequest(
                task="writer", messages=[{"role": "user", "content": f"q{i}"}], tenant_id=sample_tenant.id,
                request_id=f"cli:{i}")).ok
    finally:
        offline_provider.set_responder("writer", None)
    rows = json.loads(cli("usage", "--tenant", "sample", "--json").stdout)
    assert len(rows) == 1
    row = rows[0]
    assert (row["tenant"], row["deployment_id"], row["calls"], row["ok"], row["failures"]) == ("sample", "offline-writer", 3, 3, 0)
    assert row["tokens_out"] > 0 and row["cost_usd"] > 0
    assert "offline-writer" in cli("usage").stdout


def test_models_lists_health_without_showing_keys(sample_tenant, tmp_path):
    path = write_catalogue(tmp_path / "models.yaml", {
        "writer": [local_deployment("local-a", "http://127.0.0.1:9/v1", api_key_env="ALLIXIOS_CLI_TEST_KEY"),
                   local_deployment("local-b", "http://127.0.0.1:9/v1", api_key_env="ALLIXIOS_CLI_TEST_MISSING")]})
    out = cli("models", "--models-file", str(path), "--json", ALLIXIOS_CLI_TEST_KEY=SECRET)
    assert out.returncode == 0, out.stderr
    rows = {r["deployment"]: r for r in json.loads(out.stdout)}
    assert rows["local-a"]["key"] == "set" and rows["local-a"]["health"] == "ok"
    assert rows["local-b"]["key"] == "missing ALLIXIOS_CLI_TEST_MISSING" and rows["local-b"]["health"] == "unavailable (no key)"
    assert rows["local-a"]["usd_per_mtok_in_out"] == "1/2 (catalogue)"
    assert SECRET not in out.stdout + out.stderr
    table = cli("models")
    assert table.returncode == 0 and "offline-writer" in table.stdout and "offline/hashing-384" in table.stdout
    broken = cli("models", "--models-file", str(tmp_path / "missing.yaml"))
    assert broken.returncode == 2 and "does not exist — fix:" in broken.stderr
