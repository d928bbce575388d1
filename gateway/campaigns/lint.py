"""Safety lint for dunning messages: the mistakes that make a reminder look like fraud.

The rules come from what the source articles say goes wrong (seeds 000, 003, 004; DOMAIN §4):

``name_present``
    The recipient's name is in the rendered text. A bulk message without the addressee's name
    looks like phishing (seed 000 "相手の名前をしっかりと記入する").
``sender``
    The sender is a registered numeric sender on the domestic route. An alphanumeric sender
    travels only on international routes, where anyone can spoof it and where handsets thread
    it with phishing that uses the same text (DOMAIN §4, §6.4); many JP users block
    international SMS. With no sender registry configured, a numeric sender cannot be checked
    and the finding is only a warning.
``threatening_phrase``
    No threatening wording (法的措置, 差し押さえ, ...) in a *first notice*: fraudsters use it
    ("支払わない場合には法的措置"), and it makes a genuine first reminder look fake (seed 000
    "安心感のある内容に"). Later stages may use it; the list is configurable.
``url_allowlist``
    Every URL is on an allowlisted domain (the domain or a subdomain). Detected: scheme URLs
    (the host after any ``user@``), ``www.`` names and bare domains such as ``example.com/pay``,
    after folding full-width characters. An IP-address or non-ASCII host is never allowlisted.
``short_link``
    No link shorteners (bit.ly, t.co, ...): they hide the destination, which is what phishing
    does (seed 004 "URLの飛び先が不明のリンク").
``contact_number``
    A phone number to call back is in the text (seed 004: the number must be verifiable on the
    company's site).
``quiet_hours``
    The schedule's time of day is inside the allowed hours (default 08:00-21:00 JST). A send
    planned at night is not lost: it waits for the next window, and the finding says until
    when. Checked by the runner against the schedule (`CampaignRunner.preview`), not by the
    text linter.

Each rule has a configurable severity (`Severity.ERROR` blocks approval unless an operator
overrides it with a written reason; `Severity.WARNING` is shown; `Severity.OFF` disables it).

Invariants:
    * Pure: findings are a function of the texts, the recipients' names and the settings.
    * Findings are aggregated per (rule, subject), each with the CSV lines concerned, so a
      10,000-row campaign gives a handful of findings, not 10,000.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from sms.numbers import InvalidSender, SenderKind, classify_sender

__all__ = [
    "DEFAULT_SEVERITY",
    "DEFAULT_SHORT_LINK_HOSTS",
    "DEFAULT_THREAT_PHRASES",
    "Finding",
    "LintRule",
    "LintSettings",
    "Linter",
    "NoticeStage",
    "Route",
    "Severity",
    "UrlHit",
    "find_contact_numbers",
    "find_threats",
    "find_urls",
    "host_allowed",
]


class Severity(StrEnum):
    """How much a finding matters."""

    ERROR = "error"
    """Blocks approval unless overridden with a written reason."""
    WARNING = "warning"
    """Shown in the preview; does not block."""
    OFF = "off"
    """The rule does not run."""


class LintRule(StrEnum):
    """The lint rules (see the module docstring)."""

    NAME_PRESENT = "name_present"
    SENDER = "sender"
    THREATENING_PHRASE = "threatening_phrase"
    URL_ALLOWLIST = "url_allowlist"
    SHORT_LINK = "short_link"
    CONTACT_NUMBER = "contact_number"
    QUIET_HOURS = "quiet_hours"


class NoticeStage(StrEnum):
    """Where a message stands in the dunning escalation."""

    FIRST_NOTICE = "first_notice"
    """The first contact about this debt: calm wording only."""
    REMINDER = "reminder"
    """A later reminder."""
    FINAL_NOTICE = "final_notice"
    """The last notice before other measures."""


class Route(StrEnum):
    """The route a campaign is sent over."""

    DOMESTIC = "domestic"
    """Direct connection to the JP carriers: numeric, carrier-vetted senders."""
    INTERNATIONAL = "international"
    """An international route: arbitrary (spoofable) senders, often filtered by handsets."""


#: Default severities.
DEFAULT_SEVERITY: Final[Mapping[LintRule, Severity]] = {
    LintRule.NAME_PRESENT: Severity.ERROR,
    LintRule.SENDER: Severity.ERROR,
    LintRule.THREATENING_PHRASE: Severity.ERROR,
    LintRule.URL_ALLOWLIST: Severity.ERROR,
    LintRule.SHORT_LINK: Severity.ERROR,
    LintRule.CONTACT_NUMBER: Severity.WARNING,
    LintRule.QUIET_HOURS: Severity.WARNING,
}

#: Default threatening phrases for first notices (matched after NFKC, spaces removed).
DEFAULT_THREAT_PHRASES: Final[tuple[str, ...]] = (
    "法的措置",
    "法的手続",
    "差し押さえ",
    "差押",
    "裁判",
    "訴訟",
    "強制執行",
)

#: Default link-shortener hosts.
DEFAULT_SHORT_LINK_HOSTS: Final[tuple[str, ...]] = (
    "bit.ly",
    "t.co",
    "tinyurl.com",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "v.gd",
    "x.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "t.ly",
    "shorturl.at",
    "rb.gy",
    "tiny.cc",
    "amzn.to",
    "s.id",
    "lin.ee",
)


@dataclass(frozen=True, slots=True)
class LintSettings:
    """What the linter checks against."""

    severity: Mapping[LintRule, Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    """Severity per rule (missing rules use `DEFAULT_SEVERITY`)."""
    threat_phrases: tuple[str, ...] = DEFAULT_THREAT_PHRASES
    """Phrases not allowed in a first notice."""
    url_allowlist: tuple[str, ...] = ()
    """Domains links may point to (subdomains included)."""
    short_link_hosts: tuple[str, ...] = DEFAULT_SHORT_LINK_HOSTS
    """Hosts treated as link shorteners."""
    registered_senders: tuple[str, ...] = ()
    """Numeric senders registered for the domestic route; empty: no registry to check."""

    def level(self, rule: LintRule) -> Severity:
        """The severity of `rule`."""
        return self.severity.get(rule, DEFAULT_SEVERITY[rule])


@dataclass(frozen=True, slots=True)
class Finding:
    """One lint finding, aggregated over the recipients it concerns."""

    rule: LintRule
    """The rule."""
    severity: Severity
    """Error or warning."""
    message: str
    """What is wrong, for the operator."""
    lines: tuple[int, ...] = ()
    """CSV lines of the recipients concerned (empty for campaign-wide findings)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "rule": str(self.rule),
            "severity": str(self.severity),
            "message": self.message,
            "count": len(self.lines),
            "lines": list(self.lines),
        }


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


# --- URLs ------------------------------------------------------------------------------------

_TLDS: Final = (
    "com|net|org|info|biz|name|pro|io|co|me|ly|to|gl|gd|cc|tv|ws|xyz|app|dev|page|link|site|"
    "online|shop|store|top|club|asia|tokyo|osaka|nagoya|yokohama|click|help|support|email|"
    "finance|bank|money|pay|jp|[a-z]{2}"
)
_SCHEME_URL_RE: Final = re.compile(r"(?i)\b(?:https?|ftp)://([!-~]*)")
_BARE_URL_RE: Final = re.compile(
    r"(?i)(?<![A-Za-z0-9@./_:-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + _TLDS + r"))"
    r"(?![A-Za-z0-9-])(?::[0-9]{1,5})?(?:[/?#][!-~]*)?"
)
_TRAILING: Final = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class UrlHit:
    """A link found in a text."""

    text: str
    """The link as written (after full-width folding)."""
    host: str
    """Its host, lower-case ("" when unreadable, e.g. a non-ASCII host)."""


def find_urls(text: str) -> list[UrlHit]:
    """Every link in `text`: scheme URLs, ``www.`` names and bare domains.

    Args:
        text: A message (full-width characters are folded first).

    Returns:
        The links in order of appearance.
    """
    folded = _fold(text)
    hits: list[UrlHit] = []
    taken: list[tuple[int, int]] = []
    for match in _SCHEME_URL_RE.finditer(folded):
        rest = match.group(1).rstrip(_TRAILING)
        netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
        host = netloc.rsplit("@", 1)[-1]
        host = host.split(":", 1)[0] if not host.startswith("[") else host
        hits.append(UrlHit(match.group(0).rstrip(_TRAILING), host.lower().rstrip(".")))
        taken.append((match.start(), match.start() + len(match.group(0))))
    for match in _BARE_URL_RE.finditer(folded):
        if any(a <= match.start() < b for a, b in taken):
            continue
        hits.append(UrlHit(match.group(0).rstrip(_TRAILING), match.group(1).lower()))
    return hits


def host_allowed(host: str, allowlist: Iterable[str]) -> bool:
    """True when `host` is an allowlisted domain or one of its subdomains."""
    if not host or not host.isascii() or re.fullmatch(r"[0-9.]+|\[.*\]", host):
        return False
    for domain in allowlist:
        d = domain.lower().strip().rstrip(".")
        if d and (host == d or host.endswith("." + d)):
            return True
    return False


# --- contact numbers and phrases ---------------------------------------------------------------

_PHONE_RE: Final = re.compile(r"(?<![0-9])(?:\+81[- ]?\(?0?\)?|0)[0-9][0-9 ()\-‐‑–—−ー]{7,16}[0-9]")
_DIGITS_RE: Final = re.compile(r"[0-9]")


def find_contact_numbers(text: str) -> list[str]:
    """Phone numbers (JP national 10-11 digits, or +81) in `text`, as written."""
    found: list[str] = []
    for match in _PHONE_RE.finditer(_fold(text)):
        written = match.group(0)
        digits = "".join(_DIGITS_RE.findall(written))
        if written.startswith("+81"):
            digits = "0" + digits[2:].lstrip("0")
        if digits.startswith("0") and 10 <= len(digits) <= 11:
            found.append(written)
    return found


def find_threats(text: str, phrases: Iterable[str]) -> list[str]:
    """The phrases of `phrases` that occur in `text` (NFKC-folded, whitespace ignored)."""
    squashed = re.sub(r"\s+", "", _fold(text))
    return [p for p in phrases if re.sub(r"\s+", "", _fold(p)) in squashed]


# --- the linter ----------------------------------------------------------------------------------


class Linter:
    """Collects findings over a campaign's rendered messages.

    Args:
        settings: Rules, severities and lists.
    """

    def __init__(self, settings: LintSettings) -> None:
        self._settings = settings
        self._hits: dict[tuple[LintRule, str], list[int]] = {}
        self._campaign: list[Finding] = []

    def _add(self, rule: LintRule, message: str, line: int) -> None:
        self._hits.setdefault((rule, message), []).append(line)

    def check_sender(self, sender: str, route: Route) -> None:
        """Campaign-wide: the sender must be a registered numeric sender on the domestic route.

        Args:
            sender: The sender ID exactly as it will be displayed.
            route: The route the campaign uses.
        """
        level = self._settings.level(LintRule.SENDER)
        if level is Severity.OFF:
            return
        problems: list[tuple[Severity, str]] = []
        try:
            kind = classify_sender(sender)
        except InvalidSender as exc:
            problems.append((level, f"sender {sender!r} is not a valid sender ID: {exc.detail}"))
            kind = None
        if kind is SenderKind.ALPHANUMERIC:
            problems.append(
                (
                    level,
                    f"sender {sender!r} is alphanumeric, so spoofable: it only travels on "
                    "international routes, where anyone can send the same name and handsets "
                    "thread it with phishing; use the registered numeric sender",
                )
            )
        if route is Route.INTERNATIONAL:
            problems.append(
                (
                    level,
                    "the campaign uses an international route: senders there are spoofable and "
                    "many JP handsets reject international SMS; use the domestic route",
                )
            )
        registry = self._settings.registered_senders
        if kind is not None and kind is not SenderKind.ALPHANUMERIC:
            if registry and sender not in registry:
                problems.append(
                    (level, f"sender {sender!r} is not a registered sender for the domestic route")
                )
            elif not registry:
                problems.append(
                    (
                        Severity.WARNING,
                        f"no sender registry configured: cannot check that {sender!r} is ours",
                    )
                )
        self._campaign.extend(Finding(LintRule.SENDER, sev, msg) for sev, msg in problems)

    def check_message(self, line: int, text: str, name: str | None, stage: NoticeStage) -> None:
        """Check one rendered message.

        Args:
            line: The recipient's CSV line.
            text: The rendered text.
            name: The recipient's name (None or empty when the campaign has no name field).
            stage: The message's notice stage.
        """
        s = self._settings
        if s.level(LintRule.NAME_PRESENT) is not Severity.OFF:
            wanted = re.sub(r"\s+", "", _fold(name or ""))
            if not wanted:
                self._add(LintRule.NAME_PRESENT, "the recipient has no name to address", line)
            elif wanted not in re.sub(r"\s+", "", _fold(text)):
                self._add(
                    LintRule.NAME_PRESENT,
                    "the recipient's name is not in the text (add {name} to the template)",
                    line,
                )
        if stage is NoticeStage.FIRST_NOTICE and s.level(LintRule.THREATENING_PHRASE) is not (
            Severity.OFF
        ):
            for phrase in find_threats(text, s.threat_phrases):
                self._add(
                    LintRule.THREATENING_PHRASE,
                    f"threatening phrase {phrase!r} in a first notice",
                    line,
                )
        check_short = s.level(LintRule.SHORT_LINK) is not Severity.OFF
        check_url = s.level(LintRule.URL_ALLOWLIST) is not Severity.OFF
        for hit in find_urls(text):
            if hit.host in s.short_link_hosts:
                if check_short:
                    self._add(
                        LintRule.SHORT_LINK,
                        f"link shortener {hit.host} hides the destination",
                        line,
                    )
            elif check_url and not host_allowed(hit.host, s.url_allowlist):
                shown = hit.host or hit.text
                self._add(LintRule.URL_ALLOWLIST, f"link to {shown} is not on the allowlist", line)
        if s.level(LintRule.CONTACT_NUMBER) is not Severity.OFF and not find_contact_numbers(text):
            self._add(LintRule.CONTACT_NUMBER, "no contact phone number in the text", line)

    def findings(self) -> list[Finding]:
        """All findings so far: campaign-wide ones first, then by rule and message."""
        out = list(self._campaign)
        for (rule, message), lines in sorted(self._hits.items()):
            out.append(Finding(rule, self._settings.level(rule), message, tuple(lines)))
        return out
