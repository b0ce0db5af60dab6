"""The text format a copywriter edits a draft's fields in, and the checks on what comes back.

The format is one `name: value` line per short field, a line `---`, then the body::

    # Lines starting with # above the --- line are ignored.
    subject: Your order is on its way
    call_to_action: View your order
    ---
    Thank you for shopping with us. We hope it brings you joy.

Only the fields the message was rendered from are editable. The template adds the greeting,
order details, care tip, links, sign-off and footer (unsubscribe link and postal address
included), so an edit can neither remove them nor add markup. Every field is plain text:
the template escapes it for HTML, so a tag or character reference would reach the customer
as literal text. This is what an edit that "breaks the HTML" means here, and it is rejected,
as is a `{{ ... }}` or `{% ... %}` placeholder, because only the template places those.
The body is one paragraph in the template: its lines are joined with single spaces and a
blank line inside it is rejected.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from agent.review.errors import InvalidEdit

SEPARATOR = "---"
BODY = "body"

# A start or end tag, a comment, a doctype, or a named or numeric character reference.
MARKUP = re.compile(
    r"<\s*/?\s*[A-Za-z][^<>]*>|<!--|<![A-Za-z]|&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);"
)
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{%|%\}")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Elements that never have an end tag.
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


def format_fields(fields: dict[str, str], header: list[str]) -> str:
    """Write `fields` in the edit format, after the `header` comment lines."""
    lines = [f"# {line}".rstrip() for line in header]
    lines += [f"{name}: {value}" for name, value in fields.items() if name != BODY]
    if BODY in fields:
        lines += [SEPARATOR, fields[BODY]]
    return "\n".join(lines) + "\n"


def parse_fields(text: str, expected: list[str]) -> dict[str, str]:
    """Read fields back from the edit format, checking each one; raises InvalidEdit."""
    lines = text.splitlines()
    cut = _separator_index(lines) if BODY in expected else None
    head = lines if cut is None else lines[:cut]
    fields = _parse_head(head, [n for n in expected if n != BODY])
    if cut is not None:
        fields[BODY] = _parse_body(lines[cut + 1 :], first_line=cut + 2)
    for name in expected:
        if name not in fields:
            raise InvalidEdit(f"field `{name}` is missing; add a line `{name}: ...` above `---`")
    for name, value in fields.items():
        check_plain_text(name, value)
    return {name: fields[name] for name in expected}


def _separator_index(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if line.strip() == SEPARATOR:
            return index
    raise InvalidEdit(f"the `{SEPARATOR}` line before the body is missing; put it back")


def _parse_head(lines: list[str], names: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon:
            raise InvalidEdit(f"line {number}: expected `name: value`, found {line.strip()!r}")
        if name not in names:
            known = ", ".join(names) or "none"
            raise InvalidEdit(
                f"line {number}: unknown field `{name}`; the fields above `---` are {known}"
            )
        if name in fields:
            raise InvalidEdit(f"line {number}: field `{name}` is given twice")
        fields[name] = value.strip()
    return fields


def _parse_body(lines: list[str], *, first_line: int) -> str:
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    end = len(lines) - next((i for i, line in enumerate(reversed(lines)) if line.strip()), 0)
    for index in range(start, end):
        if not lines[index].strip():
            raise InvalidEdit(
                f"line {first_line + index}: the body is one paragraph in the template; "
                "remove the blank line"
            )
    return " ".join(line.strip() for line in lines[start:end])


def check_plain_text(name: str, value: str) -> None:
    """Raise InvalidEdit for an empty field, or one with markup, placeholders or controls."""
    if not value.strip():
        raise InvalidEdit(f"field `{name}` is empty; write its text or restore it")
    markup = MARKUP.search(value)
    if markup:
        raise InvalidEdit(
            f"field `{name}` contains HTML markup {markup.group()!r}; fields are plain text "
            "and the template adds all markup, so remove it"
        )
    placeholder = PLACEHOLDER.search(value)
    if placeholder:
        raise InvalidEdit(
            f"field `{name}` contains the template syntax {placeholder.group()!r}; only the "
            "template places links and placeholders, so remove it"
        )
    control = CONTROL.search(value)
    if control:
        raise InvalidEdit(
            f"field `{name}` contains the control character {control.group()!r}; remove it"
        )


class _TagBalance(HTMLParser):
    """Records every end tag without a matching open tag, and tags left open at the end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.open.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        return None

    def handle_endtag(self, tag: str) -> None:
        line = self.getpos()[0]
        if not self.open or self.open[-1][0] != tag:
            expected = f"`</{self.open[-1][0]}>`" if self.open else "no end tag"
            self.problems.append(f"line {line}: `</{tag}>` where {expected} was expected")
            return
        self.open.pop()


def html_problems(html: str) -> list[str]:
    """Return each unbalanced tag in `html`; an empty list means every element is closed."""
    parser = _TagBalance()
    parser.feed(html)
    parser.close()
    unclosed = [f"line {line}: `<{tag}>` is never closed" for tag, line in parser.open]
    return parser.problems + unclosed
