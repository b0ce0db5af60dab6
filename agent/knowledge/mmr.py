"""Maximal marginal relevance (MMR) selection of diverse search results."""

from __future__ import annotations

import numpy as np

# Maximal marginal relevance picks `k` chunks from `MMR_FETCH_FACTOR * k` nearest candidates.
MMR_FETCH_FACTOR = 4


def mmr_select(query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Return the row indices of up to `k` candidates in maximal marginal relevance order.

    Each step picks the candidate that maximises
    `lambda_mult * sim(query, c) - (1 - lambda_mult) * max(sim(c, s) for s already picked)`,
    with cosine similarity. Ties go to the lower index, that is the nearer candidate.
    """
    vectors = _unit_rows(np.atleast_2d(np.asarray(candidates, dtype=np.float32)))
    target = _unit_rows(np.atleast_2d(np.asarray(query, dtype=np.float32)))[0]
    relevance = vectors @ target
    similarity = vectors @ vectors.T
    chosen = [int(np.argmax(relevance))]
    redundancy = similarity[chosen[0]].copy()
    while len(chosen) < min(k, len(vectors)):
        scores = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        scores[chosen] = -np.inf
        best = int(np.argmax(scores))
        chosen.append(best)
        redundancy = np.maximum(redundancy, similarity[best])
    return chosen


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)
