"""The LLM judge against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent.config import PROJECT_ROOT, Settings
from agent.evals.golden import GoldenCase
from agent.evals.judge import Judge, JudgeConfig, customer_facts, parse_score
from agent.knowledge.brand import load_brand
from tests.evals.conftest import case_data, make_draft
from tests.llm.helpers import Reply, ScriptedServer, chat_completion, error_body


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    scripted.start()
    yield scripted
    scripted.stop()


def judge_for(server: ScriptedServer, **overrides) -> Judge:
    values = {"base_url": server.base_url, "model": "judge-model", "samples": 3, "max_spread": 1}
    return Judge(JudgeConfig(**(values | overrides)))


def score_reply(score: int, reason: str = "fine") -> Reply:
    return Reply(body=chat_completion(json.dumps({"score": score, "reason": reason})))


def golden_case() -> GoldenCase:
    return GoldenCase.model_validate(case_data())


BRAND = load_brand(PROJECT_ROOT / "kb", "hearth-and-holly")


def test_agreeing_scores(server: ScriptedServer) -> None:
    server.script(score_reply(4), score_reply(5), score_reply(4))
    result = judge_for(server).score(golden_case(), make_draft(), BRAND)
    assert result.scores == [4, 5, 4]
    assert result.mean == 4.33
    assert result.spread == 1
    assert not result.disagreement
    assert result.error is None


def test_disagreeing_scores_are_flagged(server: ScriptedServer) -> None:
    server.script(score_reply(5), score_reply(2), score_reply(4))
    result = judge_for(server).score(golden_case(), make_draft(), BRAND)
    assert result.spread == 3
    assert result.disagreement


def test_invalid_samples_are_counted(server: ScriptedServer) -> None:
    server.script(
        Reply(body=chat_completion("not json")),
        Reply(body=chat_completion(json.dumps({"score": 9, "reason": "too high"}))),
        score_reply(3),
    )
    result = judge_for(server).score(golden_case(), make_draft(), BRAND)
    assert result.invalid_samples == 2
    assert result.scores == [3]


def test_no_valid_sample_is_an_error(server: ScriptedServer) -> None:
    server.script(*[Reply(body=chat_completion("{}")) for _ in range(2)])
    result = judge_for(server, samples=2).score(golden_case(), make_draft(), BRAND)
    assert result.mean is None
    assert result.error == "no valid score in 2 judge sample(s)"


def test_http_error_stops_sampling(server: ScriptedServer) -> None:
    server.script(score_reply(4), Reply(400, error_body("bad request")))
    result = judge_for(server).score(golden_case(), make_draft(), BRAND)
    assert result.scores == [4]
    assert "judge call failed" in (result.error or "")
    assert len(server.requests) == 2


def test_request_carries_rubric_seed_and_schema(server: ScriptedServer) -> None:
    server.script(score_reply(4), score_reply(4))
    judge_for(server, samples=2, response_format="json_object").score(
        golden_case(), make_draft(), BRAND
    )
    first, second = (request.body for request in server.requests)
    assert first["model"] == "judge-model"
    assert first["seed"] != second["seed"]
    assert first["temperature"] > 0
    assert first["response_format"]["type"] == "json_object"
    assert first["response_format"]["schema"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    system, user = first["messages"]
    assert system["role"] == "system"
    assert "Score one message from 1 to 5" in system["content"]
    assert "Thank you for your order." in user["content"]
    assert "Sam" not in user["content"].split("The message to score")[0]


def test_facts_leave_out_names_and_free_text() -> None:
    case = GoldenCase.model_validate(
        case_data(context=case_data()["context"] | {"reviews": [{"rating": 2, "text": "awful"}]})
    )
    facts = "\n".join(customer_facts(case))
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in facts
    assert "review ratings given: 2" in facts
    assert "first name on record: yes" in facts
    assert "Sam" not in facts
    assert "awful" not in facts


def test_parse_score() -> None:
    assert parse_score('{"score": 3, "reason": "ok"}').score == 3
    assert parse_score('{"score": 0}') is None
    assert parse_score("[1]") is None


def test_config_only_when_endpoint_set() -> None:
    assert JudgeConfig.from_settings(Settings()) is None
    settings = Settings(
        judge_base_url="http://127.0.0.1:9/v1", judge_model="m", judge_samples=5, judge_api_key="k"
    )
    config = JudgeConfig.from_settings(settings)
    assert config is not None
    assert config.samples == 5
    assert config.api_key == "k"
    assert settings.masked()["judge_api_key"] == "********"
