"""Publishing targets: a real WordPress (Debian's, on MariaDB and PHP), a CDN purge API over real HTTP,
faults from a small local server, and the publish / unpublish / edit-not-live semantics."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image as PILImage

from allixios.cli import main
from allixios.content.offline_writer import MODEL_NAME as OFFLINE_WRITER
from allixios.db.engine import connect
from allixios.editorial.articles import edit_article, parse_edit_text
from allixios.editorial.publish import publish_article, unpublish_article
from allixios.publishing import publications as pubs
from allixios.tenants import update_tenant_settings
from tests.editorial_corpus import create_article
from tests.http_fakes import FakeHTTP, Seen
from tests.wordpress_support import free_port, start_wordpress, stop_wordpress, wordpress_unavailable

WP_ENV = "ALLIXIOS_TEST_WP_PASSWORD"
CDN_ENV = "ALLIXIOS_TEST_CDN_TOKEN"
CDN_TOKEN = "cf-Token-1234567890abcdefXYZ"

BODY = (
    "## Why an emergency fund\n\nAn emergency fund keeps a surprise bill from becoming debt. " * 8
    + "\n\n## How much to keep\n\nThree to six months of essential costs is the usual advice; start with one. " * 6
    + "\n\n- keep it in a separate account\n- automate the transfer\n"
)


@pytest.fixture(scope="session")
def wordpress():
    reason = wordpress_unavailable()
    if reason:
        pytest.skip(reason)
    wp = start_wordpress()
    try:
        yield wp
    finally:
        stop_wordpress(wp)


@pytest.fixture
def wp_env(wordpress, monkeypatch):
    monkeypatch.setenv(WP_ENV, wordpress.app_password)
    return wordpress


@pytest.fixture
def fake():
    server = FakeHTTP().start()
    try:
        yield server
    finally:
        server.stop()


def make_live(conn, tenant, slug: str, *, title: str | None = None, tags=("savings", "budgeting"), image=None):
    article_id = create_article(conn, tenant, "personal_finance", slug, title or slug.replace("-", " ").title(), BODY,
                                status="scored", quality=90, seo=80, excerpt="Why and how to keep a cushion.",
                                embed=False)
    conn.execute("UPDATE articles SET tags = %s, featured_image_url = %s WHERE id = %s", (list(tags), image, article_id))
    publish_article(conn, tenant, str(article_id), actor="tester")
    return article_id


def add_wp(conn, tenant, url: str, name: str = "blog", **extra):
    return pubs.add_target(conn, tenant, name, "wordpress",
                           {"url": url, "user": "admin", "password_env": WP_ENV, **extra})


def add_cdn(conn, tenant, url: str, name: str = "cdn", **extra):
    return pubs.add_target(conn, tenant, name, "cdn", {"api_url": url, "zone": "zone123", "token_env": CDN_ENV, **extra})


def wp_post(wp, post_id) -> dict:
    r = wp.get(f"/wp/v2/posts/{post_id}", context="edit")
    r.raise_for_status()
    return r.json()


def publication_rows(conn, article_id=None):
    return conn.execute(
        """SELECT p.action, p.version_number, p.status, p.remote_id, p.remote_writes, p.attempts, p.last_error,
                  t.name FROM publications p JOIN publishing_targets t ON t.id = p.target_id
           WHERE %s::uuid IS NULL OR p.article_id = %s ORDER BY p.id""",
        (article_id, article_id),
    ).fetchall()


def png_file(tmp_path, name="cover.png"):
    buf = io.BytesIO()
    PILImage.new("RGB", (64, 40), (30, 90, 160)).save(buf, "PNG")
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return str(path)


# ---- WordPress, the real one ---------------------------------------------------------------------


def test_wordpress_create_update_unchanged_and_no_duplicates(wp_env, sample_tenant, db, tmp_path):
    wp = wp_env
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "emergency-fund-basics", image=png_file(tmp_path))
        add_wp(conn, sample_tenant, wp.url)
    before = wp.post_count()
    with connect(db) as conn:
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert "blog" in report.targets, report
    rep = report.targets["blog"]
    assert (rep.published, rep.failed) == (1, 0), rep.errors
    with connect(db) as conn:
        (action, version, status, remote_id, writes, attempts, error, _name), = publication_rows(conn, article_id)
    assert (action, status, error) == ("publish", "done", None) and writes >= 4  # media, category, 2 tags, post
    post = wp_post(wp, remote_id)
    assert post["slug"] == "emergency-fund-basics" and post["status"] == "publish"
    assert post["title"]["raw"] == "Emergency Fund Basics"
    assert "<h2>Why an emergency fund</h2>" in post["content"]["raw"]
    assert "Why and how to keep a cushion." in post["excerpt"]["raw"]
    assert post["featured_media"] > 0
    media = wp.get(f"/wp/v2/media/{post['featured_media']}").json()
    assert media["mime_type"] == "image/png" and media["alt_text"] == "Emergency Fund Basics"
    assert httpx.get(media["source_url"]).status_code == 200  # the uploaded file is served
    cats = wp.get("/wp/v2/categories", include=",".join(map(str, post["categories"]))).json()
    tags = wp.get("/wp/v2/tags", include=",".join(map(str, post["tags"]))).json()
    assert [c["name"] for c in cats] == ["Personal Finance"]
    assert sorted(t["name"] for t in tags) == ["budgeting", "savings"]
    assert wp.post_count() == before + 1

    # a re-run with nothing changed writes nothing remotely
    modified = post["modified_gmt"]
    with connect(db) as conn:
        again = pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert again.targets == {} and wp_post(wp, remote_id)["modified_gmt"] == modified

    # an edit appends a version, but WordPress keeps the live one until the article is published again
    with connect(db) as conn:
        update_tenant_settings(conn, sample_tenant.slug, {"min_quality": 0, "min_seo": 0, "min_body_chars": 0})
        edit_article(conn, sample_tenant, str(article_id),
                     parse_edit_text("---\ntitle: Emergency Fund Basics, Revised\n---\n" + BODY + "\nNew closing line.\n"),
                     actor="editor")
        pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert wp_post(wp, remote_id)["title"]["raw"] == "Emergency Fund Basics"
    with connect(db) as conn:
        from allixios.tenants import get_tenant

        publish_article(conn, get_tenant(conn, sample_tenant.slug), str(article_id), actor="editor")
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert report.targets["blog"].published == 1
    post = wp_post(wp, remote_id)
    assert post["title"]["raw"] == "Emergency Fund Basics, Revised" and "New closing line." in post["content"]["raw"]
    assert wp.post_count() == before + 1  # updated in place
    with connect(db) as conn:
        rows = publication_rows(conn, article_id)
    assert [r[3] for r in rows] == [remote_id] * len(rows)
    assert rows[-1][4] == 1  # same image, same terms: only the post itself was written

    # the stored remote id is lost (say a crash before it was recorded): found again by slug, no duplicate
    with connect(db) as conn:
        conn.execute("DELETE FROM publications WHERE article_id = %s", (article_id,))
        edit_article(conn, get_tenant(conn, sample_tenant.slug), str(article_id),
                     parse_edit_text(BODY + "\nThird text.\n"), actor="editor")
        publish_article(conn, get_tenant(conn, sample_tenant.slug), str(article_id), actor="editor")
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
        (_a, _v, status, new_remote, *_rest), = publication_rows(conn, article_id)
    assert status == "done" and new_remote == remote_id
    assert "Third text." in wp_post(wp, remote_id)["content"]["raw"]
    assert wp.post_count() == before + 1


def test_wordpress_unpublish_delete_and_restore(wp_env, sample_tenant, db):
    wp = wp_env
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "index-funds-explained")
        add_wp(conn, sample_tenant, wp.url)
        pubs.run_targets(conn, tenant_id=sample_tenant.id)
        remote_id = publication_rows(conn, article_id)[-1][3]
    assert wp_post(wp, remote_id)["status"] == "publish"
    with connect(db) as conn:
        result = unpublish_article(conn, sample_tenant, "index-funds-explained", actor="editor")
        assert result.changed
        assert pubs.live_version(conn, article_id, result.details["last_live_version"])[1] is False
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert report.targets["blog"].unpublished == 1
    assert wp_post(wp, remote_id)["status"] == "draft"
    # published again (a new version), then deleted and restored: the post follows every time
    with connect(db) as conn:
        publish_article(conn, sample_tenant, "index-funds-explained", actor="editor")
        pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert wp_post(wp, remote_id)["status"] == "publish"
    with connect(db) as conn:
        conn.execute("UPDATE articles SET deleted_at = now() WHERE id = %s", (article_id,))
        pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert wp_post(wp, remote_id)["status"] == "draft"
    with connect(db) as conn:
        conn.execute("UPDATE articles SET deleted_at = NULL WHERE id = %s", (article_id,))
        pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert wp_post(wp, remote_id)["status"] == "publish"


def test_wordpress_rejected_media_type_still_publishes_the_post(wp_env, sample_tenant, db, tmp_path):
    wp = wp_env
    svg = tmp_path / "cover.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>')
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "credit-score-myths", image=str(svg))
        conn.execute("UPDATE articles SET ai_model_used = %s WHERE id = %s", (OFFLINE_WRITER, article_id))
        add_wp(conn, sample_tenant, wp.url)
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
        (_a, _v, status, remote_id, _w, _att, error, _n), = publication_rows(conn, article_id)
    assert status == "done" and report.targets["blog"].published == 1
    assert "rejected the featured image cover.svg" in error and " — fix: " in error
    post = wp_post(wp, remote_id)
    assert post["featured_media"] == 0
    # text of the offline stand-in writer says so on the WordPress page too
    assert post["content"]["raw"].startswith('<p class="allixios-stand-in"><strong>Placeholder')


def test_down_cdn_does_not_block_wordpress(wp_env, sample_tenant, db, monkeypatch):
    monkeypatch.setenv(CDN_ENV, CDN_TOKEN)
    dead = f"http://127.0.0.1:{free_port()}"
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "budgeting-apps")
        add_wp(conn, sample_tenant, wp_env.url)
        add_cdn(conn, sample_tenant, dead)
        purge = pubs.purge_urls(conn, sample_tenant.id, ["https://example.test/budgeting-apps/"])
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert purge[0]["status"] == "pending" and "could not be reached" in purge[0]["error"]
    assert report.targets["blog"].published == 1
    with connect(db) as conn:
        assert publication_rows(conn, article_id)[0][2] == "done"


# ---- faults from a local server (no WordPress needed) -------------------------------------------


def test_down_wordpress_does_not_block_cdn(sample_tenant, db, fake, monkeypatch):
    monkeypatch.setenv(WP_ENV, "abcd EFGH ijkl MNOP qrst UVWX")
    monkeypatch.setenv(CDN_ENV, CDN_TOKEN)
    with connect(db) as conn:
        for i in range(3):
            make_live(conn, sample_tenant, f"article-{i}")
        add_wp(conn, sample_tenant, f"http://127.0.0.1:{free_port()}")  # nothing listens there
        add_cdn(conn, sample_tenant, fake.url)
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
        purge = pubs.purge_urls(conn, sample_tenant.id, ["https://example.test/a/", "https://example.test/b/"])
    blog = report.targets["blog"]
    # after two failures in a row the down target is left alone for the run; nothing is lost
    assert (blog.failed, blog.skipped) == (2, 1)
    assert purge == [{"target": "cdn", "status": "done", "urls": 2, "pending_urls": 0, "error": None}]
    with connect(db) as conn:
        rows = publication_rows(conn)
    assert sorted(r[2] for r in rows if r[7] == "blog") == ["pending"] * 3
    (req,) = fake.requests
    assert req.path == "/zones/zone123/purge_cache" and req.headers["Authorization"] == f"Bearer {CDN_TOKEN}"
    assert req.json() == {"files": ["https://example.test/a/", "https://example.test/b/"]}


@pytest.mark.parametrize("status,expected", [
    (401, "refused the credentials of user 'admin' (HTTP 401"),
    (500, "failed with HTTP 500"),
])
def test_wordpress_errors_stay_pending_with_one_scrubbed_line(sample_tenant, db, fake, monkeypatch, status, expected):
    password = "abcd EFGH ijkl MNOP qrst UVWX"
    monkeypatch.setenv(WP_ENV, password)

    def hostile(req: Seen):  # echoes the credentials back, as a broken proxy might
        return status, {"code": "rest_error", "message": f"no: {req.headers.get('Authorization')} {password}"}

    fake.respond = hostile
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "echo-test")
        add_wp(conn, sample_tenant, fake.url)
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
        (_a, _v, state, _r, _w, attempts, error, _n), = publication_rows(conn, article_id)
        alerts = conn.execute("SELECT message FROM alerts").fetchall()
    assert (state, attempts) == ("pending", 1) and expected in error and " — fix: " in error
    assert report.targets["blog"].failed == 1
    import base64

    for form in (password, password.replace(" ", ""), password.upper(), base64.b64encode(f"admin:{password}".encode()).decode()):
        assert form not in error
        assert all(form not in a[0] for a in alerts)
    assert "Basic [REDACTED]" in error or "[REDACTED]" in error


def test_timeouts_retry_with_backoff_then_alert_then_recover(sample_tenant, db, fake, monkeypatch):
    monkeypatch.setenv(CDN_ENV, CDN_TOKEN)
    fake.delay = 1.5
    with connect(db) as conn:
        add_cdn(conn, sample_tenant, fake.url, timeout=0.3, alert_after=2)
        first = pubs.purge_urls(conn, sample_tenant.id, ["https://example.test/x/"])
    assert first[0]["status"] == "pending" and "did not answer within 0.3s" in first[0]["error"]
    now = datetime.now(UTC)
    with connect(db) as conn:
        not_due = pubs.run_targets(conn, tenant_id=sample_tenant.id, now=now)
        assert not_due.targets == {}  # backing off: the next attempt is a minute away
        second = pubs.run_targets(conn, tenant_id=sample_tenant.id, now=now + timedelta(minutes=2))
        assert second.targets["cdn"].alerts == 1
        attempts, next_at = conn.execute("SELECT attempts, next_attempt_at FROM publications").fetchone()
        assert attempts == 2 and next_at >= now + timedelta(minutes=3)  # 2 minutes after the second attempt
        third = pubs.run_targets(conn, tenant_id=sample_tenant.id, now=now + timedelta(minutes=10))
        assert third.targets["cdn"].alerts == 0  # one alert per publication
        (alert,) = conn.execute("SELECT run_id, job_name, message FROM alerts").fetchall()
    assert alert[1] == "publishing target cdn" and "3 attempts" not in alert[2] and "2 attempts" in alert[2]
    assert CDN_TOKEN not in alert[2]
    fake.delay = 0
    with connect(db) as conn:
        fourth = pubs.run_targets(conn, tenant_id=sample_tenant.id, now=now + timedelta(hours=1))
        status = conn.execute("SELECT status, attempts FROM publications").fetchone()
    assert fourth.targets["cdn"].purged_urls == 1 and status == ("done", 4)


def test_cdn_batches_and_partial_failure_keeps_only_the_rest(sample_tenant, db, fake, monkeypatch):
    monkeypatch.setenv(CDN_ENV, CDN_TOKEN)
    calls = {"n": 0}

    def second_fails(req: Seen):
        calls["n"] += 1
        if calls["n"] == 2:
            return 200, {"success": False, "errors": [{"code": 1134, "message": "rate limited"}]}
        return 200, {"success": True, "errors": []}

    fake.respond = second_fails
    urls = [f"https://example.test/p{i}/" for i in range(5)]
    with connect(db) as conn:
        add_cdn(conn, sample_tenant, fake.url, batch_size=2)
        out = pubs.purge_urls(conn, sample_tenant.id, urls)
    assert out[0]["status"] == "pending" and out[0]["pending_urls"] == 3 and "rate limited" in out[0]["error"]
    assert [len(r.json()["files"]) for r in fake.requests] == [2, 2]
    with connect(db) as conn:
        pubs.run_targets(conn, tenant_id=sample_tenant.id, now=datetime.now(UTC) + timedelta(minutes=5))
        status, left = conn.execute("SELECT status, urls FROM publications").fetchone()
    assert status == "done"
    resent = [u for r in fake.requests[2:] for u in r.json()["files"]]
    assert sorted(resent) == sorted(urls[2:])  # the accepted batch was not sent again


def test_no_targets_no_purge_and_bad_urls_refused(sample_tenant, db):
    from allixios.errors import ValidationError

    with connect(db) as conn:
        assert pubs.purge_urls(conn, sample_tenant.id, ["https://example.test/"]) == []
        with pytest.raises(ValidationError, match="not absolute"):
            pubs.purge_urls(conn, sample_tenant.id, ["/relative/"])


# ---- editorial semantics and the CLI --------------------------------------------------------------


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_publish_unpublish_and_edits_are_not_live_until_published(sample_tenant, db, capsys):
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "roth-ira-guide")
        live, is_live = pubs.live_version(conn, article_id, 2)
    assert is_live and live.title == "Roth Ira Guide"
    # an edit with a weak text: a new version, the old one stays live, publish is refused with one line
    edit = parse_edit_text("---\ntitle: Roth IRA, short\n---\nToo short now.\n")
    with connect(db) as conn:
        change = edit_article(conn, sample_tenant, "roth-ira-guide", edit, actor="editor")
        assert change.after_version == 3
        assert conn.execute("SELECT published_version_number, status FROM articles WHERE id = %s",
                            (article_id,)).fetchone() == (2, "published")
    code, _out, err = run_cli(capsys, "articles", "publish", "roth-ira-guide")
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: article 'roth-ira-guide' version 3 was not")
    assert "misses the tenant's bars (body is" in err and "version 2 stays live" in err and " — fix: " in err
    with connect(db) as conn:
        assert conn.execute("SELECT published_version_number FROM articles WHERE id = %s", (article_id,)).fetchone() == (2,)
        update_tenant_settings(conn, sample_tenant.slug, {"min_quality": 0, "min_seo": 0, "min_body_chars": 0})
    code, out, err = run_cli(capsys, "articles", "publish", "roth-ira-guide")
    assert code == 0 and "version 4 is live" in out, err
    with connect(db) as conn:
        live, is_live = pubs.live_version(conn, article_id, 4)
        assert is_live and live.title == "Roth IRA, short"
        assert conn.execute("SELECT reason FROM article_versions WHERE article_id = %s AND version_number = 4",
                            (article_id,)).fetchone() == ("published",)
    code, out, _ = run_cli(capsys, "articles", "publish", "roth-ira-guide")
    assert code == 0 and "already live" in out
    code, out, _ = run_cli(capsys, "articles", "unpublish", "roth-ira-guide")
    assert code == 0 and "unpublished (version 4 was live)" in out
    code, out, _ = run_cli(capsys, "articles", "unpublish", "roth-ira-guide")
    assert code == 0 and "not published, nothing to do" in out
    with connect(db) as conn:
        assert conn.execute("SELECT status::text FROM articles WHERE id = %s", (article_id,)).fetchone() == ("archived",)
        assert pubs.live_version(conn, article_id, 4)[1] is False


def test_targets_cli_add_list_status_remove_and_secrets_never_stored(sample_tenant, db, capsys, fake, monkeypatch):
    secret = "abcd EFGH ijkl MNOP qrst UVWX"
    code, _out, err = run_cli(capsys, "targets", "add", "blog", "--kind", "wordpress", "--url", "https://blog.example",
                              "--user", "editor", "--password-env", secret)
    assert code == 2 and "must be the NAME of an environment variable" in err and secret not in err
    code, _out, err = run_cli(capsys, "targets", "add", "blog", "--kind", "wordpress", "--url", "blog.example",
                              "--user", "editor", "--password-env", "WP_PW")
    assert code == 2 and "not an http(s) URL" in err and " — fix: " in err
    code, _out, err = run_cli(capsys, "targets", "add", "edge", "--kind", "cdn", "--url", fake.url,
                              "--token-env", CDN_ENV, "--zone", "z")
    assert code == 2 and "--url do(es) not apply to a cdn target" in err
    code, _out, err = run_cli(capsys, "targets", "add", "ftp", "--kind", "ftp")
    assert code == 2 and "unknown target kind 'ftp'" in err
    code, _out, err = run_cli(capsys, "targets", "add", "edge", "--kind", "cdn", "--token-env", CDN_ENV)
    assert code == 2 and "the CDN purge path needs a zone — fix: pass --zone ZONE_ID" in err
    code, out, err = run_cli(capsys, "targets", "add", "blog", "--kind", "wordpress", "--url", fake.url,
                             "--user", "editor", "--password-env", WP_ENV)
    assert code == 0, err
    code, out, err = run_cli(capsys, "targets", "add", "edge", "--kind", "cdn", "--api-url", fake.url,
                             "--zone", "z1", "--token-env", CDN_ENV, "--batch-size", "10")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "targets", "list", "--json")
    names = {r["name"]: r for r in json.loads(out)}
    assert set(names) == {"blog", "edge"} and names["edge"]["config"]["batch_size"] == 10
    with connect(db) as conn:
        stored = json.dumps(conn.execute("SELECT json_agg(config) FROM publishing_targets").fetchone()[0])
    assert secret not in stored
    # the password variable is not set: the publication waits with a line that says which variable
    monkeypatch.delenv(WP_ENV, raising=False)
    with connect(db) as conn:
        make_live(conn, sample_tenant, "no-secret-yet")
    code, out, _ = run_cli(capsys, "targets", "push")
    assert code == 0 and "failed" in out
    code, out, _ = run_cli(capsys, "targets", "status", "--json")
    status = json.loads(out)
    blog = next(t for t in status["targets"] if t["name"] == "blog")
    assert blog["pending"] == 1 and f"environment variable {WP_ENV}" in blog["last_error"]
    code, out, _ = run_cli(capsys, "targets", "remove", "blog")
    assert code == 0 and "removed" in out
    code, _out, err = run_cli(capsys, "targets", "remove", "blog")
    assert code == 2 and "not found" in err


# ---- the Dagster asset ---------------------------------------------------------------------------


def test_target_publications_asset_reports_and_never_fails_for_a_target(sample_tenant, db, fake, monkeypatch):
    import dagster as dg

    from allixios_assets.definitions import defs
    from allixios_assets.publishing.target_assets import target_publications
    from resources.warehouse import WarehouseResource

    node = defs.get_repository_def().assets_defs_by_key[dg.AssetKey("target_publications")]
    assert node.group_names_by_key[dg.AssetKey("target_publications")] == "publishing"
    assert dg.AssetKey("published_articles") in node.dependency_keys

    monkeypatch.setenv(WP_ENV, "abcd EFGH ijkl MNOP qrst UVWX")
    monkeypatch.setenv(CDN_ENV, CDN_TOKEN)
    fake.respond = lambda req: (500, {"code": "internal", "message": "database gone"})
    with connect(db) as conn:
        make_live(conn, sample_tenant, "asset-run")
        add_wp(conn, sample_tenant, fake.url)
    from allixios_assets.publishing.target_assets import targets_delivering

    with connect(db) as conn:
        add_target = pubs.add_target(conn, sample_tenant, "blog", "wordpress", {
            "url": fake.url, "user": "admin", "password_env": WP_ENV, "alert_after": 1})
    assert add_target["config"]["alert_after"] == 1
    result = dg.materialize([target_publications, targets_delivering], resources={"warehouse": WarehouseResource()})
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN and "blog" in check.description
    meta = result.asset_materializations_for_node("target_publications")[0].metadata
    assert meta["failed"].value == 1 and meta["pending_with_error"].value == 1
    assert "failed with HTTP 500" in meta["targets"].value and "abcd" not in meta["targets"].value


def test_trash_mode_and_lost_id_finds_the_trashed_post(wp_env, sample_tenant, db):
    wp = wp_env
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "sinking-funds")
        add_wp(conn, sample_tenant, wp.url, unpublish="trash")
        pubs.run_targets(conn, tenant_id=sample_tenant.id)
        remote_id = publication_rows(conn, article_id)[-1][3]
        unpublish_article(conn, sample_tenant, "sinking-funds", actor="editor")
        pubs.run_targets(conn, tenant_id=sample_tenant.id)
    assert wp_post(wp, remote_id)["status"] == "trash"
    before = wp.post_count("any")
    with connect(db) as conn:
        conn.execute("DELETE FROM publications WHERE article_id = %s", (article_id,))  # the id is lost
        publish_article(conn, sample_tenant, "sinking-funds", actor="editor")
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
        assert publication_rows(conn, article_id)[-1][3] == remote_id
    assert report.targets["blog"].published == 1
    post = wp_post(wp, remote_id)
    assert post["status"] == "publish" and post["slug"] == "sinking-funds"
    assert wp.post_count("any") == before + 1  # back from the trash, not a second post
    assert wp.post_count("trash") == 0


def test_tenants_never_reach_each_others_targets(sample_tenant, db, fake, monkeypatch):
    from allixios.sample import seed_sample

    monkeypatch.setenv(WP_ENV, "abcd EFGH ijkl MNOP qrst UVWX")
    monkeypatch.setenv(CDN_ENV, CDN_TOKEN)
    other_fake = FakeHTTP().start()
    try:
        with connect(db) as conn:
            other = seed_sample(conn, "other")
            make_live(conn, other, "other-tenant-article")
            add_cdn(conn, sample_tenant, fake.url)
            add_cdn(conn, other, other_fake.url)
            add_wp(conn, sample_tenant, fake.url)  # the sample tenant's WordPress
            report = pubs.run_targets(conn)
            pubs.purge_urls(conn, other.id, ["https://other.example/x/"])
            targets = {r[0] for r in conn.execute(
                "SELECT t.tenant_id FROM publications p JOIN publishing_targets t ON t.id = p.target_id").fetchall()}
        assert report.targets == {} and targets == {other.id}
        assert fake.requests == [] and len(other_fake.requests) == 1
    finally:
        other_fake.stop()


def test_cli_publish_pushes_to_targets_and_reports_a_down_one(sample_tenant, db, capsys, monkeypatch):
    monkeypatch.setenv(WP_ENV, "abcd EFGH ijkl MNOP qrst UVWX")
    with connect(db) as conn:
        create_article(conn, sample_tenant, "personal_finance", "cli-push", "Cli Push", BODY, status="scored",
                       quality=90, seo=80, embed=False)
        add_wp(conn, sample_tenant, f"http://127.0.0.1:{free_port()}")
    code, out, err = run_cli(capsys, "articles", "publish", "cli-push")
    assert code == 0, err
    assert "version 2 is live" in out and "target blog: pending (WordPress target 'blog'" in out
    assert "could not be reached" in out
    code, out, _ = run_cli(capsys, "articles", "unpublish", "cli-push", "--no-push")
    assert code == 0 and "target blog" not in out


def test_featured_image_comes_from_the_media_store_a_path_or_nowhere(tmp_path, monkeypatch):
    from allixios import settings

    monkeypatch.setenv(settings.HOME_ENV, str(tmp_path))
    store = tmp_path / "media" / "sample"
    store.mkdir(parents=True)
    (store / "cover-1a2b.png").write_bytes(open(png_file(tmp_path), "rb").read())
    image = pubs.featured_image({"featured_image_url": "/_media/cover-1a2b.png", "tenant_slug": "sample",
                                 "title": "Cover"})
    assert image is not None and image.mime == "image/png" and image.alt == "Cover" and len(image.sha256) == 64
    assert pubs.featured_image({"featured_image_url": png_file(tmp_path, "x.png"), "title": "t"}).filename == "x.png"
    for missing in ("/_media/../../etc/passwd", "/_media/nope.png", "/images/never-made.jpg",
                    "https://cdn.example/x.jpg", None):
        assert pubs.featured_image({"featured_image_url": missing, "tenant_slug": "sample", "title": "t"}) is None


def test_wordpress_timeout_is_one_line_and_pending(sample_tenant, db, fake, monkeypatch):
    monkeypatch.setenv(WP_ENV, "abcd EFGH ijkl MNOP qrst UVWX")
    fake.delay = 1.5
    with connect(db) as conn:
        article_id = make_live(conn, sample_tenant, "slow-site")
        add_wp(conn, sample_tenant, fake.url, timeout=0.3)
        report = pubs.run_targets(conn, tenant_id=sample_tenant.id)
        (_a, _v, state, _r, _w, attempts, error, _n), = publication_rows(conn, article_id)
    assert report.targets["blog"].failed == 1 and (state, attempts) == ("pending", 1)
    assert "did not answer within 0.3s" in error and " — fix: " in error


def test_targets_check_logs_in_without_writing(wp_env, sample_tenant, db, capsys, monkeypatch):
    with connect(db) as conn:
        add_wp(conn, sample_tenant, wp_env.url)
        add_wp(conn, sample_tenant, wp_env.url, name="wrong", password_env="ALLIXIOS_TEST_WRONG_PW")
    monkeypatch.setenv("ALLIXIOS_TEST_WRONG_PW", "nope nope nope nope nope nope")
    code, out, err = run_cli(capsys, "targets", "check", "blog")
    assert code == 0 and "logged in as admin" in out, err
    code, out, err = run_cli(capsys, "targets", "check", "wrong")
    assert code == 2 and "refused the credentials" in err and "nope" not in err and err.count("\n") == 1


def test_two_runs_at_once_deliver_each_article_once(wp_env, sample_tenant, db):
    import threading

    wp = wp_env
    with connect(db) as conn:
        ids = [make_live(conn, sample_tenant, f"parallel-{i}", tags=("parallel",)) for i in range(6)]
        add_wp(conn, sample_tenant, wp.url)
    before = wp.post_count()
    reports, errors = [], []

    def run():
        try:
            with connect(db) as conn:
                reports.append(pubs.run_targets(conn, tenant_id=sample_tenant.id))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.targets["blog"].published for r in reports if "blog" in r.targets) == 6
    assert wp.post_count() == before + 6
    with connect(db) as conn:
        rows = [r for i in ids for r in publication_rows(conn, i)]
    assert [r[2] for r in rows] == ["done"] * 6 and len({r[3] for r in rows}) == 6


def test_site_deploy_purges_what_the_release_changed(sample_tenant, db, fake, monkeypatch, tmp_path):
    """The site build is the deploy: after the switch, every changed URL goes to the tenant's CDN."""
    from allixios.publishing.site import build_site

    monkeypatch.setenv("ALLIXIOS_HOME", str(tmp_path))
    monkeypatch.setenv(CDN_ENV, CDN_TOKEN)
    with connect(db) as conn:
        make_live(conn, sample_tenant, "emergency-fund-basics")
        add_cdn(conn, sample_tenant, fake.url, batch_size=500)
        result = build_site(conn, sample_tenant, base_url="https://example.test", with_media=False)
    assert result.purges and result.purges[0]["status"] == "done"
    purged = {u for r in fake.requests for u in r.json()["files"]}
    assert "https://example.test/personal_finance/emergency-fund-basics/" in purged or any(
        u.endswith("/emergency-fund-basics/") for u in purged), purged
    assert set(result.changed_urls) <= purged
    with connect(db) as conn:  # nothing changed: nothing to purge on the next build
        again = build_site(conn, sample_tenant, base_url="https://example.test", with_media=False)
    assert again.changed_urls == [] and again.purges == []
