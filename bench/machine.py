"""Shared benchmark helpers: the machine description and the knowledge base's chunk texts."""

from __future__ import annotations

import platform
from pathlib import Path

from agent.config import Settings
from agent.knowledge.brand import list_brands
from agent.knowledge.ingest import prepare_chunks


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or what `platform` reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def chunk_texts(settings: Settings) -> list[str]:
    """Return the text of every chunk of every brand, as ingest would split it."""
    texts: list[str] = []
    for brand in list_brands(settings.kb_dir):
        _, chunks = prepare_chunks(settings, brand)
        texts += [chunk.text for chunk in chunks]
    return texts
