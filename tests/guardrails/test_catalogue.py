from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from decimal import Decimal
from functools import cache
from pathlib import Path

from agent.guardrails.catalogue import PhraseIndex, catalogue_index, is_distinctive, phrase_key
from agent.guardrails.grounding import check_products
from tests.guardrails.factories import make_context, make_fields, make_input, make_line, make_order


def test_phrase_key_ignores_case_and_punctuation() -> None:
    assert phrase_key("TUMBLER, BAROQUE") == phrase_key("tumbler  baroque")


def test_distinctive_needs_two_words() -> None:
    assert is_distinctive(phrase_key("DOORMAT")) is False


def test_distinctive_rejects_everyday_words() -> None:
    assert is_distinctive(phrase_key("thrown away")) is False


def test_distinctive_rejects_numbers_and_everyday_words() -> None:
    assert is_distinctive(phrase_key("sold as 22467")) is False


def test_distinctive_accepts_product_name() -> None:
    assert is_distinctive(phrase_key("RAIN PONCHO")) is True


def test_index_finds_whole_phrases_only() -> None:
    index = PhraseIndex(["RAIN PONCHO"])
    assert index.find("a rain ponchos day") == []
    assert [m.text for m in index.find("a Rain Poncho day")] == ["Rain Poncho"]


def test_index_finds_overlapping_phrases() -> None:
    index = PhraseIndex(["HEART T-LIGHT HOLDER", "PINK HANGING HEART T-LIGHT HOLDER"])
    found = {m.description for m in index.find("pink hanging heart t-light holder")}
    assert found == {"HEART T-LIGHT HOLDER", "PINK HANGING HEART T-LIGHT HOLDER"}


def test_index_counts_tokens_across_lines() -> None:
    index = PhraseIndex(["RAIN PONCHO"])
    mentions = index.find("one two\nrain poncho")
    assert [(m.first_token, m.end_token) for m in mentions] == [(2, 4)]


def test_index_keeps_short_entries_when_asked() -> None:
    index = PhraseIndex(["MUG"], distinctive_only=False)
    assert [m.description for m in index.find("a mug")] == ["MUG"]


def test_catalogue_index_is_reused() -> None:
    catalogue = frozenset({"RAIN PONCHO", "JUMBO BAG RED RETROSPOT"})
    assert catalogue_index(catalogue) is catalogue_index(frozenset(set(catalogue)))


# --- the real Online Retail catalogue ------------------------------------------------------


@cache
def _invoices(data_dir: Path) -> dict[str, dict[str, str]]:
    """Read invoice number -> {stock code: description} from the Online Retail file."""
    invoices: dict[str, dict[str, str]] = defaultdict(dict)
    path = data_dir / "online_retail_2010_2011.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            description = (row["Description"] or "").strip()
            if description and not row["InvoiceNo"].startswith("C"):
                invoices[row["InvoiceNo"]][row["StockCode"]] = description
    return invoices


def _context_for(lines: dict[str, str]):
    order_lines = [
        make_line(description, stock_code=code, quantity=1, unit_price=Decimal("1.00"))
        for code, description in lines.items()
    ]
    return make_context(orders=[make_order(*order_lines)])


def test_real_catalogue_allows_every_listed_order(shared_data_dir: Path) -> None:
    invoices = _invoices(shared_data_dir)
    catalogue = frozenset(d for lines in invoices.values() for d in lines.values())
    flagged = []
    for number in sorted(invoices)[:: max(1, len(invoices) // 300)]:
        inp = make_input(context=_context_for(invoices[number]), catalogue=catalogue)
        if check_products(inp):
            flagged.append(number)
    assert flagged == []


def test_real_catalogue_flags_product_not_bought(shared_data_dir: Path) -> None:
    invoices = _invoices(shared_data_dir)
    catalogue = frozenset(d for lines in invoices.values() for d in lines.values())
    context = _context_for({"85123A": "WHITE HANGING HEART T-LIGHT HOLDER"})
    fields = make_fields(body="You may also like our regency cakestand 3 tier.")
    findings = check_products(make_input(context=context, fields=fields, catalogue=catalogue))
    assert [f.span for f in findings] == ["regency cakestand 3 tier"]
