"""Configuration of the carrier model: pydantic v2 models that become part of the scenario schema.

Every default comes from DOMAIN.md §2-§6 (the section is cited on the field); numbers marked
**[assumption]** there are assumptions here too and are deliberately configurable.

Invariants:
    * Every model forbids unknown keys and is frozen (`ConfigModel`); every field has a docstring
      that becomes its JSON-schema description.
    * A `NetworkConfig` that validates is consistent as a whole: every carrier named anywhere
      (population mix, subscribers, overrides, outages) is configured, shares are in [0, 1],
      mixes sum to 1, time zones exist. Inconsistencies raise `NetworkConfigError` naming the
      field.
    * Nothing here is consulted on the hot path: `CarrierNetwork` compiles the config once into
      tuples, dicts and closures.
"""

from __future__ import annotations

import itertools
import math
import zoneinfo
from datetime import UTC, date, datetime, time
from typing import Final, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from simulator.network.base import ConfigModel
from simulator.network.distributions import (
    ExponentialLatency,
    FixedLatency,
    LatencySpec,
    LognormalLatency,
)
from simulator.network.errors import NetworkConfigError
from simulator.network.faults import Fault

__all__ = [
    "OUTCOMES",
    "AbsenceSpec",
    "AccountConfig",
    "CarrierConfig",
    "DangerousSmsConfig",
    "DomesticRoute",
    "ErrorCodes",
    "ExponentialLatency",
    "FixedLatency",
    "HandsetConfig",
    "HandsetWindow",
    "InternationalRoute",
    "LognormalLatency",
    "MessageIdConfig",
    "NetworkConfig",
    "NumberRange",
    "OutcomeMix",
    "OutcomeOverride",
    "OwnerCheckConfig",
    "OwnershipSpec",
    "PopulationSpec",
    "ProtectedSender",
    "QuarantineSpec",
    "QuietHoursConfig",
    "ReceiptConfig",
    "RecyclingConfig",
    "RegistryConfig",
    "ReplyTemplate",
    "RetrySchedule",
    "RoutesConfig",
    "SubscriberSpec",
    "TwoWayConfig",
]

Route = Literal["domestic_direct", "international"]
Outcome = Literal[
    "delivered",
    "expired",
    "unknown_subscriber",
    "rejected",
    "unknown",
    "system_failure",
    "memory_full",
]
#: Outcome names in the fixed order used for cumulative tables.
OUTCOMES: Final[tuple[str, ...]] = (
    "delivered",
    "expired",
    "unknown_subscriber",
    "rejected",
    "unknown",
    "system_failure",
    "memory_full",
)

_HOUR: Final = 3600.0


def _check_zone(name: str, value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise NetworkConfigError(name, f"unknown time zone {value!r}") from exc
    return value


# ---------------------------------------------------------------------------------------------
# Carriers, retries, outcomes
# ---------------------------------------------------------------------------------------------


class RetrySchedule(ConfigModel):
    """Store-and-forward retries of an SMSC for an absent handset (DOMAIN §3, §6.5)."""

    first_retry_s: float = Field(default=300.0, gt=0)
    """Delay from the failed first attempt to the first retry [assumption]."""
    interval_s: float = Field(default=1800.0, gt=0)
    """Delay between later retries [assumption: the vendor report says only "periodic"]."""
    backoff: float = Field(default=1.0, ge=1.0)
    """Factor applied to the interval after each retry (1.0 = strictly periodic)."""
    max_interval_s: float | None = Field(default=None, gt=0)
    """Cap on the grown interval; None for no cap."""
    window_s: float = Field(default=72 * _HOUR, gt=0)
    """No retry is made later than this after the first attempt (docomo/Rakuten: 72 h)."""
    max_retries: int | None = Field(default=None, ge=0)
    """At most this many retries; None for as many as fit the window."""
    expire_after_last_retry: bool = False
    """True: give up (EXPIRED) as soon as the last retry fails (au's single retry);
    False: keep the message until its validity ends and report EXPIRED then."""

    def offsets(self) -> tuple[float, ...]:
        """Retry times in seconds after the first attempt, ascending.

        Returns:
            The offsets; at most 10,000 of them.
        """
        out: list[float] = []
        at = self.first_retry_s
        step = self.interval_s
        limit = self.max_retries if self.max_retries is not None else 10_000
        while at <= self.window_s and len(out) < limit:
            out.append(at)
            at += step
            step = step * self.backoff
            if self.max_interval_s is not None:
                step = min(step, self.max_interval_s)
        return tuple(out)


def _docomo_retry() -> RetrySchedule:
    return RetrySchedule(window_s=72 * _HOUR)


def _softbank_retry() -> RetrySchedule:
    return RetrySchedule(window_s=24 * _HOUR)


def _au_retry() -> RetrySchedule:
    return RetrySchedule(
        first_retry_s=60 * 60.0, window_s=60 * 60.0, max_retries=1, expire_after_last_retry=True
    )


class CarrierConfig(ConfigModel):
    """One mobile network (DOMAIN §3 "A2P retry behaviour", §6.5)."""

    retry: RetrySchedule = Field(default_factory=_docomo_retry)
    """Retry schedule for absent handsets."""
    max_validity_s: float = Field(default=72 * _HOUR, gt=0)
    """Longest validity the carrier keeps a message (validity = min(ESME value, this))."""
    latency: LatencySpec | None = None
    """Delivery latency for this carrier; None to use the route's."""


def _default_carriers() -> dict[str, CarrierConfig]:
    return {
        "docomo": CarrierConfig(retry=_docomo_retry(), max_validity_s=72 * _HOUR),
        "au": CarrierConfig(retry=_au_retry(), max_validity_s=72 * _HOUR),
        "SoftBank": CarrierConfig(retry=_softbank_retry(), max_validity_s=24 * _HOUR),
        "Rakuten": CarrierConfig(retry=_docomo_retry(), max_validity_s=72 * _HOUR),
        # MVNOs ride a host network; docomo-hosted is the common case [assumption].
        "MVNO": CarrierConfig(retry=_docomo_retry(), max_validity_s=72 * _HOUR),
    }


class OutcomeMix(ConfigModel):
    """Terminal outcome shares for messages that pass recipient filters (DOMAIN §6.5).

    The shares are what the receipts report; timing comes from the outcome (EXPIRED at the end
    of validity, absent-then-delivered at a retry, and so on). Must sum to 1.
    """

    delivered: float = Field(default=0.985, ge=0, le=1)
    """DELIVRD err 0."""
    expired: float = Field(default=0.008, ge=0, le=1)
    """Handset absent past the retry window / validity: EXPIRED err 27."""
    unknown_subscriber: float = Field(default=0.004, ge=0, le=1)
    """UNDELIV err 1 (unknown subscriber)."""
    rejected: float = Field(default=0.002, ge=0, le=1)
    """REJECTD err 13 (call barred: a per-message block by the recipient or network)."""
    unknown: float = Field(default=0.001, ge=0, le=1)
    """UNKNOWN err 0."""
    system_failure: float = Field(default=0.0, ge=0, le=1)
    """UNDELIV err 34 (system failure)."""
    memory_full: float = Field(default=0.0, ge=0, le=1)
    """Handset storage full until expiry: EXPIRED err 40 (memory capacity exceeded)."""

    @model_validator(mode="after")
    def _sums_to_one(self) -> OutcomeMix:
        total = sum(getattr(self, name) for name in OUTCOMES)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise NetworkConfigError("outcomes", f"shares sum to {total}, not 1")
        return self

    def shares(self) -> tuple[float, ...]:
        """The shares in `OUTCOMES` order."""
        return tuple(float(getattr(self, name)) for name in OUTCOMES)


class ErrorCodes(ConfigModel):
    """GSM MAP error codes written in receipts (`err:` and network_error_code; DOMAIN §3)."""

    unknown_subscriber: int = 1
    """Unknown subscriber (also unassigned and disconnected numbers)."""
    call_barred: int = 13
    """Call barred: recipient filters and blocks (REJECTD)."""
    absent: int = 27
    """Absent subscriber (handset off or out of coverage)."""
    system_failure: int = 34
    """System failure."""
    memory_full: int = 40
    """Memory capacity exceeded (handset storage full)."""
    screening: int = 15
    """Sender-ID registry block, "15 SCREENING ERROR" (DOMAIN §4, messagemedia)."""
    unknown: int = 0
    """Written with stat UNKNOWN."""


class AbsenceSpec(ConfigModel):
    """Temporarily absent handsets (DOMAIN §6.5: p_absent 0.02, return after Exp(mean 2 h))."""

    p_absent: float = Field(default=0.02, ge=0, le=1)
    """Share of all messages whose first attempt finds the handset absent. It includes the
    `expired` share of the mix; the rest are delivered at a retry after the handset returns."""
    return_mean_s: float = Field(default=2 * _HOUR, gt=0)
    """Mean of the exponential time until an absent handset returns."""


# ---------------------------------------------------------------------------------------------
# Routes, accounts, sender registry
# ---------------------------------------------------------------------------------------------


class _RouteBase(ConfigModel):
    outcomes: OutcomeMix = Field(default_factory=OutcomeMix)
    """Outcome mix for this route (DOMAIN §6.5)."""
    latency: LatencySpec = Field(default_factory=LognormalLatency)
    """Latency from submit to the delivery attempt (DOMAIN §6.5: median 3 s, p95 15 s, p99 60 s)."""


class DomesticRoute(_RouteBase):
    """Direct connection to the JP carriers: registered numeric senders only (DOMAIN §4, §6.2)."""

    alphanumeric_policy: Literal["reject", "replace", "allow"] = "reject"
    """Alphanumeric source_addr: reject (ESME_RINVSRCADR), replace with the account's default
    sender, or allow (only sensible for a carrier's own notices, e.g. "NTT DOCOMO")."""
    unregistered_numeric_policy: Literal["reject", "replace"] = "reject"
    """Numeric source_addr not registered to the account: reject or replace."""


class InternationalRoute(_RouteBase):
    """International route: free alphanumeric senders (TON 5) and numeric ones (TON 1)."""

    uk_punctuation: bool = False
    """Also allow `. & _ -` in alphanumeric senders (UK operator rules, DOMAIN §6.4)."""


class RoutesConfig(ConfigModel):
    """The two routes (DOMAIN §6.4)."""

    domestic_direct: DomesticRoute = Field(default_factory=DomesticRoute)
    """Domestic direct connection."""
    international: InternationalRoute = Field(default_factory=InternationalRoute)
    """International route. Its mix defaults to the domestic one: the extra REJECTD of DOMAIN's
    international figures (0.93 / 0.05) comes from `reject_international` recipients."""


class OutcomeOverride(ConfigModel):
    """An outcome mix for a subset of traffic; the first matching override wins."""

    route: Route | None = None
    """Only on this route; None for both."""
    carrier: str | None = None
    """Only to subscribers of this carrier; None for all."""
    prefix: str | None = None
    """Only to national numbers starting with this (e.g. "070"); None for all."""
    outcomes: OutcomeMix
    """The mix to use."""


class ProtectedSender(ConfigModel):
    """A brand's sender ID in the registry (DOMAIN §4 MEF registry / SSIR)."""

    sender_id: str = Field(min_length=1, max_length=11)
    """The registered alphanumeric sender, e.g. "NTT DOCOMO"."""
    accounts: list[str] = Field(default_factory=list)
    """system_ids allowed to send it (the brand's own accounts: their messages are genuine)."""


class RegistryConfig(ConfigModel):
    """Sender-ID registry (DOMAIN §6.4)."""

    mode: Literal["none", "protected", "relabel"] = "none"
    """none (JP default): anything goes; protected (MEF): block protected names and lookalikes
    with REJECTD err `screening`; relabel (SSIR): an unregistered alphanumeric sender is
    displayed as `relabel_text`."""
    protected: list[ProtectedSender] = Field(default_factory=list)
    """Registered brands; also used in mode none to recognise spoofs for the audit."""
    lookalikes: bool = True
    """Treat variants as the brand: case, 0/O, 1/l/I, spaces and `. & _ -`."""
    relabel_text: str = "Likely-SCAM"
    """What relabel mode displays instead of an unregistered sender (Singapore SSIR)."""


class DangerousSmsConfig(ConfigModel):
    """What the recipient-side dangerous-SMS filter (危険SMS拒否) blocks (DOMAIN §4)."""

    url_hosts: list[str] = Field(default_factory=list)
    """Hosts whose URLs make a message dangerous (substring match on the text, lower case)."""
    attacker_is_dangerous: bool = True
    """Messages from accounts flagged `attacker` are dangerous."""
    spoof_is_dangerous: bool = True
    """Messages spoofing a registered brand are dangerous."""


class MessageIdConfig(ConfigModel):
    """How the SMSC writes message ids (the sequence itself is arrival order, never a fate)."""

    format: Literal["hex", "decimal"] = "hex"
    """Digits of the id in submit_sm_resp."""
    width: int = Field(default=10, ge=1, le=64)
    """Zero-padded to this many characters (SMPP 3.4 Appendix B shows 10)."""
    uppercase: bool = False
    """Upper-case hex digits."""
    start: int = Field(default=1, ge=0)
    """First id number."""
    prefix: str = ""
    """Literal prefix, e.g. an instance tag when several simulators run."""


class ReceiptConfig(ConfigModel):
    """Delivery receipts and their fault knobs (DOMAIN §3, §6.5)."""

    granularity: Literal["per_part", "per_message"] = "per_part"
    """per_part: each part draws its own latency and receipt knobs (carrier-level receipts,
    DOMAIN §3); per_message: every part uses the message's draws, so all parts share one fate
    (combine with policy first_part / last_part for one receipt per message)."""
    policy: Literal["every_part", "first_part", "last_part"] = "every_part"
    """Which parts' ids get a receipt."""
    outcome_scope: Literal["message", "part"] = "message"
    """Draw the outcome once per message (one handset, one state) or once per part."""
    intermediate: bool = True
    """Honour registered_delivery bit 4 with ENROUTE notifications at failed attempts."""
    latency: LatencySpec = Field(default_factory=lambda: FixedLatency(seconds=0.0))
    """Delay from the delivery attempt to the receipt."""
    seconds_in_dates: bool = False
    """Write 12-digit dates (YYMMDDhhmmss) instead of 10."""
    id_in_receipt: Literal["same", "decimal", "hex"] = "same"
    """Fault knob: write the id in another base than submit_sm_resp (hex in resp, decimal in
    receipt is the classic mismatch)."""
    loss_rate: float = Field(default=0.001, ge=0, le=1)
    """Receipts never sent (DOMAIN §6.5 dlr_loss_rate 0.001)."""
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    """Receipts sent twice."""
    duplicate_delay: LatencySpec = Field(default_factory=lambda: FixedLatency(seconds=1.0))
    """Delay of the duplicate after the original."""
    late_rate: float = Field(default=0.0, ge=0, le=1)
    """Receipts held back by `late_delay`."""
    late_delay: LatencySpec = Field(default_factory=lambda: FixedLatency(seconds=3600.0))
    """Extra delay of a late receipt."""
    before_resp_rate: float = Field(default=0.0, ge=0, le=1)
    """Receipts sent before the submit_sm_resp (immediately, with a provisional stat)."""
    malformed_rate: float = Field(default=0.0, ge=0, le=1)
    """Receipts with a damaged text (fields missing or garbled)."""
    fake_delivered_rate: float = Field(default=0.0, ge=0, le=1)
    """Failed messages reported DELIVRD anyway (DOMAIN §6.5 fake_dlr_rate)."""


class AccountConfig(ConfigModel):
    """One ESME account (system_id) of the simulated SMSC."""

    route: Route = "domestic_direct"
    """The route this account's traffic takes."""
    sender_codes: list[str] | None = None
    """Registered numeric senders (e.g. "00051234"); None: any numeric sender is accepted."""
    default_sender: str | None = None
    """Sender used when a policy says `replace`; None: the first registered code."""
    alphanumeric_policy: Literal["reject", "replace", "allow"] | None = None
    """Override of the domestic route's alphanumeric policy for this account."""
    attacker: bool = False
    """A fraudster's account (its messages count as dangerous for the 危険SMS filter)."""
    max_tps: int | None = Field(default=600, ge=1)
    """Flow control: submits accepted per second before ESME_RTHROTTLED (DOMAIN §6.5: 600)."""
    max_queue: int | None = Field(default=None, ge=1)
    """Messages in flight (accepted, not final) before ESME_RMSGQFUL; None for no cap."""
    receipts: ReceiptConfig | None = None
    """Receipt settings for this account; None to use the network's."""


# ---------------------------------------------------------------------------------------------
# Subscribers, handsets, ownership
# ---------------------------------------------------------------------------------------------


class NumberRange(ConfigModel):
    """An inclusive range of national numbers of equal length."""

    first: str = Field(pattern=r"^0\d{9,13}$")
    """First number (national form with trunk 0)."""
    last: str = Field(pattern=r"^0\d{9,13}$")
    """Last number, same length as `first`."""

    @model_validator(mode="after")
    def _ordered(self) -> NumberRange:
        if len(self.first) != len(self.last) or int(self.last) < int(self.first):
            raise NetworkConfigError("ranges", f"bad range {self.first}..{self.last}")
        return self

    @property
    def size(self) -> int:
        """Numbers in the range."""
        return int(self.last) - int(self.first) + 1


def _default_ranges() -> list[NumberRange]:
    return [
        NumberRange(first="09010000000", last="09099999999"),
        NumberRange(first="08010000000", last="08099999999"),
        NumberRange(first="07010000000", last="07099999999"),
    ]


def _default_carrier_mix() -> dict[str, float]:
    return {"docomo": 0.36, "au": 0.27, "SoftBank": 0.21, "Rakuten": 0.06, "MVNO": 0.10}


class PopulationSpec(ConfigModel):
    """A generated subscriber population (DOMAIN §6.2, §6.4)."""

    size: int = Field(default=10_000, ge=0)
    """Subscribers drawn from `ranges` (all in service at the epoch)."""
    ranges: list[NumberRange] = Field(default_factory=_default_ranges)
    """Where their numbers come from (JP voice mobile 090/080/070 by default)."""
    carrier_mix: dict[str, float] = Field(default_factory=_default_carrier_mix)
    """Carrier shares (DOMAIN §6.2 [assumption]); carrier is per subscriber, never per prefix."""
    ported_share: float = Field(default=0.15, ge=0, le=1)
    """Share flagged as ported by MNP (DOMAIN §6.2 mnp_ported_rate [assumption])."""
    reject_international_share: float = Field(default=0.05, ge=0, le=1)
    """Share with 国際SMS拒否 on (DOMAIN §6.4 [assumption])."""
    reject_all_share: float = Field(default=0.01, ge=0, le=1)
    """Share with 一括拒否 on (DOMAIN §6.4 [assumption])."""
    dangerous_filter_share: float = Field(default=0.5, ge=0, le=1)
    """Share with 危険SMS拒否 on: contracts after 2022-03-24 have it by default
    (DOMAIN §6.4; the share itself is an [assumption])."""

    @field_validator("carrier_mix")
    @classmethod
    def _mix(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise NetworkConfigError("population.carrier_mix", "empty")
        if any(share < 0 for share in value.values()):
            raise NetworkConfigError("population.carrier_mix", "negative share")
        total = sum(value.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise NetworkConfigError("population.carrier_mix", f"shares sum to {total}, not 1")
        return value


class HandsetWindow(ConfigModel):
    """A period in which a handset is off or its storage is full."""

    state: Literal["off", "storage_full"] = "off"
    """off: absent subscriber (err 27); storage_full: memory capacity exceeded (err 40)."""
    start_s: float = 0.0
    """Start, seconds after the scenario epoch (inclusive)."""
    end_s: float | None = None
    """End, seconds after the scenario epoch (exclusive); None: until the end of time."""


class OwnershipSpec(ConfigModel):
    """One owner's tenure of a number (local dates in the network time zone)."""

    owner: str = Field(min_length=1)
    """Opaque owner id (compared with the intended_owner a submit may carry)."""
    active_from: date
    """First day the owner held the number."""
    active_to: date | None = None
    """Disconnect day (the number leaves this owner); None: still held."""


class SubscriberSpec(ConfigModel):
    """An explicitly listed subscriber (overrides the generated population for its number)."""

    number: str
    """The number in any form `sms.numbers.parse_msisdn` accepts."""
    carrier: str = "docomo"
    """Carrier."""
    ported: bool = False
    """Ported by MNP."""
    reject_international: bool = False
    """国際SMS拒否."""
    reject_all: bool = False
    """一括拒否."""
    dangerous_filter: bool = False
    """危険SMS拒否."""
    timezone: str | None = None
    """Local zone for quiet hours; None for the network's."""
    handset: list[HandsetWindow] = Field(default_factory=list)
    """Off / storage-full periods (evaluated at each delivery attempt's time)."""
    ownership: list[OwnershipSpec] | None = None
    """Ownership timeline, oldest first; None: generated like the population's."""
    outcome: Outcome | None = None
    """Force this outcome for every message (tests); None: draw from the mix."""
    reply_probability: float | None = Field(default=None, ge=0, le=1)
    """Override of the two-way reply probability for this subscriber."""
    reply_template: str | None = None
    """Always reply with this template name (when replying at all)."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone("subscribers.timezone", value)

    @model_validator(mode="after")
    def _timeline(self) -> SubscriberSpec:
        periods = self.ownership or []
        for before, after in itertools.pairwise(periods):
            if before.active_to is None or after.active_from <= before.active_to:
                raise NetworkConfigError(
                    f"subscribers[{self.number}].ownership",
                    "periods must be ordered, closed and disjoint (a gap is the quarantine)",
                )
        for period in periods:
            if period.active_to is not None and period.active_to < period.active_from:
                raise NetworkConfigError(
                    f"subscribers[{self.number}].ownership", "active_to before active_from"
                )
        return self


class QuarantineSpec(ConfigModel):
    """Aging of a disconnected number before reassignment (DOMAIN §6.3)."""

    median_days: float = Field(default=180.0, gt=0)
    """Median quarantine (JP default 180 days [assumption; no public figure])."""
    sigma: float = Field(default=0.5, ge=0)
    """Lognormal sigma [assumption]."""
    min_days: float = Field(default=90.0, ge=0)
    """Floor (JP 90 days [assumption]; US mode: 45, FCC 47 CFR 52.15(f)(1)(ii))."""
    max_days: float | None = Field(default=None, gt=0)
    """Ceiling; None for none (US mode: 90)."""


class RecyclingConfig(ConfigModel):
    """Generated ownership timelines (DOMAIN §6.3)."""

    history_years: float = Field(default=10.0, gt=0)
    """How far back histories are generated (JP usage-history DBs hold about 10 years)."""
    annual_disconnect_rate: float = Field(default=0.08, ge=0)
    """Disconnects per number per year [assumption]."""
    quarantine: QuarantineSpec = Field(default_factory=QuarantineSpec)
    """Quarantine before reassignment."""
    reassigned_share: float = Field(default=0.6, ge=0, le=1)
    """Share of numbers disconnected during the scenario that are reassigned after
    quarantine (history before the epoch only holds reassigned numbers: all are in service)."""
    horizon_days: float = Field(default=365.0, ge=0)
    """How far after the epoch future disconnects are generated."""


class OwnerCheckConfig(ConfigModel):
    """The 他人接続判定 database (DOMAIN §2, §6.3: FCC RND semantics, JP vendors' inputs)."""

    same_day_counts: bool = True
    """A change on the reference date itself counts as changed (RND: query date <=
    disconnect date); False follows IMAoS (a change from the next day on)."""
    history_start: date | None = None
    """Reference dates before this give no_data; None: epoch minus `recycling.history_years`."""
    db_lag_days: float = Field(default=30.0, ge=0)
    """Reporting lag: changes newer than now - lag are not visible yet (US reports monthly)."""
    unknown_number: Literal["unchanged", "no_data"] = "unchanged"
    """Answer for numbers the database has no record of (RND: "no" after its start date)."""


class HandsetConfig(ConfigModel):
    """Handset behaviour (DOMAIN §6.1 udh_validation)."""

    reassembly_timeout_s: float = Field(default=24 * _HOUR, gt=0)
    """Parts of an incomplete concatenated message are shown separately after this
    [assumption: 24 h]."""
    max_messages_per_thread: int | None = Field(default=100, ge=1)
    """Messages kept per thread for handset views (the oldest are forgotten, which bounds
    memory under load); None keeps everything."""


# ---------------------------------------------------------------------------------------------
# Two-way and quiet hours
# ---------------------------------------------------------------------------------------------


class ReplyTemplate(ConfigModel):
    """A reply a subscriber may send."""

    name: str = Field(min_length=1)
    """Identifier (reported in events)."""
    text: str = Field(min_length=1)
    """The reply text."""
    weight: float = Field(default=1.0, ge=0)
    """Relative weight among templates."""
    opt_out: bool = False
    """The reply is an opt-out (STOP / 停止): reported as `opted_out`."""


_LONG_REPLY: Final = (
    "お世話になっております。先日ご連絡いただいたお支払いの件ですが、今月の給料日が25日なので、"
    "その翌日までには必ずお振り込みいたします。それまでお待ちいただけますでしょうか。"
)


def _default_templates() -> list[ReplyTemplate]:
    return [
        ReplyTemplate(name="paid", text="払いました", weight=0.45),
        ReplyTemplate(name="when", text="いつまでですか", weight=0.25),
        ReplyTemplate(name="stop", text="STOP", weight=0.08, opt_out=True),
        ReplyTemplate(name="stop_ja", text="停止", weight=0.07, opt_out=True),
        ReplyTemplate(name="long", text=_LONG_REPLY, weight=0.15),
    ]


def _default_reply_delay() -> LognormalLatency:
    return LognormalLatency(median_s=600.0, p95_s=3 * _HOUR, p99_s=None, max_s=24 * _HOUR)


class TwoWayConfig(ConfigModel):
    """Subscribers' replies (MO) to delivered messages (seed article 002, DOMAIN §6.6)."""

    enabled: bool = True
    """Generate replies at all."""
    reply_probability: float = Field(default=0.158, ge=0, le=1)
    """Chance a subscriber replies to a complete delivered message (article 002's
    municipality case: 159 replies to 1,009 recipients)."""
    delay: LatencySpec = Field(default_factory=_default_reply_delay)
    """Time from the message's completion on the handset to the reply [assumption]."""
    templates: list[ReplyTemplate] = Field(default_factory=_default_templates)
    """Reply texts and their weights (incl. a long reply > 70 characters and STOP/停止)."""
    wrong_number_reply: ReplyTemplate | None = Field(
        default_factory=lambda: ReplyTemplate(name="wrong_number", text="番号違いです")
    )
    """What a new owner of a recycled number replies (when replying at all)."""
    concat: Literal["udh8", "udh16", "sar"] = "udh8"
    """How long replies are split: UDH with 8- or 16-bit reference, or SAR TLVs."""
    reply_to_alphanumeric: bool = False
    """Alphanumeric senders are one-way (DOMAIN §4); True lets replies reach them anyway."""


class QuietHoursConfig(ConfigModel):
    """The quiet-hours audit (DOMAIN §5, §6.6: JP dunning 21:00-08:00 local)."""

    enabled: bool = True
    """Record `delivered_in_quiet_hours` events."""
    start: time = time(21, 0)
    """Quiet period starts (local time)."""
    end: time = time(8, 0)
    """Quiet period ends (local time); may be earlier than `start` (crosses midnight)."""


# ---------------------------------------------------------------------------------------------
# Root
# ---------------------------------------------------------------------------------------------


def _default_epoch() -> datetime:
    # sms.clock.ManualClock starts here: 2026-01-01T00:00:00Z.
    return datetime(2026, 1, 1, tzinfo=UTC)


class NetworkConfig(ConfigModel):
    """The whole carrier model of one simulator instance."""

    epoch: AwareDatetime = Field(default_factory=_default_epoch)
    """Scenario start; fault windows and handset windows are relative to it, and ownership
    histories are generated around it."""
    timezone: str = "Asia/Tokyo"
    """Recipients' local zone (receipt dates, ownership dates, quiet hours)."""
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    """Generated subscribers."""
    subscribers: list[SubscriberSpec] = Field(default_factory=list)
    """Explicit subscribers (added to, or overriding, the population)."""
    carriers: dict[str, CarrierConfig] = Field(default_factory=_default_carriers)
    """Carriers by name (docomo, au, SoftBank, Rakuten, MVNO)."""
    routes: RoutesConfig = Field(default_factory=RoutesConfig)
    """The two routes."""
    outcome_overrides: list[OutcomeOverride] = Field(default_factory=list)
    """Mixes per route / carrier / number prefix; the first match wins."""
    absence: AbsenceSpec = Field(default_factory=AbsenceSpec)
    """Temporarily absent handsets."""
    errors: ErrorCodes = Field(default_factory=ErrorCodes)
    """GSM MAP error codes used in receipts."""
    accounts: dict[str, AccountConfig] = Field(default_factory=dict)
    """ESME accounts by system_id."""
    default_account: AccountConfig = Field(default_factory=AccountConfig)
    """Settings for system_ids not listed in `accounts`."""
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    """Sender-ID registry."""
    dangerous: DangerousSmsConfig = Field(default_factory=DangerousSmsConfig)
    """What the dangerous-SMS filter blocks."""
    receipts: ReceiptConfig = Field(default_factory=ReceiptConfig)
    """Delivery receipts."""
    message_ids: MessageIdConfig = Field(default_factory=MessageIdConfig)
    """Message id format."""
    recycling: RecyclingConfig = Field(default_factory=RecyclingConfig)
    """Number recycling."""
    owner_check: OwnerCheckConfig = Field(default_factory=OwnerCheckConfig)
    """他人接続判定 database."""
    handsets: HandsetConfig = Field(default_factory=HandsetConfig)
    """Handset behaviour."""
    two_way: TwoWayConfig = Field(default_factory=TwoWayConfig)
    """Replies."""
    quiet_hours: QuietHoursConfig = Field(default_factory=QuietHoursConfig)
    """Quiet-hours audit."""
    faults: list[Fault] = Field(default_factory=list)
    """Faults (discriminated on `kind`), scoped by account, route and window."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone("timezone", value)

    @model_validator(mode="after")
    def _carriers_known(self) -> NetworkConfig:
        known = set(self.carriers)
        for name in self.population.carrier_mix:
            if name not in known:
                raise NetworkConfigError(f"population.carrier_mix.{name}", "unknown carrier")
        for sub in self.subscribers:
            if sub.carrier not in known:
                raise NetworkConfigError(f"subscribers[{sub.number}].carrier", "unknown carrier")
        for i, override in enumerate(self.outcome_overrides):
            if override.carrier is not None and override.carrier not in known:
                raise NetworkConfigError(f"outcome_overrides[{i}].carrier", "unknown carrier")
        for i, fault in enumerate(self.faults):
            carrier = getattr(fault, "carrier", None)
            if carrier is not None and carrier not in known:
                raise NetworkConfigError(f"faults[{i}].carrier", "unknown carrier")
        names = [t.name for t in self.two_way.templates]
        if len(set(names)) != len(names):
            raise NetworkConfigError("two_way.templates", "template names must be unique")
        for sub in self.subscribers:
            if sub.reply_template is not None and sub.reply_template not in names:
                raise NetworkConfigError(
                    f"subscribers[{sub.number}].reply_template", "unknown template"
                )
        return self

    @property
    def epoch_s(self) -> float:
        """The epoch as seconds since 1970."""
        return self.epoch.timestamp()
