"""Template files (front matter + body) and campaign config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.campaigns.config import load_config, load_template, parse_template_text
from gateway.campaigns.errors import CampaignConfigError
from gateway.campaigns.lint import NoticeStage, Route
from gateway.campaigns.preview import compile_variants
from gateway.campaigns.schedule import Once, ReminderSequence
from gateway.campaigns.values import FieldType
from tests.unit.campaigns.conftest import DATA

TYPES = {"name": FieldType.STR, "amount": FieldType.INT, "due_date": FieldType.DATE}


def test_sample_first_notice() -> None:
    spec = load_template(DATA / "first_notice.txt")
    assert (spec.sender, spec.route, spec.profile, spec.stage) == (
        "0005012345",
        Route.DOMESTIC,
        "jp-docomo",
        NoticeStage.FIRST_NOTICE,
    )
    assert spec.body.startswith("{name}様")
    assert not spec.body.endswith("\n")
    assert isinstance(spec.schedule.build(), Once)


def test_sample_reminder_sequence() -> None:
    spec = load_template(DATA / "reminder_sequence.txt")
    schedule = spec.schedule.build()
    assert isinstance(schedule, ReminderSequence)
    assert [s.key for s in schedule.steps] == ["before", "due", "overdue"]
    variants = compile_variants(spec, TYPES)
    assert set(variants) == {"before", "due", "overdue"}
    assert "本日" in variants["due"].template.body
    assert variants["overdue"].template.source.endswith("#overdue")
    assert variants["due"].stage is NoticeStage.REMINDER


def test_sample_config() -> None:
    cfg = load_config(DATA / "campaign.yaml")
    assert cfg.columns["電話番号"] == "phone"
    assert cfg.filter_pairs() == [("地域", ("渋谷区",))]
    assert cfg.lint.settings().registered_senders == ("0005012345",)
    assert load_config(None).price_per_unit == 3


def test_template_without_front_matter_takes_the_sender_given() -> None:
    spec = parse_template_text("{name}様\n", sender="0005012345")
    assert (spec.sender, spec.body) == ("0005012345", "{name}様")
    with pytest.raises(CampaignConfigError, match="no sender"):
        parse_template_text("{name}様")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("---\nsender: 0005012345\n---\nx", "quoted string"),
        ('---\nsender: "0005"\nprofil: jp-au\n---\nx', "profil"),
        ('---\nsender: "0005"\nprofile: jp-xx\n---\nx', "unknown profile"),
        ('---\nsender: "0005"\nstage: angry\n---\nx', "stage"),
        ('---\nsender: "0005"\n---\n  \n', "body is empty"),
        ("---\nsender: [\n---\nx", "not valid YAML"),
        ("---\n- a\n---\nx", "must be a mapping"),
    ],
)
def test_template_file_errors(text: str, fragment: str) -> None:
    with pytest.raises(CampaignConfigError) as info:
        parse_template_text(text, source="t.txt")
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        ("quiet_hour: {}\n", "quiet_hour"),
        ("quiet_hours: {window: '8-21'}\n", "quiet_hours.window"),
        ("quiet_hours: {timezone: JST}\n", "quiet_hours.timezone"),
        ("price_per_unit: -1\n", "price_per_unit"),
        ("owner_check: {no_data: maybe}\n", "owner_check.no_data"),
        ("lint: {severity: {name_present: fatal}}\n", "lint.severity"),
        ("- a\n", "must be a mapping"),
    ],
)
def test_config_errors_name_the_field(tmp_path: Path, yaml_text: str, fragment: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(CampaignConfigError) as info:
        load_config(path)
    assert fragment in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CampaignConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(CampaignConfigError, match="cannot read"):
        load_template(tmp_path / "missing.txt")
    sjis = tmp_path / "t.txt"
    sjis.write_bytes("{name}様".encode("cp932"))
    with pytest.raises(CampaignConfigError, match="UTF-8"):
        load_template(sjis)
