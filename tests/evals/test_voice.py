"""Brand-voice similarity: exemplars from the knowledge base, scored with the real embedder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT
from agent.evals.voice import (
    VoiceScorer,
    approved_exemplars,
    brand_exemplars,
    quoted_exemplars,
    reference_similarity,
)
from agent.knowledge.embeddings import default_embedder

KB_DIR = PROJECT_ROOT / "kb"


def test_approved_exemplars_fill_offer() -> None:
    texts = approved_exemplars(KB_DIR, "hearth-and-holly")
    assert any(text.startswith("Thank you for your order") for text in texts)
    assert not any("{offer}" in text for text in texts)
    assert any("an offer" in text for text in texts)


def test_quoted_exemplars_join_lines(tmp_path: Path) -> None:
    voice = tmp_path / "voice.md"
    voice.write_text(
        "---\ndoc_id: voice\n---\n# Voice\n\n> Thank you for your order.\n> It is on its way.\n\n"
        "Plain text.\n\n>  A second example.\n",
        encoding="utf-8",
    )
    assert quoted_exemplars(voice) == [
        "Thank you for your order. It is on its way.",
        "A second example.",
    ]
    assert quoted_exemplars(tmp_path / "absent.md") == []


def test_brand_exemplars_include_voice_quotes(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    voice = kb / "linen-and-lark" / "voice.md"
    voice.write_text(voice.read_text(encoding="utf-8") + "\n> Your linen dress is cut to last.\n")
    texts = brand_exemplars(kb, "linen-and-lark")
    assert texts[-1] == "Your linen dress is cut to last."
    assert len(texts) == len(approved_exemplars(kb, "linen-and-lark")) + 1


@pytest.fixture(scope="module")
def scorer() -> VoiceScorer:
    return VoiceScorer(KB_DIR, default_embedder())


def test_own_approved_copy_scores_positive_margin(scorer: VoiceScorer) -> None:
    hearth = scorer.score(
        "hearth-and-holly", "There are new gifts and homeware to browse at Hearth & Holly."
    )
    linen = scorer.score("linen-and-lark", "We hope your new clothes feel like yours.")
    assert hearth is not None and hearth.margin is not None
    assert linen is not None and linen.margin is not None
    assert hearth.margin > 0
    assert linen.margin > 0


def test_brand_copy_beats_unrelated_text(scorer: VoiceScorer) -> None:
    on_brand = scorer.score("linen-and-lark", "Caring for your new clothes keeps their shape.")
    off_brand = scorer.score("linen-and-lark", "Quarterly revenue rose on strong server sales.")
    assert on_brand is not None and off_brand is not None
    assert on_brand.similarity > off_brand.similarity


def test_blank_text_has_no_score(scorer: VoiceScorer) -> None:
    assert scorer.score("hearth-and-holly", "   ") is None


def test_reference_similarity_orders_texts() -> None:
    embedder = default_embedder()
    reference = "How are you finding your t-light holder? An honest review would help."
    close = reference_similarity(
        embedder, "How is your t-light holder? Please review it.", reference
    )
    far = reference_similarity(embedder, "Your parcel has left the warehouse.", reference)
    assert close > far
