"""Safety checks on model-written fields: profanity and insults, medical claims and legal
claims."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from agent.domain import Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.catalogue import PhraseIndex, phrase_key
from agent.guardrails.text import field_label, fold_punctuation, nfc

# Words better_profanity 0.7.0 lists that name products, care steps or people's identities
# in ordinary shop copy ("plant pot", "maxi dress", "snuff the wick"), so they never count.
_PROFANITY_EXCEPTIONS_TEXT = """
    pot potty knob muff opium god tit screw hemp maxi pasty organ fat strip naked nude revue
    rum vodka weed paddy pawn slope tramp drunk kill erect xx vixen loin loins racy dummy
    whiz wad souse snuff homey queer gay gays hiv omg urine vomit pee teat womb ovary ovum
    ovums
"""
PROFANITY_EXCEPTIONS = frozenset(_PROFANITY_EXCEPTIONS_TEXT.split()) | {"cow girl", "cow girls"}
# Insults that better_profanity does not list and that a shop must never write.
INSULTS = (
    "idiot",
    "idiots",
    "idiotic",
    "dumb",
    "loser",
    "losers",
    "pathetic",
    "useless",
    "clueless",
    "incompetent",
    "imbecile",
    "dimwit",
    "numpty",
    "pillock",
    "muppet",
    "bollocks",
    "bloody",
    "sucks",
    "shut up",
    "get lost",
    "screw you",
    "bugger",
    "sod off",
    "prat",
    "tosser",
)

MEDICAL_CLAIMS = re.compile(
    "|".join(
        rf"(?<!\w)(?:{pattern})(?!\w)"
        for pattern in (
            r"cures?|cured|curing",
            r"heals?|healed|healing",
            r"(?:clinically|medically|scientifically|dermatologically)\s+(?:proven|tested|approved)",
            r"(?:treats?|relieves?|soothes?|eases?|reduces?)\s+(?:your\s+)?(?:\w+\s+)?(?:anxiety|insomnia|"
            r"depression|eczema|acne|arthritis|pain|stress|allergies|asthma|infections?|"
            r"illness|disease|headaches?|migraines?|aches?|inflammation)",
            r"prevents?\s+(?:cancer|disease|illness|infections?|colds?|flu|covid)",
            r"(?:boosts?|strengthens?)\s+(?:your\s+)?immun(?:e\s+system|ity)",
            r"detox(?:es|ify|ifies|ifying)?",
            r"anti[\s-]?(?:inflammatory|bacterial|viral|ageing|aging)",
            r"(?:fda|mhra)[\s-]approved",
            r"doctors?[\s-](?:recommended|approved)",
            r"therapeutic|medical[\s-]grade",
        )
    ),
    re.IGNORECASE,
)
LEGAL_CLAIMS = re.compile(
    "|".join(
        rf"(?<!\w)(?:{pattern})(?!\w)"
        for pattern in (
            r"legally\s+(?:guaranteed|binding|required|obliged|entitled)",
            r"(?:you\s+are|you're|you\s+will\s+be)\s+(?:legally\s+)?entitled",
            r"entitled\s+(?:[\w\s]{0,30}?\s)?by\s+law",
            r"by\s+law,?\s+(?:you|we)",
            r"(?:guaranteed|required)\s+by\s+law",
            r"(?:under|according\s+to)\s+(?:uk\s+|eu\s+|us\s+|consumer\s+)?law",
            r"your\s+(?:statutory|legal)\s+rights?",
            r"legal\s+(?:right|obligation|requirement|guarantee)s?",
            r"sue|lawsuit|legal\s+action|court\s+order",
        )
    ),
    re.IGNORECASE,
)


@cache
def profanity_index() -> PhraseIndex:
    """Build the phrase index of better_profanity's word list and INSULTS, once per process.

    better_profanity's own `contains_profanity` compares every word of a text with every
    list entry, which is slow for a check that runs on every model sample.
    NOTE: leetspeak spellings ("sh1t") match only where the list spells them out.
    """
    listed = files("better_profanity").joinpath("profanity_wordlist.txt").read_text("utf-8")
    words = {line.strip().casefold() for line in listed.splitlines() if line.strip()}
    words |= set(INSULTS)
    return PhraseIndex(words - PROFANITY_EXCEPTIONS, distinctive_only=False)


def _allowed_words(inp: CheckInput) -> set[tuple[str, ...]]:
    """Token runs from the customer's name, products and the brand name, which may match."""
    sources = [inp.context.first_name or "", inp.brand.name, *inp.context.product_descriptions()]
    allowed = set()
    for source in sources:
        key = phrase_key(source)
        for start in range(len(key)):
            for end in range(start + 1, len(key) + 1):
                allowed.add(key[start:end])
    return allowed


def check_profanity(inp: CheckInput) -> list[Finding]:
    """Block profanity, slurs and insults in a model-written field."""
    allowed: set[tuple[str, ...]] | None = None
    findings = []
    for field, value in inp.fields.items():
        mentions = profanity_index().find(value)
        if not mentions:
            continue
        allowed = _allowed_words(inp) if allowed is None else allowed
        seen: set[tuple[str, ...]] = set()
        for mention in mentions:
            key = phrase_key(mention.text)
            if key in allowed or key in seen:
                continue
            seen.add(key)
            description = "profanity or an insult"
            findings.append(_finding("safety.profanity", description, field, mention.text))
    return findings


def _claims(
    inp: CheckInput, pattern: re.Pattern[str], check_id: str, description: str
) -> list[Finding]:
    findings = []
    for field, value in inp.fields.items():
        match = pattern.search(fold_punctuation(nfc(value)))
        if match is not None:
            findings.append(_finding(check_id, description, field, match.group()))
    return findings


def check_medical_claim(inp: CheckInput) -> list[Finding]:
    """Block a health claim such as "cures", "heals" or "clinically proven"."""
    return _claims(inp, MEDICAL_CLAIMS, "safety.medical_claim", "a medical claim")


def check_legal_claim(inp: CheckInput) -> list[Finding]:
    """Block a legal claim such as "legally guaranteed" or "you are entitled by law"."""
    return _claims(inp, LEGAL_CLAIMS, "safety.legal_claim", "a legal claim")


_SUGGESTIONS = {
    "safety.profanity": "Rewrite the sentence in the brand's plain, friendly voice.",
    "safety.medical_claim": "Remove the claim; describe only what the product guide says.",
    "safety.legal_claim": "Remove the claim; state the brand's own policy in its own words, "
    "and leave customers' legal rights to the policy pages.",
}


def _finding(check_id: str, description: str, field: str, span: str) -> Finding:
    return Finding(
        check_id=check_id,
        severity=Severity.BLOCK,
        message=f"The {field_label(field)} contains {description}: {span!r}.",
        field=field,
        span=span,
        suggestion=_SUGGESTIONS[check_id],
    )
