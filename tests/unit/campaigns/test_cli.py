"""`smsh campaign`: the sub-subcommands end to end on the sample files, exit codes, alignment."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from scenarios.commands import campaign
from scenarios.commands.campaign import display_width, fit, table
from tests.unit.campaigns.conftest import DATA


def smsh(db: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="smsh campaign")
    campaign.add_arguments(parser)
    args = parser.parse_args([*argv, "--db", str(db)])
    return campaign.run(args)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "smsh.sqlite3"


def create(db: Path, *extra: str, csv: str = "rent_sjis.csv") -> int:
    return smsh(
        db,
        "create",
        "--csv",
        str(DATA / csv),
        "--template",
        str(DATA / "first_notice.txt"),
        "--by",
        "alice",
        "--now",
        "2026-05-27T21:30+09:00",
        *extra,
    )


def test_full_flow(db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert create(db, "--map", "番号取得日=acquired") == 0
    out = capsys.readouterr().out
    assert "campaign cmp-1 created (draft) by alice" in out
    assert "(cp932, header on line 1)" in out
    assert "bad_amount 1, landline 1, leading_zero_lost 1" in out
    assert "   5  landline" in out
    assert "same number +819012345678 as line 2" in out
    assert "nothing was sent" in out

    assert smsh(db, "preview", "1") == 0
    out = capsys.readouterr().out
    assert "recipients 3  messages 3  units 6  cost ¥18" in out
    assert "approval: ready" in out

    assert smsh(db, "send", "cmp-1", "--now", "2026-05-27T21:31+09:00") == 1
    assert "not approved: nothing was sent" in capsys.readouterr().err

    assert smsh(db, "approve", "cmp-1", "--by", "alice") == 1
    assert "different operator" in capsys.readouterr().err
    assert smsh(db, "approve", "cmp-1", "--by", "bob", "--now", "2026-05-27T21:40+09:00") == 0
    assert "approved by bob at 2026-05-27 21:40 JST (created by alice)" in capsys.readouterr().out

    assert smsh(db, "send", "cmp-1", "--now", "2026-05-27T21:45+09:00") == 0
    out = capsys.readouterr().out
    assert "handed 3 messages to the gateway" in out
    assert re.search(r"deferred \(quiet hours\)\s+3\n", out)

    assert smsh(db, "mark-paid", "1", "--phone", "080-2345-6789", "--by", "carol") == 0
    assert "marked paid (line 3)" in capsys.readouterr().out

    detail = tmp_path / "detail.csv"
    assert smsh(db, "report", "1", "--csv", str(detail)) == 0
    out = capsys.readouterr().out
    assert "approved by bob" in out
    assert re.search(r"\ncost \(tax excl\.\)\s+¥18\n", out)
    assert detail.read_text(encoding="utf-8").startswith("line,phone,e164")

    assert smsh(db, "report", "1", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("rows", "invalid", "duplicates", "recipients", "sent")} == {
        "rows": 7,
        "invalid": 3,
        "duplicates": 1,
        "recipients": 3,
        "sent": 3,
    }
    assert report["message_states"] == {"scheduled": 3}
    assert report["paid"] == 1

    assert smsh(db, "export", "1", "problems", "--csv", "-") == 0
    problems = capsys.readouterr().out.splitlines()
    assert problems[0] == "line,code,field,column,value,detail"
    assert len(problems) == 6

    assert smsh(db, "list") == 0
    out = capsys.readouterr().out
    assert "cmp-1" in out
    assert "done" in out
    assert "bob" in out


def test_bad_mapping_exits_2_naming_the_column(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert create(db, "--map", "携帯=phone") == 2
    err = capsys.readouterr().err
    assert "column '携帯' is not in the CSV header" in err
    assert "電話番号" in err


def test_unreadable_file_exits_2(
    db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert create(db, csv="missing.csv") == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"phone\n\x81 \n")
    assert (
        smsh(
            db,
            "create",
            "--csv",
            str(bad),
            "--template",
            str(DATA / "first_notice.txt"),
            "--by",
            "a",
        )
        == 2
    )
    assert "bad.csv:2" in capsys.readouterr().err


def test_wrong_encoding_override_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert create(db, "--encoding", "utf-8") == 2
    assert "not valid utf-8" in capsys.readouterr().err


def test_template_error_exits_2(
    db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tpl = tmp_path / "t.txt"
    tpl.write_text('---\nsender: "0005012345"\n---\n{氏名.__class__}様', encoding="utf-8")
    code = smsh(
        db, "create", "--csv", str(DATA / "rent_utf8.csv"), "--template", str(tpl), "--by", "a"
    )
    assert code == 2
    assert "attribute access" in capsys.readouterr().err
    tpl.write_text("---\nsender: 0005012345\n---\n{name}", encoding="utf-8")
    assert (
        smsh(
            db, "create", "--csv", str(DATA / "rent_utf8.csv"), "--template", str(tpl), "--by", "a"
        )
        == 2
    )
    assert "quoted string" in capsys.readouterr().err


def test_filters_from_the_command_line(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert create(db, "--filter", "地域=渋谷区", "--filter", "会員ランク=gold") == 0
    out = capsys.readouterr().out
    assert re.search(r"\nrecipients\s+2 ", out)
    assert re.search(r"\nfiltered\s+3 ", out)


def test_config_file(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert create(db, "--config", str(DATA / "campaign.yaml"), csv="rent_utf8.csv") == 0
    out = capsys.readouterr().out
    assert re.search(r"\nfiltered\s+2 ", out)
    assert smsh(db, "preview", "1", "--json") == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["findings"] == []


def test_unknown_campaign_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert smsh(db, "preview", "cmp-9") == 2
    assert "no campaign 'cmp-9'" in capsys.readouterr().err


def test_lint_override_from_the_command_line(
    db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tpl = tmp_path / "t.txt"
    tpl.write_text(
        '---\nsender: "ACME"\n---\n{name}様 至急ご連絡ください 03-1234-5678', encoding="utf-8"
    )
    assert (
        smsh(
            db,
            "create",
            "--csv",
            str(DATA / "rent_utf8.csv"),
            "--template",
            str(tpl),
            "--by",
            "alice",
        )
        == 0
    )
    capsys.readouterr()
    assert smsh(db, "preview", "1") == 0
    out = capsys.readouterr().out
    assert re.search(r"ERROR\s+sender\s+campaign\s+sender 'ACME' is alphanumeric", out)
    assert "spoofable" in out
    assert "approval: blocked by 1 lint errors" in out
    assert smsh(db, "approve", "1", "--by", "bob") == 1
    assert "--override-lint" in capsys.readouterr().err
    assert (
        smsh(db, "approve", "1", "--by", "bob", "--override-lint", "国際網テスト配信のため承認")
        == 0
    )
    assert "lint errors overridden: 国際網テスト配信のため承認" in capsys.readouterr().out


def test_send_at_requires_an_offset(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create(db)
    smsh(db, "approve", "1", "--by", "bob")
    capsys.readouterr()
    assert smsh(db, "send", "1", "--at", "2026-06-01T10:00") == 2
    assert "needs an offset" in capsys.readouterr().err


# --- display width --------------------------------------------------------------------------------


def test_display_width() -> None:
    assert display_width("abc") == 3
    assert display_width("山田") == 4
    assert display_width("ｱｲｳ") == 3  # half-width katakana
    assert display_width("ＡＢ") == 4  # full-width Latin
    assert display_width("が") == 2
    assert display_width("か\u3099") == 2  # combining voiced mark takes no column


def test_fit_cuts_by_columns() -> None:
    assert fit("山田太郎様", 6) == "山田…"
    assert display_width(fit("山田太郎様" * 10, 20)) <= 20
    assert fit("short", 10) == "short"
    assert fit("a\nb", 10) == "a⏎b"


def test_table_aligns_japanese() -> None:
    text = table(["name", "amount"], [["山田 太郎", "85,000"], ["Bob", "1"]], right=(1,))
    lines = text.splitlines()
    assert [display_width(line) for line in lines] == [17, 17, 17]
    assert lines[1].endswith("85,000")
    assert lines[2].endswith("     1")


def test_overlength_listed_in_preview(
    db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = "phone,name,note\n" + "".join(
        f"090-1000-000{i},山田,{'あ' * n}\n" for i, n in enumerate((10, 700), start=1)
    )
    csv = tmp_path / "long.csv"
    csv.write_text(rows, encoding="utf-8")
    tpl = tmp_path / "t.txt"
    tpl.write_text('---\nsender: "0005012345"\n---\n{name}様 {note} 03-1234-5678', encoding="utf-8")
    assert smsh(db, "create", "--csv", str(csv), "--template", str(tpl), "--by", "alice") == 0
    capsys.readouterr()
    assert smsh(db, "preview", "1") == 0
    out = capsys.readouterr().out
    assert "1 message over the jp-docomo limit (approval blocked):" in out
    assert re.search(r"\n\s+3\s+山田\s+\*\s+717\s+660\n", out)
    assert "TOO LONG" in out
    assert "approval: blocked (messages too long)" in out
    assert smsh(db, "approve", "1", "--by", "bob") == 1
    assert "line 3: 717" in capsys.readouterr().err


def test_registered_in_smsh(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scenarios import cli

    monkeypatch.setitem(cli.COMMANDS, "campaign", ("scenarios.commands.campaign", campaign.HELP))
    assert cli.main(["campaign", "list", "--db", str(db)]) == 0
    assert "no campaigns" in capsys.readouterr().out


def test_run_releases_approved_campaigns_once_and_never_twice(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert create(db, "--map", "番号取得日=acquired") == 0
    assert smsh(db, "run", "--now", "2026-05-27T21:41+09:00") == 0
    assert "nothing due" in capsys.readouterr().out  # a draft is never released
    assert smsh(db, "approve", "1", "--by", "bob", "--now", "2026-05-27T21:42+09:00") == 0
    capsys.readouterr()
    assert smsh(db, "run", "--now", "2026-05-27T21:45+09:00") == 0
    out = capsys.readouterr().out
    assert "2026-05-27 21:45 JST: campaign cmp-1: handed over 3 (deferred 3), excluded 0" in out
    assert smsh(db, "run", "--now", "2026-05-27T21:46+09:00") == 0  # a restart: nothing twice
    assert "nothing due" in capsys.readouterr().out
    assert smsh(db, "report", "1", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["sent"], report["state"]) == (3, "done")


def test_run_rejects_a_bad_interval(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert smsh(db, "run", "--once", "--interval", "0") == 2
    assert "--interval must be positive" in capsys.readouterr().err
