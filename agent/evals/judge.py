"""An optional LLM judge: scores each drafted case several times with a rubric.

The judge runs only when `AFTERCARE_JUDGE_BASE_URL` and `AFTERCARE_JUDGE_MODEL` name an
OpenAI-compatible endpoint. Each case is scored `judge_samples` times at a non-zero
temperature with different seeds. A case whose scores spread further than `judge_max_spread`
points is flagged, because one score from that judge would not be reliable.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config import PROJECT_ROOT, Settings
from agent.domain import BrandProfile, Draft
from agent.drafting.kinds import SPECS
from agent.drafting.prompting import split_messages
from agent.drafting.templating import render
from agent.evals.golden import GoldenCase
from agent.evals.results import JudgeResult

log = logging.getLogger(__name__)

DEFAULT_RUBRIC = PROJECT_ROOT / "evals" / "judge" / "rubric.j2"
# Samples must differ for their spread to mean anything, so the judge never samples greedily.
JUDGE_TEMPERATURE = 0.7
JUDGE_MAX_TOKENS = 160
JUDGE_SEED = 7
MAX_REASON_CHARS = 300

ResponseFormat = Literal["json_schema", "json_object"]


class JudgeScore(BaseModel):
    model_config = ConfigDict(extra="ignore")

    score: int = Field(ge=1, le=5)
    reason: str = Field(default="", max_length=2000)


SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
        "reason": {"type": "string", "maxLength": MAX_REASON_CHARS},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str
    model: str
    api_key: str | None = None
    samples: int = 3
    max_spread: int = 1
    response_format: ResponseFormat = "json_schema"
    timeout_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> JudgeConfig | None:
        """Return the judge's configuration, or None when no judge endpoint is configured."""
        if not settings.judge_base_url or not settings.judge_model:
            return None
        key = settings.judge_api_key.get_secret_value() if settings.judge_api_key else None
        return cls(
            base_url=settings.judge_base_url,
            model=settings.judge_model,
            api_key=key,
            samples=settings.judge_samples,
            max_spread=settings.judge_max_spread,
            response_format=settings.judge_response_format,
            timeout_s=settings.llm_timeout_s,
        )


class Judge:
    """Scores drafted cases with the rubric in `evals/judge/rubric.j2`."""

    def __init__(
        self, config: JudgeConfig, *, rubric: Path = DEFAULT_RUBRIC, client: Any = None
    ) -> None:
        if config.samples < 1:
            raise ValueError(f"judge samples must be at least 1, got {config.samples!r}")
        self.config = config
        self.rubric = rubric
        self._client = client or openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",
            timeout=config.timeout_s,
            max_retries=1,
        )

    def score(self, case: GoldenCase, draft: Draft, brand: BrandProfile) -> JudgeResult:
        messages = self.messages(case, draft, brand)
        result = JudgeResult()
        for sample in range(self.config.samples):
            try:
                content = self._complete(messages, seed=JUDGE_SEED + sample)
            except openai.OpenAIError as error:
                log.warning("judge call failed for case %s: %s", case.id, error)
                result.error = f"judge call failed: {error}"
                break
            parsed = parse_score(content)
            if parsed is None:
                result.invalid_samples += 1
                continue
            result.scores.append(parsed.score)
            result.reasons.append(parsed.reason[:MAX_REASON_CHARS])
        return summarise(result, self.config.max_spread)

    def messages(self, case: GoldenCase, draft: Draft, brand: BrandProfile) -> list[dict[str, str]]:
        variables = {
            "brand_name": brand.name,
            "kind": case.kind.value,
            "purpose": SPECS[case.kind].purpose if case.kind in SPECS else case.kind.value,
            "channel": case.channel.value,
            "facts": customer_facts(case),
            "reference": case.reference or "",
            "subject": draft.subject or "",
            "text": draft.text,
        }
        rendered = render(self.rubric.parent, self.rubric.name, variables)
        return [{"role": m.role, "content": m.content} for m in split_messages(rendered)]

    def _complete(self, messages: list[dict[str, str]], *, seed: int) -> str:
        response = self._client.chat.completions.create(
            model=self.config.model,
            messages=messages,
            temperature=JUDGE_TEMPERATURE,
            max_tokens=JUDGE_MAX_TOKENS,
            seed=seed,
            response_format=self._response_format(),
        )
        choices = getattr(response, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        return getattr(message, "content", None) or ""

    def _response_format(self) -> dict[str, Any]:
        if self.config.response_format == "json_object":
            # llama_cpp.server 0.3.x builds its decoding grammar from this `schema` key.
            return {"type": "json_object", "schema": SCORE_SCHEMA}
        return {
            "type": "json_schema",
            "json_schema": {"name": "judge_score", "schema": SCORE_SCHEMA},
        }


def parse_score(content: str) -> JudgeScore | None:
    try:
        return JudgeScore.model_validate(json.loads(content))
    except (json.JSONDecodeError, ValidationError, TypeError):
        return None


def summarise(result: JudgeResult, max_spread: int) -> JudgeResult:
    """Fill the mean, the spread and the disagreement flag from the collected scores."""
    if result.scores:
        result.mean = round(sum(result.scores) / len(result.scores), 2)
        result.spread = max(result.scores) - min(result.scores)
        result.disagreement = result.spread > max_spread
    elif result.error is None:
        result.error = f"no valid score in {result.invalid_samples} judge sample(s)"
    return result


def customer_facts(case: GoldenCase) -> list[str]:
    """Describe the context for the judge without names, contact details or free text."""
    context = case.context
    facts = []
    order = context.last_order()
    if order is not None:
        products = ", ".join(line.description for line in order.lines[:5])
        status = order.status.value
        if order.delivered_at is not None:
            status += f", delivered {order.delivered_at:%Y-%m-%d}"
        facts.append(f"last order {order.order_id}: {products} ({status})")
    facts.append(f"orders: {len(context.orders)}, lifetime spend {context.lifetime_spend()}")
    facts.append(f"first name on record: {'yes' if context.first_name else 'no'}")
    facts.append(f"open support tickets: {context.open_ticket_count()}")
    if context.reviews:
        ratings = ", ".join(str(review.rating) for review in context.reviews)
        facts.append(f"review ratings given: {ratings}")
    if context.returns:
        facts.append(f"returns: {len(context.returns)}")
    return facts
