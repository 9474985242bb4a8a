"""Near-real-time mode: the sensor asks for today's analytics run when the collector landed rows."""

from __future__ import annotations

import dagster as dg

from allixios.collector import freshness
from allixios.db.engine import connect
from resources.warehouse import WarehouseResource
from sensors.collector_freshness import collector_freshness_sensor


def _land(db, seconds_ago: int = 0) -> None:
    with connect(db) as conn:
        conn.execute("""INSERT INTO collector_landing (day, tenant_slug, state, landed_at)
                        VALUES ((now() AT TIME ZONE 'UTC')::date, 'sample', '{}', now() - make_interval(secs => %s))
                        ON CONFLICT (day, tenant_slug) DO UPDATE SET landed_at = EXCLUDED.landed_at""", (seconds_ago,))


def test_runs_today_after_a_landing_at_most_every_n_minutes(db, monkeypatch):
    with dg.instance_for_test() as instance:
        def tick(cursor=None):
            ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()})
            return collector_freshness_sensor(ctx), ctx.cursor

        result, cursor = tick()
        assert isinstance(result, dg.SkipReason) and "landed nothing" in result.skip_message
        _land(db, seconds_ago=5)
        result, cursor = tick()
        assert isinstance(result, dg.RunRequest)
        assert result.partition_key == freshness.today().isoformat()
        assert result.tags["allixios/trigger"] == "near_real_time"
        result, cursor2 = tick(cursor)  # nothing new since that run
        assert isinstance(result, dg.SkipReason) and "no collector rows landed since" in result.skip_message
        _land(db)  # new rows, but the last run started moments ago
        result, _ = tick(cursor2)
        assert isinstance(result, dg.SkipReason) and "at most one" in result.skip_message
        monkeypatch.setenv(freshness.MINUTES_ENV, "0")
        result, _ = tick(cursor2)
        assert isinstance(result, dg.RunRequest)
