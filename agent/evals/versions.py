"""Content hashes of what shapes a draft: the model file, prompts, templates and each brand's kb.

Two runs with equal hashes drafted with the same inputs, so a difference between them comes
from sampling or code, not from an edited prompt or document.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.config import Settings
from agent.llm.local import check_model_file, default_model_path

HASH_CHUNK_BYTES = 1 << 20
# Folders and files that never change what is drafted.
IGNORED_NAMES = frozenset({"__pycache__", ".DS_Store"})


@dataclass(frozen=True)
class Versions:
    """The inputs a run drafted with. `model_hash` is None for a model behind an HTTP endpoint."""

    provider: str
    model: str
    model_hash: str | None
    prompts_hash: str
    templates_hash: str
    kb_hashes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Versions:
        return cls(**data)  # type: ignore[arg-type]

    def differences(self, other: Versions) -> list[str]:
        """Name what differs between two runs' inputs, such as `prompts` or `kb/<brand>`."""
        changed = []
        for name in ("provider", "model", "model_hash", "prompts_hash", "templates_hash"):
            if getattr(self, name) != getattr(other, name):
                changed.append(name.removesuffix("_hash"))
        for brand in sorted(set(self.kb_hashes) | set(other.kb_hashes)):
            if self.kb_hashes.get(brand) != other.kb_hashes.get(brand):
                changed.append(f"kb/{brand}")
        return changed


def file_hash(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def tree_hash(folder: Path) -> str:
    """Return the SHA-256 over every file under `folder`: relative paths and contents, sorted.

    Hidden files and folders are skipped. A missing folder hashes like an empty one.
    """
    digest = hashlib.sha256()
    if not folder.is_dir():
        return digest.hexdigest()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or _ignored(relative):
            continue
        digest.update(relative.as_posix().encode("utf-8") + b"\0")
        digest.update(file_hash(path).encode("ascii") + b"\0")
    return digest.hexdigest()


def _ignored(relative: Path) -> bool:
    return any(part.startswith(".") or part in IGNORED_NAMES for part in relative.parts)


def local_model_path(settings: Settings) -> Path:
    """Return the configured GGUF file, checked; raises ModelFileError when it is unusable."""
    path = settings.llm_model_path or default_model_path()
    check_model_file(path)
    return path


def collect_versions(settings: Settings, brands: list[str], model_name: str) -> Versions:
    """Hash the inputs of a run that drafts for `brands`.

    Raises ModelFileError when the local provider's model file is missing or not GGUF.
    """
    model_hash = None
    if settings.llm_provider == "local":
        model_hash = file_hash(local_model_path(settings))
    return Versions(
        provider=settings.llm_provider,
        model=model_name,
        model_hash=model_hash,
        prompts_hash=tree_hash(settings.prompts_dir),
        templates_hash=tree_hash(settings.templates_dir),
        kb_hashes={brand: tree_hash(settings.kb_dir / brand) for brand in sorted(set(brands))},
    )
