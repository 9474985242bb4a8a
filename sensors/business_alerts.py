"""Business alerts: detected, stored once per window and delivered (webhook, e-mail) every tick."""

import dagster as dg

from allixios.automation.business_alerts import AlertRules, Channels, deliver, detect, raise_alerts
from resources.warehouse import WarehouseResource


@dg.sensor(
    name="business_alerts_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Budgets at 80 %/100 %, revenue and traffic drops per niche, open AI circuits, failing publications "
    "and forecast decay become business_alerts rows (once per window), posted to ALLIXIOS_ALERT_WEBHOOK_URL "
    "(Slack-compatible) and e-mailed through ALLIXIOS_SMTP_HOST, outside the tenant's quiet hours.",
)
def business_alerts_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connection() as conn:
        new = raise_alerts(conn, detect(conn, AlertRules()))
    with warehouse.connection() as conn:
        sent = deliver(conn, Channels.from_env())
    return dg.SkipReason(f"{len(new)} new alert(s); delivered {sent}")
