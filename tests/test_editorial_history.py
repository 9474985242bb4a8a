"""`allixios articles history|diff|revert|analyze`: history is appended to, never rewritten."""

from __future__ import annotations

import json

import pytest

from allixios.cli import main
from allixios.db.engine import connect
from tests.editorial_corpus import create_corpus
from tests.test_editorial_articles import run_error, run_json, write

SLUG = "composting-without-smell"
V2 = """---
title: Composting at Home Without Any Smell
keyphrase: compost bin smell
---
## Why a compost bin smells

A compost bin smells when it is too wet.

## The fix

Add browns such as dry leaves.
"""


@pytest.fixture
def edited(sample_tenant, db, tmp_path, capsys):
    """The article at version 2 (an edit by alice on top of the generated version 1)."""
    with connect(db) as conn:
        ids = create_corpus(conn, sample_tenant)
    assert main(["articles", "edit", SLUG, "--file", write(tmp_path, V2), "--user", "alice"]) == 0
    capsys.readouterr()
    return ids[SLUG]


def _versions(article_id):
    with connect() as conn:
        return conn.execute(
            "SELECT version_number, reason, title, content, content_hash FROM article_versions WHERE article_id = %s ORDER BY 1",
            (article_id,),
        ).fetchall()


def test_history_marks_current_and_published(edited, capsys):
    rows = run_json(capsys, "history", SLUG)
    assert [(r["version"], r["reason"], r["marks"], r["created_by"]) for r in rows] == [
        (1, "generated", "published", "fixture"),
        (2, "edit", "current", "alice"),
    ]
    assert main(["articles", "history", SLUG]) == 0
    assert "Composting at Home Without Any Smell" in capsys.readouterr().out


def test_diff_shows_changed_fields_and_a_unified_body_diff(edited, capsys):
    result = run_json(capsys, "diff", SLUG, "1", "2")
    fields = {c["field"]: (c["from"], c["to"]) for c in result["changed_fields"]}
    assert fields["title"] == ("Composting at Home Without the Smell", "Composting at Home Without Any Smell")
    assert fields["primary_keyphrase"] == (None, "compost bin smell")
    body = result["body_diff"].splitlines()
    assert body[:2] == [f"--- {SLUG}@v1", f"+++ {SLUG}@v2"]
    assert "+## Why a compost bin smells" in body and any(
        line.startswith("-A compost bin smells when") for line in body
    )
    assert main(["articles", "diff", SLUG, "2", "2"]) == 0
    assert "identical" in capsys.readouterr().out


@pytest.mark.parametrize("versions", [("1", "9"), ("0", "2"), ("--", "-1", "1")])
def test_diff_of_missing_versions_names_the_ones_that_exist(edited, capsys, versions):
    assert "(it has versions 1-2)" in run_error(capsys, "diff", SLUG, *versions)


def test_revert_appends_a_copy_of_the_old_version(edited, capsys):
    before = _versions(edited)
    assert main(["articles", "revert", SLUG, "1", "--user", "bob"]) == 0
    assert "version 2 -> 3" in capsys.readouterr().out
    after = _versions(edited)
    assert after[:2] == before  # history untouched
    v1, v3 = after[0], after[2]
    assert v3[1] == "revert" and v3[2:] == v1[2:]  # same title, body and content hash as version 1
    with connect() as conn:
        article = conn.execute(
            "SELECT title, version_number FROM articles WHERE id = %s", (edited,)
        ).fetchone()
        audit = conn.execute(
            "SELECT actor, before_version, after_version, details FROM audit_log WHERE action = 'article.revert'"
        ).fetchall()
    assert article == (v1[2], 3)
    assert [(a[0], a[1], a[2], a[3]["reverted_to"]) for a in audit] == [("bob", 2, 3, 1)]
    assert json.loads(json.dumps(run_json(capsys, "diff", SLUG, "1", "3")))["body_diff"] == ""
    # reverting again is a no-op; reverting to the current version or a missing one is refused
    assert main(["articles", "revert", SLUG, "1", "--user", "bob"]) == 0
    assert "already equal to version 1" in capsys.readouterr().out
    assert len(_versions(edited)) == 3
    assert "already the current version" in run_error(capsys, "revert", SLUG, "3")
    assert "has no version 7" in run_error(capsys, "revert", SLUG, "7")
    assert "at version 3, not 2" in run_error(capsys, "revert", SLUG, "2", "--expected-version", "2")
    assert len(_versions(edited)) == 3


def test_analyze_any_stored_version(edited, capsys):
    current = run_json(capsys, "analyze", SLUG)
    first = run_json(capsys, "analyze", SLUG, "--version", "1")
    assert current["version"] == 2 and first["version"] == 1 and first["current_version"] == 2
    by_id = {a["id"]: a for a in current["assessments"]}
    # version 2 sets a keyphrase, version 1 has none: the keyphrase assessments differ accordingly
    assert "no focus keyphrase" in {a["id"]: a for a in first["assessments"]}["keyphrase_length"]["detail"]
    assert by_id["keyphrase_length"]["passed"] is True
    assert current["suggestions"] and all(
        {"type", "priority", "suggestion"} <= set(s) for s in current["suggestions"]
    )
    with connect() as conn:
        stored = conn.execute(
            "SELECT seo_score, content_quality_score FROM articles WHERE slug = %s", (SLUG,)
        ).fetchone()
    assert stored == (current["seo"], current["quality"])  # the edit stored the same scores analyze reports
    assert main(["articles", "analyze", SLUG]) == 0
    assert f"{SLUG} version 2: quality {current['quality']}, SEO {current['seo']}" in capsys.readouterr().out
    assert "has no version 5" in run_error(capsys, "analyze", SLUG, "--version", "5")
