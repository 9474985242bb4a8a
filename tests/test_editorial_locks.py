"""Edit locks and compare-and-swap: editors and jobs never overwrite each other's work."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from allixios.cli import main
from allixios.db.engine import connect
from allixios.editorial import locks
from allixios.editorial.articles import EditInput, resolve_article, write_version
from allixios.errors import ConflictError, ValidationError
from tests.editorial_corpus import create_corpus
from tests.test_editorial_articles import run_error, write

SLUG = "raised-garden-beds"


@pytest.fixture
def corpus(sample_tenant, db):
    with connect(db) as conn:
        return create_corpus(conn, sample_tenant)


def _edit(tmp_path, user: str, body: str, capsys=None) -> int:
    code = main(["articles", "edit", SLUG, "--file", write(tmp_path, body, f"{user}.md"), "--user", user])
    if capsys:
        capsys.readouterr()
    return code


def _version() -> int:
    with connect() as conn:
        return conn.execute("SELECT version_number FROM articles WHERE slug = %s", (SLUG,)).fetchone()[0]


def test_lock_keeps_other_editors_out_until_unlocked(corpus, capsys, tmp_path):
    article_id = corpus[SLUG]
    assert main(["articles", "lock", SLUG, "--user", "alice", "--ttl", "30m"]) == 0
    assert "locked by alice until" in capsys.readouterr().out
    with connect() as conn:
        assert locks.is_locked(conn, article_id)
        assert locks.active_lock(conn, article_id).locked_by == "alice"
    # the holder edits; everyone else is refused, whatever they try
    assert _edit(tmp_path, "alice", "Alice's new body.", capsys) == 0 and _version() == 2
    err = run_error(capsys, "edit", SLUG, "--file", write(tmp_path, "Bob's body."), "--user", "bob")
    assert "locked by 'alice'" in err and "unlock" in err
    for command in (["revert", SLUG, "1"], ["delete", SLUG], ["lock", SLUG]):
        assert "locked by 'alice'" in run_error(capsys, *command, "--user", "bob")
    assert "not by 'bob'" in run_error(capsys, "unlock", SLUG, "--user", "bob")
    assert _version() == 2
    assert main(["articles", "lock", SLUG, "--user", "alice", "--ttl", "2h"]) == 0
    assert main(["articles", "unlock", SLUG, "--user", "alice"]) == 0
    assert "unlocked (was held by alice)" in capsys.readouterr().out
    assert "is not locked" in run_error(capsys, "unlock", SLUG, "--user", "alice")
    assert _edit(tmp_path, "bob", "Bob's body.", capsys) == 0 and _version() == 3
    with connect() as conn:
        actions = conn.execute(
            "SELECT actor, action FROM audit_log WHERE entity_id = %s ORDER BY id", (str(article_id),)
        ).fetchall()
    assert actions == [
        ("alice", "article.lock"),
        ("alice", "article.edit"),
        ("alice", "article.lock_extend"),
        ("alice", "article.unlock"),
        ("bob", "article.edit"),
    ]


def test_force_unlock_breaks_a_forgotten_lock(corpus, capsys):
    assert main(["articles", "lock", SLUG, "--user", "alice"]) == 0
    assert main(["articles", "unlock", SLUG, "--user", "admin", "--force"]) == 0
    capsys.readouterr()
    with connect() as conn:
        assert not locks.is_locked(conn, corpus[SLUG])
        row = conn.execute(
            "SELECT actor, details FROM audit_log WHERE action = 'article.unlock_forced'"
        ).fetchone()
    assert row[0] == "admin" and row[1]["holder"] == "alice"


def test_expired_locks_stop_counting(corpus, capsys, tmp_path):
    assert main(["articles", "lock", SLUG, "--user", "alice", "--ttl", "5m"]) == 0
    with connect() as conn:  # five minutes later
        conn.execute("UPDATE edit_locks SET expires_at = now() - interval '1 second'")
    with connect() as conn:
        assert not locks.is_locked(conn, corpus[SLUG]) and locks.active_lock(conn, corpus[SLUG]) is None
    assert _edit(tmp_path, "bob", "Bob edits after the lock expired.", capsys) == 0
    assert main(["articles", "lock", SLUG, "--user", "bob"]) == 0
    assert "locked by bob" in capsys.readouterr().out


def test_jobs_skip_locked_articles_set_based(corpus, sample_tenant):
    with connect() as conn:
        locks.acquire_lock(conn, sample_tenant.id, corpus[SLUG], "alice", timedelta(minutes=5))
        conn.execute(  # an expired lock on another article does not count
            "INSERT INTO edit_locks (article_id, tenant_id, locked_by, expires_at) VALUES (%s, %s, 'bob', now() - interval '1 minute')",
            (corpus["container-tomatoes"], sample_tenant.id),
        )
        refreshable = conn.execute(
            f"SELECT a.slug FROM articles a WHERE {locks.UNLOCKED_ARTICLE_SQL}"
        ).fetchall()
    assert SLUG not in {r[0] for r in refreshable} and len(refreshable) == len(corpus) - 1


@pytest.mark.parametrize("ttl", ["", "soon", "0m", "-5m", "8d", "30x", "1.5h"])
def test_bad_lock_durations(corpus, capsys, ttl):
    assert "lock duration" in run_error(capsys, "lock", SLUG, "--user", "alice", "--ttl", ttl)
    with connect() as conn:
        assert conn.execute("SELECT count(*) FROM edit_locks").fetchone()[0] == 0


def test_ttl_parsing():
    assert locks.parse_ttl("90s") == timedelta(seconds=90)
    assert locks.parse_ttl("30m") == locks.parse_ttl("30") == timedelta(minutes=30)
    assert locks.parse_ttl("2h") == timedelta(hours=2) and locks.parse_ttl("7d") == timedelta(days=7)
    with pytest.raises(ValidationError):
        locks.parse_ttl("7d1h")


def test_two_editors_racing_one_wins_one_is_refused(corpus, sample_tenant):
    """Both read version 1, then both write: the compare-and-swap lets exactly one through."""
    both_read = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def editor(name: str) -> None:
        try:
            with connect() as conn:
                article = resolve_article(conn, sample_tenant, SLUG)  # the version read at start
                both_read.wait(timeout=10)
                change = EditInput(content=f"{name} rewrote the raised bed guide.\n", fields={})
                outcomes[name] = write_version(
                    conn,
                    sample_tenant,
                    article,
                    change.as_fields(),
                    reason="edit",
                    actor=name,
                    expected_version=None,
                )
        except ConflictError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=editor, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    refused = [n for n, o in outcomes.items() if isinstance(o, ConflictError)]
    won = [n for n, o in outcomes.items() if not isinstance(o, ConflictError)]
    assert len(refused) == 1 and len(won) == 1, outcomes
    assert "not 1" in str(outcomes[refused[0]])
    with connect() as conn:
        rows = conn.execute(
            "SELECT version_number, created_by, content FROM article_versions WHERE article_id = %s ORDER BY 1",
            (corpus[SLUG],),
        ).fetchall()
        current = conn.execute(
            "SELECT version_number, content FROM articles WHERE id = %s", (corpus[SLUG],)
        ).fetchone()
    assert [(v, who) for v, who, _ in rows] == [(1, "fixture"), (2, won[0])]
    assert current == (2, f"{won[0]} rewrote the raised bed guide.\n")


@pytest.mark.slow
def test_two_cli_processes_editing_the_same_version(corpus, tmp_path):
    """Two real `allixios articles edit --expected-version 1` processes: one saves, one exits 2."""
    env = {**os.environ}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "allixios.cli",
                "articles",
                "edit",
                SLUG,
                "--expected-version",
                "1",
                "--file",
                write(tmp_path, f"Process {n} body.", f"p{n}.md"),
                "--user",
                f"proc{n}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in (1, 2)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser_err = next(err for code, _, err in results if code == 2).strip()
    assert loser_err.startswith("error: ") and "not 1" in loser_err and "\n" not in loser_err
    assert _version() == 2


def test_two_users_racing_for_the_lock(corpus, sample_tenant):
    start = threading.Barrier(2)
    won: list[str] = []
    lost: list[str] = []

    def take(user: str) -> None:
        with connect() as conn:
            article = resolve_article(conn, sample_tenant, SLUG)
            start.wait(timeout=10)
            try:
                locks.acquire_lock(conn, sample_tenant.id, article.id, user, timedelta(minutes=10))
                won.append(user)
            except ConflictError:
                lost.append(user)

    threads = [threading.Thread(target=take, args=(u,)) for u in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(won) == 1 and len(lost) == 1
    with connect() as conn:
        assert locks.active_lock(conn, resolve_article(conn, sample_tenant, SLUG).id).locked_by == won[0]
