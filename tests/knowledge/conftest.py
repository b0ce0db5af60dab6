"""Fixtures for the knowledge-base tests: the real embedder, real kb folder and tmp indexes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.config import Settings
from agent.knowledge.embeddings import OnnxEmbedder
from agent.knowledge.ingest import IngestReport, ingest

REPO_ROOT = Path(__file__).resolve().parents[2]
KB_DIR = REPO_ROOT / "kb"
BRAND = "hearth-and-holly"
# A subset of the demo brand that still defines every required brand field.
SMALL_KB_FILES = (
    "brand.md",
    "voice.md",
    "compliance.md",
    "incentives.md",
    "delivery-returns.md",
    "approved-copy.md",
    "guides/01-candles-and-lighting.md",
    "guides/04-textiles-and-warmers.md",
)


def make_settings(data_dir: Path, kb_dir: Path = KB_DIR) -> Settings:
    return Settings(
        data_dir=data_dir,
        chroma_path=data_dir / "chroma",
        chroma_url=None,
        kb_dir=kb_dir,
        default_brand=BRAND,
    )


def copy_small_kb(target: Path) -> Path:
    """Copy a subset of the demo brand into `target/<brand>/` and return `target`."""
    for relative in SMALL_KB_FILES:
        destination = target / BRAND / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(KB_DIR / BRAND / relative, destination)
    return target


class MemoisedEmbedder(OnnxEmbedder):
    """The real embedder, remembering each text's vector so repeated ingests run faster."""

    def __init__(self) -> None:
        super().__init__()
        self._vectors: dict[str, list[float]] = {}

    def embed(self, texts: list[str]) -> list[list[float]]:
        missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        self._vectors.update(zip(missing, super().embed(missing), strict=True))
        return [self._vectors[text] for text in texts]


@pytest.fixture(scope="session")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder()


@pytest.fixture(scope="session")
def index_embedder() -> OnnxEmbedder:
    """The embedder for tests that build indexes; vectors equal OnnxEmbedder's."""
    return MemoisedEmbedder()


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory, index_embedder: OnnxEmbedder) -> Settings:
    """Settings whose index contains the whole demo knowledge base. Tests must not modify it."""
    settings = make_settings(tmp_path_factory.mktemp("ingested"))
    ingest(settings, embedder=index_embedder)
    return settings


@pytest.fixture
def small_kb(tmp_path: Path) -> Settings:
    """Settings with a writable copy of part of the demo kb and an empty data folder."""
    return make_settings(tmp_path / "var", copy_small_kb(tmp_path / "kb"))


@pytest.fixture
def small_ingested(
    small_kb: Settings, index_embedder: OnnxEmbedder
) -> tuple[Settings, IngestReport]:
    return small_kb, ingest(small_kb, embedder=index_embedder)
