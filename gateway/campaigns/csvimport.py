"""CSV import: decode, map columns to fields, validate every row, report with line numbers.

Nothing is sent at this step. The result is a list of rows, each OK, invalid, duplicate or
filtered, and a list of problems that name the *physical* line of the file (the header is
line 1; a quoted cell spanning lines makes the next record start further down, and the report
still names the line where the record starts).

Decoding: ``encoding`` given -> that codec, strictly. Otherwise a UTF-8 BOM means UTF-8, a
UTF-16 BOM means UTF-16; then strict UTF-8 is tried, then CP932 (Windows Shift_JIS, which
Japanese Excel writes; a superset of Shift_JIS with the NEC/IBM extensions such as ①). A
file that is neither is refused with the line of the first undecodable byte.

Column mapping: explicit ``column=field`` pairs first (each column must exist in the header:
`ColumnMappingError` names it), then well-known header names (`ALIASES`: ``電話番号`` ->
phone, ``氏名`` -> name ...) for fields still unmapped. Header names that are identifiers
(``city``, ``会員ランク``) are also available as text merge fields under their own name.

Validation of each kept row, all problems reported (the row's reason is the first):

* phone: `sms.numbers.try_parse`; the rejection reason (``bad_prefix``, ``landline``,
  ``leading_zero_lost`` ...) is the problem code, its detail the text;
* every field the templates use must be non-empty (``missing_field``);
* typed fields must convert (``bad_amount``, ``bad_date``), window and zone must parse
  (``bad_window``, ``bad_timezone``), and a row's window must leave some allowed time once
  intersected with the policy window (``empty_window``);
* a record with more or fewer cells than the header is ``column_count`` (a shifted row
  would put an amount into a name);
* rows whose every cell is empty are blank lines: skipped, not counted.

Duplicates: among rows that passed validation, a later row with the same normalised number
(E.164) as an earlier one is a duplicate of that line; the earlier row is kept. Filters are
applied before validation: a filtered row is outside the segment and is only counted.

Invariants:
    * Every data row ends up in exactly one of ok / invalid / duplicate / filtered.
    * Pure apart from the bytes it is given: no file or clock access.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from gateway.campaigns.config import CampaignConfig
from gateway.campaigns.errors import ColumnMappingError, CsvReadError, QuietHoursError
from gateway.campaigns.values import FieldType, MergeValue, convert, parse_timezone
from gateway.policy.quiet import DailyWindow
from sms.numbers import InvalidNumber, try_parse

__all__ = [
    "ALIASES",
    "FIELD_TYPES",
    "KNOWN_FIELDS",
    "CsvTable",
    "FieldMap",
    "ImportResult",
    "ImportedRow",
    "RowProblem",
    "RowStatus",
    "decode",
    "read_csv",
    "resolve_mapping",
    "validate_rows",
]

#: Fields with a meaning to the workflow.
PHONE, NAME, AMOUNT, DUE_DATE, OBTAINED_DATE, WINDOW, TIMEZONE = (
    "phone",
    "name",
    "amount",
    "due_date",
    "obtained_date",
    "window",
    "timezone",
)
KNOWN_FIELDS: Final[tuple[str, ...]] = (
    PHONE,
    NAME,
    AMOUNT,
    DUE_DATE,
    OBTAINED_DATE,
    WINDOW,
    TIMEZONE,
)
#: Types of the known fields (others are text unless the config's ``types`` says otherwise).
FIELD_TYPES: Final[Mapping[str, FieldType]] = {
    AMOUNT: FieldType.INT,
    DUE_DATE: FieldType.DATE,
    OBTAINED_DATE: FieldType.DATE,
}
#: Header names recognised without a mapping (compared NFKC-folded and lower-cased).
ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    PHONE: (
        "phone",
        "tel",
        "telephone",
        "mobile",
        "msisdn",
        "電話番号",
        "携帯番号",
        "携帯電話番号",
    ),
    NAME: ("name", "氏名", "名前", "お名前", "顧客名", "契約者名"),
    AMOUNT: ("amount", "金額", "請求金額", "未払金額", "未納金額", "請求額"),
    DUE_DATE: ("due_date", "due", "支払期日", "支払期限", "期日", "引落日", "振替日"),
    OBTAINED_DATE: ("obtained_date", "取得日", "番号取得日", "登録日"),
    WINDOW: ("window", "contact_window", "連絡可能時間"),
    TIMEZONE: ("timezone", "tz", "タイムゾーン"),
}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


# --- decoding --------------------------------------------------------------------------------


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, *, path: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode a CSV file's bytes.

    Args:
        data: The file's content.
        path: Its name, for errors.
        encoding: A codec name to use strictly; None to detect (UTF-8, then CP932).

    Returns:
        The text and the codec used (``utf-8-sig``, ``utf-8``, ``utf-16``, ``cp932`` or the
        one given).

    Raises:
        CsvReadError: Unknown codec, or bytes the codec(s) cannot decode (with their line).
    """
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise CsvReadError(f"unknown encoding {encoding!r}", path=path) from None
        if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError as exc:
            raise CsvReadError(
                f"not valid {encoding} at byte {exc.start} ({exc.reason})",
                path=path,
                line=_line_of(data, exc.start),
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise CsvReadError(
                f"UTF-8 BOM but invalid UTF-8 at byte {exc.start}",
                path=path,
                line=_line_of(data, exc.start),
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise CsvReadError("UTF-16 BOM but invalid UTF-16", path=path) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp932"), "cp932"
        except UnicodeDecodeError as sjis_error:
            first = min(utf8_error.start, sjis_error.start)
            raise CsvReadError(
                "neither UTF-8 nor Shift_JIS/CP932 (UTF-8 fails at byte "
                f"{utf8_error.start}, CP932 at byte {sjis_error.start}); "
                "give the encoding with --encoding",
                path=path,
                line=_line_of(data, first),
            ) from None


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A decoded CSV file: header and records with their physical line numbers."""

    path: str
    """The file name."""
    encoding: str
    """The codec used."""
    headers: tuple[str, ...]
    """Header cells (NFKC-folded, trimmed)."""
    header_line: int
    """Physical line of the header (1 unless the file starts with blank lines)."""
    records: tuple[tuple[int, tuple[str, ...]], ...]
    """(physical line where the record starts, cells) of every non-blank data record."""


def read_csv(
    data: bytes, *, path: str, encoding: str | None = None, delimiter: str = ","
) -> CsvTable:
    """Decode and split a CSV file.

    Args:
        data: The file's content.
        path: Its name, for errors.
        encoding: See `decode`.
        delimiter: The cell delimiter.

    Returns:
        The table.

    Raises:
        CsvReadError: Undecodable, malformed CSV (with the line), or no header row.
    """
    text, codec = decode(data, path=path, encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: tuple[str, ...] | None = None
    header_line = 0
    records: list[tuple[int, tuple[str, ...]]] = []
    previous = 0
    try:
        for cells in reader:
            start = previous + 1
            previous = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if headers is None:
                headers = tuple(_fold(c) for c in cells)
                header_line = start
                continue
            records.append((start, tuple(cells)))
    except csv.Error as exc:
        raise CsvReadError(f"malformed CSV: {exc}", path=path, line=reader.line_num) from None
    if headers is None:
        raise CsvReadError("no header row (the file is empty)", path=path)
    return CsvTable(path, codec, headers, header_line, tuple(records))


# --- mapping ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Which CSV column feeds which field, and the fields' types."""

    columns: Mapping[str, int]
    """Field name -> column index."""
    headers: tuple[str, ...]
    """The header, for messages."""
    types: Mapping[str, FieldType]
    """Field name -> type, for every field in `columns`."""

    def column_of(self, field_name: str) -> str:
        """The header name of the column feeding `field_name`."""
        return self.headers[self.columns[field_name]]


def resolve_mapping(headers: Sequence[str], config: CampaignConfig) -> FieldMap:
    """Map CSV columns to fields (explicit mapping, then `ALIASES`, then identifier headers).

    Args:
        headers: The header cells.
        config: Its ``columns`` and ``types`` are used.

    Returns:
        The field map.

    Raises:
        ColumnMappingError: A mapped column is not in the header (or is ambiguous), two
            columns map to one field, a field name is not an identifier, or no phone column.
    """
    index: dict[str, list[int]] = {}
    for i, header in enumerate(headers):
        index.setdefault(header, []).append(i)

    def find(column: str) -> int:
        wanted = _fold(column)
        hits = index.get(wanted, [])
        if not hits:
            raise ColumnMappingError(
                f"column {column!r} is not in the CSV header", column=column, available=headers
            )
        if len(hits) > 1:
            raise ColumnMappingError(
                f"column {column!r} appears {len(hits)} times in the header",
                column=column,
                available=headers,
            )
        return hits[0]

    columns: dict[str, int] = {}
    for column, field_name in config.columns.items():
        name = field_name.strip()
        if not name.isidentifier():
            raise ColumnMappingError(
                f"{column}={field_name}: {field_name!r} is not a field name", column=column
            )
        if name in columns:
            raise ColumnMappingError(
                f"{column}={name}: field {name!r} is already fed by column "
                f"{headers[columns[name]]!r}",
                column=column,
            )
        columns[name] = find(column)
    used = set(columns.values())
    lowered = {_fold(h).lower(): i for i, h in enumerate(headers)}
    for field_name, aliases in ALIASES.items():
        if field_name in columns:
            continue
        for alias in aliases:
            hit = lowered.get(alias.lower())
            if hit is not None and hit not in used:
                columns[field_name] = hit
                used.add(hit)
                break
    for i, header in enumerate(headers):
        if i not in used and header.isidentifier() and header not in columns:
            columns[header] = i
    if PHONE not in columns:
        raise ColumnMappingError(
            "no phone column: name one with --map COLUMN=phone", column=PHONE, available=headers
        )
    types = {name: config.types.get(name, FIELD_TYPES.get(name, FieldType.STR)) for name in columns}
    return FieldMap(columns, tuple(headers), types)


# --- validation ------------------------------------------------------------------------------


class RowStatus(StrEnum):
    """What became of a data row."""

    OK = "ok"
    """Valid, unique, in the segment: a recipient."""
    INVALID = "invalid"
    """At least one problem (see the problems list)."""
    DUPLICATE = "duplicate"
    """Same normalised number as an earlier valid row."""
    FILTERED = "filtered"
    """Outside the segment (filters)."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One problem found in one row."""

    line: int
    """Physical line where the record starts."""
    code: str
    """Stable code: a `sms.numbers.NumberRejection` value, ``missing_field``, ``bad_amount``,
    ``bad_date``, ``bad_window``, ``bad_timezone``, ``empty_window``, ``column_count`` or
    ``duplicate``."""
    field: str
    """The field concerned (``phone``, ``amount`` ...; ``*`` for the whole row)."""
    column: str
    """The CSV column concerned (``""`` for the whole row)."""
    value: str
    """The cell as written."""
    detail: str
    """Human-readable explanation."""


@dataclass(frozen=True, slots=True)
class ImportedRow:
    """One data row after validation."""

    line: int
    """Physical line where the record starts."""
    status: RowStatus
    """Outcome."""
    phone_raw: str
    """The phone cell as written."""
    e164: str | None
    """Normalised number when it parsed."""
    values: Mapping[str, MergeValue]
    """Typed field values (only those that converted)."""
    reason: str | None = None
    """First problem code for invalid rows, ``duplicate`` for duplicates, ``filtered``."""
    duplicate_of: int | None = None
    """Line of the row this one duplicates."""


@dataclass(slots=True)
class ImportResult:
    """The validation report of one CSV import."""

    table: CsvTable
    """The decoded file."""
    fields: FieldMap
    """The mapping used."""
    rows: list[ImportedRow] = field(default_factory=list)
    """Every data row, in file order."""
    problems: list[RowProblem] = field(default_factory=list)
    """Every problem, in file order (duplicates included)."""

    def count(self, status: RowStatus) -> int:
        """Rows with `status`."""
        return sum(1 for r in self.rows if r.status is status)

    def invalid_by_reason(self) -> dict[str, int]:
        """Invalid rows per first problem code, most frequent first."""
        counts: dict[str, int] = {}
        for row in self.rows:
            if row.status is RowStatus.INVALID and row.reason is not None:
                counts[row.reason] = counts.get(row.reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _matches(cells: Sequence[str], filters: Iterable[tuple[int, frozenset[str]]]) -> bool:
    for i, accepted in filters:
        cell = _fold(cells[i]) if i < len(cells) else ""
        if cell not in accepted:
            return False
    return True


def _resolve_filters(config: CampaignConfig, fields: FieldMap) -> list[tuple[int, frozenset[str]]]:
    out: list[tuple[int, frozenset[str]]] = []
    for column, values in config.filter_pairs():
        key = _fold(column)
        if key in fields.headers:
            hits = [i for i, h in enumerate(fields.headers) if h == key]
            if len(hits) > 1:
                raise ColumnMappingError(
                    f"filter column {column!r} appears {len(hits)} times in the header",
                    column=column,
                    available=fields.headers,
                )
            i = hits[0]
        elif key in fields.columns:
            i = fields.columns[key]
        else:
            raise ColumnMappingError(
                f"filter column {column!r} is not in the CSV header",
                column=column,
                available=fields.headers,
            )
        out.append((i, frozenset(_fold(v) for v in values)))
    return out


def validate_rows(
    table: CsvTable,
    fields: FieldMap,
    config: CampaignConfig,
    *,
    required: Iterable[str] = (),
) -> ImportResult:
    """Validate every record (see the module docstring for the rules).

    Args:
        table: The decoded file.
        fields: The column mapping.
        config: Filters, number policy, quiet-hours policy window.
        required: Fields that must be non-empty (the fields the templates use).

    Returns:
        The validation report.

    Raises:
        ColumnMappingError: A filter names no column.
    """
    result = ImportResult(table, fields)
    filters = _resolve_filters(config, fields)
    needed = [f for f in dict.fromkeys([PHONE, *required]) if f in fields.columns]
    missing_fields = [f for f in dict.fromkeys(required) if f not in fields.columns]
    policy_window = DailyWindow.parse(config.quiet_hours.window)
    width = len(table.headers)
    first_seen: dict[str, int] = {}
    kept_values: dict[int, Mapping[str, MergeValue]] = {}
    for line, cells in table.records:
        phone_raw = cells[fields.columns[PHONE]] if fields.columns[PHONE] < len(cells) else ""
        if filters and not _matches(cells, filters):
            result.rows.append(
                ImportedRow(line, RowStatus.FILTERED, phone_raw, None, {}, "filtered")
            )
            continue
        problems: list[RowProblem] = []

        def problem(
            code: str,
            name: str,
            value: str,
            detail: str,
            line: int = line,
            sink: list[RowProblem] = problems,
        ) -> None:
            column = fields.column_of(name) if name in fields.columns else ""
            sink.append(RowProblem(line, code, name, column, value, detail))

        if len(cells) != width:
            problem(
                "column_count",
                "*",
                "",
                f"{len(cells)} cells, the header has {width} (a comma inside an unquoted cell?)",
            )
        e164: str | None = None
        parsed = try_parse(phone_raw, allow_060=config.allow_060, allow_m2m=config.allow_m2m)
        if isinstance(parsed, InvalidNumber):
            problem(parsed.reason.value, PHONE, phone_raw, parsed.detail)
        else:
            e164 = parsed.e164
        for name in missing_fields:
            problems.append(
                RowProblem(line, "missing_field", name, "", "", f"no column feeds {{{name}}}")
            )
        values: dict[str, MergeValue] = {}
        for name, i in fields.columns.items():
            raw = cells[i] if i < len(cells) else ""
            if name == PHONE:
                values[name] = raw.strip()
                continue
            if not raw.strip():
                if name in needed:
                    problem("missing_field", name, raw, f"{{{name}}} is empty")
                continue
            if name == WINDOW:
                try:
                    own = DailyWindow.parse(_fold(raw))
                except QuietHoursError as exc:
                    problem("bad_window", name, raw, str(exc))
                    continue
                if (
                    config.quiet_hours.recipient_window == "intersect"
                    and own.intersect(policy_window).empty
                ):
                    problem(
                        "empty_window",
                        name,
                        raw,
                        f"{own} leaves no time inside the policy window {policy_window}",
                    )
                    continue
                values[name] = _fold(raw)
                continue
            if name == TIMEZONE:
                try:
                    parse_timezone(raw)
                except ValueError as exc:
                    problem("bad_timezone", name, raw, str(exc))
                    continue
                values[name] = _fold(raw)
                continue
            field_type = fields.types[name]
            try:
                values[name] = convert(raw, field_type)
            except ValueError as exc:
                code = "bad_amount" if field_type is FieldType.INT else "bad_date"
                problem(code, name, raw, str(exc))
        if problems:
            result.problems.extend(problems)
            result.rows.append(
                ImportedRow(line, RowStatus.INVALID, phone_raw, e164, values, problems[0].code)
            )
            continue
        assert e164 is not None
        earlier = first_seen.get(e164)
        if earlier is not None:
            differs = sorted(
                k for k in values if k != PHONE and values[k] != kept_values[earlier].get(k)
            )
            detail = f"same number {e164} as line {earlier}"
            if differs:
                detail += f"; differs in {', '.join(differs)}"
            result.problems.append(
                RowProblem(line, "duplicate", PHONE, fields.column_of(PHONE), phone_raw, detail)
            )
            result.rows.append(
                ImportedRow(
                    line, RowStatus.DUPLICATE, phone_raw, e164, values, "duplicate", earlier
                )
            )
            continue
        first_seen[e164] = line
        kept_values[line] = values
        result.rows.append(ImportedRow(line, RowStatus.OK, phone_raw, e164, values))
    return result
