"""Render prompts/<kind>.j2 into chat messages, sending the model only what it needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.domain import BrandProfile, Channel, CustomerContext
from agent.drafting.kinds import KindSpec
from agent.drafting.templating import TemplateError, render
from agent.knowledge.store import RetrievedChunk
from agent.llm.base import ChatMessage
from agent.llm.slots import SlotSchema

ROLES = ("system", "user", "assistant")
# Characters of each retrieved guideline kept in the prompt; prompt evaluation is the
# larger share of a small local model's latency.
GUIDELINE_CHARS = 320
MAX_GUIDELINES = 3
# Customer-written text sent to the model, per review and in total.
CUSTOMER_TEXT_CHARS = 300
MAX_CUSTOMER_TEXTS = 2
_UNDATED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Guideline:
    title: str
    text: str


def split_messages(rendered: str) -> list[ChatMessage]:
    """Split a rendered prompt on its "@@role" lines into chat messages."""
    messages: list[ChatMessage] = []
    role: str | None = None
    lines: list[str] = []
    for line in rendered.splitlines():
        marker = line.strip()
        if marker.startswith("@@") and marker[2:] in ROLES:
            if role is not None:
                messages.append(ChatMessage(role, "\n".join(lines).strip()))
            role, lines = marker[2:], []
        elif role is not None:
            lines.append(line)
    if role is not None:
        messages.append(ChatMessage(role, "\n".join(lines).strip()))
    if not messages or messages[-1].role != "user":
        raise TemplateError("a prompt must end with a user message (a line `@@user`)")
    return messages


def fence(text: str) -> str:
    """Keep customer text inside its fence: drop marker look-alikes and control characters."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = cleaned.replace("<<<", "").replace(">>>", "").replace("@@", "")
    return " ".join(cleaned.split())[:CUSTOMER_TEXT_CHARS]


def field_guide(schema: SlotSchema) -> str:
    parts = []
    for slot in schema.slots:
        opening = f' starting "{slot.prefix}"' if slot.prefix else ""
        parts.append(f"{slot.name}{opening}")
    return "the fields " + ", ".join(parts)


def build_messages(
    prompts_dir: Path,
    *,
    spec: KindSpec,
    channel: Channel,
    brand: BrandProfile,
    context: CustomerContext,
    facts: dict[str, str],
    guidelines: list[Guideline],
    schema: SlotSchema,
    offer: str | None,
) -> list[ChatMessage]:
    customer_text: list[str] = []
    if spec.uses_reviews:
        recent = sorted(context.reviews, key=lambda r: r.created_at or _UNDATED, reverse=True)
        customer_text = [fence(r.text) for r in recent[:MAX_CUSTOMER_TEXTS] if r.text.strip()]
    variables = {
        "brand_name": brand.name,
        "channel": channel.value,
        "channel_label": "email" if channel == Channel.EMAIL else "text message",
        "purpose": spec.purpose,
        "facts": facts,
        "guidelines": [
            Guideline(g.title, " ".join(g.text.split())[:GUIDELINE_CHARS])
            for g in guidelines[:MAX_GUIDELINES]
        ],
        "customer_text": customer_text,
        "offer": offer,
        "field_guide": field_guide(schema),
    }
    rendered = render(prompts_dir, f"{spec.kind.value}.j2", variables)
    return split_messages(rendered)


# The order in which retrieved chunks reach the prompt; legal text never does, because
# the template writes the compliance footer.
PROMPT_DOC_TYPES = ("voice", "product_guide", "policy", "example")


def prompt_chunks(chunks: list[RetrievedChunk]) -> list[RetrievedChunk]:
    """Order chunks for the prompt: voice first, then product guides, then policies."""
    ranked = [c for c in chunks if c.doc_type in PROMPT_DOC_TYPES]
    return sorted(ranked, key=lambda c: (PROMPT_DOC_TYPES.index(c.doc_type), -c.score))


# Family keywords that describe a material or pattern, not the product itself.
MATERIAL_KEYWORDS = frozenset(
    ("WOODEN", "GLASS", "CERAMIC", "ENAMEL", "ZINC", "METAL", "FELT", "PAPER", "TEA", "VINTAGE")
)


def spoken_product(description: str, brand: BrandProfile) -> str:
    """Name a product the way a sentence would, from the brand's family keywords.

    The matching keyword with the most words wins, then the one that ends last, because an
    English noun phrase ends in its head noun: "SNACK BOXES" gives "boxes". Multi-word
    keywords keep "LUNCH BAG PAISLEY PARK" as "lunch bag" rather than the design name.
    """
    text = " ".join(description.upper().replace(",", " ").split())
    padded = f" {text} "
    matches = [
        (len(keyword.split()), padded.find(f" {keyword} ") + len(keyword), keyword)
        for family in brand.families
        for keyword in family.keywords
        if keyword not in MATERIAL_KEYWORDS and f" {keyword} " in padded
    ]
    if not matches:
        return "order"
    return max(matches)[2].lower()
