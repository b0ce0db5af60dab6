"""Drafting errors that come from the customer's own record map to 422, not 500."""

from __future__ import annotations

from agent.api.runner import problem_for
from agent.guardrails.schedule import NoSendTime
from agent.guardrails.zones import InvalidTimeZone


def test_invalid_time_zone_is_422() -> None:
    problem = problem_for(InvalidTimeZone("c-1", "Mars/Olympus"))
    assert problem.status == 422
    assert "Mars/Olympus" in problem.detail


def test_all_day_quiet_hours_is_422() -> None:
    problem = problem_for(NoSendTime("quiet hours 00:00-00:00 leave no time to send"))
    assert problem.status == 422
    assert "no time to send" in problem.detail
