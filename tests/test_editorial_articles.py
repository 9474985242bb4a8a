"""`allixios articles list|show|edit|delete|restore` on the real database, through the CLI entry point."""

from __future__ import annotations

import json
import uuid

import pytest

from allixios.cli import main
from allixios.db.engine import connect
from allixios.tenants import add_niche, ensure_tenant
from tests.editorial_corpus import create_article, create_corpus

SLUG = "emergency-fund-tight-budget"


@pytest.fixture
def corpus(sample_tenant, db):
    with connect(db) as conn:
        return create_corpus(conn, sample_tenant)


def run_json(capsys, *args):
    code = main(["articles", *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def run_error(capsys, *args) -> str:
    """Run a command that must fail: exit 2 and exactly one `error: ... — fix: ...` line."""
    code = main(["articles", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and " — fix: " in err and "\n" not in err, err
    return err


def _version(slug: str) -> int:
    with connect() as conn:
        return conn.execute("SELECT version_number FROM articles WHERE slug = %s", (slug,)).fetchone()[0]


def _counts() -> tuple[int, int, int]:
    with connect() as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_versions), (SELECT count(*) FROM audit_log)"
        ).fetchone()


def test_list_filters(corpus, capsys):
    with connect() as conn:
        conn.execute(
            "UPDATE articles SET content_quality_score = 60, status = 'needs_revision' WHERE slug = 'index-funds-explained'"
        )
        conn.execute(
            "UPDATE articles SET updated_at = now() - interval '30 days' WHERE slug <> 'index-funds-explained'"
        )
    assert len(run_json(capsys, "list")) == len(corpus)
    assert {r["slug"] for r in run_json(capsys, "list", "--niche", "remote_work")} == {
        "ergonomic-home-office"
    }
    assert [r["slug"] for r in run_json(capsys, "list", "--status", "needs_revision")] == [
        "index-funds-explained"
    ]
    assert [r["slug"] for r in run_json(capsys, "list", "--max-quality", "70")] == ["index-funds-explained"]
    assert "index-funds-explained" not in {r["slug"] for r in run_json(capsys, "list", "--min-quality", "80")}
    since = run_json(capsys, "list", "--updated-since", "2000-01-01")
    assert len(since) == len(corpus)
    with connect() as conn:
        today = conn.execute("SELECT (now() - interval '1 day')::date").fetchone()[0]
    assert [r["slug"] for r in run_json(capsys, "list", "--updated-since", today.isoformat())] == [
        "index-funds-explained"
    ]
    assert len(run_json(capsys, "list", "--limit", "3")) == 3
    assert main(["articles", "list"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["id", "slug", "niche"] and SLUG in table


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--status", "nope"], "unknown status"),
        (["--min-quality", "101"], "out of range"),
        (["--updated-since", "yesterday"], "not a date"),
        (["--niche", "nope"], "niche 'nope' not found"),
        (["--limit", "0"], "limit 0"),
    ],
)
def test_list_bad_filters(corpus, capsys, args, needle):
    assert needle in run_error(capsys, "list", *args)


def test_show_by_id_or_slug_with_failing_assessments(corpus, capsys):
    with connect() as conn:
        conn.execute(
            """UPDATE articles SET assessments = '[{"id": "keyphrase_in_title", "passed": false, "score": 3},
                                                   {"id": "text_length", "passed": true, "score": 9}]'
               WHERE slug = %s""",
            (SLUG,),
        )
    by_slug = run_json(capsys, "show", SLUG)
    by_id = run_json(capsys, "show", str(corpus[SLUG]))
    assert by_slug["id"] == by_id["id"] == str(corpus[SLUG])
    assert by_slug["current_version"] == 1 and by_slug["published_version"] == 1
    assert [a["id"] for a in by_slug["failing_assessments"]] == ["keyphrase_in_title"]
    assert (
        by_slug["assessment_count"] == 2
        and by_slug["lock"] is None
        and by_slug["niche"] == "personal_finance"
    )
    assert main(["articles", "show", SLUG]) == 0
    out = capsys.readouterr().out
    assert "failing assessments (1 of 2)" in out and "lock: none" in out


def test_unknown_foreign_and_hostile_references_all_read_not_found(corpus, capsys):
    with connect() as conn:
        other = ensure_tenant(conn, "other_pub")
        add_niche(conn, other, "home_gardening")
        foreign = create_article(
            conn, other, "home_gardening", "their-article", "Their Article", "Body text here."
        )
    before = _counts()
    unknown = str(uuid.uuid4())
    for ref in (unknown, str(foreign), "no-such-slug", "x'; DROP TABLE articles; --", "%s %(q)s \\"):
        for command in (["show", ref], ["history", ref], ["delete", ref], ["lock", ref, "--user", "a"]):
            err = run_error(capsys, *command)
            assert "not found for tenant 'sample'" in err
    # another tenant's id reads exactly like an id that does not exist
    assert run_error(capsys, "show", str(foreign)).replace(str(foreign), "ID") == run_error(
        capsys, "show", unknown
    ).replace(unknown, "ID")
    assert _counts() == before


def write(tmp_path, text: str | bytes, name: str = "edit.md"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


EDIT = """---
title: Build an Emergency Fund, Even on a Tight Budget
tags: [savings, budgeting]
---
## Why an emergency fund

An emergency fund covers three to six months of essential expenses.

## How to start

Automate a weekly transfer into a high-yield savings account.
"""


def test_edit_makes_a_version_with_scores_and_audit_and_is_idempotent(corpus, capsys, tmp_path):
    path = write(tmp_path, EDIT)
    assert main(["articles", "edit", SLUG, "--file", path, "--user", "alice"]) == 0
    assert "version 1 -> 2" in capsys.readouterr().out
    with connect() as conn:
        article = conn.execute(
            "SELECT title, tags, content, version_number, updated_by, content_quality_score, assessments FROM articles WHERE slug = %s",
            (SLUG,),
        ).fetchone()
        version = conn.execute(
            "SELECT reason, created_by, title, quality_score FROM article_versions WHERE article_id = %s AND version_number = 2",
            (corpus[SLUG],),
        ).fetchone()
        audit = conn.execute(
            "SELECT actor, action, before_version, after_version, details FROM audit_log WHERE entity_id = %s",
            (str(corpus[SLUG]),),
        ).fetchall()
    assert article[0] == "Build an Emergency Fund, Even on a Tight Budget" and article[1] == [
        "savings",
        "budgeting",
    ]
    assert article[2].startswith("## Why an emergency fund") and article[3] == 2 and article[4] == "alice"
    assert article[6] and article[5] == version[3]  # the edited text was scored and the version carries it
    assert version[:3] == ("edit", "alice", article[0])
    assert len(audit) == 1
    actor, action, before, after, details = audit[0]
    assert (actor, action, before, after) == ("alice", "article.edit", 1, 2)
    assert details["changed"] == ["content", "tags", "title"]
    # the same file again: nothing to save, no new version, no new audit row
    counts = _counts()
    assert main(["articles", "edit", SLUG, "--file", path, "--user", "alice"]) == 0
    assert "no changes" in capsys.readouterr().out
    assert _counts() == counts and _version(SLUG) == 2


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "is empty"),
        (b"  \n\n\t", "is empty"),
        (b"\xff\xfe\x00h\x00i", "not UTF-8"),
        ("caf\u00e9 body".encode("latin-1"), "not UTF-8"),
        (b"---\ntitle: x\n---\n\n", "no article body"),
        (b"---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
        (b"---\ntitle: x\nbody", "never ends"),
        (b"---\nauthor: me\n---\nbody", "unknown front-matter key(s) author"),
        (b"---\nslug: Not A Slug\n---\nbody", "slug 'Not A Slug' is not valid"),
        (b"body with a NUL \x00 byte", "NUL"),
    ],
)
def test_bad_edit_files_change_nothing(corpus, capsys, tmp_path, content, needle):
    before = _counts()
    assert needle in run_error(capsys, "edit", SLUG, "--file", write(tmp_path, content), "--user", "alice")
    assert _counts() == before and _version(SLUG) == 1


def test_edit_refuses_a_missing_file_a_stale_version_and_a_taken_slug(corpus, capsys, tmp_path):
    assert "does not exist" in run_error(capsys, "edit", SLUG, "--file", str(tmp_path / "nope.md"))
    path = write(tmp_path, EDIT)
    assert main(["articles", "edit", SLUG, "--file", path, "--expected-version", "1", "--user", "a"]) == 0
    capsys.readouterr()
    stale = write(tmp_path, "A different body.", "stale.md")
    err = run_error(capsys, "edit", SLUG, "--file", stale, "--expected-version", "1", "--user", "b")
    assert "at version 2, not 1" in err and "diff" in err
    taken = write(tmp_path, "---\nslug: index-funds-explained\n---\nBody.", "taken.md")
    assert "already used" in run_error(capsys, "edit", SLUG, "--file", taken, "--user", "b")
    assert _version(SLUG) == 2


def test_soft_delete_and_restore(corpus, capsys, tmp_path):
    audit_before = _counts()[2]
    assert main(["articles", "delete", SLUG, "--user", "alice"]) == 0
    assert "deleted" in capsys.readouterr().out
    assert SLUG not in {r["slug"] for r in run_json(capsys, "list")}
    assert SLUG in {r["slug"] for r in run_json(capsys, "list", "--deleted")}
    assert SLUG not in {h["slug"] for h in run_json(capsys, "search", "emergency fund")}
    assert run_json(capsys, "show", SLUG)["deleted_at"] is not None
    # deleting again changes nothing; editing a deleted article is refused
    assert main(["articles", "delete", SLUG, "--user", "alice"]) == 0
    assert "already deleted" in capsys.readouterr().out
    assert "restore it first" in run_error(
        capsys, "edit", SLUG, "--file", write(tmp_path, "New body."), "--user", "alice"
    )
    assert main(["articles", "restore", SLUG, "--user", "bob"]) == 0
    assert "restored" in capsys.readouterr().out
    assert [h["slug"] for h in run_json(capsys, "search", "emergency fund", "--mode", "text")] == [SLUG]
    assert main(["articles", "restore", SLUG, "--user", "bob"]) == 0
    assert "not deleted" in capsys.readouterr().out
    with connect() as conn:
        rows = conn.execute(
            "SELECT actor, action, before_version, after_version FROM audit_log WHERE entity_id = %s ORDER BY id",
            (str(corpus[SLUG]),),
        ).fetchall()
    assert rows == [("alice", "article.delete", 1, 1), ("bob", "article.restore", 1, 1)]
    assert _counts()[2] == audit_before + 2 and _version(SLUG) == 1


def test_changes_report_json_for_scripts(corpus, capsys, tmp_path):
    edit = run_json(capsys, "edit", SLUG, "--file", write(tmp_path, EDIT), "--user", "alice")
    assert (edit["action"], edit["before_version"], edit["after_version"], edit["changed"]) == (
        "edit",
        1,
        2,
        True,
    )
    lock = run_json(capsys, "lock", SLUG, "--user", "alice", "--ttl", "1h")
    assert lock["locked_by"] == "alice" and lock["article_id"] == str(corpus[SLUG])
    assert run_json(capsys, "unlock", SLUG, "--user", "alice")["locked_by"] == "alice"
    assert run_json(capsys, "delete", SLUG, "--user", "alice")["changed"] is True
    assert run_json(capsys, "restore", SLUG, "--user", "alice")["after_version"] == 2
    assert run_json(capsys, "revert", SLUG, "1", "--user", "alice")["details"]["reverted_to"] == 1
