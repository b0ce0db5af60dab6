"""Topics of short customer texts: sentence embeddings clustered with k-means, labelled with
their most distinctive words, and illustrated by short snippets that name no one.

Embeddings come from the project's all-MiniLM-L6-v2 model (`OnnxEmbedder`), which returns
unit-length vectors, so Euclidean k-means on them groups by cosine similarity.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import silhouette_score

from agent.knowledge.embeddings import OnnxEmbedder, default_embedder

MIN_TOPICS = 4
MAX_TOPICS = 10
# Texts per topic below which a k is not tried: a topic needs enough texts to label.
MIN_TEXTS_PER_TOPIC = 15
TOP_WORDS = 6
SNIPPET_CHARS = 140
# Texts nearest a topic's centre that are tried, in order, as its example snippets.
SNIPPET_CANDIDATES = 40
KMEANS_RESTARTS = 4
# Texts the silhouette is computed on, since its cost grows with the square of the count.
SILHOUETTE_SAMPLE = 2_000

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CONTACT = re.compile(r"@|https?://|www\.|\d{4,}")
# Capitalised words that are not names, though their lower-case form is rare in reviews.
_NOT_NAMES = frozenset({"I", "I'm", "I've", "I'd", "I'll", "OK", "Ok"})


class TopicError(ValueError):
    """The texts cannot be clustered, such as when there are too few of them."""


@dataclass(frozen=True)
class TopicModel:
    """Topic labels of `texts` in input order, with what the clustering produced."""

    labels: np.ndarray
    vectors: np.ndarray
    centroids: np.ndarray
    n_topics: int
    silhouette: float
    # Silhouette per k tried when the number of topics was chosen, else empty.
    tried: dict[int, float]


def embed_texts(texts: Sequence[str], embedder: OnnxEmbedder | None = None) -> np.ndarray:
    vectors = (embedder or default_embedder()).embed(list(texts))
    return np.asarray(vectors, dtype=np.float32)


def cluster(vectors: np.ndarray, *, n_topics: int | None = None, seed: int = 0) -> TopicModel:
    """Cluster unit vectors with k-means; without `n_topics`, keep the k of best silhouette.

    k runs from MIN_TOPICS to MAX_TOPICS, capped so that each topic could hold
    MIN_TEXTS_PER_TOPIC texts. Silhouette uses the cosine distance.
    """
    count = len(vectors)
    if n_topics is not None:
        if not 2 <= n_topics < count:
            raise TopicError(
                f"n_topics must be from 2 to {count - 1} for {count} texts, got {n_topics}"
            )
        candidates = [n_topics]
    else:
        largest = min(MAX_TOPICS, count // MIN_TEXTS_PER_TOPIC)
        if largest < 2:
            raise TopicError(
                f"{count} texts are too few to find topics; at least {2 * MIN_TEXTS_PER_TOPIC} "
                "are needed"
            )
        candidates = list(range(min(MIN_TOPICS, largest), largest + 1))

    tried: dict[int, float] = {}
    best: tuple[float, int, KMeans] | None = None
    for k in candidates:
        model = KMeans(n_clusters=k, n_init=KMEANS_RESTARTS, random_state=seed).fit(vectors)
        score = float(
            silhouette_score(
                vectors,
                model.labels_,
                metric="cosine",
                sample_size=min(count, SILHOUETTE_SAMPLE),
                random_state=seed,
            )
        )
        tried[k] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, k, model)
    assert best is not None
    score, k, model = best
    return TopicModel(
        labels=model.labels_,
        vectors=vectors,
        centroids=model.cluster_centers_,
        n_topics=k,
        silhouette=score,
        tried=tried if n_topics is None else {},
    )


def distinctive_words(
    texts: Sequence[str], labels: np.ndarray, *, top: int = TOP_WORDS
) -> dict[int, list[str]]:
    """Return each topic's most distinctive words and two-word phrases.

    All texts of a topic form one class, as in class-based TF-IDF. A term t scores
    p(t|c) * log(p(t|c) / p(t)) in topic c: its share of the topic's terms, weighted by how
    much more often the topic uses it than all texts do. Words that every topic uses at the
    same rate, such as "love" in reviews, score near 0, unlike with plain term frequency.
    English stop words are left out.
    """
    vectorizer = CountVectorizer(
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b",
        ngram_range=(1, 2),
        min_df=min(3, len(texts)),
    )
    counts = vectorizer.fit_transform(texts)
    topics = sorted(set(labels.tolist()))
    per_topic = np.vstack([np.asarray(counts[labels == t].sum(axis=0)).ravel() for t in topics])
    per_topic = per_topic.astype(float)
    in_topic = per_topic / np.clip(per_topic.sum(axis=1, keepdims=True), 1, None)
    overall = per_topic.sum(axis=0) / max(per_topic.sum(), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(in_topic > 0, in_topic * np.log(in_topic / overall), 0.0)
    vocabulary = vectorizer.get_feature_names_out()
    return {
        topic: _distinct_terms(vocabulary, weights[row], top) for row, topic in enumerate(topics)
    }


def _distinct_terms(vocabulary: np.ndarray, weights: np.ndarray, top: int) -> list[str]:
    """Return the top terms, leaving out a word already shown inside a chosen phrase."""
    chosen: list[str] = []
    for index in np.argsort(-weights):
        if weights[index] <= 0 or len(chosen) == top:
            break
        term = str(vocabulary[index])
        words = set(term.split())
        if any(words & set(other.split()) for other in chosen):
            continue
        chosen.append(term)
    return chosen


def lowercase_vocabulary(texts: Sequence[str], min_count: int = 3) -> frozenset[str]:
    """Return the words written in lower case at least `min_count` times across `texts`."""
    counts = Counter(word for text in texts for word in _WORD.findall(text) if word.islower())
    return frozenset(word for word, count in counts.items() if count >= min_count)


def may_name_someone(text: str, vocabulary: frozenset[str]) -> bool:
    """Return True when `text` contains contact details or a capitalised word that may be a name.

    A capitalised word passes when it is all upper case (sizes such as XS) or its lower-case
    form is a common word of the corpus (`vocabulary`), as sentence-initial words are.
    NOTE: a name that is also a common word, such as Rose, passes this check.
    """
    if _CONTACT.search(text):
        return True
    for word in _WORD.findall(text):
        if word in _NOT_NAMES or word.isupper() or not word[0].isupper():
            continue
        if word.lower() not in vocabulary:
            return True
    return False


def shorten(text: str, limit: int = SNIPPET_CHARS) -> str:
    """Return the first sentences of `text` that fit in `limit` characters, or a cut one."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        joined = f"{kept} {sentence}".strip()
        if len(joined) > limit:
            break
        kept = joined
    if kept:
        return kept
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-") + "…"


def snippets(
    texts: Sequence[str],
    model: TopicModel,
    topic: int,
    vocabulary: frozenset[str],
    *,
    count: int = 2,
) -> list[str]:
    """Return up to `count` short texts nearest the topic's centre that name no one."""
    members = np.flatnonzero(model.labels == topic)
    similarity = model.vectors[members] @ model.centroids[topic]
    chosen: list[str] = []
    for index in members[np.argsort(-similarity)][:SNIPPET_CANDIDATES]:
        snippet = shorten(texts[index])
        if snippet not in chosen and not may_name_someone(snippet, vocabulary):
            chosen.append(snippet)
        if len(chosen) == count:
            break
    return chosen
