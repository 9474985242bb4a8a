"""Hybrid search on a small fixture corpus with known answers (real PostgreSQL, GIN and HNSW indexes)."""

from __future__ import annotations

import json

import pytest

from allixios.ai import minilm
from allixios.cli import main
from allixios.content.embedding_store import index_name
from allixios.db.engine import connect
from allixios.editorial.articles import delete_article
from allixios.editorial.search import explain_search, search_articles
from allixios.errors import NotFoundError, ValidationError
from allixios.tenants import add_niche, ensure_tenant
from tests.editorial_corpus import create_article, create_corpus, create_filler


@pytest.fixture
def corpus(sample_tenant, db):
    with connect(db) as conn:
        return create_corpus(conn, sample_tenant)


def _slugs(tenant, query, **options):
    with connect() as conn:
        return [h.slug for h in search_articles(conn, tenant, query, **options)]


def test_each_mode_puts_the_known_best_article_first(sample_tenant, corpus):
    # text: all words must match; the title match of the (not yet embedded) quick-fix article ranks first
    assert _slugs(sample_tenant, "compost bin smell", mode="text") == [
        "compost-bin-smell-quick-fix",
        "composting-without-smell",
    ]
    # semantic (depends on the model: MiniLM, the keyless default): the article about a bin that smells
    # wins, and the "compost bin" article that never says "smell" is found too
    assert _slugs(sample_tenant, "compost bin smell", mode="semantic")[:2] == [
        "composting-without-smell",
        "kitchen-compost-bin",
    ]
    # hybrid: in both legs beats first in only one (1/62 + 1/61 > 1/61)
    hybrid = _slugs(sample_tenant, "compost bin smell", mode="hybrid")
    assert hybrid[0] == "composting-without-smell"
    assert set(hybrid[1:3]) == {"compost-bin-smell-quick-fix", "kitchen-compost-bin"}


def test_semantic_leg_finds_what_full_text_cannot(sample_tenant, corpus):
    query = "balcony pots watering cherry tomatoes schedule"  # no article has every word
    assert _slugs(sample_tenant, query, mode="text") == []
    assert _slugs(sample_tenant, query, mode="semantic")[0] == "container-tomatoes"
    assert _slugs(sample_tenant, query)[0] == "container-tomatoes"


def test_hits_explain_why_they_matched(sample_tenant, corpus):
    with connect() as conn:
        hit = search_articles(conn, sample_tenant, "emergency fund")[0]
    assert hit.slug == "emergency-fund-tight-budget"
    assert hit.text_rank == 1 and hit.semantic_rank == 1
    assert hit.matched_terms == ["emerg", "fund"]
    assert "<<emergency>>" in hit.headline.lower()
    assert hit.score == pytest.approx(2 / 61)
    assert hit.reason.startswith("text #1") and "semantic #1" in hit.reason


def test_web_search_syntax_phrases_and_exclusions(sample_tenant, corpus):
    assert _slugs(sample_tenant, '"raised bed"', mode="text") == ["raised-garden-beds"]
    assert _slugs(sample_tenant, '"bed raised"', mode="text") == []  # phrase order matters
    assert _slugs(sample_tenant, "compost -smell", mode="text") == [
        "kitchen-compost-bin",
        "raised-garden-beds",
    ]
    assert set(_slugs(sample_tenant, "tomatoes or monitor", mode="text")) == {
        "container-tomatoes",
        "ergonomic-home-office",
    }


def test_filters_by_niche_and_status(sample_tenant, corpus):
    with connect() as conn:
        conn.execute("UPDATE articles SET status = 'draft' WHERE slug = 'composting-without-smell'")
    assert "composting-without-smell" not in _slugs(sample_tenant, "compost bin smell", status="published")
    assert _slugs(sample_tenant, "compost bin smell", status="draft") == ["composting-without-smell"]
    assert _slugs(sample_tenant, "home", niche="remote_work") == ["ergonomic-home-office"]
    with pytest.raises(NotFoundError, match="niche 'no_such_niche' not found"):
        _slugs(sample_tenant, "home", niche="no_such_niche")


def test_deleted_articles_and_other_tenants_stay_out(sample_tenant, corpus):
    with connect() as conn:
        other = ensure_tenant(conn, "other_pub")
        add_niche(conn, other, "home_gardening")
        create_article(
            conn,
            other,
            "home_gardening",
            "compost-bin-smell-guide",
            "Compost Bin Smell Guide",
            "Why a compost bin can smell, and what fixes the smell.",
        )
        delete_article(conn, sample_tenant, "composting-without-smell", actor="test")
    for mode in ("text", "semantic", "hybrid"):
        slugs = _slugs(sample_tenant, "compost bin smell", mode=mode)
        assert "composting-without-smell" not in slugs, mode
        assert "compost-bin-smell-guide" not in slugs, mode
    assert _slugs(other, "compost bin smell", mode="text") == ["compost-bin-smell-guide"]


def test_sql_metacharacters_are_searched_not_executed(sample_tenant, corpus):
    for query in (
        "'; DROP TABLE articles; --",
        "fund' OR '1'='1",
        "emergency) | (fund",
        "100% \\ _ %s %(q)s",
    ):
        for mode in ("text", "hybrid"):
            with connect() as conn:
                search_articles(conn, sample_tenant, query, mode=mode)
    with connect() as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == len(corpus)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("the and of", "no searchable words"),
        ("!!! && ||", "no searchable words"),
        ("x" * 501, "501 characters"),
        ("fund\x00", "control characters"),
    ],
)
def test_unusable_queries_are_refused_with_a_fix(sample_tenant, query, message):
    with connect() as conn, pytest.raises(ValidationError, match=message) as err:
        search_articles(conn, sample_tenant, query)
    assert err.value.fix


@pytest.mark.slow
def test_both_legs_use_their_indexes_on_a_larger_corpus(sample_tenant, corpus):
    with connect() as conn:
        create_filler(conn, sample_tenant, "remote_work", 5000)
    with connect() as conn:
        plan = explain_search(conn, sample_tenant, "compost bin smell", mode="hybrid")
        hits = search_articles(conn, sample_tenant, "compost bin smell", mode="hybrid")
    assert f"Index Scan using {index_name(minilm.MODEL, minilm.DIMENSION)}" in plan
    assert "Bitmap Index Scan on articles_search_idx" in plan
    assert hits[0].slug == "composting-without-smell"  # the approximate index finds the same answer


def test_cli_search_table_and_json(sample_tenant, corpus, capsys):
    assert main(["articles", "search", "compost bin smell", "--tenant", "sample"]) == 0
    out = capsys.readouterr().out
    assert out.index("composting-without-smell") < out.index("kitchen-compost-bin")
    assert "offline/minilm-l6-v2-int8, a local model" in out and "text #2" in out
    assert main(["articles", "search", "emergency fund", "--mode", "text", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["slug"] for h in hits] == ["emergency-fund-tight-budget"]
    assert hits[0]["semantic_rank"] is None and hits[0]["matched_terms"] == ["emerg", "fund"]


def test_cli_search_bad_input_is_one_line(sample_tenant, corpus, capsys):
    for args, needle in (
        (["--mode", "fuzzy"], "unknown search mode"),
        (["--status", "gone"], "unknown status"),
        (["--limit", "0"], "limit 0"),
    ):
        assert main(["articles", "search", "fund", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and needle in err and "fix:" in err and "\n" not in err
    assert main(["articles", "search", "fund", "--tenant", "nobody"]) == 2
    assert "tenant 'nobody' not found" in capsys.readouterr().err
