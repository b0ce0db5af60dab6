"""The golden-set loader: valid files, defaults, selection, and precise errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT
from agent.domain import DraftStatus, MessageKind
from agent.evals.golden import DEFAULT_GOLDEN_DIR, GoldenSetError, load_golden
from agent.knowledge.brand import list_brands
from tests.evals.conftest import case_data, write_golden

BRANDS = ["hearth-and-holly", "linen-and-lark"]


def load_error(path: Path) -> GoldenSetError:
    with pytest.raises(GoldenSetError) as caught:
        load_golden(path, brands=BRANDS)
    return caught.value


def test_loads_valid_case(tmp_path: Path) -> None:
    path = write_golden(tmp_path / "cases.yaml", [case_data()])
    golden = load_golden(path, brands=BRANDS)
    case = golden.select()[0]
    assert case.id == "of-email-basic"
    assert case.kind is MessageKind.ORDER_FOLLOWUP
    assert case.expect.status == [DraftStatus.READY]
    assert case.expect.facts[0].text == "Order 581001"
    assert case.expect.facts[0].where == "message"


def test_context_customer_id_defaults_to_case_id(tmp_path: Path) -> None:
    path = write_golden(tmp_path / "cases.yaml", [case_data()])
    assert load_golden(path).select()[0].context.customer_id == "of-email-basic"


def test_defaults_apply_and_tags_join(tmp_path: Path) -> None:
    case = case_data(tags=["own"])
    del case["brand"]
    defaults = {"brand": "linen-and-lark", "tags": ["file-wide"]}
    path = write_golden(tmp_path / "cases.yaml", [case], defaults)
    loaded = load_golden(path, brands=BRANDS).select()[0]
    assert loaded.brand == "linen-and-lark"
    assert loaded.tags == ["file-wide", "own"]


def test_status_accepts_single_value(tmp_path: Path) -> None:
    path = write_golden(tmp_path / "c.yaml", [case_data(expect={"status": "needs_review"})])
    assert load_golden(path).select()[0].expect.status == [DraftStatus.NEEDS_REVIEW]


def test_fact_with_area(tmp_path: Path) -> None:
    expect = {"status": "ready", "facts": [{"text": "t-light", "where": "subject"}]}
    path = write_golden(tmp_path / "c.yaml", [case_data(expect=expect)])
    fact = load_golden(path).select()[0].expect.facts[0]
    assert fact.where == "subject"
    assert fact.label() == "t-light (in subject)"


def test_select_by_tags_and_limit(tmp_path: Path) -> None:
    cases = [
        case_data(id="case-a", tags=["smoke", "email"]),
        case_data(id="case-b", tags=["smoke"]),
        case_data(id="case-c", tags=["email"]),
    ]
    golden = load_golden(write_golden(tmp_path / "c.yaml", cases))
    assert [c.id for c in golden.select(tags=["smoke"])] == ["case-a", "case-b"]
    assert [c.id for c in golden.select(tags=["smoke", "email"])] == ["case-a"]
    assert [c.id for c in golden.select(limit=2)] == ["case-a", "case-b"]
    assert golden.tags() == {"email": 2, "smoke": 2}


def test_folder_loads_files_in_name_order(tmp_path: Path) -> None:
    write_golden(tmp_path / "b.yaml", [case_data(id="case-b")])
    write_golden(tmp_path / "a.yml", [case_data(id="case-a")])
    (tmp_path / "notes.txt").write_text("not a golden file")
    assert [c.id for c in load_golden(tmp_path).select()] == ["case-a", "case-b"]


def test_content_hash_follows_edits(tmp_path: Path) -> None:
    path = write_golden(tmp_path / "c.yaml", [case_data()])
    before = load_golden(path).content_hash
    write_golden(path, [case_data(tags=["changed"])])
    assert load_golden(path).content_hash != before


def test_error_names_file_case_and_field(tmp_path: Path) -> None:
    path = write_golden(tmp_path / "bad.yaml", [case_data(expect={"status": "shipped"})])
    error = load_error(path)
    assert error.path == path
    assert error.case_id == "of-email-basic"
    assert error.field == "expect.status"
    assert "'shipped' is not a draft status" in error.reason
    assert str(path) in str(error)
    assert "case `of-email-basic`" in str(error)


def test_error_names_nested_context_field(tmp_path: Path) -> None:
    case = case_data()
    case["context"]["orders"][0]["lines"][0]["quantity"] = 0
    error = load_error(write_golden(tmp_path / "bad.yaml", [case]))
    assert error.field == "context.orders.0.lines.0.quantity"


def test_unknown_finding_id_suggests_close_match(tmp_path: Path) -> None:
    expect = {"status": "ready", "findings_forbidden": ["grounding.product"]}
    error = load_error(write_golden(tmp_path / "bad.yaml", [case_data(expect=expect)]))
    assert error.field == "expect.findings_forbidden"
    assert "did you mean `grounding.products`" in str(error)


def test_copywriter_status_is_rejected(tmp_path: Path) -> None:
    error = load_error(
        write_golden(tmp_path / "bad.yaml", [case_data(expect={"status": "approved"})])
    )
    assert "set by a copywriter" in error.reason


def test_status_and_ineligible_both_rejected(tmp_path: Path) -> None:
    expect = {"status": "ready", "ineligible": "compliance.consent"}
    error = load_error(write_golden(tmp_path / "bad.yaml", [case_data(expect=expect)]))
    assert "exactly one of `status` or `ineligible`" in error.reason


def test_ineligible_with_facts_rejected(tmp_path: Path) -> None:
    expect = {"ineligible": "compliance.consent", "facts": ["Order 581001"]}
    error = load_error(write_golden(tmp_path / "bad.yaml", [case_data(expect=expect)]))
    assert "facts cannot be checked" in error.reason


def test_expected_and_forbidden_overlap_rejected(tmp_path: Path) -> None:
    expect = {
        "status": "ready",
        "findings_expected": ["voice.length"],
        "findings_forbidden": ["voice.length"],
    }
    error = load_error(write_golden(tmp_path / "bad.yaml", [case_data(expect=expect)]))
    assert "both expected and forbidden" in error.reason


def test_unknown_brand_rejected(tmp_path: Path) -> None:
    error = load_error(write_golden(tmp_path / "bad.yaml", [case_data(brand="acme")]))
    assert error.field == "brand"
    assert "hearth-and-holly" in error.reason


def test_unknown_key_rejected(tmp_path: Path) -> None:
    error = load_error(write_golden(tmp_path / "bad.yaml", [case_data(expected={})]))
    assert error.field == "expected"


def test_bad_case_id_reported_by_position(tmp_path: Path) -> None:
    error = load_error(write_golden(tmp_path / "bad.yaml", [case_data(id="Bad Id")]))
    assert error.case_id == "Bad Id"
    assert error.field == "id"


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    first = write_golden(tmp_path / "a.yaml", [case_data()])
    second = write_golden(tmp_path / "b.yaml", [case_data()])
    error = load_error(tmp_path)
    assert error.path == second
    assert str(first) in error.reason


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cases:\n  - id: x\n    tags: [unclosed\n", encoding="utf-8")
    error = load_error(path)
    assert "invalid YAML at line" in error.reason


def test_file_without_cases_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("cases: []\n", encoding="utf-8")
    assert load_error(path).field == "cases"


def test_missing_path_rejected(tmp_path: Path) -> None:
    error = load_error(tmp_path / "absent")
    assert "no such file or folder" in error.reason


def test_shipped_golden_set_is_valid() -> None:
    golden = load_golden(DEFAULT_GOLDEN_DIR, brands=list_brands(PROJECT_ROOT / "kb"))
    cases = golden.select()
    assert len(cases) >= 80
    kinds = {case.kind for case in cases}
    assert kinds >= {
        MessageKind.ORDER_FOLLOWUP,
        MessageKind.USAGE_TIP,
        MessageKind.REVIEW_REQUEST,
        MessageKind.WINBACK,
    }
    assert {(case.kind, case.channel.value) for case in cases} >= {
        (kind, channel) for kind in kinds for channel in ("email", "sms")
    }
    assert {case.brand for case in cases} == set(BRANDS)


@pytest.mark.parametrize(
    "tag",
    [
        "no-consent",
        "open-ticket",
        "quiet-hours",
        "no-first-name",
        "unicode",
        "injection",
        "high-value",
        "low-value",
        "late-delivery",
        "smoke",
        "regression-probe",
    ],
)
def test_shipped_golden_set_covers_situation(tag: str) -> None:
    assert load_golden(DEFAULT_GOLDEN_DIR).select(tags=[tag])
