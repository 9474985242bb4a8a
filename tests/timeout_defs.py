"""A tiny code location for the maximum-run-time test: one job whose only step hangs (sleeps far
past its max runtime) while it holds a pool slot."""

import time

import dagster as dg

from allixios_assets.run_meter import with_run_meter

HANG_S = 300


@dg.asset(pool="timeout_test")
def hanging_step() -> None:
    time.sleep(HANG_S)  # a provider call that never answers


hanging_job = dg.define_asset_job("hanging_job", selection=[hanging_step], executor_def=dg.in_process_executor)

defs = with_run_meter(dg.Definitions(assets=[hanging_step], jobs=[hanging_job]))
