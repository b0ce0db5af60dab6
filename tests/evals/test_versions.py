"""Content hashes of a run's inputs."""

from __future__ import annotations

from pathlib import Path

from agent.evals.versions import Versions, tree_hash


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_tree_hash_follows_content_and_names(tmp_path: Path) -> None:
    write(tmp_path, "a.j2", "hello")
    first = tree_hash(tmp_path)
    write(tmp_path, "a.j2", "hello!")
    edited = tree_hash(tmp_path)
    (tmp_path / "a.j2").rename(tmp_path / "b.j2")
    renamed = tree_hash(tmp_path)
    assert len({first, edited, renamed}) == 3


def test_tree_hash_skips_hidden_files(tmp_path: Path) -> None:
    write(tmp_path, "a.j2", "hello")
    before = tree_hash(tmp_path)
    write(tmp_path, ".swap/a.j2", "editor state")
    write(tmp_path, "__pycache__/x.pyc", "bytes")
    assert tree_hash(tmp_path) == before


def test_missing_folder_hashes_like_empty(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert tree_hash(tmp_path / "absent") == tree_hash(tmp_path / "empty")


def test_versions_name_differences() -> None:
    base = Versions(
        "local", "m", "h1", "p1", "t1", {"hearth-and-holly": "k1", "linen-and-lark": "k2"}
    )
    other = Versions("local", "m", "h2", "p1", "t2", {"hearth-and-holly": "k1"})
    assert base.differences(other) == ["model", "templates", "kb/linen-and-lark"]
    assert Versions.from_dict(base.to_dict()) == base
