"""The optional LLM judge (the `judge` alias): over real HTTP to the local OpenAI-compatible server.

The server is a real HTTP peer (allixios.testing.llm_server) whose answers play a judge model; the
article is a real post (tests/fixtures/real_posts). With no judge configured nothing is called.
"""

from __future__ import annotations

import json
import re

import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import LLMClient
from allixios.content import judge, pipeline
from allixios.content.article_drafts import insert_article
from allixios.content.versions import append_version
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import add_niche, ensure_tenant
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer
from tests.real_posts import load_posts

DAY = "2026-11-05"
POST = load_posts()["https-everywhere"]


def judge_model(messages: list[dict], model: str) -> str:
    """The peer's answer: a rubric verdict that reads the article it was sent (originality low on purpose)."""
    text = messages[-1]["content"]
    article = text.split("Article (Markdown):", 1)[1]
    headings = len(re.findall(r"^## ", article, re.M))
    return json.dumps({
        "helpfulness": {"score": min(95, 60 + 10 * headings), "reason": f"{headings} sections a reader can follow."},
        "accuracy": {"score": 88, "reason": "Claims about HTTPS match the cited sources."},
        "originality": {"score": 35, "reason": "Much of it restates a policy announcement."},
        "summary": "Useful and accurate; add first-hand detail.",
    })


@pytest.fixture
def article(db, monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    with connect(db) as conn:
        tenant = ensure_tenant(conn, "gov")
        niche = add_niche(conn, tenant, "web", "Government Web Practice", ["https"], daily_quota=5)
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        article_id, _ = insert_article(conn, part, None, POST.draft(), model="human/fixture", prompt_version=None,
                                       cost_usd=0.0, actor="importer")
        pipeline.score_partition(conn, part)
    return article_id, part


def test_without_a_judge_nothing_is_called_and_the_score_says_so(db, article):
    article_id, part = article
    llm = LLMClient(database_url=db)  # the shipped catalogue: the judge alias has no key here
    assert judge.judge_deployment(llm.catalogue) is None
    with connect(db) as conn:
        out = judge.judge_partition(conn, part, llm, run_id="t")
        meta = conn.execute("SELECT metadata -> 'judge' FROM articles WHERE id = %s", (article_id,)).fetchone()[0]
        calls = conn.execute("SELECT count(*) FROM ai_usage WHERE task = 'judge'").fetchone()[0]
    assert [v["status"] for v in out] == ["not configured"] and calls == 0
    assert meta["status"] == "not configured" and judge.summary_line(meta) == "judge: not configured"


def test_a_configured_judge_is_called_over_http_recorded_and_shown(db, article, tmp_path, monkeypatch):
    article_id, part = article
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "local-test-key")
    with LocalLLMServer(responder=judge_model) as server:
        catalogue = load_catalogue(write_catalogue(tmp_path / "models.yaml", {
            "writer": [{"id": "offline-writer", "model": "offline/writer", "stand_in": True}],
            "judge": [local_deployment("judge-a", server.url),
                      {"id": "offline-judge", "model": "offline/judge", "stand_in": True}],
        }))
        llm = LLMClient(catalogue, database_url=db)
        assert judge.judge_deployment(catalogue).id == "judge-a"
        with connect(db) as conn:
            first = judge.judge_partition(conn, part, llm, run_id="t")
            row = fetch_dicts(conn, "SELECT metadata, content_hash, optimization_suggestions FROM articles WHERE id = %s",
                              (article_id,))[0]
            usage = fetch_dicts(conn, "SELECT task, status, deployment_id, article_id, cost_usd, request_id "
                                      "FROM ai_usage WHERE task = 'judge'")
        sent = server.requests_for(endpoint="chat")
        assert len(sent) == 1 and "Rubric (each criterion scored 0-100)" in json.dumps(sent[0].body)
        assert "HTTPS has never been faster" in json.dumps(sent[0].body)  # the article itself was judged

        verdict = row["metadata"]["judge"]
        assert first[0]["status"] == verdict["status"] == "judged"
        assert verdict["scores"] == {"helpfulness": 90, "accuracy": 88, "originality": 35}
        assert verdict["reasons"]["accuracy"].startswith("Claims about HTTPS") and verdict["overall"] == 71
        assert verdict["model"] == "openai/judge-a" and verdict["content_hash"] == row["content_hash"]
        assert judge.summary_line(verdict) == "judge: 71 (helpfulness 90, accuracy 88, originality 35)"
        # a paid call like any other: in the ledger, linked to the article, with its cost
        assert len(usage) == 1 and usage[0]["status"] == "success" and usage[0]["deployment_id"] == "judge-a"
        assert usage[0]["article_id"] == article_id and usage[0]["cost_usd"] > 0
        assert usage[0]["request_id"] == f"judge:{article_id}:{row['content_hash'][:16]}"
        # the weak criterion becomes an optimization suggestion
        judged = [s for s in row["optimization_suggestions"] if s.get("source") == "judge"]
        assert [s["type"] for s in judged] == ["judge_originality"] and judged[0]["priority"] == "high"

        # re-running over the same text judges nothing again; a changed text is judged again
        with connect(db) as conn:
            assert judge.judge_partition(conn, part, llm) == []
            append_version(conn, article_id, reason="edit", fields={"content": POST.body + "\n## Update\n\nMore.\n"},
                           expected_version=1, actor="editor@gov")
            again = judge.judge_partition(conn, part, llm)
            suggestions = conn.execute("SELECT optimization_suggestions FROM articles WHERE id = %s",
                                       (article_id,)).fetchone()[0]
        assert [v["status"] for v in again] == ["judged"] and len(server.requests_for(endpoint="chat")) == 2
        assert len([s for s in suggestions if s.get("source") == "judge"]) == 1  # replaced, not piled up

        # a judge that answers nonsense is retried, then recorded as failed; the article is unharmed
        server.add_fault("bad_content")
        with connect(db) as conn:
            append_version(conn, article_id, reason="edit", fields={"title": POST.title + " (2014)"},
                           expected_version=2, actor="editor@gov")
            failed = judge.judge_partition(conn, part, llm)
            status = conn.execute("SELECT status::text FROM articles WHERE id = %s", (article_id,)).fetchone()[0]
        assert failed[0]["status"] == "failed" and "error" in failed[0]["detail"]
        assert status in ("scored", "needs_revision")


def test_malformed_verdicts_are_refused_with_the_reason():
    good = json.loads(judge_model([{"content": "Article (Markdown):\n## A\n"}], "m"))
    assert judge.parse_verdict(json.dumps(good)).overall == round((70 + 88 + 35) / 3)
    for broken, message in [
        ({**good, "accuracy": {"score": 140, "reason": "x"}}, "accuracy score is 140"),
        ({**good, "originality": {"score": 50, "reason": " "}}, "no reason for originality"),
        ({k: v for k, v in good.items() if k != "helpfulness"}, "no helpfulness object"),
    ]:
        with pytest.raises(ValueError, match=message):
            judge.parse_verdict(json.dumps(broken))
