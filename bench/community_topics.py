"""Time topic clustering of real reviews, and compare its quality with a TF-IDF reference.

Usage: python -m bench.community_topics [PATH] [--sample N] [--seed S] [--topics K]

PATH defaults to womens_clothing_ecommerce_reviews.csv.gz in $AFTERCARE_TEST_DATA_DIR, or
in ../shared/data next to the repository. A seeded random sample of N reviews (3,000 by
default, as in the community insights) is clustered two ways:

- embeddings: all-MiniLM-L6-v2 int8 sentence embeddings and k-means, as
  `agent.signals.community` does (k chosen by silhouette unless --topics is given);
- reference: TF-IDF vectors of the same texts (English stop words left out) and k-means
  with the same k.

Silhouettes are computed with the cosine distance, each clustering in both vector spaces,
because a clustering scores best in the space it was made in. Agreement with the reviews'
department labels (adjusted mutual information, 0 for chance) is an outside check.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_mutual_info_score, silhouette_score

from agent.knowledge.embeddings import MODEL_NAME, OnnxEmbedder
from agent.signals.community import (
    DEFAULT_SAMPLE_SIZE,
    DEFAULT_SEED,
    load_clothing_reviews,
    sample_frame,
)
from agent.signals.topics import KMEANS_RESTARTS, SILHOUETTE_SAMPLE, cluster
from bench.machine import cpu_model

FILE_NAME = "womens_clothing_ecommerce_reviews.csv.gz"
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_path() -> Path:
    folder = os.environ.get("AFTERCARE_TEST_DATA_DIR")
    base = Path(folder) if folder else REPO_ROOT.parent / "shared" / "data"
    return base / FILE_NAME


def silhouette(vectors: object, labels: np.ndarray, seed: int) -> float:
    size = min(len(labels), SILHOUETTE_SAMPLE)
    score = silhouette_score(vectors, labels, metric="cosine", sample_size=size, random_state=seed)
    return float(score)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=default_path())
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE_SIZE)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--topics", type=int, default=None, help="k; chosen by silhouette if unset")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    args = parser.parse_args(argv)
    if not args.path.is_file():
        print(f"reviews file not found: {args.path}; pass its path", file=sys.stderr)
        return 2

    corpus = load_clothing_reviews(args.path)
    sample, _ = sample_frame(corpus.frame, args.sample, args.seed)
    texts = list(sample["text"])
    departments = sample["department"].fillna("none").to_numpy()
    print(f"{len(texts):,} of {len(corpus.frame):,} reviews, seed {args.seed}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")

    embedder = OnnxEmbedder(threads=args.threads)
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    embed_s = time.perf_counter() - started

    started = time.perf_counter()
    model = cluster(vectors, n_topics=args.topics, seed=args.seed)
    cluster_s = time.perf_counter() - started

    started = time.perf_counter()
    tfidf = TfidfVectorizer(stop_words="english", min_df=3).fit_transform(texts)
    kmeans = KMeans(n_clusters=model.n_topics, n_init=KMEANS_RESTARTS, random_state=args.seed)
    reference = kmeans.fit_predict(tfidf)
    reference_s = time.perf_counter() - started

    rows = [
        (
            f"embeddings ({MODEL_NAME})",
            embed_s,
            cluster_s,
            silhouette(vectors, model.labels, args.seed),
            silhouette(tfidf, model.labels, args.seed),
            adjusted_mutual_info_score(departments, model.labels),
        ),
        (
            "reference (TF-IDF)",
            0.0,
            reference_s,
            silhouette(vectors, reference, args.seed),
            silhouette(tfidf, reference, args.seed),
            adjusted_mutual_info_score(departments, reference),
        ),
    ]
    tried = ", ".join(f"k={k}: {score:.3f}" for k, score in model.tried.items()) or "k given"
    print(f"k = {model.n_topics} ({tried})")
    print(
        f"{'clustering':<40} {'embed s':>8} {'cluster s':>9} {'sil. emb':>9} {'sil. tfidf':>10} "
        f"{'AMI dept':>9}"
    )
    for name, embed, clustering, in_embeddings, in_tfidf, ami in rows:
        print(
            f"{name:<40} {embed:>8.1f} {clustering:>9.1f} {in_embeddings:>9.3f} "
            f"{in_tfidf:>10.3f} {ami:>9.3f}"
        )
    print(
        "silhouette in embedding space: "
        f"embeddings {rows[0][3]:.3f} vs reference {rows[1][3]:.3f}; "
        "in TF-IDF space: "
        f"embeddings {rows[0][4]:.3f} vs reference {rows[1][4]:.3f}"
    )
    if rows[1][5] > 0:
        print(f"department agreement (AMI), embeddings / reference: {rows[0][5] / rows[1][5]:.2f}x")
    total = embed_s + cluster_s
    print(f"time with embedding, embeddings / reference: {total / reference_s:.0f}x")
    print(f"texts embedded per second: {len(texts) / embed_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
