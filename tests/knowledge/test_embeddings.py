"""The ONNX sentence embedder and its Chroma adapter."""

from __future__ import annotations

import importlib.util
from importlib.machinery import ModuleSpec

import numpy as np
import pytest

from agent.knowledge import embeddings
from agent.knowledge.embeddings import (
    ChromaOnnxEmbeddingFunction,
    EmbeddingModelMissing,
    OnnxEmbedder,
)


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


PARAPHRASES = [
    ("Never leave a lit candle unattended.", "Do not leave burning candles alone."),
    ("How full should I fill my hot water bottle?", "How much water goes in a hot water bottle?"),
    ("Your order has been dispatched.", "We have sent your parcel on its way."),
]
UNRELATED = [
    ("Never leave a lit candle unattended.", "The quarterly VAT return is due in January."),
    ("How full should I fill my hot water bottle?", "Spread heavy items across the bag."),
    ("Your order has been dispatched.", "Children love playing snap with vintage cards."),
]


def test_vectors_have_model_dimension(embedder: OnnxEmbedder) -> None:
    vectors = embedder.embed(["jumbo bag red retrospot"])
    assert len(vectors) == 1
    assert len(vectors[0]) == embedder.dimension == 384


def test_vectors_have_unit_length(embedder: OnnxEmbedder) -> None:
    vectors = embedder.embed(["a", "regency cakestand three tier", "x " * 400])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_closer_than_unrelated(embedder: OnnxEmbedder) -> None:
    paraphrase_scores = [cosine(*embedder.embed([a, b])) for a, b in PARAPHRASES]
    unrelated_scores = [cosine(*embedder.embed([a, b])) for a, b in UNRELATED]
    assert min(paraphrase_scores) > max(unrelated_scores)
    assert min(paraphrase_scores) > 0.5


def test_embedding_is_deterministic(embedder: OnnxEmbedder) -> None:
    texts = ["Stand tea lights in a heat-resistant holder.", "Party bunting"]
    assert embedder.embed(texts) == embedder.embed(texts)


def test_batches_equal_single_texts(embedder: OnnxEmbedder) -> None:
    texts = ["short", "a much longer sentence about cake stands and tea sets " * 4, "mid length"]
    small_batches = OnnxEmbedder(batch_size=2)
    batched = np.array(small_batches.embed(texts))
    single = np.array([embedder.embed([text])[0] for text in texts])
    assert np.allclose(batched, single, atol=1e-5)


def test_output_keeps_input_order(embedder: OnnxEmbedder) -> None:
    texts = ["a long sentence about christmas paper chains " * 3, "bag"]
    forward = embedder.embed(texts)
    backward = embedder.embed(list(reversed(texts)))
    assert np.allclose(forward[0], backward[1], atol=1e-6)


def test_empty_list_returns_empty(embedder: OnnxEmbedder) -> None:
    assert embedder.embed([]) == []


def test_long_text_is_truncated(embedder: OnnxEmbedder) -> None:
    head = "candle safety " * 200
    vectors = embedder.embed([head, head + "completely different tail " * 50])
    assert cosine(vectors[0], vectors[1]) > 0.999


def test_invalid_thread_count_rejected() -> None:
    with pytest.raises(ValueError, match="threads"):
        OnnxEmbedder(threads=0)


def test_missing_model_package_names_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> ModuleSpec | None:
        return None if name == embeddings.MODEL_PACKAGE else real_find_spec(name, *args)

    monkeypatch.setattr(embeddings.importlib.util, "find_spec", find_spec)
    with pytest.raises(EmbeddingModelMissing) as caught:
        OnnxEmbedder()
    assert "pip install" in str(caught.value)
    assert embeddings.MODEL_PIP in str(caught.value)


def test_adapter_embeds_like_embedder(embedder: OnnxEmbedder) -> None:
    function = ChromaOnnxEmbeddingFunction(embedder)
    vectors = function(["tea set", "doormat"])
    assert np.allclose(np.array(vectors), np.array(embedder.embed(["tea set", "doormat"])))


def test_adapter_is_not_legacy(embedder: OnnxEmbedder) -> None:
    assert ChromaOnnxEmbeddingFunction(embedder).is_legacy() is False


def test_adapter_config_round_trip(embedder: OnnxEmbedder) -> None:
    config = ChromaOnnxEmbeddingFunction(embedder).get_config()
    rebuilt = ChromaOnnxEmbeddingFunction.build_from_config(config)
    assert rebuilt.get_config() == config
    assert config["model_name"] == "all-MiniLM-L6-v2-int8"
    assert config["dimension"] == 384


def test_adapter_rejects_other_model_config() -> None:
    with pytest.raises(ValueError, match="aftercare kb ingest --rebuild"):
        ChromaOnnxEmbeddingFunction.build_from_config({"model_name": "other", "dimension": 768})
