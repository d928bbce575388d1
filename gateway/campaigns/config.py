"""Campaign configuration (policy file) and template files (message file), as pydantic models.

Two files describe a campaign besides its CSV:

* The **template file** says what is sent: YAML front matter between ``---`` lines, then the
  body. Example (samples in ``tests/data/campaigns/*.txt``)::

      ---
      sender: "0005012345"          # quoted: YAML would read 0005012345 as the number 5012345
      route: domestic               # domestic | international
      profile: jp-docomo            # segmentation limits: jp-docomo (660), jp-au (670) ...
      stage: first_notice           # first_notice | reminder | final_notice
      schedule:
        kind: sequence              # once | monthly | sequence
        at: "10:00"
        steps:
          - {key: before, offset_days: -3, stage: reminder}
          - {key: overdue, offset_days: 3, stage: reminder, body: "{name}様 ..."}
      ---
      {name}様 {due_date:%-m月%-d日}が期日の{amount:,}円 ...

  Without front matter the whole file is the body and `TemplateSpec` defaults apply except
  the sender, which must then come from the campaign config (``sender:``) or the CLI.

* The **campaign config** (``--config``, optional) says how the CSV is read and which policy
  applies: ``columns`` (CSV column -> field), ``filters`` (column -> value or list of values:
  values of one column are OR-ed, columns AND-ed), ``types`` (extra typed fields), quiet
  hours, owner check, lint lists and severities, price per billing unit.

Invariants:
    * Both models forbid unknown keys, so a typo (``quiet_hour:``) is an error, not a silently
      ignored setting.
    * A campaign stores both as JSON when it is created; later steps (preview, approve, send)
      use that snapshot, never the files again, so what was approved is what is sent.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.campaigns.errors import CampaignConfigError
from gateway.campaigns.lint import (
    DEFAULT_SHORT_LINK_HOSTS,
    DEFAULT_THREAT_PHRASES,
    LintRule,
    LintSettings,
    NoticeStage,
    Route,
    Severity,
)
from gateway.campaigns.schedule import Monthly, Once, ReminderSequence, Schedule, Step
from gateway.campaigns.values import FieldType, parse_timezone
from gateway.ownercheck import NoDataPolicy
from gateway.policy.quiet import DailyWindow
from sms.segments import PROFILES

__all__ = [
    "DEFAULT_PROFILE",
    "CampaignConfig",
    "LintConfig",
    "OwnerCheckConfig",
    "QuietHoursConfig",
    "ScheduleSpec",
    "StepSpec",
    "TemplateSpec",
    "format_validation_error",
    "load_config",
    "load_template",
    "parse_template_text",
]

#: The default segmentation profile: docomo's 660 characters, the strictest JP limit. With
#: MNP the carrier cannot be told from the number, so a campaign must fit every carrier.
DEFAULT_PROFILE: Final[str] = "jp-docomo"

_STRICT = ConfigDict(extra="forbid")
_HHMM_RE: Final = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One readable line per pydantic error: ``source: field.path: message``."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{source}: {where}: {err['msg']}")
    return "\n".join(lines)


class QuietHoursConfig(BaseModel):
    """When contact is allowed (see `gateway.policy.quiet`)."""

    model_config = _STRICT

    window: str = "08:00-21:00"
    """Allowed local times of day (``HH:MM-HH:MM``, comma-separated intervals)."""
    timezone: str = "Asia/Tokyo"
    """Zone of recipients whose row gives none."""
    recipient_window: Literal["intersect", "replace"] = "intersect"
    """A row's own window is intersected with `window` (the law's hours still bind), or
    replaces it (only where the policy allows, e.g. documented debtor consent)."""
    validity_hours: float = Field(default=72.0, gt=0)
    """Validity asked for each message, before the quiet-hours cap."""
    min_validity_s: float = Field(default=60.0, ge=1)
    """Windows with less time left than this are skipped (deferred to the next one)."""

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        DailyWindow.parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_timezone(value)
        return value


class OwnerCheckConfig(BaseModel):
    """The owner check (他人接続判定) before sending."""

    model_config = _STRICT

    url: str | None = None
    """Base URL of the owner-check API; None: no client."""
    required: bool = True
    """Refuse to send rows with an obtained date when no client is configured."""
    no_data: NoDataPolicy = NoDataPolicy.HOLD
    """What to do with ``no_data`` answers."""
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    """Queries per HTTP request."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Seconds per request."""
    max_age_hours: float = Field(default=24.0, gt=0)
    """A recipient checked longer ago than this is checked again before its next send."""


class LintConfig(BaseModel):
    """Lint lists and severities (see `gateway.campaigns.lint`)."""

    model_config = _STRICT

    severity: dict[LintRule, Severity] = Field(default_factory=dict)
    """Overrides of `lint.DEFAULT_SEVERITY`."""
    threat_phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_THREAT_PHRASES))
    """Phrases not allowed in a first notice."""
    url_allowlist: list[str] = Field(default_factory=list)
    """Domains links may point to."""
    short_link_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_SHORT_LINK_HOSTS))
    """Link-shortener hosts."""
    registered_senders: list[str] = Field(default_factory=list)
    """Numeric senders registered for the domestic route."""

    def settings(self) -> LintSettings:
        """The pure settings object the linter takes."""
        return LintSettings(
            severity=dict(self.severity),
            threat_phrases=tuple(self.threat_phrases),
            url_allowlist=tuple(self.url_allowlist),
            short_link_hosts=tuple(h.lower() for h in self.short_link_hosts),
            registered_senders=tuple(self.registered_senders),
        )


class CampaignConfig(BaseModel):
    """How a campaign's CSV is read and which policies apply."""

    model_config = _STRICT

    columns: dict[str, str] = Field(default_factory=dict)
    """CSV column -> field name (``phone``, ``name``, ``amount``, ``due_date``,
    ``obtained_date``, ``window``, ``timezone``, or any identifier for a custom field)."""
    filters: dict[str, str | list[str]] = Field(default_factory=dict)
    """Column (or field) -> value(s): a row is kept when every column matches one of its
    values (NFKC-folded, trimmed)."""
    types: dict[str, FieldType] = Field(default_factory=dict)
    """Types of custom fields (``int`` / ``date`` / ``str``)."""
    encoding: str | None = None
    """CSV encoding; None: UTF-8 (BOM or not), else CP932."""
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    """CSV delimiter."""
    sender: str | None = None
    """Sender for template files without front matter."""
    price_per_unit: Decimal = Field(default=Decimal(3), ge=0)
    """Yen per billing unit, tax excluded (DOMAIN §1.5: ¥3 consumer tariff)."""
    allow_060: bool = False
    """Accept 060 mobile numbers (in service from 2026-07)."""
    allow_m2m: bool = False
    """Accept 020 / 0200 M2M numbers."""
    quiet_hours: QuietHoursConfig = Field(default_factory=QuietHoursConfig)
    """Quiet hours."""
    owner_check: OwnerCheckConfig = Field(default_factory=OwnerCheckConfig)
    """Owner check."""
    lint: LintConfig = Field(default_factory=LintConfig)
    """Lint."""

    def filter_pairs(self) -> list[tuple[str, tuple[str, ...]]]:
        """Filters as (column, accepted values)."""
        return [
            (column, (value,) if isinstance(value, str) else tuple(value))
            for column, value in self.filters.items()
        ]


class StepSpec(BaseModel):
    """One reminder step in a template file."""

    model_config = _STRICT

    key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=32)]
    """Slot name (``before``, ``due``, ``overdue``)."""
    offset_days: int = Field(ge=-366, le=366)
    """Days from the recipient's due date."""
    body: str | None = None
    """This step's body; None: the file's body."""
    stage: NoticeStage | None = None
    """This step's notice stage; None: the file's stage."""


class ScheduleSpec(BaseModel):
    """The schedule in a template file's front matter."""

    model_config = _STRICT

    kind: Literal["once", "monthly", "sequence"] = "once"
    """Once, monthly, or a reminder sequence."""
    at: str | None = None
    """Once: ISO datetime with offset (None: when sent). Monthly / sequence: ``HH:MM``."""
    day: int | None = Field(default=None, ge=1, le=31)
    """Monthly: the day of the month (29-31 -> last day of shorter months)."""
    start: date | None = None
    """Monthly: first date an occurrence may fall on."""
    count: int | None = Field(default=None, ge=1)
    """Monthly: number of occurrences."""
    until: date | None = None
    """Monthly: last date an occurrence may fall on."""
    timezone: str = "Asia/Tokyo"
    """Zone of `at`."""
    steps: list[StepSpec] = Field(default_factory=list)
    """Sequence: the steps, in offset order."""
    stop_on_reply: bool = True
    """Send nothing more to a recipient who replied (an MO linked to a campaign message)."""
    stop_on_paid: bool = True
    """Send nothing more to a recipient marked paid (``smsh campaign mark-paid``)."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_timezone(value)
        return value

    def build(self, *, send_at: datetime | None = None) -> Schedule:
        """The pure schedule object.

        Args:
            send_at: Overrides ``at`` of a once schedule (``smsh campaign send --at``).

        Raises:
            CampaignConfigError: Fields that do not fit the kind.
        """
        zone = parse_timezone(self.timezone)
        if self.kind == "once":
            if self.steps or self.day is not None:
                raise CampaignConfigError("a once schedule takes no steps or day", "schedule")
            at = send_at
            if at is None and self.at is not None:
                try:
                    at = datetime.fromisoformat(self.at)
                except ValueError:
                    raise CampaignConfigError(
                        f"{self.at!r} is not an ISO datetime", "schedule.at"
                    ) from None
            if at is not None and at.utcoffset() is None:
                at = at.replace(tzinfo=zone)
            return Once(at)
        clock = self._clock()
        if self.kind == "monthly":
            if self.day is None:
                raise CampaignConfigError("a monthly schedule needs day: 1..31", "schedule.day")
            return Monthly(
                self.day,
                clock,
                zone,
                self.start or date(1970, 1, 1),
                self.count,
                self.until,
            )
        if not self.steps:
            raise CampaignConfigError("a sequence needs steps", "schedule.steps")
        try:
            return ReminderSequence(
                tuple(
                    Step(s.key, s.offset_days, s.body, None if s.stage is None else str(s.stage))
                    for s in self.steps
                ),
                clock,
                zone,
            )
        except ValueError as exc:
            raise CampaignConfigError(str(exc), "schedule.steps") from None

    def _clock(self) -> time:
        text = self.at or "10:00"
        if _HHMM_RE.fullmatch(text) is None:
            raise CampaignConfigError(f"{text!r} is not a time HH:MM", "schedule.at")
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))


class TemplateSpec(BaseModel):
    """A template file: front matter plus body."""

    model_config = _STRICT

    sender: str
    """Sender ID exactly as displayed (quote numeric senders in YAML)."""
    route: Route = Route.DOMESTIC
    """The route."""
    profile: str = DEFAULT_PROFILE
    """Segmentation profile (`sms.segments.PROFILES`)."""
    stage: NoticeStage = NoticeStage.FIRST_NOTICE
    """Notice stage of the body."""
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    """When to send."""
    body: str = ""
    """The message template (after the front matter)."""
    source: str = "<template>"
    """File name, for messages."""

    @field_validator("sender", mode="before")
    @classmethod
    def _sender(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError(
                "the sender must be a quoted string (YAML reads 0005012345 as a number and "
                'drops the zeros): write sender: "0005012345"'
            )
        return value

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown profile {value!r} (known: {', '.join(PROFILES)})")
        return value


_FRONT_RE: Final = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.DOTALL | re.MULTILINE)


def parse_template_text(
    text: str, *, source: str = "<template>", sender: str | None = None
) -> TemplateSpec:
    """Parse a template file's text.

    Args:
        text: The file's text.
        source: Its name, for messages.
        sender: Sender to use when the front matter has none.

    Returns:
        The template spec; the body loses one trailing newline.

    Raises:
        CampaignConfigError: Bad YAML or front matter fields; no sender anywhere; empty body.
    """
    text = text.removeprefix("\ufeff")
    front: dict[str, Any] = {}
    body = text
    match = _FRONT_RE.match(text)
    if match is not None:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise CampaignConfigError(f"{source}: front matter is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise CampaignConfigError(f"{source}: front matter must be a mapping")
        front = dict(loaded or {})
        body = text[match.end() :]
    body = body.removesuffix("\n").removesuffix("\r")
    if "sender" not in front and sender is not None:
        front["sender"] = sender
    if "sender" not in front:
        raise CampaignConfigError(
            f"{source}: no sender: put 'sender: \"0005...\"' in the front matter or the config"
        )
    schedule = front.get("schedule")
    has_steps = isinstance(schedule, dict) and bool(schedule.get("steps"))
    if not body.strip() and not has_steps:
        raise CampaignConfigError(f"{source}: the template body is empty")
    try:
        return TemplateSpec.model_validate({**front, "body": body, "source": source})
    except ValidationError as exc:
        raise CampaignConfigError(format_validation_error(exc, source)) from None


def load_template(path: str | Path, *, sender: str | None = None) -> TemplateSpec:
    """Read and parse a template file (UTF-8, BOM allowed).

    Raises:
        CampaignConfigError: Unreadable, not UTF-8, or invalid (see `parse_template_text`).
    """
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise CampaignConfigError(f"{p}: cannot read template: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CampaignConfigError(f"{p}: a template file must be UTF-8 ({exc.reason})") from None
    return parse_template_text(text, source=str(p), sender=sender)


def load_config(path: str | Path | None) -> CampaignConfig:
    """Read a campaign config YAML file; None gives the defaults.

    Raises:
        CampaignConfigError: Unreadable, bad YAML, or invalid fields (each error names its field).
    """
    if path is None:
        return CampaignConfig()
    p = Path(path)
    try:
        loaded = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise CampaignConfigError(f"{p}: cannot read config: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CampaignConfigError(f"{p}: not valid YAML: {exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise CampaignConfigError(f"{p}: the config must be a mapping")
    try:
        return CampaignConfig.model_validate(loaded or {})
    except ValidationError as exc:
        raise CampaignConfigError(format_validation_error(exc, str(p))) from None
