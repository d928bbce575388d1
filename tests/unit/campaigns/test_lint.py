"""Lint rules, each positive and negative; URL and phone detection; aggregation by line."""

from __future__ import annotations

import pytest

from gateway.campaigns.lint import (
    Finding,
    Linter,
    LintRule,
    LintSettings,
    NoticeStage,
    Route,
    Severity,
    find_contact_numbers,
    find_threats,
    find_urls,
    host_allowed,
)

GOOD = "山田 太郎様 ○○不動産です。家賃85,000円のお支払いをお願いします。お問い合わせ 03-1234-5678"
SETTINGS = LintSettings(url_allowlist=("pay.example.co.jp",), registered_senders=("0005012345",))


def lint(
    text: str = GOOD,
    *,
    name: str | None = "山田 太郎",
    stage: NoticeStage = NoticeStage.FIRST_NOTICE,
    sender: str = "0005012345",
    route: Route = Route.DOMESTIC,
    settings: LintSettings = SETTINGS,
) -> list[Finding]:
    linter = Linter(settings)
    linter.check_sender(sender, route)
    linter.check_message(2, text, name, stage)
    return linter.findings()


def rules(findings: list[Finding]) -> set[LintRule]:
    return {f.rule for f in findings}


def test_a_good_message_is_clean() -> None:
    assert lint() == []


# --- name_present ---------------------------------------------------------------------------------


def test_name_missing_from_text() -> None:
    findings = lint(GOOD.replace("山田 太郎様", "お客様"))
    assert rules(findings) == {LintRule.NAME_PRESENT}
    assert findings[0].severity is Severity.ERROR
    assert findings[0].lines == (2,)


def test_name_matches_across_spacing_and_width() -> None:
    assert lint(GOOD.replace("山田 太郎", "山田　太郎")) == []
    assert lint(GOOD, name="山田太郎") == []


def test_no_name_to_address() -> None:
    assert rules(lint(name="")) == {LintRule.NAME_PRESENT}


# --- sender ---------------------------------------------------------------------------------------


def test_alphanumeric_sender_is_spoofable() -> None:
    findings = lint(sender="ACME")
    assert rules(findings) == {LintRule.SENDER}
    assert "spoofable" in findings[0].message
    assert findings[0].severity is Severity.ERROR


def test_unregistered_numeric_sender() -> None:
    findings = lint(sender="0005099999")
    assert [f.message for f in findings] == [
        "sender '0005099999' is not a registered sender for the domestic route"
    ]


def test_international_route_is_flagged() -> None:
    assert rules(lint(route=Route.INTERNATIONAL)) == {LintRule.SENDER}


def test_invalid_sender() -> None:
    assert rules(lint(sender="ACME CORPORATION")) == {LintRule.SENDER}


def test_no_registry_is_only_a_warning() -> None:
    findings = lint(settings=LintSettings(url_allowlist=("pay.example.co.jp",)))
    assert [(f.rule, f.severity) for f in findings] == [(LintRule.SENDER, Severity.WARNING)]


# --- threatening phrases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phrase", ["法的措置", "法的手続き", "差し押さえ", "差押え", "裁判", "強制執行"]
)
def test_threat_in_a_first_notice(phrase: str) -> None:
    findings = lint(GOOD + f"応じない場合は{phrase}を取ります。")
    assert rules(findings) == {LintRule.THREATENING_PHRASE}


def test_threat_with_spaces_is_still_found() -> None:
    assert rules(lint(GOOD + "法的 措置")) == {LintRule.THREATENING_PHRASE}


def test_threat_allowed_in_a_final_notice() -> None:
    assert lint(GOOD + "法的措置を検討します。", stage=NoticeStage.FINAL_NOTICE) == []


def test_threat_list_is_configurable() -> None:
    settings = LintSettings(registered_senders=("0005012345",), threat_phrases=("至急",))
    assert rules(lint(GOOD + "至急", settings=settings)) == {LintRule.THREATENING_PHRASE}
    assert lint(GOOD + "裁判", settings=settings) == []
    assert find_threats("ｻｲﾊﾞﾝ 裁 判", ["裁判"]) == ["裁判"]


# --- URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "https://pay.example.co.jp/abc",
        "https://www.pay.example.co.jp",
        "pay.example.co.jp/abc",
        "ＨＴＴＰＳ：／／ｐａｙ．ｅｘａｍｐｌｅ．ｃｏ．ｊｐ／ａ",
    ],
)
def test_allowlisted_url_passes(link: str) -> None:
    assert lint(GOOD + f" お支払いは{link}から") == []


@pytest.mark.parametrize(
    ("link", "host"),
    [
        ("https://evil.example.com/pay", "evil.example.com"),
        ("http://pay.example.co.jp.evil.com/", "pay.example.co.jp.evil.com"),
        ("https://pay.example.co.jp@evil.com/x", "evil.com"),
        ("example.com/pay", "example.com"),
        ("www.example.org", "www.example.org"),
        ("http://192.168.0.1/pay", "192.168.0.1"),
        ("https://notpay.example.co.jp.xyz/", "notpay.example.co.jp.xyz"),
    ],
)
def test_url_not_on_the_allowlist(link: str, host: str) -> None:
    findings = lint(GOOD + f" {link} ")
    assert rules(findings) == {LintRule.URL_ALLOWLIST}
    assert host in findings[0].message


@pytest.mark.parametrize(
    "link", ["bit.ly/abc", "https://t.co/xyz", "ｂｉｔ．ｌｙ／ａｂｃ", "tinyurl.com/x"]
)
def test_short_links(link: str) -> None:
    assert rules(lint(GOOD + f" {link}")) == {LintRule.SHORT_LINK}


def test_not_urls() -> None:
    for text in ("3.5万円", "No.1", "info@example.com", "2026/05/27", "Mr.Smith"):
        assert find_urls(text) == [], text


def test_non_ascii_host_is_never_allowed() -> None:
    assert not host_allowed("", ["example.jp"])
    assert not host_allowed("例え.jp", ["jp"])
    assert host_allowed("a.b.example.jp", ["example.jp"])
    assert not host_allowed("badexample.jp", ["example.jp"])


# --- contact number -------------------------------------------------------------------------------


def test_missing_contact_number_is_a_warning() -> None:
    findings = lint(GOOD.replace("お問い合わせ 03-1234-5678", ""))
    assert [(f.rule, f.severity) for f in findings] == [(LintRule.CONTACT_NUMBER, Severity.WARNING)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("TEL 03-1234-5678", ["03-1234-5678"]),
        ("0120-123-456", ["0120-123-456"]),
        ("０３（１２３４）５６７８", ["03(1234)5678"]),
        ("+81 3 1234 5678", ["+81 3 1234 5678"]),
        ("090-1234-5678", ["090-1234-5678"]),
        ("85,000円 2026-05-27 12345", []),
    ],
)
def test_contact_numbers(text: str, found: list[str]) -> None:
    assert find_contact_numbers(text) == found


# --- severities and aggregation -------------------------------------------------------------------


def test_severity_off_and_downgrade() -> None:
    settings = LintSettings(
        severity={LintRule.NAME_PRESENT: Severity.OFF, LintRule.SHORT_LINK: Severity.WARNING},
        registered_senders=("0005012345",),
    )
    findings = lint("お客様 bit.ly/x 03-1234-5678", settings=settings)
    assert [(f.rule, f.severity) for f in findings] == [(LintRule.SHORT_LINK, Severity.WARNING)]


def test_findings_aggregate_lines() -> None:
    linter = Linter(SETTINGS)
    for line in (2, 3, 5):
        linter.check_message(line, "お客様へ 03-1234-5678", "山田", NoticeStage.REMINDER)
    [finding] = linter.findings()
    assert finding.lines == (2, 3, 5)
    assert finding.to_dict()["count"] == 3
