"""A phrase index over the shop's product descriptions, for spotting products in a message.

Descriptions and text are both split into word tokens (case-folded), so matching ignores case,
punctuation and spacing: "TUMBLER, BAROQUE" matches "tumbler baroque". A phrase matches only
whole tokens. Looking a text up costs one dict probe per token and distinct phrase length,
whatever the catalogue's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from agent.guardrails.text import nfc, token_key, tokens

# Everyday English words. A description made only of these (and numbers) reads like ordinary
# text ("mixed up", "water damaged", "stock check"), so matching it would flag sound copy.
_COMMON_WORDS_TEXT = """
    a about after again all also am an and any are as at away back be been before being best
    but by can cant could day days did do does done down each even every few for from get
    given go going good got had has have her here him his how i if in into is it its just
    keep know last let like little lost made make many may me more most much must my need new
    next no not now of off on once one only or other our out over own put re really s same
    see she should so some soon still such sure t take than thank thanks that the their them
    then there these they this those through time to too two under up us use very was way we
    well were what when where which while who why will with would yes yet you your yours
    adjust adjustment aside bank box boxes broken charge charges check code crushed damage
    damaged damages entry error faulty fixed found incorrect marked missing mix mixed
    returned sale sales sample samples set sets show sold stock throw thrown water wet wrong
"""
COMMON_WORDS: frozenset[str] = frozenset(_COMMON_WORDS_TEXT.split())

# A description needs at least this many word tokens to be matched. A one-word description
# such as "DOORMAT" or "MUG" names a kind of thing rather than one product.
MIN_PHRASE_TOKENS = 2


@dataclass(frozen=True)
class ProductMention:
    """A catalogue description found in a text, with the matched text and its token range."""

    description: str
    text: str
    first_token: int
    end_token: int


def phrase_key(text: str) -> tuple[str, ...]:
    return tuple(token_key(match.group()) for match in tokens(nfc(text)))


def is_distinctive(key: tuple[str, ...]) -> bool:
    """Return True when a description's tokens are specific enough to name one product."""
    if len(key) < MIN_PHRASE_TOKENS:
        return False
    return any(word not in COMMON_WORDS and not word.isdigit() for word in key)


class PhraseIndex:
    """Product descriptions keyed by their token tuples, for whole-phrase lookup in a text."""

    def __init__(self, descriptions: Iterable[str], distinctive_only: bool = True) -> None:
        self._phrases: dict[tuple[str, ...], str] = {}
        for description in sorted(descriptions):
            key = phrase_key(description)
            if key and (is_distinctive(key) or not distinctive_only):
                self._phrases.setdefault(key, description)
        self._lengths = sorted({len(key) for key in self._phrases}, reverse=True)

    def __len__(self) -> int:
        return len(self._phrases)

    def __contains__(self, key: object) -> bool:
        return key in self._phrases

    def find(self, text: str) -> list[ProductMention]:
        """Find every indexed phrase in `text`, line by line, so no match spans two lines."""
        mentions: list[ProductMention] = []
        offset = 0
        for line in nfc(text).split("\n"):
            mentions.extend(self._find_in_line(line, offset))
            offset += len(tokens(line))
        return mentions

    def _find_in_line(self, line: str, offset: int) -> list[ProductMention]:
        matches = tokens(line)
        keys = [token_key(match.group()) for match in matches]
        mentions = []
        for start in range(len(keys)):
            for length in self._lengths:
                if start + length > len(keys):
                    continue
                description = self._phrases.get(tuple(keys[start : start + length]))
                if description is None:
                    continue
                span = line[matches[start].start() : matches[start + length - 1].end()]
                mentions.append(
                    ProductMention(description, span, offset + start, offset + start + length)
                )
        return mentions


@lru_cache(maxsize=8)
def catalogue_index(catalogue: frozenset[str]) -> PhraseIndex:
    """Build, or reuse, the phrase index of a catalogue. A frozenset caches its own hash."""
    return PhraseIndex(catalogue)
