"""Reading one knowledge-base document: YAML errors and invalid fields name the file line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.knowledge.documents import (
    InvalidKnowledgeDocument,
    normalise_topic,
    read_document,
)

VALID = "---\ndoc_id: notes\ntitle: Notes\ndoc_type: policy\nkinds: all\ntopics: [notes]\n---\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "notes.md"
    path.write_text(text, encoding="utf-8")
    return path


def read_error(path: Path) -> InvalidKnowledgeDocument:
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        read_document(path, path.parent, "shop")
    return caught.value


@pytest.mark.parametrize(
    ("front_matter", "line"),
    [
        # A second colon on line 3 of the file.
        ("doc_id: notes\ntitle: Delivery: and returns\n", 3),
        # A tab that breaks the indentation on line 4.
        ("doc_id: notes\ntitle: Notes\n\tdoc_type: policy\n", 4),
        # An unclosed flow sequence, reported at the colon on line 4 where a `]` was due.
        ("doc_id: notes\nkinds: [winback\ntitle: Notes\nfoo: bar\n", 4),
    ],
)
def test_yaml_error_names_file_line(tmp_path: Path, front_matter: str, line: int) -> None:
    path = write(tmp_path, f"---\n{front_matter}---\n\nBody.\n")
    error = read_error(path)
    assert error.line == line
    assert f"{path}:{line}" in str(error)
    assert "not valid YAML" in str(error)


def test_yaml_error_line_after_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "---\n\n\ndoc_id: notes\ntitle: a: b\n---\n\nBody.\n")
    assert read_error(path).line == 5


def test_yaml_error_names_opening_line(tmp_path: Path) -> None:
    path = write(tmp_path, "---\ndoc_id: notes\nkinds: [winback\ntitle: Notes\n---\n\nBody.\n")
    assert "flow sequence that starts on line 3" in str(read_error(path))


def test_yaml_error_message_has_column(tmp_path: Path) -> None:
    path = write(tmp_path, "---\ntitle: Delivery: and returns\n---\n\nBody.\n")
    assert "column 16" in str(read_error(path))


def test_invalid_field_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("kinds: all", "kinds: [gifts]") + "\nBody.\n")
    error = read_error(path)
    assert error.field == "kinds"
    assert error.line == 5
    assert f"{path}:5" in str(error)


def test_missing_field_has_no_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("title: Notes\n", "") + "\nBody.\n")
    error = read_error(path)
    assert error.field == "title"
    assert error.line is None
    assert f"{str(path)!r}" in str(error)


def test_topics_normalised_for_filters(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("[notes]", "[Soft  Opt-In, PECR, pecr]") + "\nBody.\n")
    meta = read_document(path, tmp_path, "shop").meta
    assert meta.topic_keys() == ["soft opt-in", "pecr"]
    assert meta.topics == ["Soft  Opt-In", "PECR", "pecr"]


def test_normalise_topic_collapses_whitespace() -> None:
    assert normalise_topic("  Damaged\tItems ") == "damaged items"


def test_duplicate_front_matter_key_rejected(tmp_path) -> None:
    from agent.knowledge.documents import InvalidKnowledgeDocument, read_front_matter

    path = tmp_path / "voice.md"
    path.write_text(
        "---\ndoc_id: voice\nbanned_phrases: [a]\ntitle: Voice\nbanned_phrases: [b]\n---\n\nText\n"
    )
    with pytest.raises(InvalidKnowledgeDocument) as error:
        read_front_matter(path)
    assert "duplicate key 'banned_phrases'" in str(error.value)
    assert "voice.md:5" in str(error.value)
