"""Templates: merge fields with formats, and a formatter that cannot reach into Python objects."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.campaigns.errors import TemplateError
from gateway.campaigns.template import MAX_WIDTH, compile_template, format_date
from gateway.campaigns.values import FieldType, MergeValue

TYPES = {
    "name": FieldType.STR,
    "amount": FieldType.INT,
    "due_date": FieldType.DATE,
    "氏名": FieldType.STR,
}
VALUES: dict[str, MergeValue] = {
    "name": "山田 太郎",
    "amount": 85000,
    "due_date": date(2026, 5, 7),
    "氏名": "佐藤",
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{name}様", "山田 太郎様"),
        ("{amount:,}円", "85,000円"),
        ("{amount}", "85000"),
        ("{amount:>10,}", "    85,000"),
        ("{due_date:%m/%d}", "05/07"),
        ("{due_date:%-m月%-d日(%J)}", "5月7日(木)"),
        ("{due_date}", "2026/05/07"),
        ("{due_date:%Y-%m-%d %a %%}", "2026-05-07 Thu %"),
        ("{氏名}様", "佐藤様"),
        ("{{literal}} {name}", "{literal} 山田 太郎"),
        ("a}}b{{c", "a}b{c"),
        ("1行目\n{name}\n3行目", "1行目\n山田 太郎\n3行目"),
        ("no fields", "no fields"),
    ],
)
def test_render(body: str, expected: str) -> None:
    assert compile_template(body, TYPES).render(VALUES) == expected


def test_fields_lists_the_names_used() -> None:
    assert compile_template("{name} {amount:,} {name}", TYPES).fields == {"name", "amount"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("{name.__class__}", "attribute access"),
        ("{name.__class__.__mro__}", "attribute access"),
        ("{name[0]}", "indexing"),
        ("{amount.real}", "attribute access"),
        ("{}", "positional"),
        ("{0}", "not a field name"),
        ("{name!r}", "conversions"),
        ("{name!s:>5}", "conversions"),
        ("{name:>{width}}", "nested"),
        ("{name:>1000000000}", f"exceeds {MAX_WIDTH}"),
        ("{amount:.500f}", f"exceeds {MAX_WIDTH}"),
        ("{unknown}", "unknown field"),
        ("{amount:%Y}", "does not apply"),
        ("{due_date:%Q}", "not supported"),
        ("{due_date:%c}", "not supported"),
        ("{name:d}", "does not apply"),
        ("{name", "unclosed"),
        ("name}", "single '}'"),
        ("{na\nme}", "unclosed"),
    ],
)
def test_unsafe_or_broken_templates_are_rejected(body: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(body, TYPES, source="t.txt")
    assert fragment in str(info.value)
    assert str(info.value).startswith("t.txt:")


def test_errors_are_located_by_line_and_column() -> None:
    with pytest.raises(TemplateError) as info:
        compile_template("{name}様\nお支払い {amount.__class__}", TYPES, source="t.txt")
    assert (info.value.line, info.value.column) == (2, 6)
    assert str(info.value).startswith("t.txt:2:6:")


def test_render_never_evaluates_values() -> None:
    """A value that looks like a template is copied, not expanded."""
    compiled = compile_template("{name}", TYPES)
    assert compiled.render({"name": "{amount.__class__}"}) == "{amount.__class__}"


def test_format_date_directives() -> None:
    d = date(2026, 2, 28)
    assert format_date(d, "%y%j %B %b %A") == "26059 February Feb Saturday"
    with pytest.raises(ValueError):
        format_date(d, "%H")
