"""Exceptions that the knowledge store raises, with messages that name the fix."""

from __future__ import annotations

REBUILD_HINT = "run `aftercare kb ingest --rebuild`"


class KnowledgeStoreError(RuntimeError):
    """Base class for knowledge-store failures."""


class KnowledgeBaseNotIngested(KnowledgeStoreError):
    """The index has no chunks, or none for the requested brand."""

    def __init__(self, location: str, brand: str | None = None) -> None:
        self.location = location
        self.brand = brand
        subject = f"the knowledge base for brand {brand!r}" if brand else "the knowledge base"
        super().__init__(f"{subject} has no documents in {location}; run `aftercare kb ingest`")


class EmbeddingModelMismatch(KnowledgeStoreError):
    """The index was built with another embedding model than the one this build uses."""

    def __init__(self, location: str, stored: str, current: str) -> None:
        self.location = location
        self.stored = stored
        self.current = current
        super().__init__(
            f"the knowledge-base index in {location} was built with the embedding model "
            f"{stored!r}, but this build embeds with {current!r}; {REBUILD_HINT}"
        )


class KnowledgeBaseCorrupt(KnowledgeStoreError):
    """The Chroma files exist but cannot be read."""

    def __init__(self, location: str, detail: str) -> None:
        self.location = location
        super().__init__(
            f"the knowledge-base index in {location} cannot be read ({detail}); {REBUILD_HINT}"
        )


class KnowledgeStoreUnavailable(KnowledgeStoreError):
    """The Chroma server at `chroma_url` cannot be reached."""

    def __init__(self, location: str, detail: str) -> None:
        self.location = location
        super().__init__(
            f"cannot reach the Chroma server at {location} ({detail}); start it or unset "
            "AFTERCARE_CHROMA_URL to use the local index"
        )


class InvalidChromaUrl(KnowledgeStoreError, ValueError):
    """`chroma_url` is not an http(s) URL with a host."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"AFTERCARE_CHROMA_URL {url!r} is not an http(s) URL; use a form such as "
            "http://127.0.0.1:8000, or unset it to use the local index"
        )
