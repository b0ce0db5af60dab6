"""Brand-voice similarity: how close a draft's copy sits to the brand's exemplar copy.

Exemplars are the approved copy in the brand's front matter (subject and body of each entry)
and every Markdown block quote (`> ...`) in `kb/<brand>/voice.md`. Each brand's exemplars
are embedded with the project's local embedder and averaged into one unit vector. A draft
scores the cosine between its subject and body and that vector. The margin subtracts the
best score against any other brand, so a positive margin means the copy reads more like its
own brand than like another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from agent.knowledge.brand import list_brands, load_brand
from agent.knowledge.documents import read_front_matter

VOICE_DOCUMENT = "voice.md"
# Stands in for the `{offer}` placeholder of approved win-back copy.
OFFER_STAND_IN = "an offer"
_QUOTE_LINE = re.compile(r"^\s{0,3}>\s?(?P<text>.*)$")


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class VoiceScore:
    similarity: float
    margin: float | None


def approved_exemplars(kb_dir: Path, brand_id: str) -> list[str]:
    brand = load_brand(kb_dir, brand_id)
    texts = []
    for fields in brand.approved_copy.values():
        parts = [fields.get("subject", ""), fields.get("body", "")]
        text = " ".join(part.strip() for part in parts if part.strip())
        if text:
            texts.append(text.replace("{offer}", OFFER_STAND_IN))
    return texts


def quoted_exemplars(voice_file: Path) -> list[str]:
    """Return the block quotes of a Markdown file, one text per quote, lines joined."""
    if not voice_file.is_file():
        return []
    _, body = read_front_matter(voice_file)
    quotes: list[str] = []
    current: list[str] = []
    for line in body.splitlines():
        match = _QUOTE_LINE.match(line)
        if match:
            current.append(match.group("text").strip())
            continue
        if current:
            quotes.append(" ".join(part for part in current if part))
            current = []
    if current:
        quotes.append(" ".join(part for part in current if part))
    return [quote for quote in quotes if quote]


def brand_exemplars(kb_dir: Path, brand_id: str) -> list[str]:
    voice_file = kb_dir / brand_id / VOICE_DOCUMENT
    return approved_exemplars(kb_dir, brand_id) + quoted_exemplars(voice_file)


class VoiceScorer:
    """Scores copy against every brand's exemplar centroid; embeds each brand once."""

    def __init__(self, kb_dir: Path, embedder: Embedder) -> None:
        self.kb_dir = kb_dir
        self.embedder = embedder
        self._centroids: dict[str, np.ndarray | None] = {}

    def centroid(self, brand_id: str) -> np.ndarray | None:
        if brand_id not in self._centroids:
            texts = brand_exemplars(self.kb_dir, brand_id)
            self._centroids[brand_id] = (
                _unit(np.mean(self._vectors(texts), axis=0)) if texts else None
            )
        return self._centroids[brand_id]

    def score(self, brand_id: str, text: str) -> VoiceScore | None:
        """Return the voice score of `text`, or None when the brand has no exemplars."""
        own = self.centroid(brand_id)
        if own is None or not text.strip():
            return None
        vector = self._vectors([text])[0]
        similarity = float(vector @ own)
        others = [
            float(vector @ centroid)
            for other in list_brands(self.kb_dir)
            if other != brand_id and (centroid := self.centroid(other)) is not None
        ]
        margin = similarity - max(others) if others else None
        return VoiceScore(round(similarity, 4), None if margin is None else round(margin, 4))

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embedder.embed(texts), dtype=np.float64)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def reference_similarity(embedder: Embedder, text: str, reference: str) -> float:
    """Return the cosine between a draft's copy and a case's reference copy."""
    first, second = np.asarray(embedder.embed([text, reference]), dtype=np.float64)
    return round(float(_unit(first) @ _unit(second)), 4)
