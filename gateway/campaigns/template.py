"""Message templates with merge fields, and a formatter that cannot reach into Python objects.

Syntax (a safe subset of `str.format`)::

    {name}様 {due_date:%m/%d}までに{amount:,}円のお支払いをお願いします。{{ and }} are braces.

* A field is ``{NAME}`` or ``{NAME:SPEC}``. NAME is a plain identifier (Japanese identifiers
  such as ``{氏名}`` are fine). No attribute access (``{name.__class__}``), no indexing
  (``{name[0]}``), no positional fields (``{}`` / ``{0}``), no conversions (``{name!r}``) and no
  nested fields in a spec (``{name:>{w}}``). Each is a `TemplateError` at compile time with the
  line and column of the opening brace.
* SPEC depends on the field's type (`FieldType`), decided by the campaign's column types, not
  by the template: ``int`` and ``str`` take the standard format mini-language (``,``  ``>8``
  ``08,d``), with widths and precisions capped at `MAX_WIDTH` (a template must not be able to
  ask for a gigabyte of padding); ``date`` takes strftime-like directives from a closed list
  (`DATE_DIRECTIVES`), implemented here so that the output does not depend on the C library or
  the locale. An empty date spec renders ``YYYY/MM/DD``.
* Every spec is tried on a sample value of its type at compile time, so a template that
  compiles renders for every row whose values converted at import.

Invariants:
    * `render` only looks values up by exact name in a mapping and calls `format` on
      ``int`` / ``str`` values or the date formatter of this module; it never evaluates
      anything taken from the template.
    * Pure and deterministic: the same template and values give the same text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, NoReturn

from gateway.campaigns.errors import TemplateError
from gateway.campaigns.values import FieldType, MergeValue

__all__ = [
    "DATE_DIRECTIVES",
    "MAX_WIDTH",
    "CompiledTemplate",
    "FieldRef",
    "compile_template",
    "format_date",
]

#: Largest width or precision a spec may ask for.
MAX_WIDTH: Final[int] = 100

_WEEKDAY_EN: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_JA: Final = ("月", "火", "水", "木", "金", "土", "日")
_MONTH_EN: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

#: Date directives a spec may use, with what they produce.
DATE_DIRECTIVES: Final[Mapping[str, str]] = {
    "%Y": "year, 4 digits (2026)",
    "%y": "year, 2 digits (26)",
    "%m": "month, 2 digits (05)",
    "%-m": "month without padding (5)",
    "%d": "day, 2 digits (07)",
    "%-d": "day without padding (7)",
    "%j": "day of the year, 3 digits (147)",
    "%a": "weekday, English abbreviation (Wed)",
    "%A": "weekday, English (Wednesday)",
    "%b": "month, English abbreviation (May)",
    "%B": "month, English (May)",
    "%J": "weekday, Japanese (水) — an extension, not C strftime",
    "%%": "a percent sign",
}

_DATE_TOKEN_RE: Final = re.compile(r"%-?[A-Za-z%]|%")


def _date_piece(directive: str, value: date) -> str:
    pieces = {
        "%Y": f"{value.year:04d}",
        "%y": f"{value.year % 100:02d}",
        "%m": f"{value.month:02d}",
        "%-m": str(value.month),
        "%d": f"{value.day:02d}",
        "%-d": str(value.day),
        "%j": f"{value.timetuple().tm_yday:03d}",
        "%a": _WEEKDAY_EN[value.weekday()][:3],
        "%A": _WEEKDAY_EN[value.weekday()],
        "%b": _MONTH_EN[value.month - 1][:3],
        "%B": _MONTH_EN[value.month - 1],
        "%J": _WEEKDAY_JA[value.weekday()],
        "%%": "%",
    }
    return pieces[directive]


def format_date(value: date, spec: str) -> str:
    """Format a date with the directives of `DATE_DIRECTIVES`; other text is copied.

    Args:
        value: The date.
        spec: E.g. ``"%m/%d"``, ``"%-m月%-d日(%J)"``; empty for ``YYYY/MM/DD``.

    Returns:
        The formatted date.

    Raises:
        ValueError: The spec uses a directive outside `DATE_DIRECTIVES`.
    """
    if not spec:
        spec = "%Y/%m/%d"
    out: list[str] = []
    pos = 0
    for match in _DATE_TOKEN_RE.finditer(spec):
        out.append(spec[pos : match.start()])
        token = match.group()
        if token not in DATE_DIRECTIVES:
            raise ValueError(
                f"date directive {token!r} is not supported (use {', '.join(DATE_DIRECTIVES)})"
            )
        out.append(_date_piece(token, value))
        pos = match.end()
    out.append(spec[pos:])
    return "".join(out)


_SAMPLES: Final[Mapping[FieldType, MergeValue]] = {
    FieldType.STR: "山田太郎",
    FieldType.INT: 1234567,
    FieldType.DATE: date(2026, 5, 27),
}
_NUMBER_RE: Final = re.compile(r"[0-9]+")


def _format_value(value: MergeValue, spec: str) -> str:
    if isinstance(value, date):
        return format_date(value, spec)
    return format(value, spec)


@dataclass(frozen=True, slots=True)
class FieldRef:
    """One merge field in a compiled template."""

    name: str
    """The field name."""
    spec: str
    """The format spec after ``:`` (may be empty)."""
    field_type: FieldType
    """The field's type."""
    line: int
    """1-based line of the opening brace."""
    column: int
    """1-based column of the opening brace."""


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template checked against the campaign's fields, ready to render."""

    source: str
    """Where the template came from (a file name or ``<template>``), for messages."""
    body: str
    """The template text as written."""
    segments: tuple[str | FieldRef, ...]
    """Literal text and fields, in order."""

    @property
    def fields(self) -> frozenset[str]:
        """Names of the merge fields the template uses."""
        return frozenset(s.name for s in self.segments if isinstance(s, FieldRef))

    def render(self, values: Mapping[str, MergeValue]) -> str:
        """The message text for one recipient.

        Args:
            values: Typed merge values by field name; every field of `fields` must be present.

        Returns:
            The rendered text.

        Raises:
            KeyError: A field is missing from `values` (the import reports such rows, so a
                campaign never renders one).
        """
        out: list[str] = []
        for segment in self.segments:
            if isinstance(segment, str):
                out.append(segment)
            else:
                out.append(_format_value(values[segment.name], segment.spec))
        return "".join(out)


class TemplateErrorFactory:
    """Raises `TemplateError` at a fixed position (a small helper for the compiler)."""

    def __init__(self, source: str, line: int, column: int) -> None:
        self._source = source
        self._line = line
        self._column = column

    def __call__(self, message: str) -> NoReturn:
        raise TemplateError(message, source=self._source, line=self._line, column=self._column)


def _check_spec(name: str, spec: str, field_type: FieldType, fail: TemplateErrorFactory) -> None:
    if "{" in spec or "}" in spec:
        fail(f"nested fields are not allowed in the format of {{{name}}}")
    if field_type is not FieldType.DATE:
        for number in _NUMBER_RE.findall(spec):
            if int(number) > MAX_WIDTH:
                fail(f"width or precision {number} in {{{name}:{spec}}} exceeds {MAX_WIDTH}")
    try:
        _format_value(_SAMPLES[field_type], spec)
    except ValueError as exc:
        fail(f"format {spec!r} does not apply to {field_type} field {{{name}}}: {exc}")


def compile_template(
    body: str,
    types: Mapping[str, FieldType],
    *,
    source: str = "<template>",
) -> CompiledTemplate:
    """Parse a template and check every field against the campaign's fields.

    Args:
        body: The template text.
        types: The merge fields available to this campaign and their types.
        source: The template's name, for error messages.

    Returns:
        The compiled template.

    Raises:
        TemplateError: Unbalanced braces, an unsafe field (attribute, index, positional,
            conversion, nested), an unknown field, or a format that does not apply to the
            field's type; located by line and column.
    """
    segments: list[str | FieldRef] = []
    literal: list[str] = []
    i = 0
    line, line_start = 1, 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch == "\n":
            literal.append(ch)
            line, line_start = line + 1, i + 1
            i += 1
            continue
        column = i - line_start + 1
        fail = TemplateErrorFactory(source, line, column)
        if ch == "}":
            if i + 1 < n and body[i + 1] == "}":
                literal.append("}")
                i += 2
                continue
            fail("single '}' (write '}}' for a literal brace)")
        if ch != "{":
            literal.append(ch)
            i += 1
            continue
        if i + 1 < n and body[i + 1] == "{":
            literal.append("{")
            i += 2
            continue
        end = i + 1
        depth_error = False
        while end < n and body[end] != "}":
            if body[end] == "{":
                depth_error = True
            if body[end] == "\n":
                fail("unclosed '{' (a field must end on its line)")
            end += 1
        if end >= n:
            fail("unclosed '{' (write '{{' for a literal brace)")
        inner = body[i + 1 : end]
        if depth_error:
            fail(f"nested braces are not allowed in {{{inner}}}")
        name, colon, spec = inner.partition(":")
        if "!" in name:
            fail(f"conversions are not allowed in {{{inner}}}")
        if not name:
            fail("positional fields ({}) are not allowed: name the field, e.g. {name}")
        if not name.isidentifier():
            if "." in name or "[" in name:
                fail(f"{{{inner}}}: attribute access and indexing are not allowed")
            fail(f"{{{inner}}}: {name!r} is not a field name")
        if name not in types:
            known = ", ".join(sorted(types)) or "none"
            fail(f"unknown field {{{name}}} (fields of this campaign: {known})")
        field_type = types[name]
        _check_spec(name, spec if colon else "", field_type, fail)
        if literal:
            segments.append("".join(literal))
            literal = []
        segments.append(FieldRef(name, spec if colon else "", field_type, line, column))
        i = end + 1
    if literal:
        segments.append("".join(literal))
    return CompiledTemplate(source=source, body=body, segments=tuple(segments))
