"""The brand profile, assembled from the front matter of a brand's knowledge-base documents.

Every document of `kb/<brand>/` contributes its front-matter keys: product guides
(`doc_type: product_guide`) each define one product family, and the other documents define
brand fields such as `postal_address` or `incentive_ladder`. A brand field may be set in one
document only.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.domain import BrandProfile, Channel, MessageKind, ProductFamily
from agent.knowledge.documents import (
    InvalidKnowledgeDocument,
    KnowledgeDocument,
    document_paths,
    is_valid_slug,
    read_documents,
    validation_details,
)

logger = logging.getLogger(__name__)

FAMILY_FIELDS = frozenset(ProductFamily.model_fields)
BRAND_FIELDS = frozenset(BrandProfile.model_fields) - {"brand_id", "families"}
COPY_FIELDS = frozenset({"subject", "body", "call_to_action"})
# "ugc" is the referral invite that requests a photo or video review from an advocate.
COPY_VARIANTS = frozenset({"offer", "ugc"} | {channel.value for channel in Channel})
OFFER_PLACEHOLDER = "{offer}"
MAX_SUBJECT_CHARS = 60
MAX_CALL_TO_ACTION_CHARS = 30

# Keyword tokens: runs of letters and digits, joined by inner hyphens or apostrophes
# (T-LIGHT, 50'S), and the ampersand (SNAKES & LADDERS). Everything else separates words.
_TOKEN = re.compile(r"[A-Z0-9]+(?:['\-][A-Z0-9]+)*|&")


class BrandNotFound(LookupError):
    """No folder for the requested brand exists in the knowledge-base folder."""

    def __init__(self, brand_id: str, kb_dir: Path, available: list[str]) -> None:
        self.brand_id = brand_id
        self.kb_dir = kb_dir
        self.available = available
        super().__init__(self._message())

    def _choices(self) -> str:
        return ", ".join(self.available) if self.available else "none"

    def _message(self) -> str:
        return (
            f"brand {self.brand_id!r} not found in the knowledge-base folder "
            f"{str(self.kb_dir)!r}; available brands: {self._choices()}. Pass one of them, "
            f"or add the folder {str(self.kb_dir / self.brand_id)!r} with Markdown documents"
        )


class BrandFolderEmpty(BrandNotFound):
    """The brand's folder exists but contains no Markdown documents."""

    def _message(self) -> str:
        return (
            f"the folder {str(self.kb_dir / self.brand_id)!r} of brand {self.brand_id!r} "
            "contains no Markdown documents; add `.md` files with YAML front matter to it, "
            f"or pass one of the available brands: {self._choices()}"
        )


def list_brands(kb_dir: Path) -> list[str]:
    """Return the ids of the brand folders in `kb_dir` that contain Markdown documents."""
    if not kb_dir.is_dir():
        return []
    brands = []
    for child in sorted(kb_dir.iterdir()):
        if not child.is_dir() or child.name.startswith(".") or not document_paths(child):
            continue
        if is_valid_slug(child.name):
            brands.append(child.name)
        else:
            logger.warning(
                "ignoring kb folder %s: a brand id is lower-case letters, digits and hyphens, "
                "such as `summer-sale`; rename the folder",
                child,
            )
    return brands


def brand_dir(kb_dir: Path, brand_id: str) -> Path:
    """Return the folder of `brand_id`.

    Raises BrandNotFound when there is no such folder, and its subclass BrandFolderEmpty when
    the folder contains no Markdown documents (hidden files and folders do not count).
    """
    folder = kb_dir / brand_id
    if not is_valid_slug(brand_id) or not folder.is_dir():
        raise BrandNotFound(brand_id, kb_dir, list_brands(kb_dir))
    if not document_paths(folder):
        raise BrandFolderEmpty(brand_id, kb_dir, list_brands(kb_dir))
    return folder


# --- loading ------------------------------------------------------------------------

_cache: dict[str, tuple[tuple[tuple[str, int, int], ...], BrandProfile]] = {}
_cache_lock = threading.Lock()


def load_brand(kb_dir: Path, brand_id: str) -> BrandProfile:
    """Load and validate the profile of `brand_id` from `kb_dir/<brand_id>/`.

    The result is cached until a document of the brand is added, removed or modified.
    Raises BrandNotFound, or InvalidKnowledgeDocument naming the file and the field.
    """
    folder = brand_dir(kb_dir, brand_id)
    key = str(folder.resolve())
    signature = _folder_signature(folder)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1].model_copy(deep=True)

    profile = assemble_brand(brand_id, read_documents(folder, brand_id))
    logger.debug("loaded brand %s with %s product families", brand_id, len(profile.families))
    with _cache_lock:
        _cache[key] = (signature, profile)
    return profile.model_copy(deep=True)


def _folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for path in document_paths(folder):
        stat = path.stat()
        entries.append((path.relative_to(folder).as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def assemble_brand(brand_id: str, documents: list[KnowledgeDocument]) -> BrandProfile:
    """Build a BrandProfile from already-read documents."""
    values: dict[str, Any] = {"brand_id": brand_id}
    origins: dict[str, Path] = {}
    families: list[ProductFamily] = []
    for document in documents:
        if document.meta.doc_type == "product_guide":
            families.append(_family_from(document))
        else:
            _collect_brand_fields(document, values, origins)
    _check_unique_families(families, documents)
    values["families"] = families
    profile = _validate_profile(brand_id, values, origins, documents)
    _check_ladder(profile, origins)
    _check_approved_copy(profile, origins)
    return profile


def _family_from(document: KnowledgeDocument) -> ProductFamily:
    unknown = sorted(set(document.fields) - FAMILY_FIELDS)
    if unknown:
        raise InvalidKnowledgeDocument(
            document.path,
            unknown[0],
            f"is not a product-guide field; allowed: {', '.join(sorted(FAMILY_FIELDS))}",
        )
    try:
        family = ProductFamily.model_validate(document.fields)
    except ValidationError as exc:
        location, message = validation_details(exc)
        raise InvalidKnowledgeDocument(document.path, location, message) from exc
    _check_keywords(document.path, family)
    return family


def _check_keywords(path: Path, family: ProductFamily) -> None:
    if not is_valid_slug(family.family_id):
        raise InvalidKnowledgeDocument(
            path, "family_id", f"{family.family_id!r} must be lower-case words joined by hyphens"
        )
    if not family.keywords:
        raise InvalidKnowledgeDocument(path, "keywords", "must list at least one keyword")
    for index, keyword in enumerate(family.keywords):
        if keyword != keyword.upper() or not _tokens(keyword):
            raise InvalidKnowledgeDocument(
                path, f"keywords.{index}", f"{keyword!r} must be an upper-case word or phrase"
            )


def _collect_brand_fields(
    document: KnowledgeDocument, values: dict[str, Any], origins: dict[str, Path]
) -> None:
    for name, value in document.fields.items():
        if name == "brand_id":
            if value != values["brand_id"]:
                raise InvalidKnowledgeDocument(
                    document.path,
                    "brand_id",
                    f"{value!r} does not match the folder name {values['brand_id']!r}",
                )
            continue
        if name not in BRAND_FIELDS:
            raise InvalidKnowledgeDocument(
                document.path, name, "is not a brand field or a document field"
            )
        if name in origins:
            raise InvalidKnowledgeDocument(
                document.path, name, f"is already set in {str(origins[name])!r}"
            )
        values[name] = value
        origins[name] = document.path


def _check_unique_families(
    families: list[ProductFamily], documents: list[KnowledgeDocument]
) -> None:
    guides = [d for d in documents if d.meta.doc_type == "product_guide"]
    seen: dict[str, Path] = {}
    for family, document in zip(families, guides, strict=True):
        other = seen.setdefault(family.family_id, document.path)
        if other != document.path:
            raise InvalidKnowledgeDocument(
                document.path,
                "family_id",
                f"{family.family_id!r} is already used by {str(other)!r}",
            )


def _validate_profile(
    brand_id: str,
    values: dict[str, Any],
    origins: dict[str, Path],
    documents: list[KnowledgeDocument],
) -> BrandProfile:
    try:
        return BrandProfile.model_validate(values)
    except ValidationError as exc:
        location, message = validation_details(exc)
        top = (location or "").split(".")[0]
        path = origins.get(top)
        if path is None:
            # A required field that no document sets: point at the brand folder.
            folder = documents[0].path.parent if documents else Path(brand_id)
            raise InvalidKnowledgeDocument(
                folder, location, f"{message}; set it in the front matter of one document"
            ) from exc
        raise InvalidKnowledgeDocument(path, location, message) from exc


def _check_ladder(profile: BrandProfile, origins: dict[str, Path]) -> None:
    ladder = profile.incentive_ladder
    if not ladder:
        return
    path = origins["incentive_ladder"]
    if ladder[0].min_lifetime_spend != 0:
        raise InvalidKnowledgeDocument(
            path, "incentive_ladder.0.min_lifetime_spend", "the first rung must start at 0"
        )
    for index in range(1, len(ladder)):
        if ladder[index].min_lifetime_spend <= ladder[index - 1].min_lifetime_spend:
            raise InvalidKnowledgeDocument(
                path,
                f"incentive_ladder.{index}.min_lifetime_spend",
                "rungs must be listed in strictly increasing order of spend",
            )
    segments = [step.segment for step in ladder]
    if len(set(segments)) != len(segments):
        raise InvalidKnowledgeDocument(path, "incentive_ladder", "segment names must be unique")


def _check_approved_copy(profile: BrandProfile, origins: dict[str, Path]) -> None:
    for key, copy in profile.approved_copy.items():
        problem = _copy_key_problem(key) or _copy_value_problem(key, copy)
        if problem:
            raise InvalidKnowledgeDocument(
                origins["approved_copy"], f"approved_copy.{key}", problem
            )


def _copy_key_problem(key: str) -> str | None:
    kind, _, variant = key.partition("/")
    if kind not in {k.value for k in MessageKind}:
        return f"{kind!r} is not a message kind"
    if variant and variant not in COPY_VARIANTS:
        return f"{variant!r} is not a variant; use one of {', '.join(sorted(COPY_VARIANTS))}"
    return None


def _copy_value_problem(key: str, copy: dict[str, str]) -> str | None:
    if set(copy) != COPY_FIELDS:
        return f"must have exactly the fields {', '.join(sorted(COPY_FIELDS))}"
    if any(not value.strip() for value in copy.values()):
        return "no field may be empty"
    if len(copy["subject"]) > MAX_SUBJECT_CHARS:
        return f"subject is longer than {MAX_SUBJECT_CHARS} characters"
    if len(copy["call_to_action"]) > MAX_CALL_TO_ACTION_CHARS:
        return f"call_to_action is longer than {MAX_CALL_TO_ACTION_CHARS} characters"
    has_offer = OFFER_PLACEHOLDER in copy["body"]
    if key.endswith("/offer") != has_offer:
        return f"the body must contain {OFFER_PLACEHOLDER} exactly when the key ends in /offer"
    if any(char.isdigit() for value in copy.values() for char in value):
        return "approved copy must not contain numbers"
    return None


# --- classification -----------------------------------------------------------------


@dataclass(frozen=True)
class _KeywordIndex:
    # Keyword as a token tuple -> (character length, family position, family id).
    entries: dict[tuple[str, ...], tuple[int, int, str]]
    max_words: int


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.upper()))


@lru_cache(maxsize=32)
def _keyword_index(families: tuple[tuple[str, tuple[str, ...]], ...]) -> _KeywordIndex:
    entries: dict[tuple[str, ...], tuple[int, int, str]] = {}
    for position, (family_id, keywords) in enumerate(families):
        for keyword in keywords:
            tokens = _tokens(keyword)
            rank = (len(" ".join(tokens)), position, family_id)
            # The same keyword in two families belongs to the earlier family.
            entries.setdefault(tokens, rank)
    max_words = max((len(tokens) for tokens in entries), default=0)
    return _KeywordIndex(entries, max_words)


def classify_family(description: str, brand: BrandProfile) -> str | None:
    """Return the family id whose keyword matches `description`, or None.

    Keywords match whole words of the upper-cased description. The longest matching keyword
    (in characters) wins, and a tie goes to the family listed first in `brand.families`.
    """
    key = tuple((family.family_id, tuple(family.keywords)) for family in brand.families)
    index = _keyword_index(key)
    tokens = _tokens(description)
    best: tuple[int, int, str] | None = None
    for start in range(len(tokens)):
        for width in range(1, min(index.max_words, len(tokens) - start) + 1):
            rank = index.entries.get(tokens[start : start + width])
            if rank is not None and (best is None or (-rank[0], rank[1]) < (-best[0], best[1])):
                best = rank
    return best[2] if best else None
