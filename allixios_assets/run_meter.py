"""The run's peak memory, reported into its event log as each step ends (issue 18).

workflow_executions.memory_used_mb is the peak resident memory of the run's process. Only the
process that ran the steps can know it once it is over (``getrusage``: its own peak and that of the
largest child it waited for, such as dbt), so a success and a failure hook on every asset report
it as an engine event (metadata ``peak_rss_mb``) right after each step that raised it: every Allixios
job runs in process, so the last report is the run's peak; under a per-step executor each step process reports
its own and the largest wins. Run tracking (sensors/run_tracking.py) reads the largest report.

The hooks are attached to the assets, not the jobs (``with_run_meter`` on the code location), so
every job — and the UI's ad-hoc materializations — is covered without touching a job definition.
"""

from __future__ import annotations

import dagster as dg

PEAK_RSS_KEY = "peak_rss_mb"


# the last peak this process reported per run: the peak only grows, and run tracking keeps the
# largest report, so a step that did not raise it writes no event (one event-log INSERT fewer per step)
_reported: dict[str, int] = {}


def _report(context: dg.HookContext) -> None:
    from dagster._core.events import EngineEventData

    from allixios.automation.executions import peak_rss_mb

    peak = peak_rss_mb()
    if _reported.get(context.run_id, -1) >= peak:
        return
    if len(_reported) > 1000:  # a long-lived process (code server, tests) running many runs
        _reported.clear()
    _reported[context.run_id] = peak
    # job name and run id instead of the run record: no run-storage read per step
    context.instance.report_engine_event(
        f"peak memory of the run's process so far: {peak} MB (resident, largest process)",
        engine_event_data=EngineEventData(metadata={PEAK_RSS_KEY: dg.MetadataValue.int(peak)}),
        step_key=context.step_key, job_name=context.job_name, run_id=context.run_id)


@dg.success_hook(name="allixios_run_meter_success")
def _after_success(context: dg.HookContext) -> None:
    _report(context)


@dg.failure_hook(name="allixios_run_meter_failure")
def _after_failure(context: dg.HookContext) -> None:
    _report(context)


RUN_METER_HOOKS = {_after_success, _after_failure}


def with_run_meter(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with the memory hooks on every executable asset (jobs select assets by key, so the
    replaced asset objects are the ones every job runs)."""
    from dagster._record import replace

    assets = [a.with_hooks(RUN_METER_HOOKS) if isinstance(a, dg.AssetsDefinition) and a.is_executable else a
              for a in defs.assets or []]
    return replace(defs, assets=assets)
