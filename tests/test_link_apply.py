"""Internal-link suggestions applied: accepted (CLI and API) as a new, audited, lock-aware version, idempotent,
tenant-scoped; applied automatically within the per-article cap by the real Dagster asset.
Real database, real MiniLM vectors, a real uvicorn server."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from allixios.cli import main
from allixios.content import pipeline
from allixios.content.link_apply import insert_link
from allixios.db.engine import connect, fetch_dicts
from allixios.tenants import add_niche, ensure_tenant, update_tenant_settings
from tests.editorial_corpus import create_article

COMMON = "Raised beds warm up early in spring; good soil, compost and steady watering make them productive. "
SOIL = ("## Soil\n\nA raised bed needs loose soil. Mix garden compost from your compost bins with topsoil. "
        "See [watering](/watering-beds) for moisture.\n\n" + COMMON * 4)
BINS = ("## Bins\n\nCompost bins turn kitchen scraps into garden compost for raised bed soil. Keep the heap "
        "moist by watering raised beds and bins together.\n\n" + COMMON * 4)
WATER = ("## Water\n\nWater raised beds deeply twice a week; raised bed soil dries faster than the heap in "
         "compost bins.\n\n" + COMMON * 4)


def _garden(conn, slug: str, *, embed: bool = False):
    tenant = ensure_tenant(conn, slug)
    add_niche(conn, tenant, "garden", "Home Gardening", ["beds"])
    tenant = update_tenant_settings(conn, slug, {"min_quality": 0, "min_seo": 0, "min_body_chars": 0})
    ids = {
        "raised-bed-soil": create_article(conn, tenant, "garden", "raised-bed-soil", "Raised Bed Soil Mix", SOIL,
                                          keyphrase="raised bed soil", embed=embed),
        "compost-bins": create_article(conn, tenant, "garden", "compost-bins", "Compost Bins for Small Gardens", BINS,
                                       keyphrase="compost bins", embed=embed),
        "watering-beds": create_article(conn, tenant, "garden", "watering-beds", "Watering Raised Beds", WATER,
                                        keyphrase="watering raised beds", embed=embed),
    }
    return tenant, ids


def _article(conn, article_id) -> dict:
    return fetch_dicts(conn, "SELECT content, status::text AS status, version_number, published_version_number "
                             "FROM articles WHERE id = %s", (article_id,))[0]


def test_insert_link_uses_the_sources_words_outside_headings_links_and_code():
    body = "## Compost bins\n\nSee [compost bins](/x), `compost bins` and then Compost  Bins here; compost bins."
    out = insert_link(body, "compost bins", "compost-bins")
    assert out == ("## Compost bins\n\nSee [compost bins](/x), `compost bins` and then [Compost  Bins](/compost-bins) "
                   "here; compost bins.")
    # blocks as the one parse reads them: a heading, a table, a code block, an HTML block, a link definition
    masked = ("## compost bins\n\n| compost bins |\n|---|\n| compost bins |\n\n```\ncompost bins\n```\n\n"
              "<div>compost bins</div>\n\n[compost bins]: /x\n")
    assert insert_link(masked, "compost bins", "c") is None
    assert insert_link("- make compost bins\n\n> compost bins", "compost bins", "c") == \
        "- make [compost bins](/c)\n\n> compost bins"  # list items and quotes are prose


def test_accept_from_the_cli_is_a_new_audited_version_once_and_only_for_the_tenant(db, capsys):
    with connect(db) as conn:
        acme, ids = _garden(conn, "acme")
        _, rival = _garden(conn, "rival")
    assert main(["links", "accept", "raised-bed-soil", "compost-bins", "--tenant", "acme", "--user", "ed@acme"]) == 0
    assert "now links to /compost-bins as [compost bins]" in capsys.readouterr().out
    with connect(db) as conn:
        a = _article(conn, ids["raised-bed-soil"])
        audit = fetch_dicts(conn, "SELECT actor, details FROM audit_log WHERE entity_id = %s AND action = 'article.edit'",
                            (str(ids["raised-bed-soil"]),))
        theirs = _article(conn, rival["raised-bed-soil"])
        rows = conn.execute("SELECT mode, actor, anchor FROM internal_link_applications").fetchall()
    assert a["content"].count("](/compost-bins)") == 1 and "from your [compost bins](/compost-bins) with" in a["content"]
    assert a["status"] == "published" and a["version_number"] == a["published_version_number"] == 3  # edit + publish
    assert audit[0]["actor"] == "ed@acme" and audit[0]["details"]["link_applied"]["target"] == "compost-bins"
    assert rows == [("accepted", "ed@acme", "compost bins")]
    assert "](/compost-bins)" not in theirs["content"] and theirs["version_number"] == 1  # the other tenant's twin

    # accepting twice adds nothing
    assert main(["links", "accept", "raised-bed-soil", "compost-bins", "--tenant", "acme"]) == 0
    assert "already links" in capsys.readouterr().out
    # another tenant's article id is unknown to acme, exactly like a made-up one
    assert main(["links", "accept", str(rival["watering-beds"]), "compost-bins", "--tenant", "acme"]) == 2
    assert "not found for tenant 'acme'" in capsys.readouterr().err
    # an anchor that is not the source's own words is refused with the fix
    assert main(["links", "accept", "compost-bins", "watering-beds", "--anchor", "irrigation tips", "-t", "acme"]) == 2
    assert "fix: pass an anchor made of the source's own words" in capsys.readouterr().err
    # someone else's edit lock wins
    with connect(db) as conn:
        conn.execute("INSERT INTO edit_locks (article_id, tenant_id, locked_by, expires_at) "
                     "VALUES (%s, %s, 'someone@acme', now() + interval '1 hour')", (ids["watering-beds"], acme.id))
    assert main(["links", "accept", "watering-beds", "compost-bins", "-t", "acme", "-u", "ed@acme"]) == 2
    assert "locked by 'someone@acme'" in capsys.readouterr().err
    with connect(db) as conn:
        assert _article(conn, ids["raised-bed-soil"])["version_number"] == 3
        assert _article(conn, ids["watering-beds"])["version_number"] == 1
        assert conn.execute("SELECT count(*) FROM internal_link_applications").fetchone()[0] == 1


@pytest.fixture(scope="module")
def api(database_url):
    from types import SimpleNamespace

    from allixios.api.app import create_app
    from allixios.identity.keys import create_key
    from allixios.identity.users import add_user
    from tests.api_support import ServerThread, truncate

    truncate(database_url)
    worlds = {}
    with connect(database_url) as conn:
        for slug, roles in (("alpha", ("viewer", "editor")), ("beta", ("editor",))):
            tenant, ids = _garden(conn, slug)
            world = SimpleNamespace(keys={}, users={}, ids={k: str(v) for k, v in ids.items()})
            for role in roles:  # only the credentials this test uses: users and keys are costly to make
                user = add_user(conn, tenant, f"{role}@{slug}.example", role=role, actor="test")
                world.keys[role] = create_key(conn, tenant, str(user.id), name=f"{role} key", actor="test")[1]
                world.users[role] = str(user.id)
            worlds[slug] = world
    with ServerThread(create_app(dispatch=False)) as server:
        yield server, worlds["alpha"], worlds["beta"]


def test_accept_over_http_needs_write_and_stays_in_the_credentials_tenant(api, database_url):
    from tests.api_support import client

    server, a, b = api
    body = {"source": a.ids["raised-bed-soil"], "target": a.ids["compost-bins"]}
    with client(server.url, a.keys["viewer"]) as c:
        assert c.post("/v1/links/accept", json=body).status_code == 403
    with client(server.url, b.keys["editor"]) as c:  # beta's editor, alpha's ids: not found, nothing written
        r = c.post("/v1/links/accept", json=body)
        assert r.status_code == 404, r.text
    with client(server.url, a.keys["editor"]) as c:
        r = c.post("/v1/links/accept", json=body)
        assert r.status_code == 200 and r.json()["changed"] is True and r.json()["anchor"] == "compost bins", r.text
        again = c.post("/v1/links/accept", json=body).json()
        assert again["changed"] is False and again["version"] == r.json()["version"]
        assert c.get("/v1/links/suggestions").status_code == 200
    with connect(database_url) as conn:
        content = conn.execute("SELECT content FROM articles WHERE id = %s", (a.ids["raised-bed-soil"],)).fetchone()[0]
        beta = conn.execute("SELECT content FROM articles WHERE id = %s", (b.ids["raised-bed-soil"],)).fetchone()[0]
        actor = conn.execute("SELECT actor FROM internal_link_applications").fetchone()[0]
    assert content.count("](/compost-bins)") == 1 and "](/compost-bins)" not in beta
    assert actor == f"user:{a.users['editor']}"  # the credential's user, as audit_log records it


def test_automatic_links_within_the_per_article_cap_and_only_where_turned_on(db, capsys):
    from allixios_assets.maintenance.assets import internal_link_applications
    from resources.warehouse import WarehouseResource

    with connect(db) as conn:
        _, ids = _garden(conn, "acme", embed=True)
        _, off = _garden(conn, "quiet", embed=True)  # cap 0 (the default): off
    assert main(["links", "cap", "5", "-t", "acme"]) == 0
    assert main(["links", "cap", "1", "--niche", "garden", "-t", "acme"]) == 0  # the niche's override wins
    assert main(["links", "cap", "99", "-t", "acme"]) == 2  # out of range: refused with the fix

    def run() -> dict:
        result = dg.materialize([internal_link_applications], resources={"warehouse": WarehouseResource()},
                                instance=dg.DagsterInstance.ephemeral())
        assert result.success
        return {k: v.value for k, v in
                result.asset_materializations_for_node("internal_link_applications")[0].metadata.items()}

    assert "fix: set it with `allixios links cap N" in capsys.readouterr().err
    # an editor accepts one suggestion of the niche's SEO report: its anchor and reason are the report's
    with connect(db) as conn:
        part = pipeline.resolve_partition(conn, datetime.now(UTC).date().isoformat(), "acme.garden")
        suggestion = next(s for s in pipeline.build_seo_report(conn, part)["link_suggestions"]
                          if s["source"] == "watering-beds")
    assert main(["links", "accept", "watering-beds", suggestion["target"], "-t", "acme", "-u", "ed@acme"]) == 0
    with connect(db) as conn:
        accepted = conn.execute("SELECT anchor, reason FROM internal_link_applications").fetchall()
    assert accepted == [(suggestion["anchor"], suggestion["reason"])]
    first = run()
    with connect(db) as conn:
        auto = fetch_dicts(conn, """SELECT s.slug AS source, t.slug AS target, l.reason, s.tenant_id, l.anchor
                                    FROM internal_link_applications l JOIN articles s ON s.id = l.source_article_id
                                    JOIN articles t ON t.id = l.target_article_id WHERE l.mode = 'auto'""")
        quiet = [_article(conn, i)["version_number"] for i in off.values()]
    assert first["links_applied"] == len(auto) >= 1
    sources = [r["source"] for r in auto]
    assert len(sources) == len(set(sources))  # the niche's cap: one automatic link per article
    # compost-bins had two suggestions; the cap keeps the best one: the orphaned target
    assert [r["target"] for r in auto if r["source"] == "compost-bins"] == ["raised-bed-soil"]
    assert all(r["reason"] and "similar content" in r["reason"] for r in auto)
    assert quiet == [1, 1, 1]
    with connect(db) as conn:
        for r in auto:
            a = _article(conn, ids[r["source"]])
            assert f"](/{r['target']})" in a["content"] and a["version_number"] == a["published_version_number"]
    assert run()["links_applied"] == 0  # the cap is reached: a re-run adds nothing


def test_two_concurrent_accepts_add_one_link(db):
    import threading

    from allixios.content.link_apply import apply_link

    with connect(db) as conn:
        tenant, ids = _garden(conn, "acme")
    barrier, results = threading.Barrier(2), []

    def accept(who: str) -> None:
        barrier.wait()
        with connect(db) as conn:
            results.append(apply_link(conn, tenant, "compost-bins", "raised-bed-soil", actor=who))

    threads = [threading.Thread(target=accept, args=(f"ed{i}@acme",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r["changed"] for r in results) == [False, True]  # the second waited on the row, then saw the link
    with connect(db) as conn:
        a = _article(conn, ids["compost-bins"])
    assert a["content"].count("](/raised-bed-soil)") == 1 and a["version_number"] == 3
