"""`smsh plan`, run through `scenarios.cli.main` as a user would."""

from __future__ import annotations

import io
import json

import pytest

from scenarios.cli import main
from sms.segments import PROFILES


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["plan", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON document on one line
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


def test_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "a" * 161, "--reference", "42")
    assert {"encoding", "parts", "units"} <= doc.keys()
    assert doc["encoding"] == "gsm7"
    assert doc["units"] == 2
    parts = doc["parts"]
    assert isinstance(parts, list)
    assert [p["chars"] for p in parts] == [153, 8]
    assert [p["octets"] for p in parts] == [140, 14]
    assert [p["udh_hex"] for p in parts] == ["0500032a0201", "0500032a0202"]


def test_json_ucs2_profile_and_method(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys, "あ" * 660, "--profile", "jp-docomo", "--method", "udh16", "--reference", "300"
    )
    assert doc["encoding"] == "ucs2"
    assert doc["data_coding"] == 8
    assert doc["profile"] == "jp-docomo"
    parts = doc["parts"]
    assert isinstance(parts, list)
    assert len(parts) == 10
    assert parts[0]["udh_hex"] == "060804012c0a01"


def test_json_sar_and_forced_encoding(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "é" * 141, "--method", "sar", "--encoding", "latin1")
    assert doc["encoding"] == "latin1"
    parts = doc["parts"]
    assert isinstance(parts, list)
    assert [p["chars"] for p in parts] == [140, 1]
    assert parts[0]["sar"] == {"reference": 0, "total": 2, "seq": 1}
    assert parts[0]["udh_hex"] == ""


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "漢" * 66 + "😀" + "漢" * 3]) == 0
    out = capsys.readouterr().out
    assert "ucs2 (data_coding 0x08)" in out
    assert "billing     2 units" in out
    assert "05 00 03 00 02 01" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert [row[:4] for row in rows] == [["1", "66", "66", "138"], ["2", "5", "5", "16"]]


def test_text_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a" * 160 + "\n"))
    doc = run_json(capsys)
    assert doc["units"] == 1  # the trailing newline from `echo` is dropped
    parts = doc["parts"]
    assert isinstance(parts, list)
    assert parts[0]["chars"] == 160


def test_over_long_text_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "あ" * 671, "--profile", "jp-au"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "671" in captured.err
    assert "670" in captured.err


def test_unencodable_forced_encoding_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "漢", "--encoding", "gsm7"]) == 1
    err = capsys.readouterr().err
    assert "U+6F22" in err
    assert err.count("\n") == 1


def test_unknown_profile_exits_2_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "hi", "--profile", "jp-nope"]) == 2
    err = capsys.readouterr().err
    for name in PROFILES:
        assert name in err


def test_bad_reference_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "a" * 200, "--reference", "256"]) == 2
    assert "256" in capsys.readouterr().err


def test_bad_method_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["plan", "hi", "--method", "carrier-pigeon"])
    assert info.value.code == 2
    assert "carrier-pigeon" in capsys.readouterr().err
