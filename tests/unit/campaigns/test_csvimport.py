"""CSV import: encodings, physical line numbers, column mapping, validation, duplicates, filters."""

from __future__ import annotations

import codecs
from datetime import date

import pytest

from gateway.campaigns.config import CampaignConfig
from gateway.campaigns.csvimport import (
    ImportResult,
    RowStatus,
    decode,
    read_csv,
    resolve_mapping,
    validate_rows,
)
from gateway.campaigns.errors import ColumnMappingError, CsvReadError
from gateway.campaigns.values import FieldType
from tests.unit.campaigns.conftest import DATA

HEADER = "電話番号,氏名,金額,支払期日\n"


def run(
    data: bytes,
    config: CampaignConfig | None = None,
    required: tuple[str, ...] = ("name", "amount", "due_date"),
) -> ImportResult:
    cfg = config or CampaignConfig()
    table = read_csv(data, path="x.csv", encoding=cfg.encoding, delimiter=cfg.delimiter)
    fields = resolve_mapping(table.headers, cfg)
    return validate_rows(table, fields, cfg, required=required)


# --- decoding -------------------------------------------------------------------------------------


def test_utf8_with_and_without_bom() -> None:
    text = HEADER + "090-1234-5678,山田,1000,2026/5/27\n"
    for data, codec in ((text.encode(), "utf-8"), (codecs.BOM_UTF8 + text.encode(), "utf-8-sig")):
        table = read_csv(data, path="x.csv")
        assert table.encoding == codec
        assert table.headers[0] == "電話番号"  # no BOM left in the first header


def test_shift_jis_file_is_detected() -> None:
    data = (DATA / "rent_sjis.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = run(data)
    assert result.table.encoding == "cp932"
    utf8 = run((DATA / "rent_utf8.csv").read_bytes())
    assert [(r.line, r.status, r.values) for r in result.rows] == [
        (r.line, r.status, r.values) for r in utf8.rows
    ]
    assert result.rows[0].values["name"] == "山田 太郎"


def test_cp932_extensions_decode() -> None:
    data = (HEADER + "090-1234-5678,髙橋①,1000,2026/5/27\n").encode("cp932")
    assert run(data).rows[0].values["name"] == "髙橋①"


def test_encoding_override_and_errors() -> None:
    data = (HEADER + "090-1234-5678,山田,1000,2026/5/27\n").encode("cp932")
    assert decode(data, path="x.csv", encoding="shift_jis")[1] == "shift_jis"
    with pytest.raises(CsvReadError) as info:
        decode(data, path="x.csv", encoding="utf-8")
    assert info.value.line == 1
    with pytest.raises(CsvReadError, match="unknown encoding"):
        decode(b"a", path="x.csv", encoding="klingon")


def test_undecodable_file_names_the_line() -> None:
    data = b"phone,name\n09012345678,ok\n09012345679,\x81 \xe3\x81\n"
    with pytest.raises(CsvReadError) as info:
        decode(data, path="x.csv")
    assert info.value.line == 3
    assert "x.csv:3" in str(info.value)


def test_utf16_bom() -> None:
    text = "phone,name\n09012345678,山田\n"
    assert decode(text.encode("utf-16"), path="x.csv") == (text, "utf-16")


def test_empty_file() -> None:
    with pytest.raises(CsvReadError, match="no header"):
        read_csv(b"\n\n", path="x.csv")


# --- physical line numbers ------------------------------------------------------------------------


def test_line_numbers_are_physical() -> None:
    data = (
        HEADER
        + "090-1234-5678,山田,1000,2026/5/27\n"  # line 2
        + "\n"  # line 3: blank, skipped
        + ",,,\n"  # line 4: empty cells, skipped
        + '090-1234-5679,"佐藤\n花子",1000,2026/5/27\n'  # lines 5-6
        + "03-1234-5678,田中,1000,2026/5/27\n"  # line 7
    ).encode()
    result = run(data)
    assert [r.line for r in result.rows] == [2, 5, 7]
    assert [p.line for p in result.problems] == [7]
    assert result.rows[1].values["name"] == "佐藤\n花子"


def test_crlf_line_numbers() -> None:
    data = (
        (HEADER + "090-1234-5678,山田,1000,2026/5/27\n" + "123,田中,1000,2026/5/27\n")
        .replace("\n", "\r\n")
        .encode("cp932")
    )
    assert [p.line for p in run(data).problems] == [3]


# --- mapping --------------------------------------------------------------------------------------


def test_aliases_and_identifier_headers() -> None:
    fields = resolve_mapping(("携帯番号", "お名前", "請求金額", "期日", "city"), CampaignConfig())
    assert dict(fields.columns) == {
        "phone": 0,
        "name": 1,
        "amount": 2,
        "due_date": 3,
        "city": 4,
    }
    assert fields.types["amount"] is FieldType.INT
    assert fields.types["city"] is FieldType.STR


def test_explicit_mapping_wins_and_custom_types() -> None:
    cfg = CampaignConfig(
        columns={"TEL2": "phone", "残高": "balance"}, types={"balance": FieldType.INT}
    )
    fields = resolve_mapping(("電話番号", "TEL2", "残高"), cfg)
    assert fields.columns["phone"] == 1
    assert fields.types["balance"] is FieldType.INT


def test_mapping_names_a_missing_column() -> None:
    with pytest.raises(ColumnMappingError) as info:
        resolve_mapping(("電話番号", "氏名"), CampaignConfig(columns={"携帯": "phone"}))
    assert info.value.column == "携帯"
    assert "電話番号" in str(info.value)


def test_no_phone_column() -> None:
    with pytest.raises(ColumnMappingError, match="no phone column"):
        resolve_mapping(("氏名", "金額"), CampaignConfig())


def test_bad_field_name_and_double_mapping() -> None:
    with pytest.raises(ColumnMappingError, match="not a field name"):
        resolve_mapping(("a", "b"), CampaignConfig(columns={"a": "phone.number"}))
    with pytest.raises(ColumnMappingError, match="already fed"):
        resolve_mapping(("a", "b"), CampaignConfig(columns={"a": "phone", "b": "phone"}))
    with pytest.raises(ColumnMappingError, match="appears 2 times"):
        resolve_mapping(("a", "a"), CampaignConfig(columns={"a": "phone"}))


# --- validation -----------------------------------------------------------------------------------


def test_every_problem_with_its_code() -> None:
    data = (
        HEADER
        + "090-1234-5678,山田,1000,2026/5/27\n"  # 2 ok
        + "9012345678,a,1,2026/5/27\n"  # 3 leading_zero_lost
        + "03-1234-5678,b,1,2026/5/27\n"  # 4 landline
        + "090-12,c,1,2026/5/27\n"  # 5 too_short
        + "090-1234-567a,d,1,2026/5/27\n"  # 6 non_digit
        + "050-1234-5678,e,1,2026/5/27\n"  # 7 not_mobile
        + "090-2222-3333,,1,2026/5/27\n"  # 8 missing name
        + "090-2222-3334,f,1.5,2026/5/27\n"  # 9 bad_amount
        + "090-2222-3335,g,1,2026/13/01\n"  # 10 bad_date
        + "090-2222-3336,h,1\n"  # 11 column_count
        + ",i,1,2026/5/27\n"  # 12 empty
    ).encode()
    result = run(data)
    codes: dict[int, str] = {}
    for p in result.problems:
        codes.setdefault(p.line, p.code)
    assert codes == {
        3: "leading_zero_lost",
        4: "landline",
        5: "too_short",
        6: "non_digit",
        7: "not_mobile",
        8: "missing_field",
        9: "bad_amount",
        10: "bad_date",
        11: "column_count",
        12: "empty",
    }
    assert result.count(RowStatus.OK) == 1
    assert result.count(RowStatus.INVALID) == 10
    missing = next(p for p in result.problems if p.line == 8)
    assert (missing.field, missing.column) == ("name", "氏名")


def test_a_row_reports_all_its_problems_and_keeps_the_first_as_reason() -> None:
    data = (HEADER + "03-1234-5678,,abc,2026/2/30\n").encode()
    result = run(data)
    assert [p.code for p in result.problems] == [
        "landline",
        "missing_field",
        "bad_amount",
        "bad_date",
    ]
    assert result.rows[0].reason == "landline"
    assert result.invalid_by_reason() == {"landline": 1}


def test_optional_fields_may_be_empty() -> None:
    data = "電話番号,氏名,番号取得日\n090-1234-5678,山田,\n".encode()
    result = run(data, required=("name",))
    assert result.rows[0].status is RowStatus.OK
    assert "obtained_date" not in result.rows[0].values


def test_duplicates_after_normalisation() -> None:
    data = (
        HEADER
        + "090-1234-5678,山田,1000,2026/5/27\n"
        + "+81 90 1234 5678,山田,1000,2026/5/27\n"
        + "０９０１２３４５６７８,山田,2000,2026/5/27\n"
        + "9012345678,山田,1000,2026/5/27\n"  # invalid, not a duplicate
    ).encode()
    result = run(data)
    assert [(r.line, r.status, r.duplicate_of) for r in result.rows] == [
        (2, RowStatus.OK, None),
        (3, RowStatus.DUPLICATE, 2),
        (4, RowStatus.DUPLICATE, 2),
        (5, RowStatus.INVALID, None),
    ]
    details = [p.detail for p in result.problems if p.code == "duplicate"]
    assert details == [
        "same number +819012345678 as line 2",
        "same number +819012345678 as line 2; differs in amount",
    ]


def test_invalid_first_occurrence_does_not_make_a_duplicate() -> None:
    data = (
        HEADER + "090-1234-5678,,1000,2026/5/27\n" + "090-1234-5678,山田,1000,2026/5/27\n"
    ).encode()
    result = run(data)
    assert [r.status for r in result.rows] == [RowStatus.INVALID, RowStatus.OK]


def test_windows_and_timezones() -> None:
    data = (
        b"phone,name,window,timezone\n"
        b"090-1234-5678,a,10:00-19:00,Asia/Tokyo\n"
        b"090-1234-5679,b,22:00-07:00,\n"
        b"090-1234-5670,c,10-19,\n"
        b"090-1234-5671,d,,JST\n"
        b"090-1234-5672,e,,America/New_York\n"
    )
    result = run(data, required=("name",))
    assert [p.code for p in result.problems] == ["empty_window", "bad_window", "bad_timezone"]
    assert result.rows[0].values["window"] == "10:00-19:00"
    assert result.rows[4].status is RowStatus.OK
    replace = CampaignConfig.model_validate({"quiet_hours": {"recipient_window": "replace"}})
    assert run(data, replace, required=("name",)).rows[1].status is RowStatus.OK


def test_typed_values() -> None:
    result = run((HEADER + '090-1234-5678, 山田 ,"¥85,000",2026年5月27日\n').encode())
    assert dict(result.rows[0].values) == {
        "phone": "090-1234-5678",
        "name": "山田",
        "amount": 85000,
        "due_date": date(2026, 5, 27),
    }


# --- filters --------------------------------------------------------------------------------------


SEGMENT = (
    "電話番号,氏名,city,grade\n"
    "090-1000-0001,a,渋谷区,gold\n"
    "090-1000-0002,b,新宿区,gold\n"
    "090-1000-0003,c,渋谷区,silver\n"
    "bad,d,新宿区,silver\n"
    "090-1000-0005,e,渋谷区,platinum\n"
).encode()


def test_filters_and_across_columns() -> None:
    result = run(SEGMENT, CampaignConfig(filters={"city": "渋谷区", "grade": "gold"}), ("name",))
    assert [r.line for r in result.rows if r.status is RowStatus.OK] == [2]
    assert result.count(RowStatus.FILTERED) == 4
    assert result.problems == []  # the invalid row is outside the segment


def test_filter_values_or_within_a_column() -> None:
    cfg = CampaignConfig(filters={"grade": ["gold", "platinum"]})
    result = run(SEGMENT, cfg, ("name",))
    assert [r.line for r in result.rows if r.status is RowStatus.OK] == [2, 3, 6]


def test_filter_by_field_name_and_width_folding() -> None:
    cfg = CampaignConfig(filters={"name": "ｃ"})
    result = run(SEGMENT, cfg, ("name",))
    assert [r.line for r in result.rows if r.status is RowStatus.OK] == [4]


def test_filter_on_a_missing_column() -> None:
    with pytest.raises(ColumnMappingError) as info:
        run(SEGMENT, CampaignConfig(filters={"region": "x"}), ("name",))
    assert info.value.column == "region"
