"""ExecutionPlan unit tests: estimates from known prices and run history; later schedules for quota, budget, pool."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from allixios.ai.catalogue import load_catalogue
from allixios.ai.costs import count_prompt_tokens
from allixios.automation.content_requests import PlanInputs, TopicRequest, _messages, build_plan
from allixios.errors import BudgetExceededError, ValidationError
from allixios.tenants import Niche
from allixios.testing.catalogues import write_catalogue

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
NICHE = Niche(uuid.uuid4(), uuid.uuid4(), "finance", "Finance", ["budgeting"], 3, "acme.finance", True)


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    monkeypatch.setenv("CHEAP_KEY", "x")
    monkeypatch.setenv("GOOD_KEY", "x")
    deps = [
        {"id": "cheap", "model": "openai/cheap-model", "api_key_env": "CHEAP_KEY", "price": {"input": 1.0, "output": 2.0},
         "quality_prior": 70, "typical_latency_ms": 4000},
        {"id": "good", "model": "openai/good-model", "api_key_env": "GOOD_KEY", "price": {"input": 10.0, "output": 40.0},
         "quality_prior": 90, "typical_latency_ms": 8000},
    ]
    return load_catalogue(write_catalogue(tmp_path / "models.yaml", {"writer": deps}))


def inputs(**over) -> PlanInputs:
    base = dict(now=NOW, niche=NICHE, niche_label="Finance", quota_used={}, history={}, unavailable={},
                expected_output_tokens=1000, run_seconds=[], per_topic_seconds=None, queue_ahead=0, pool_limit=2,
                budget_left_today=None, budget_daily_limit=None)
    return PlanInputs(**{**base, **over})


TOPICS = [TopicRequest("Emergency funds", "emergency fund"), TopicRequest("Index funds", "index funds")]


def test_cost_is_catalogue_price_times_expected_tokens_of_the_selected_model(catalogue):
    plan = build_plan(uuid.uuid4(), TOPICS, inputs(), catalogue)
    cheap = catalogue.deployment("cheap")
    for t, a in zip(TOPICS, plan.assignments, strict=True):
        tokens_in = count_prompt_tokens(cheap, _messages(t, "Finance"))
        assert a["model"] == "cheap" and a["tokens_in"] == tokens_in and a["tokens_out"] == 1000
        assert a["estimated_cost_usd"] == pytest.approx(tokens_in * 1e-6 + 1000 * 2e-6)
        assert a["partition_key"] == f"{TODAY}|acme.finance"
    assert plan.estimated_cost_usd == pytest.approx(sum(a["estimated_cost_usd"] for a in plan.assignments))
    assert plan.scheduled_at == NOW and plan.schedule_reasons == []


def test_history_changes_the_model_and_the_expected_length(catalogue):
    # an open circuit on 'cheap' moves the choice to 'good'; a longer history of output raises tokens_out
    plan = build_plan(uuid.uuid4(), TOPICS, inputs(unavailable={"cheap": "circuit open"}, expected_output_tokens=2000),
                      catalogue)
    assert {a["model"] for a in plan.assignments} == {"good"}
    assert all(a["tokens_out"] == 2000 for a in plan.assignments)


def test_duration_from_run_history_and_queue(catalogue):
    plan = build_plan(uuid.uuid4(), TOPICS, inputs(run_seconds=[100, 200, 300]), catalogue)
    assert plan.estimated_duration_s == pytest.approx(200)  # median run, nothing queued
    busy = build_plan(uuid.uuid4(), TOPICS, inputs(run_seconds=[100, 200, 300], queue_ahead=4, pool_limit=2),
                      catalogue)
    # 4 runs ahead on 2 llm slots: two median runs of waiting, then the run
    assert busy.estimated_duration_s == pytest.approx(600)
    assert busy.scheduled_at == NOW + timedelta(seconds=400)
    assert busy.schedule_reasons[0].startswith("pool:")


def test_quota_moves_topics_to_the_next_days(catalogue):
    topics = [TopicRequest(f"Topic {i}") for i in range(4)]
    plan = build_plan(uuid.uuid4(), topics, inputs(quota_used={TODAY: 2}), catalogue)
    days = [a["date"] for a in plan.assignments]
    assert days == [str(TODAY), str(TODAY + timedelta(days=1)), str(TODAY + timedelta(days=1)),
                    str(TODAY + timedelta(days=1))]
    full = build_plan(uuid.uuid4(), topics[:1], inputs(quota_used={TODAY: 3}), catalogue)
    assert full.assignments[0]["date"] == str(TODAY + timedelta(days=1))
    assert full.scheduled_at == datetime.combine(TODAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    assert full.schedule_reasons[0].startswith("quota:")


def test_budget_moves_work_to_tomorrow_and_refuses_what_never_fits(catalogue):
    plan = build_plan(uuid.uuid4(), TOPICS, inputs(budget_left_today=0.0001, budget_daily_limit=1.0), catalogue)
    assert {a["date"] for a in plan.assignments} == {str(TODAY + timedelta(days=1))}
    assert any(r.startswith("budget:") for r in plan.schedule_reasons)
    with pytest.raises(BudgetExceededError):
        build_plan(uuid.uuid4(), TOPICS, inputs(budget_left_today=0.0, budget_daily_limit=0.0001), catalogue)


def test_constraints_are_enforced(catalogue):
    with pytest.raises(ValidationError, match="max_cost_usd"):
        build_plan(uuid.uuid4(), TOPICS, inputs(), catalogue, max_cost_usd=0.00001)
    # a budget that excludes 'good' but fits 'cheap' picks 'cheap' even when 'good' is preferred otherwise
    plan = build_plan(uuid.uuid4(), TOPICS, inputs(history={"good": (10, 99.0)}), catalogue, max_cost_usd=0.01)
    assert {a["model"] for a in plan.assignments} == {"cheap"}
    with pytest.raises(ValidationError, match="deadline"):
        build_plan(uuid.uuid4(), TOPICS, inputs(quota_used={TODAY: 3}), catalogue, deadline=NOW + timedelta(hours=1))
    with pytest.raises(ValidationError, match="max_duration_s"):
        build_plan(uuid.uuid4(), TOPICS, inputs(run_seconds=[500]), catalogue, max_duration_s=60)
    with pytest.raises(ValidationError, match="51 topics"):
        build_plan(uuid.uuid4(), [TopicRequest(f"t{i}") for i in range(51)], inputs(), catalogue)


def test_plan_json_is_the_seeds_execution_plan(catalogue):
    data = build_plan(uuid.uuid4(), TOPICS, inputs(), catalogue).as_json()
    assert {"id", "estimated_cost_usd", "estimated_duration_s", "scheduled_at", "schedule_reason", "assignments",
            "model_selection", "priority"} <= set(data)
    assert isinstance(date.fromisoformat(data["assignments"][0]["date"]), date)
