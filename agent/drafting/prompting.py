"""Render prompts/<kind>.j2 into chat messages, sending the model only what it needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.domain import BrandProfile, Channel, CustomerContext, Finding, MessageKind
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
# Customer-written text sent to the model, per piece and in number of pieces.
CUSTOMER_TEXT_CHARS = 300
MAX_CUSTOMER_TEXTS = 2
# Characters of a copywriter's note kept in the prompt.
COPYWRITER_NOTE_CHARS = 200
# Characters of one problem line, and of one field kept as written, in a reask prompt.
PROBLEM_CHARS = 240
KEPT_FIELD_CHARS = 400
_UNDATED = datetime.min.replace(tzinfo=UTC)
# Character runs that open or close a fence or a chat message in a prompt.
FENCE_MARKERS = ("<<<", ">>>", "@@")

# Kinds whose prompt includes the text of the customer's support tickets, fenced as data. Other
# kinds learn only that a ticket is open, as a fact without its text.
TICKET_TEXT_KINDS = frozenset({MessageKind.SERVICE_RECOVERY})


@dataclass(frozen=True)
class Guideline:
    title: str
    text: str


@dataclass(frozen=True)
class CustomerText:
    """A piece of customer-written text chosen for the prompt, unfenced.

    `source` names where it came from, such as "review" or "ticket".
    """

    source: str
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


def fence(text: str, limit: int = CUSTOMER_TEXT_CHARS) -> str:
    """Keep text inside its fence: drop marker look-alikes and control characters.

    The result is one line of at most `limit` characters, so it can neither close the
    fence nor open a chat message.
    """
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    # Removing one marker can join the characters around it into another, so repeat.
    previous = None
    while previous != cleaned:
        previous = cleaned
        for marker in FENCE_MARKERS:
            cleaned = cleaned.replace(marker, "")
    return " ".join(cleaned.split())[:limit]


def customer_texts(spec: KindSpec, context: CustomerContext) -> list[CustomerText]:
    """Choose the customer-written text a kind's prompt may see, newest first.

    Reviews go to kinds with `uses_reviews`, ticket subjects and texts to TICKET_TEXT_KINDS.
    """
    chosen: list[CustomerText] = []
    if spec.uses_reviews:
        recent = sorted(context.reviews, key=lambda r: r.created_at or _UNDATED, reverse=True)
        chosen += [CustomerText("review", r.text) for r in recent if r.text.strip()]
    if spec.kind in TICKET_TEXT_KINDS:
        tickets = sorted(context.tickets, key=lambda t: t.opened_at, reverse=True)
        for ticket in tickets:
            text = f"{ticket.subject}: {ticket.text}" if ticket.subject else ticket.text
            if text.strip():
                chosen.append(CustomerText("ticket", text))
    return chosen[:MAX_CUSTOMER_TEXTS]


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
    customer_text: list[CustomerText] | None = None,
    copywriter_note: str | None = None,
    reask: Reask | None = None,
) -> list[ChatMessage]:
    """Render the kind's prompt into chat messages.

    `customer_text` defaults to what `customer_texts` chooses for the kind. It and the
    copywriter's note reach the prompt only through `fence`. With `reask`, the prompt requests
    only the fields of `schema` again and lists the problems of the previous reply.
    """
    if customer_text is None:
        customer_text = customer_texts(spec, context)
    note = fence(copywriter_note or "", COPYWRITER_NOTE_CHARS)
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
        "customer_text": [
            fenced for fenced in (fence(piece.text) for piece in customer_text) if fenced
        ],
        "copywriter_note": note,
        "offer": offer,
        "field_guide": field_guide(schema),
        "reask": reask,
        "rewrite": schema.field_names(),
    }
    rendered = render(prompts_dir, f"{spec.kind.value}.j2", variables)
    return split_messages(rendered)


@dataclass(frozen=True)
class Problem:
    """One finding as the reask prompt states it."""

    field: str
    text: str


@dataclass(frozen=True)
class Reask:
    """The part a reask adds to the prompt: the fields kept as written and the problems.

    The failed fields' text is left out on purpose. Shown its failed text, SmolLM2-135M
    wrote it again in all 6 trials on one draft. When only the findings named the offending
    words, none of 4 trials repeated it. The trial was small, so this is an estimate.
    """

    kept: dict[str, str]
    problems: list[Problem]


def problems_for(findings: list[Finding]) -> list[Problem]:
    """State each finding as one plain line: what was wrong and the suggestion."""
    problems = []
    for finding in findings:
        text = finding.message
        if finding.suggestion:
            text = f"{text.rstrip('.')}. {finding.suggestion}"
        problems.append(Problem(finding.field or "message", fence(text, PROBLEM_CHARS)))
    return problems


def reask_for(previous: dict[str, str], findings: list[Finding], schema: SlotSchema) -> Reask:
    """Build the reask of the fields in `schema` from the model's previous fields."""
    rewrite = schema.field_names()
    kept = {
        name: fence(value, KEPT_FIELD_CHARS)
        for name, value in previous.items()
        if name not in rewrite
    }
    return Reask(kept, problems_for(findings))


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
