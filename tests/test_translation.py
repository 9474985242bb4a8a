"""`translated_articles`: translations through the writer alias, the language check, staleness, the ledger.

Real PostgreSQL; the offline stand-in translator and a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.client import LLMClient
from allixios.content import pipeline, translation
from allixios.content.locales.config import add_glossary_entries
from allixios.content.versions import append_version, list_versions
from allixios.db.engine import connect, fetch_dicts
from allixios.editorial.publish import publish_article, unpublish_article
from allixios.testing.catalogues import local_deployment, write_catalogue
from allixios.testing.llm_server import LocalLLMServer
from tests.locale_support import (
    DAY,
    brief_of,
    english_answer,
    fake_model_translation,
    publish_sources,
    setup_tenant,
)


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ALLIXIOS_LOCAL_LLM_KEY", "local-key")


def run(db, niche, llm):
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
    return translation.translate_partition(lambda: connect(db), part, llm, run_id="test-run")


def usage(db, like="translate:%"):
    with connect(db) as conn:
        return fetch_dicts(conn, """SELECT request_id, status, error_class, error_message, cost_usd, deployment_id
                                    FROM ai_usage WHERE request_id LIKE %s ORDER BY id""", (like,))


def translations(db):
    with connect(db) as conn:
        return fetch_dicts(conn, """SELECT s.slug AS source_slug, t.locale, t.status, t.rounds, t.last_error, t.rejections,
                                           a.id AS article_id, a.slug, a.status::text AS article_status, a.locale AS a_locale,
                                           a.published_version_number, a.content, a.title, a.workflow_state
                                    FROM article_translations t JOIN articles s ON s.id = t.source_article_id
                                    LEFT JOIN articles a ON a.id = t.article_id ORDER BY s.slug, t.locale""")


def test_stand_in_translates_every_published_article_into_each_locale_and_reruns_are_free(db):
    tenant, niche = setup_tenant(db)
    with connect(db) as conn:
        add_glossary_entries(conn, tenant, [("de", "compost", "Kompost", "test")])
    sources = publish_sources(db, niche)
    plan, res = run(db, niche, LLMClient(database_url=db))
    assert plan.targets == ["de", "fr"] and len(res.translated) == 4 and not res.rejected
    assert res.stand_in == 4 and all(t["translator"] == "offline/writer (stand-in translator)" for t in res.translated)
    rows = translations(db)
    assert {(r["source_slug"], r["locale"]) for r in rows} == {(s, loc) for s in sources for loc in ("de", "fr")}
    for r in rows:
        assert r["status"] == "current" and r["article_status"] == "published" and r["a_locale"] == r["locale"]
        assert r["workflow_state"]["stand_in"] is True and r["workflow_state"]["language_check"]["detected"] == r["locale"]
        assert ("Platzhalter-Übersetzung" if r["locale"] == "de" else "Traduction provisoire") in r["title"]
        assert "passive_voice" in {n["id"] for n in r["workflow_state"]["not_available"]}
    compost_de = next(r for r in rows if r["locale"] == "de" and "compost" in r["source_slug"])
    assert "„Kompost“" in compost_de["content"]  # the glossary reached the (stand-in) translator
    # versioned through the version writer and linked to the source's live version
    with connect(db) as conn:
        for r in rows:
            versions = list_versions(conn, r["article_id"])
            assert [v["reason"] for v in versions] == ["generated", "published"]
            links = fetch_dicts(conn, """SELECT tv.source_version_id, sv.version_number, s.published_version_number
                                         FROM translation_versions tv JOIN article_versions sv ON sv.id = tv.source_version_id
                                         JOIN articles s ON s.id = tv.source_article_id
                                         WHERE tv.article_id = %s""", (r["article_id"],))
            assert len(links) == 2 and all(x["version_number"] == x["published_version_number"] for x in links)
    paid = usage(db)
    assert len(paid) == 4 and all(u["status"] == "success" for u in paid)
    # a re-run: nothing to translate, nothing paid
    plan, res = run(db, niche, LLMClient(database_url=db))
    assert plan.current == 4 and not plan.jobs and not res.translated
    assert len(usage(db)) == 4
    # the day's pipeline steps never pick translations up (no partition date), nor does the SEO report
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        assert {a["slug"] for a in pipeline.earlier_articles(conn, part)} == set(sources)
        assert pipeline.build_seo_report(conn, part)["article_count"] == len(sources)
    # a refresh of a translation is refused: its source is refreshed and it is re-translated
    from allixios.content.revision import revise_articles

    outcome = revise_articles(LLMClient(database_url=db), [rows[0]["article_id"]], database_url=db, reason="refresh")
    assert outcome[0].status == "skipped" and "translation: refresh its source" in outcome[0].detail


def test_source_update_marks_translations_stale_and_retranslates(db):
    tenant, niche = setup_tenant(db, locales=("de",))
    sources = publish_sources(db, niche, titles=["Raised Beds for Beginners"])
    source_id = next(iter(sources.values()))
    run(db, niche, LLMClient(database_url=db))
    first = translations(db)[0]
    with connect(db) as conn:
        v = conn.execute("SELECT version_number FROM articles WHERE id = %s", (source_id,)).fetchone()[0]
        append_version(conn, source_id, reason="edit", fields={"title": "Raised Beds for Beginners, Revised"},
                       expected_version=v, actor="editor@acme")
        publish_article(conn, tenant, str(source_id), actor="editor@acme")
    stale = translations(db)[0]
    assert stale["status"] == "stale"  # marked by the trigger, whichever path published the source
    assert stale["article_status"] == "published"  # the old translation stays live until its replacement passes
    plan, res = run(db, niche, LLMClient(database_url=db))
    assert len(res.translated) == 1 and res.translated[0]["retranslation"]
    now = translations(db)[0]
    assert now["status"] == "current" and now["article_id"] == first["article_id"] and now["slug"] == first["slug"]
    with connect(db) as conn:
        assert [v["reason"] for v in list_versions(conn, now["article_id"])] == [
            "generated", "published", "regenerated", "published"]
        src_versions = [r[0] for r in conn.execute(
            """SELECT sv.version_number FROM translation_versions tv JOIN article_versions sv ON sv.id = tv.source_version_id
               JOIN article_versions v ON v.id = tv.translation_version_id WHERE tv.article_id = %s
               ORDER BY v.version_number""", (now["article_id"],)).fetchall()]
    assert src_versions[0] == src_versions[1] < src_versions[2] == src_versions[3]
    assert len(usage(db)) == 2  # one call per source version
    # the source taken down takes its translation down
    with connect(db) as conn:
        unpublish_article(conn, tenant, str(source_id), actor="editor@acme")
    plan, _ = run(db, niche, LLMClient(database_url=db))
    assert plan.withdrawn and translations(db)[0]["article_status"] == "archived"


@pytest.fixture
def http_writer(tmp_path):
    """The writer alias served by a local OpenAI-compatible server whose answers the test scripts."""
    script: list = []

    def responder(messages, model):
        brief = brief_of(messages)
        fn = script.pop(0) if len(script) > 1 else script[0]
        return fn(brief)

    with LocalLLMServer(responder=responder) as server:
        catalogue = load_catalogue(write_catalogue(tmp_path / "models.yaml",
                                                   {"writer": [local_deployment("local-writer", server.url)]}))
        yield server, catalogue, script


def test_wrong_language_is_rejected_with_reason_retried_and_never_published(db, http_writer):
    server, catalogue, script = http_writer
    tenant, niche = setup_tenant(db, locales=("de",))
    publish_sources(db, niche, titles=["Raised Beds for Beginners"])
    script[:] = [english_answer]
    plan, res = run(db, niche, LLMClient(catalogue, db))
    assert len(res.rejected) == 1 and not res.translated and not res.rejected[0]["final"]
    assert "wrong language: the text is in English, not German" in res.rejected[0]["reason"]
    row = translations(db)[0]
    assert row["status"] == "pending" and row["rounds"] == 1 and row["article_id"] is None
    rows = usage(db)
    assert len(rows) == 2 and all(u["error_class"] == "MalformedResponse" for u in rows)  # retried by the client
    assert all("not German" in u["error_message"] for u in rows)
    run(db, niche, LLMClient(catalogue, db))  # the second (last) round
    row = translations(db)[0]
    assert row["status"] == "rejected" and row["rounds"] == 2 and len(row["rejections"]) == 2
    assert "not German" in row["last_error"]
    # rejected for good: a third run calls nothing and pays nothing
    calls = len(server.requests)
    plan, res = run(db, niche, LLMClient(catalogue, db))
    assert plan.rejected and len(server.requests) == calls and len(usage(db)) == 4
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles WHERE locale IS NOT NULL").fetchone()[0] == 0


def test_a_retry_that_comes_back_in_german_is_published_and_paid_once(db, http_writer):
    server, catalogue, script = http_writer
    tenant, niche = setup_tenant(db, locales=("de",))
    publish_sources(db, niche, titles=["Raised Beds for Beginners"])
    script[:] = [english_answer, fake_model_translation]
    plan, res = run(db, niche, LLMClient(catalogue, db))
    assert len(res.translated) == 1 and not res.translated[0]["stand_in"]
    assert res.translated[0]["translator"] == "openai/local-writer"
    rows = usage(db)
    assert [u["status"] for u in rows] == ["error", "success"] and rows[0]["error_class"] == "MalformedResponse"
    # the same request replays from the ledger: a crash before storing would not pay again
    with connect(db) as conn:
        conn.execute("UPDATE article_translations SET status = 'pending', source_content_hash = NULL")
        conn.execute("DELETE FROM articles WHERE locale IS NOT NULL")
    calls = len(server.requests)
    plan, res = run(db, niche, LLMClient(catalogue, db))
    assert len(res.translated) == 1 and len(server.requests) == calls and len(usage(db)) == 2


def test_glossary_not_followed_is_rejected(db, http_writer):
    server, catalogue, script = http_writer
    tenant, niche = setup_tenant(db, locales=("de",))
    with connect(db) as conn:
        add_glossary_entries(conn, tenant, [("de", "compost", "Kompost", "test")])
    publish_sources(db, niche, titles=["Composting at Home"])

    def ignores_glossary(brief):
        return fake_model_translation(dict(brief, glossary=[]))

    script[:] = [ignores_glossary]
    plan, res = run(db, niche, LLMClient(catalogue, db))
    assert len(res.rejected) == 1
    assert "glossary not followed: 'compost' must be translated as 'Kompost' in de" in res.rejected[0]["reason"]
    prompt = server.requests_for(endpoint="chat")[0].body["messages"][-1]["content"]
    assert "compost -> Kompost" in prompt  # the glossary is in the prompt the model saw
    assert translations(db)[0]["article_id"] is None  # never published


def test_translated_articles_asset_materializes_with_stand_in_named(db):
    import dagster as dg

    from allixios_assets.content.assets import published_articles
    from allixios_assets.content.translation_assets import translated_articles
    from allixios_assets.partitions import content_partition_key, niche_partitions
    from resources.llm import LLMResource
    from resources.warehouse import WarehouseResource

    tenant, niche = setup_tenant(db, locales=("de",))
    publish_sources(db, niche, titles=["Raised Beds for Beginners"])
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(niche_partitions.name, [niche.partition_key])
        result = dg.materialize([translated_articles], instance=instance,
                                partition_key=content_partition_key(DAY, niche.partition_key),
                                resources={"warehouse": WarehouseResource(), "llm": LLMResource()},
                                selection=[translated_articles])
        assert result.success
        assert published_articles.key in translated_articles.dependency_keys
    meta = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert meta["translated"] == 1 and meta["stand_in_translations"] == 1 and meta["target_locales"] == "de"
    assert "OFFLINE STAND-IN TRANSLATOR" in meta["translator"]
    assert "[STAND-IN]" in meta["translations"]


def test_glossary_change_retranslates_and_retry_gives_rejected_rows_fresh_rounds(db, http_writer):
    server, catalogue, script = http_writer
    tenant, niche = setup_tenant(db, locales=("de",))
    publish_sources(db, niche, titles=["Composting at Home"])
    script[:] = [fake_model_translation]
    run(db, niche, LLMClient(catalogue, db))
    assert translations(db)[0]["status"] == "current"
    with connect(db) as conn:
        add_glossary_entries(conn, tenant, [("de", "compost", "Kompost", "test")])
    plan, res = run(db, niche, LLMClient(catalogue, db))  # the glossary changed: a new request, re-translated
    assert len(res.translated) == 1 and res.translated[0]["retranslation"] and "„Kompost“" in translations(db)[0]["content"]
    assert len({u["request_id"] for u in usage(db)}) == 2
    plan, res = run(db, niche, LLMClient(catalogue, db))  # unchanged: nothing to do
    assert plan.current == 1 and not plan.jobs
    # a rejected row waits for the source to change, or for `allixios locales retry`
    with connect(db) as conn:
        conn.execute("UPDATE article_translations SET status = 'rejected', rounds = %s", (translation.MAX_ROUNDS,))
    plan, _ = run(db, niche, LLMClient(catalogue, db))
    assert plan.rejected and not plan.jobs
    with connect(db) as conn:
        assert translation.retry_rejected(conn, tenant.id, locale="de") == 1
    assert translations(db)[0]["status"] == "stale" and translations(db)[0]["rounds"] == 0


def test_two_runs_of_the_same_partition_store_one_translation_and_pay_once(db):
    tenant, niche = setup_tenant(db, locales=("de",))
    publish_sources(db, niche, titles=["Raised Beds for Beginners"])
    llm = LLMClient(database_url=db)
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, DAY, niche.partition_key)
        plan_a = translation.plan_translations(conn, part)
    with connect(db) as conn:
        plan_b = translation.plan_translations(conn, part)
    assert len(plan_a.jobs) == len(plan_b.jobs) == 1
    res_a = translation.request_translations(llm, part, plan_a.jobs, run_id="a")
    res_b = translation.request_translations(llm, part, plan_b.jobs, run_id="b")
    assert res_b[0].replayed
    with connect(db) as conn:
        out_a = translation.store_translations(conn, part, plan_a.jobs, res_a, run_id="a")
    with connect(db) as conn:
        out_b = translation.store_translations(conn, part, plan_b.jobs, res_b, run_id="b")
        assert conn.execute("SELECT count(*) FROM articles WHERE locale = 'de'").fetchone()[0] == 1
    assert len(out_a.translated) == 1 and not out_b.translated and not out_b.rejected
    assert len(usage(db)) == 1
