"""Text helpers shared by the checks: normalisation, phrase matching and field lookup."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from html.parser import HTMLParser

from agent.guardrails.base import CheckInput

# One-for-one replacements, so offsets in the folded text equal offsets in the original.
_PUNCTUATION_FOLD = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark
        "\u201a": "'",  # single low-9 quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\u00a0": " ",  # no-break space
        "\u202f": " ",  # narrow no-break space
    }
)

_WORD = re.compile(r"\w+")


def nfc(text: str) -> str:
    """Compose accents, so that a decomposed "José" matches and counts like the composed one."""
    return unicodedata.normalize("NFC", text)


def fold_punctuation(text: str) -> str:
    """Replace curly quotes, dashes and no-break spaces with their ASCII forms, one for one."""
    return text.translate(_PUNCTUATION_FOLD)


def tokens(text: str) -> list[re.Match[str]]:
    """Split text into word tokens (letters and digits of any script), keeping offsets."""
    return list(_WORD.finditer(text))


def token_key(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


@lru_cache(maxsize=1024)
def phrase_pattern(phrase: str, ignore_case: bool = True) -> re.Pattern[str]:
    """Compile a whole-phrase pattern: any run of whitespace matches the phrase's spaces.

    A phrase that starts or ends with a word character must not touch another word character
    there, so "sale" does not match inside "wholesale".
    """
    words = fold_punctuation(nfc(phrase)).split()
    body = r"\s+".join(re.escape(word) for word in words)
    if words and re.match(r"\w", words[0]):
        body = r"(?<!\w)" + body
    if words and re.search(r"\w$", words[-1]):
        body = body + r"(?!\w)"
    flags = re.IGNORECASE if ignore_case else 0
    return re.compile(body, flags)


def find_phrase(text: str, phrase: str, ignore_case: bool = True) -> list[re.Match[str]]:
    """Find every whole-phrase occurrence of `phrase` in `text`; empty for a blank phrase."""
    if not phrase.strip():
        return []
    folded = fold_punctuation(nfc(text))
    return list(phrase_pattern(phrase, ignore_case).finditer(folded))


def contains_phrase(text: str, phrase: str, ignore_case: bool = True) -> bool:
    return bool(find_phrase(text, phrase, ignore_case))


def locate_field(fields: dict[str, str], span: str) -> str | None:
    """Return the name of the first field whose text contains `span`, ignoring case.

    Fields are tried in the dict's order. None means the span comes from the template or the
    context, not from a model-written field.
    """
    needle = fold_punctuation(nfc(span)).casefold()
    if not needle:
        return None
    for name, value in fields.items():
        if needle in fold_punctuation(nfc(value)).casefold():
            return name
    return None


class _TextExtractor(HTMLParser):
    """Collects the text a reader sees in an HTML document, a line break between elements."""

    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1
        self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def visible_text(document: str) -> str:
    """Return the text of an HTML document as a reader sees it, without tags or entities."""
    extractor = _TextExtractor()
    extractor.feed(document)
    extractor.close()
    return "".join(extractor.parts)


def unescaped_html(document: str) -> str:
    """Return the HTML source with entities decoded, so `&amp;` in a link reads as `&`."""
    return html.unescape(document)


def rendered_parts(inp: CheckInput, with_html: bool = False) -> list[str]:
    """Return the customer-visible parts of the message: subject, text and, if asked, HTML text."""
    parts = [inp.rendered.subject or "", inp.rendered.text]
    if with_html and inp.rendered.html:
        parts.append(visible_text(inp.rendered.html))
    return [nfc(part) for part in parts if part]


def field_label(name: str) -> str:
    """Return a field name as a copywriter reads it: `call_to_action` becomes "call to action"."""
    return name.replace("_", " ")
