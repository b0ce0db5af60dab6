"""Advocate score: how likely a customer is to recommend the shop, from 0 to 100.

Four inputs, each scaled to [0, 1]:

| input          | scaling                                         | weight |
|----------------|-------------------------------------------------|-------:|
| repeat orders  | live orders after the first, capped at 4, / 4   |   0.35 |
| review rating  | (mean star rating - 1) / 4                      |   0.30 |
| sentiment      | (mean VADER compound of reviews and tickets + 1) / 2 |   0.20 |
| referrals      | referred customers, capped at 2, / 2            |   0.15 |

An input without data (no review, no text, no referral records) is absent: it is left out
and the weights of the inputs present are rescaled to sum to 1. `coverage` is the share of
the full weight that had data, so a score built from repeat orders alone reads as 100 with
coverage 0.35, not as a proven advocate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.domain import CustomerContext
from agent.signals.sentiment import CustomerSentiment

REPEAT_ORDERS_CAP = 4
REFERRALS_CAP = 2
WEIGHTS = {"repeat_orders": 0.35, "review_rating": 0.30, "sentiment": 0.20, "referrals": 0.15}
# NOTE: the context store records no referrals yet, so that input is always absent.
REFERRALS_ABSENT_REASON = "no referral data is recorded in the context store"


@dataclass(frozen=True)
class AdvocacyInput:
    name: str
    raw: float | None  # the value before scaling; None when absent
    scaled: float | None  # in [0, 1]; None when absent
    weight: float
    note: str = ""

    @property
    def present(self) -> bool:
        return self.scaled is not None


@dataclass(frozen=True)
class AdvocateScore:
    score: int  # 0-100
    coverage: float  # share of the full weight whose input had data
    inputs: list[AdvocacyInput] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "score": self.score,
            "coverage": self.coverage,
            "inputs": {
                item.name: {
                    "raw": item.raw,
                    "scaled": item.scaled,
                    "weight": item.weight,
                    "status": "present" if item.present else "absent",
                    **({"note": item.note} if item.note else {}),
                }
                for item in self.inputs
            },
        }


def advocacy_inputs(
    orders: int, context: CustomerContext, sentiment: CustomerSentiment
) -> list[AdvocacyInput]:
    """Collect the four inputs; `orders` counts live orders up to the scoring date."""
    repeat = max(orders - 1, 0)
    inputs = [
        AdvocacyInput(
            "repeat_orders",
            float(repeat),
            min(repeat, REPEAT_ORDERS_CAP) / REPEAT_ORDERS_CAP,
            WEIGHTS["repeat_orders"],
        )
    ]
    ratings = [review.rating for review in context.reviews]
    if ratings:
        mean = sum(ratings) / len(ratings)
        inputs.append(
            AdvocacyInput("review_rating", round(mean, 3), (mean - 1) / 4, WEIGHTS["review_rating"])
        )
    else:
        inputs.append(
            AdvocacyInput("review_rating", None, None, WEIGHTS["review_rating"], "no reviews")
        )
    if sentiment.mean_compound is not None:
        compound = sentiment.mean_compound
        inputs.append(
            AdvocacyInput("sentiment", compound, (compound + 1) / 2, WEIGHTS["sentiment"])
        )
    else:
        inputs.append(
            AdvocacyInput("sentiment", None, None, WEIGHTS["sentiment"], "no review or ticket text")
        )
    inputs.append(
        AdvocacyInput("referrals", None, None, WEIGHTS["referrals"], REFERRALS_ABSENT_REASON)
    )
    return inputs


def advocate_score(inputs: list[AdvocacyInput]) -> AdvocateScore:
    """Combine the inputs present into a 0-100 score, as the module docstring describes."""
    present = [item for item in inputs if item.scaled is not None]
    total_weight = sum(item.weight for item in present)
    if total_weight == 0:
        return AdvocateScore(0, 0.0, inputs)
    weighted = sum(item.weight * (item.scaled or 0.0) for item in present) / total_weight
    coverage = total_weight / sum(WEIGHTS.values())
    return AdvocateScore(round(100 * weighted), round(coverage, 3), inputs)


def score_advocacy(
    orders: int, context: CustomerContext, sentiment: CustomerSentiment
) -> AdvocateScore:
    return advocate_score(advocacy_inputs(orders, context, sentiment))
