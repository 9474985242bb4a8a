"""All sensors, merged into `allixios_assets.definitions.defs`."""

import dagster as dg

from sensors.business_alerts import business_alerts_sensor
from sensors.collector_freshness import collector_freshness_sensor
from sensors.held_revision import HeldRevisionPolicy, held_revision_sensor
from sensors.niche_partitions import niche_partitions_sensor
from sensors.predicted_decay import PredictedDecayPolicy, predicted_decay_sensor
from sensors.run_tracking import run_failure_alert_sensor, workflow_executions_sensor
from sensors.score_drop import ScoreDropPolicy, score_drop_sensor
from sensors.topic_intake import topic_intake_sensor

defs = dg.Definitions(
    sensors=[
        niche_partitions_sensor,
        topic_intake_sensor,
        score_drop_sensor,
        workflow_executions_sensor,
        run_failure_alert_sensor,
        collector_freshness_sensor,
        held_revision_sensor,
        predicted_decay_sensor,
        business_alerts_sensor,
    ],
    resources={"score_drop_policy": ScoreDropPolicy(), "held_revision_policy": HeldRevisionPolicy(),
               "predicted_decay_policy": PredictedDecayPolicy()},
)
