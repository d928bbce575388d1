"""The scenario file format: pydantic models, the metric catalogue and the JSON schema.

A scenario is one YAML document (loaded by `scenarios.loader`) that says which systems run, how
they are configured, what traffic goes through them and what must hold at the end:

    schema_version: 1            # required: the format version of this file
    name, description, seed      # the seed names every random stream of the run
    start, speed, duration,      # clock: simulated start, acceleration, how long
    messages, drain
    simulator:                   # our simulated carrier SMSC (omit with external.smsc)
      listen, accounts           #   SMSC accounts: credentials, bind modes, limits
      network                    #   the carrier model, `simulator.network.config.NetworkConfig`
      faults                     #   fault timeline, `simulator.network.faults.Fault` entries
      wire_faults                #   malformed PDUs and other wire-level misbehaviour
    gateway:                     # our ESME gateway (omit with external.esme)
      binds, window, rate, retry, routes, owner_check, quiet_hours, ...
    external:                    # a system under test instead of one of ours
      smsc | esme
    traffic: [...]               # streams: `generator` (rate phases, text mix) or `campaign`
    expectations: [...]          # ratio | count | latency | all_terminal |
                                 # mo_reassembled_equals_sent | throughput (or shorthand text)

Invariants:
    * Every model forbids unknown keys, is frozen, and documents every field with an attribute
      docstring that lands in the JSON schema (`use_attribute_docstrings=True`). The carrier model
      (`NetworkConfig`, the `Fault` union) and the gateway's `RetryConfig` are reused as they are,
      never copied.
    * A `Scenario` that validates is consistent as a whole: names it refers to exist (gateway binds
      vs SMSC accounts, stream accounts and routes, fault accounts and carriers), the run is bounded
      (a duration, a message count or finite streams), the topology is one of the three (ours vs
      ours, our gateway vs their SMSC, our simulator vs their ESME). Cross-field problems raise
      `FieldProblem` naming the field, so the loader can point at its line.
    * `METRICS` is the one catalogue of metric names: expectations may only name metrics from it,
      the ledger computes exactly these, and `tests/unit/scenario` checks the `Literal` types below
      against it.
    * `scenarios/schema.json` is `schema_json()` written to disk (`scripts/write_schema.py`); a
      test fails when the committed file drifts from these models.
"""

from __future__ import annotations

import json
import math
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.policy.retry import RetryConfig, RetryTable
from scenarios.errors import FieldProblem
from simulator.config import WireFault
from simulator.network.config import NetworkConfig
from simulator.network.faults import Fault
from sms.receipt import IdBase
from sms.segments import DEFAULT_PROFILE, PROFILES, Method

__all__ = [
    "CAMPAIGN_FIELDS",
    "GENERATOR_FIELDS",
    "HELPER_COUNTERS",
    "METRICS",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "AllTerminalExpectation",
    "BurstPhase",
    "CampaignStream",
    "CountExpectation",
    "CounterMetric",
    "DestinationEntry",
    "Destinations",
    "Duration",
    "Expectation",
    "ExpectationSpec",
    "ExternalEsme",
    "ExternalSmsc",
    "ExternalSpec",
    "GatewayBind",
    "GatewayRoute",
    "GatewaySpec",
    "GeneratorStream",
    "LatencyExpectation",
    "LatencyMetric",
    "ListDestinations",
    "MetricInfo",
    "MoReassembledExpectation",
    "Op",
    "OwnerCheckPolicy",
    "Password",
    "Percentile",
    "PopulationDestinations",
    "QuietHoursPolicy",
    "RampPhase",
    "RangeDestinations",
    "RatePhase",
    "RatioExpectation",
    "RatioMetric",
    "ReceiptMatching",
    "Scenario",
    "SimulatorSpec",
    "SmscAccount",
    "SteadyPhase",
    "StepPhase",
    "Stream",
    "TextMix",
    "TextTemplate",
    "ThroughputExpectation",
    "TimeZone",
    "WireFault",
    "compare",
    "parse_address",
    "parse_duration",
    "parse_expectation",
    "schema_json",
]

#: The one scenario format version this code reads and writes.
SCHEMA_VERSION: Final[int] = 1
#: Where the committed JSON schema lives.
SCHEMA_PATH: Final[Path] = Path(__file__).with_name("schema.json")

_NAME_PATTERN: Final[str] = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Model(BaseModel):
    """Base of every scenario section: strict, frozen, documented."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )


# ---------------------------------------------------------------------------------------------
# Small value types
# ---------------------------------------------------------------------------------------------

_UNIT_SECONDS: Final[dict[str, float]] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_TEXT: Final[str] = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$"


def parse_duration(value: object) -> float:
    """Read a duration: a number of seconds, or text such as ``500ms``, ``90s``, ``1h30m``, ``3d``.

    Args:
        value: The configured value.

    Returns:
        Seconds (finite, >= 0).

    Raises:
        ValueError: Not a duration, negative, or not finite.
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '90s', '5m', '72h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.replace(" ", "")
        pos = 0
        seconds = 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(
                f"not a duration: {value!r} (use seconds or text like '90s', '5m', '1h30m', '3d')"
            )
    else:
        raise ValueError("a duration is a number of seconds or text like '90s', '5m', '72h'")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be finite and not negative, got {value!r}")
    return seconds


_DurationText: TypeAlias = Annotated[str, Field(pattern=_DURATION_TEXT)]
_Seconds: TypeAlias = Annotated[float, Field(ge=0)]

Duration: TypeAlias = Annotated[
    float, BeforeValidator(parse_duration, json_schema_input_type=_Seconds | _DurationText)
]
"""Seconds, as a number or as text: ``500ms``, ``90s``, ``5m``, ``2h``, ``1h30m``, ``3d``."""

_ADDRESS: Final = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s\[\]]+)):(?P<port>\d+)$"
)


def parse_address(text: str) -> tuple[str, int]:
    """Split ``host:port`` (or ``[v6]:port``) into its parts.

    Args:
        text: The address.

    Returns:
        `(host, port)`; port 0 means "any free port" where listening.

    Raises:
        ValueError: Not of that form, or the port is out of range.
    """
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise ValueError(f"not a host:port address: {text!r}")
    port = int(match.group("port"))
    if port > 65535:
        raise ValueError(f"port out of range in {text!r}")
    return (match.group("v6") or match.group("host"), port)


def _check_address(value: str) -> str:
    parse_address(value)
    return value.strip()


Address: TypeAlias = Annotated[
    str, BeforeValidator(lambda v: _check_address(v) if isinstance(v, str) else v)
]
"""``host:port`` or ``[ipv6]:port``."""

BindMode: TypeAlias = Literal["transmitter", "receiver", "transceiver"]
"""SMPP 3.4 §2.2 bind types (as `sms.bus.events.BindMode`)."""
_BIND_MODES: Final[tuple[BindMode, ...]] = ("transmitter", "receiver", "transceiver")

SystemId: TypeAlias = Annotated[str, Field(min_length=1, max_length=15)]
"""SMPP system_id: 1..15 characters (SMPP 3.4 §4.1.1)."""


def _password(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) > 8:
        raise ValueError("a password has at most 8 characters (SMPP 3.4 §4.1.1)")
    return value


Password: TypeAlias = Annotated[SecretStr, AfterValidator(_password)]
"""An SMPP password: at most 8 characters (SMPP 3.4 §4.1.1); never printed."""


def _zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


TimeZone: TypeAlias = Annotated[str, AfterValidator(_zone)]
"""An IANA time zone name (``Asia/Tokyo``)."""


# ---------------------------------------------------------------------------------------------
# The metric catalogue
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """One entry of the metric catalogue."""

    name: str
    """The metric's name as written in expectations."""
    kind: Literal["counter", "ratio", "latency"]
    """counter: an integer count; ratio: numerator / denominator counters; latency: a series of
    samples in milliseconds with percentiles."""
    description: str
    """What it counts or measures, and where the fact comes from."""
    monotone: bool = True
    """Counters only: never decreases during a run (lets a live status decide early)."""
    numerator: str | None = None
    """Ratios only: the counter on top."""
    denominator: str | None = None
    """Ratios only: the counter below."""


CounterMetric: TypeAlias = Literal[
    "messages_planned",
    "messages_accepted",
    "messages_refused",
    "owner_check_blocked",
    "suppressed",
    "quiet_hours_deferred",
    "parts_submitted",
    "submit_attempts",
    "submit_ok",
    "submit_errors",
    "throttled",
    "generic_nacks",
    "submit_timeouts",
    "receipts_received",
    "receipts_matched",
    "receipts_unmatched",
    "receipts_duplicate",
    "receipts_intermediate",
    "receipts_lost",
    "messages_delivered",
    "messages_undeliverable",
    "messages_expired",
    "messages_rejected",
    "messages_failed",
    "messages_unknown",
    "messages_deleted",
    "messages_cancelled",
    "messages_partially_delivered",
    "messages_terminal",
    "messages_not_terminal",
    "misdeliveries",
    "spoof_delivered_into_thread",
    "spoof_blocked",
    "sender_relabelled",
    "sender_replaced",
    "filtered",
    "delivered_in_quiet_hours",
    "duplicate_deliveries",
    "opted_out",
    "sent_after_opt_out",
    "mo_sent",
    "mo_received",
    "mo_reassembled",
    "mo_mismatched",
    "binds_lost",
    "binds_reconnected",
    "malformed_pdus",
    "faults_injected",
]
"""Names of the counters (see `METRICS` for what each counts)."""

RatioMetric: TypeAlias = Literal[
    "delivered_ratio",
    "terminal_ratio",
    "expired_ratio",
    "undelivered_ratio",
    "refused_ratio",
    "throttled_ratio",
    "submit_error_ratio",
    "receipt_match_ratio",
]
"""Names of the ratios."""

LatencyMetric: TypeAlias = Literal[
    "submit_to_resp_ms",
    "submit_to_receipt_ms",
    "accept_to_final_ms",
    "queue_wait_ms",
]
"""Names of the latency series (milliseconds of the scenario clock)."""

Percentile: TypeAlias = Literal["p50", "p90", "p95", "p99", "max", "mean"]
"""Which statistic of a latency series an expectation looks at."""

Op: TypeAlias = Literal[">=", ">", "<=", "<", "==", "!="]
"""Comparison of the observed value (left) with the threshold (right)."""


def _c(name: str, description: str, *, monotone: bool = True) -> MetricInfo:
    return MetricInfo(name, "counter", description, monotone)


def _r(name: str, numerator: str, denominator: str, description: str) -> MetricInfo:
    return MetricInfo(name, "ratio", description, True, numerator, denominator)


def _l(name: str, description: str) -> MetricInfo:
    return MetricInfo(name, "latency", description)


#: Every metric an expectation may name, by name.
METRICS: Final[Mapping[str, MetricInfo]] = {
    m.name: m
    for m in (
        _c("messages_planned", "Messages the traffic streams produced (generator or campaign)."),
        _c("messages_accepted", "Messages the gateway accepted into its store."),
        _c(
            "messages_refused",
            "Messages the gateway refused at acceptance (too long for the profile, opted out, "
            "owner check, policy); each also counts under its reason.",
        ),
        _c("owner_check_blocked", "Refused: the owner check said the number changed hands."),
        _c("suppressed", "Refused: the number opted out (STOP) earlier."),
        _c("quiet_hours_deferred", "Messages the gateway held back until quiet hours ended."),
        _c("parts_submitted", "Distinct (message, part) pairs written as submit_sm at least once."),
        _c("submit_attempts", "submit_sm PDUs written, retries included."),
        _c("submit_ok", "submit_sm_resp with ESME_ROK."),
        _c("submit_errors", "Answers with a non-zero command_status (throttling included)."),
        _c("throttled", "Answers with ESME_RTHROTTLED (0x58)."),
        _c("generic_nacks", "Submits answered with generic_nack."),
        _c("submit_timeouts", "Submits that got no answer within the response timeout."),
        _c("receipts_received", "Delivery receipts the gateway read (intermediate ones too)."),
        _c("receipts_matched", "Receipts matched to a submitted part (by normalised id)."),
        _c("receipts_unmatched", "Receipts that matched no part (after any pending period)."),
        _c("receipts_duplicate", "Final receipts for a part that already had one."),
        _c("receipts_intermediate", "ENROUTE / intermediate notifications."),
        _c("receipts_lost", "Receipts the simulated network never sent (a fault knob)."),
        _c("messages_delivered", "Messages that ended delivered."),
        _c("messages_undeliverable", "Messages that ended undeliverable (UNDELIV)."),
        _c("messages_expired", "Messages that ended expired (EXPIRED or validity passed)."),
        _c("messages_rejected", "Messages that ended rejected (REJECTD)."),
        _c("messages_failed", "Messages that ended failed (a permanent submit error)."),
        _c("messages_unknown", "Messages that ended unknown (no receipt in time, UNKNOWN)."),
        _c("messages_deleted", "Messages that ended deleted (DELETED)."),
        _c("messages_cancelled", "Messages cancelled by an operator."),
        _c(
            "messages_partially_delivered",
            "Long messages whose parts ended mixed (some delivered, some not).",
        ),
        _c("messages_terminal", "Accepted messages that reached any terminal state."),
        _c(
            "messages_not_terminal",
            "Accepted messages without a terminal state (at the end: stuck messages).",
            monotone=False,
        ),
        _c("misdeliveries", "Messages delivered to a recycled number's new owner."),
        _c(
            "spoof_delivered_into_thread",
            "Spoofed messages shown in a thread that also holds the brand's genuine messages.",
        ),
        _c("spoof_blocked", "Spoofed messages the sender-ID registry stopped."),
        _c("sender_relabelled", "Unregistered senders displayed as the registry's label."),
        _c("sender_replaced", "Senders the domestic route replaced with the account default."),
        _c("filtered", "Messages a recipient filter rejected (reject-all, international...)."),
        _c(
            "delivered_in_quiet_hours",
            "Parts that reached a handset inside the recipient's local quiet hours.",
        ),
        _c("duplicate_deliveries", "Parts that reached the handset more than once."),
        _c("opted_out", "Subscribers who replied STOP / 停止."),
        _c("sent_after_opt_out", "Messages that reached a subscriber after their opt-out."),
        _c("mo_sent", "Replies (whole messages) the simulated handsets sent."),
        _c("mo_received", "MO messages the gateway received (after reassembly)."),
        _c("mo_reassembled", "MO messages the gateway put together from several parts."),
        _c(
            "mo_mismatched",
            "Sent replies without an equal received MO plus received MO without a sent reply "
            "(compared as (source, text) multisets).",
            monotone=False,
        ),
        _c("binds_lost", "Gateway sessions that closed without a normal unbind."),
        _c("binds_reconnected", "Gateway sessions bound again after a loss."),
        _c("malformed_pdus", "PDUs the gateway could not decode."),
        _c("faults_injected", "Fault activations (scenario timeline or operator)."),
        _r(
            "delivered_ratio",
            "messages_delivered",
            "messages_accepted",
            "Delivered share of accepted messages.",
        ),
        _r(
            "terminal_ratio",
            "messages_terminal",
            "messages_accepted",
            "Share of accepted messages that reached a terminal state.",
        ),
        _r(
            "expired_ratio",
            "messages_expired",
            "messages_accepted",
            "Expired share of accepted messages.",
        ),
        _r(
            "undelivered_ratio",
            "messages_undelivered",
            "messages_accepted",
            "Share of accepted messages that ended in any state but delivered.",
        ),
        _r(
            "refused_ratio",
            "messages_refused",
            "messages_planned",
            "Share of planned messages the gateway refused.",
        ),
        _r(
            "throttled_ratio",
            "throttled",
            "submit_attempts",
            "Share of submit_sm answered ESME_RTHROTTLED.",
        ),
        _r(
            "submit_error_ratio",
            "submit_errors",
            "submit_attempts",
            "Share of submit_sm answered with an error.",
        ),
        _r(
            "receipt_match_ratio",
            "receipts_matched",
            "receipts_received",
            "Share of receipts matched to a part.",
        ),
        _l("submit_to_resp_ms", "From writing a submit_sm to reading its response."),
        _l("submit_to_receipt_ms", "From a part's first submit_sm to its first final receipt."),
        _l("accept_to_final_ms", "From acceptance by the gateway to the terminal state."),
        _l("queue_wait_ms", "From the planned send time to the first submit_sm of the message."),
    )
}

#: Counters that exist only to build ratios (not expectation targets on their own).
HELPER_COUNTERS: Final[frozenset[str]] = frozenset({"messages_undelivered"})


def _metric_names(kind: str) -> tuple[str, ...]:
    return tuple(name for name, info in METRICS.items() if info.kind == kind)


# ---------------------------------------------------------------------------------------------
# Simulator
# ---------------------------------------------------------------------------------------------


class SmscAccount(_Model):
    """One ESME account of our simulated SMSC (what an SMSC's account table holds)."""

    system_id: SystemId
    """SMPP system_id the ESME binds with."""
    password: Password = SecretStr("")
    """SMPP password (at most 8 characters). Never printed."""
    bind_modes: list[BindMode] = Field(default_factory=lambda: list(_BIND_MODES), min_length=1)
    """Bind types the account may use; others are refused with ESME_RBINDFAIL."""
    max_binds: int | None = Field(default=None, ge=1)
    """Most sessions bound at once; None for no limit."""
    max_tps: float | None = Field(default=None, gt=0)
    """Submits per second over all the account's sessions before ESME_RTHROTTLED (SMSC flow
    control); None for no limit. The carrier model's own `network.accounts[...].max_tps` still
    applies on top."""
    window: int | None = Field(default=None, ge=1)
    """Most requests one session may have unanswered before ESME_RTHROTTLED; None: the server's
    cap."""
    max_queue: int | None = Field(default=None, ge=1)
    """Accepted messages not yet final before ESME_RMSGQFUL (queue capacity); None: no cap."""


class SimulatorSpec(_Model):
    """Our simulated carrier SMSC: listener, accounts, the carrier model and its faults."""

    listen: Address = "127.0.0.1:0"
    """Where the SMPP listener binds (``host:port``; port 0 = any free port, the runner reads
    the real one back)."""
    accounts: list[SmscAccount] = Field(default_factory=list)
    """SMSC accounts. Empty: open mode (any system_id/password binds)."""
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    """The carrier model (population, carriers, routes, registry, distributions, recycling,
    two-way, quiet-hours audit, receipts, ...), exactly as `simulator.network.config`."""
    faults: list[Fault] = Field(default_factory=list)
    """Fault timeline (windows in seconds after the scenario start), appended to
    `network.faults`."""
    wire_faults: list[WireFault] = Field(default_factory=list)
    """Wire-level faults of the server shell (malformed PDUs, ...), exactly as the simulator
    configuration's ``wire_faults.faults``; their windows count from the scenario start and
    their draws from the scenario seed."""

    @model_validator(mode="after")
    def _consistent(self) -> SimulatorSpec:
        ids = [a.system_id for a in self.accounts]
        seen: set[str] = set()
        for i, system_id in enumerate(ids):
            if system_id in seen:
                raise FieldProblem(
                    ("accounts", i, "system_id"), f"duplicate system_id {system_id!r}"
                )
            seen.add(system_id)
        carriers = set(self.network.carriers)
        for i, fault in enumerate(self.faults):
            carrier = getattr(fault, "carrier", None)
            if carrier is not None and carrier not in carriers:
                raise FieldProblem(
                    ("faults", i, "carrier"),
                    f"unknown carrier {carrier!r} (known: {', '.join(sorted(carriers))})",
                )
        if not ids:
            return self
        for name in self.network.accounts:
            if name not in seen:
                raise FieldProblem(
                    ("network", "accounts", name),
                    f"no SMSC account {name!r} in simulator.accounts",
                )
        for field_name, entries in (("faults", self.faults), ("wire_faults", self.wire_faults)):
            for i, entry in enumerate(entries):
                for j, name in enumerate(entry.accounts or ()):
                    if name not in seen:
                        raise FieldProblem(
                            (field_name, i, "accounts", j),
                            f"no SMSC account {name!r} in simulator.accounts",
                        )
        return self

    def account(self, system_id: str) -> SmscAccount | None:
        """The SMSC account called `system_id`, if listed."""
        return next((a for a in self.accounts if a.system_id == system_id), None)


# ---------------------------------------------------------------------------------------------
# Gateway
# ---------------------------------------------------------------------------------------------


class GatewayBind(_Model):
    """One group of identical SMPP sessions of our gateway."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN)] | None = None
    """Bind name (in events and the TUI); None: ``<system_id>-<index>``."""
    system_id: SystemId = "smsh"
    """SMPP system_id."""
    password: Password = SecretStr("smsh")
    """SMPP password (at most 8 characters)."""
    system_type: str = Field(default="", max_length=12)
    """SMPP system_type (at most 12 characters)."""
    mode: BindMode = "transceiver"
    """Bind type; receipts and MO need a receiver or transceiver."""
    count: int = Field(default=1, ge=1, le=64)
    """Sessions opened with these credentials."""


class GatewayRoute(_Model):
    """Which binds, segmentation profile and concatenation method serve some destinations."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN)] = "default"
    """Route name (streams may force a route by name)."""
    prefixes: list[Annotated[str, Field(pattern=r"^\+?\d+$")]] = Field(default_factory=list)
    """National or E.164 prefixes served; empty: every destination. The first matching route
    wins."""
    account: str | None = None
    """system_id of the binds to send through; None: any bind."""
    profile: str = DEFAULT_PROFILE
    """Segmentation profile (`smsh plan --profile`): generic, jp-docomo, jp-au, jp-softbank,
    jp-rakuten."""
    method: Method = Method.UDH8
    """How long messages are linked: udh8, udh16 (16-bit references), sar, payload."""
    default_sender: str | None = None
    """Sender for messages that give none; None: the stream must give one."""

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown profile {value!r} (known: {', '.join(PROFILES)})")
        return value


class OwnerCheckPolicy(_Model):
    """The gateway's 他人接続判定 before sending (`gateway.ownercheck`)."""

    enabled: bool = False
    """Check every destination that carries an obtained date before its first submit, and refuse
    the numbers that changed hands since (counted as `owner_check_blocked`)."""
    no_data: Literal["hold", "send"] = "hold"
    """What to do when the database has no answer for the number or date."""
    url: str | None = None
    """Owner-check API base URL; None: the in-process simulator's (required with
    external.smsc when enabled)."""


_WINDOW: Final[str] = (
    r"^\s*([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d"
    r"(\s*,\s*([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d)*\s*$"
)


class QuietHoursPolicy(_Model):
    """The gateway's (campaign's) contact-hours rule (`gateway.policy.quiet`)."""

    enabled: bool = False
    """Defer messages due outside `window` to its next opening, and cap each message's
    validity at the window's close, so no carrier retry can deliver inside quiet hours."""
    window: Annotated[str, Field(pattern=_WINDOW)] = "08:00-21:00"
    """Allowed local times of day (``HH:MM-HH:MM``, comma-separated intervals)."""
    timezone: TimeZone = "Asia/Tokyo"
    """Recipients' zone."""


class ReceiptMatching(_Model):
    """How the gateway matches receipts to submitted parts (`sms.receipt.IdRule`)."""

    resp_id: IdBase = IdBase.TEXT
    """How the SMSC writes ids in submit_sm_resp: text, dec, hex or auto."""
    receipt_id: IdBase = IdBase.TEXT
    """How it writes them in receipts (hex in the response, decimal in the receipt is the
    classic mismatch)."""
    pending_expiry: Duration = 600.0
    """How long a receipt may wait for its submit_sm_resp before it counts as unmatched."""


def _default_binds() -> list[GatewayBind]:
    return [GatewayBind()]


def _default_routes() -> list[GatewayRoute]:
    return [GatewayRoute()]


class GatewaySpec(_Model):
    """Our ESME gateway: sessions, flow control, retries, routing and sending policies."""

    instance: Annotated[str, Field(pattern=_NAME_PATTERN)] = "gw-1"
    """Instance id in bus topics."""
    binds: list[GatewayBind] = Field(default_factory=_default_binds, min_length=1)
    """Session groups. Ignored with external.smsc (its credentials are used)."""
    window: int = Field(default=10, gt=0)
    """Unanswered submit_sm per session at most."""
    rate: float | None = Field(default=None, gt=0)
    """Submits per second per session (token bucket); None: only the window limits."""
    burst: int | None = Field(default=None, ge=1)
    """Token-bucket depth; None: max(1, ceil(rate))."""
    response_timeout: Duration = 10.0
    """A submit_sm unanswered this long counts as a timeout (retry rule `timeout`)."""
    enquire_link: Duration = 30.0
    """enquire_link interval of an idle session."""
    reconnect_delay: Duration = 1.0
    """First wait before rebinding a lost session (then backing off)."""
    retry: RetryConfig = Field(default_factory=RetryConfig)
    """Retry rules on top of the Kannel/Jasmin defaults (`gateway.policy.retry.RetryConfig`)."""
    routes: list[GatewayRoute] = Field(default_factory=_default_routes, min_length=1)
    """Routes, first match wins; the last should catch everything."""
    owner_check: OwnerCheckPolicy = Field(default_factory=OwnerCheckPolicy)
    """Owner check (recycled numbers) on or off."""
    receipts: ReceiptMatching = Field(default_factory=ReceiptMatching)
    """Receipt id matching."""
    quiet_hours: QuietHoursPolicy = Field(default_factory=QuietHoursPolicy)
    """Quiet-hours sending rule."""
    suppress_opt_outs: bool = True
    """Refuse messages to numbers that replied STOP / 停止."""
    registered_delivery: bool = True
    """Ask for delivery receipts."""
    receipt_timeout: Duration = 3600.0
    """A submitted part without a final receipt this long after its validity (or its submit
    when no validity is set) ends the message as `unknown`."""
    validity: Duration | None = None
    """Default validity of a message; None: the SMSC's default."""

    @field_validator("retry")
    @classmethod
    def _retry_table(cls, value: RetryConfig) -> RetryConfig:
        RetryTable.from_config(value)  # unknown status names fail here, at load time
        return value

    @model_validator(mode="after")
    def _unique(self) -> GatewaySpec:
        seen: set[str] = set()
        for (bind, _), name in zip(self.expanded_binds(), self.bind_names(), strict=True):
            if name in seen:
                index = next(i for i, b in enumerate(self.binds) if b is bind)
                raise FieldProblem(("binds", index, "name"), f"duplicate bind name {name!r}")
            seen.add(name)
        route_names = [r.name for r in self.routes]
        for i, name in enumerate(route_names):
            if route_names.index(name) != i:
                raise FieldProblem(("routes", i, "name"), f"duplicate route name {name!r}")
        return self

    def expanded_binds(self) -> list[tuple[GatewayBind, int]]:
        """Every session as (its group, its index within the group)."""
        return [(b, i) for b in self.binds for i in range(b.count)]

    def bind_names(self) -> list[str]:
        """The name of every session (``name`` or ``system_id``, with ``-<n>`` when count > 1)."""
        out: list[str] = []
        for bind, i in self.expanded_binds():
            base = bind.name or bind.system_id
            out.append(base if bind.count == 1 and bind.name else f"{base}-{i + 1}")
        return out

    def route(self, name: str) -> GatewayRoute | None:
        """The route called `name`, if any."""
        return next((r for r in self.routes if r.name == name), None)


# ---------------------------------------------------------------------------------------------
# External systems under test
# ---------------------------------------------------------------------------------------------


class ExternalSmsc(_Model):
    """Their SMSC: our gateway binds to it (our simulator does not run)."""

    address: Address
    """``host:port`` of their SMPP listener."""
    system_id: SystemId
    """system_id of the account they gave us."""
    password: Password | None = None
    """Password; prefer `password_env` so it stays out of the file."""
    password_env: str | None = None
    """Name of an environment variable holding the password (read by the runner)."""
    system_type: str = Field(default="", max_length=12)
    """SMPP system_type."""
    mode: BindMode = "transceiver"
    """Bind type."""
    binds: int = Field(default=1, ge=1, le=64)
    """Sessions to open."""
    tls: bool = False
    """Connect with TLS."""

    @model_validator(mode="after")
    def _one_password(self) -> ExternalSmsc:
        if self.password is not None and self.password_env is not None:
            raise FieldProblem(("password_env",), "give password or password_env, not both")
        return self


class ExternalEsme(_Model):
    """Their ESME: it binds to our simulator (our gateway does not run, they make the traffic)."""

    listen: Address = "0.0.0.0:2775"
    """Where our simulator listens for them (overrides simulator.listen)."""


class ExternalSpec(_Model):
    """A system under test in place of one of ours; exactly one of `smsc` or `esme`."""

    smsc: ExternalSmsc | None = None
    """Our gateway against their SMSC."""
    esme: ExternalEsme | None = None
    """Our simulator, their ESME connects."""

    @model_validator(mode="after")
    def _exactly_one(self) -> ExternalSpec:
        if (self.smsc is None) == (self.esme is None):
            raise FieldProblem((), "give exactly one of smsc or esme")
        return self


# ---------------------------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------------------------


class SteadyPhase(_Model):
    """A constant rate."""

    kind: Literal["steady"]
    """Discriminator."""
    rate: float = Field(ge=0)
    """Messages per second."""
    duration: Duration | None = None
    """How long; None: until the stream ends (only the last phase)."""


class RampPhase(_Model):
    """A rate changing linearly."""

    kind: Literal["ramp"]
    """Discriminator."""
    from_rate: float = Field(ge=0)
    """Messages per second at the phase start."""
    to_rate: float = Field(ge=0)
    """Messages per second at the phase end."""
    duration: Duration = Field(gt=0)
    """Length of the ramp."""


class StepPhase(_Model):
    """A staircase: each rate held for `hold`."""

    kind: Literal["step"]
    """Discriminator."""
    rates: list[Annotated[float, Field(ge=0)]] = Field(min_length=1)
    """Messages per second of each step, in order."""
    hold: Duration = Field(gt=0)
    """How long each step lasts."""


class BurstPhase(_Model):
    """A batch of messages at once (or spread evenly over `spread`)."""

    kind: Literal["burst"]
    """Discriminator."""
    count: int = Field(ge=1)
    """Messages in the burst."""
    spread: Duration = 0.0
    """Spread them evenly over this long (0: all at the phase start)."""
    duration: Duration | None = None
    """Phase length (the quiet time after the burst included); None: `spread`."""


RatePhase: TypeAlias = Annotated[
    SteadyPhase | RampPhase | StepPhase | BurstPhase, Field(discriminator="kind")
]
"""One phase of a generator's rate profile, tagged by `kind`."""


#: Placeholders a generator template may use (filled from the message's own random stream).
GENERATOR_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "name_latin",
    "amount",
    "due",
    "due_iso",
    "ref",
    "n",
    "key",
    "destination",
)
#: Placeholders a campaign template may use besides the row's columns.
CAMPAIGN_FIELDS: Final[tuple[str, ...]] = ("n", "key", "destination")
_FIELD: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TextTemplate(_Model):
    """A message template; placeholders are filled deterministically from the seed."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    """Template name (reported per message)."""
    text: str = Field(min_length=1)
    """Text with placeholders (`GENERATOR_FIELDS`): {name} (山田 太郎), {name_latin}
    (Yamada Taro), {amount} (12,800), {due} (1月30日), {due_iso} (2026-01-30), {ref} (8 hex
    digits), {n} (index in the stream), {key} (message key), {destination}."""
    weight: float = Field(default=1.0, ge=0)
    """Relative weight in the mix."""


class TextMix(_Model):
    """What the messages say: weights of built-in text kinds and templates.

    When every weight is 0 and there are no templates, every message is short GSM-7 text.
    """

    gsm7: float = Field(default=0.0, ge=0)
    """Weight of short English texts in the GSM 03.38 alphabet (one part)."""
    ucs2: float = Field(default=0.0, ge=0)
    """Weight of short Japanese texts (UCS-2, at most 70 characters: one part)."""
    long_japanese: float = Field(default=0.0, ge=0)
    """Weight of long Japanese payment reminders (UCS-2, `long_min`..`long_max` characters)."""
    long_min: int = Field(default=300, ge=71, le=2000)
    """Shortest long Japanese text, in characters."""
    long_max: int = Field(default=660, ge=71, le=2000)
    """Longest long Japanese text (660 fits jp-docomo, 670 the other JP carriers)."""
    templates: list[TextTemplate] = Field(default_factory=list)
    """Templates with their weights."""

    @model_validator(mode="after")
    def _lengths(self) -> TextMix:
        if self.long_max < self.long_min:
            raise FieldProblem(("long_max",), f"{self.long_max} is below long_min {self.long_min}")
        names = [t.name for t in self.templates]
        for i, template in enumerate(self.templates):
            if names.index(template.name) != i:
                raise FieldProblem(
                    ("templates", i, "name"), f"duplicate template {template.name!r}"
                )
            unknown = sorted(set(_FIELD.findall(template.text)) - set(GENERATOR_FIELDS))
            if unknown:
                raise FieldProblem(
                    ("templates", i, "text"),
                    f"unknown placeholder(s) {', '.join(unknown)} "
                    f"(known: {', '.join(GENERATOR_FIELDS)})",
                )
        return self


class PopulationDestinations(_Model):
    """Numbers drawn from the simulated network's population."""

    kind: Literal["population"]
    """Discriminator."""
    size: int | None = Field(default=None, ge=1)
    """Draw from this many subscribers (a seeded sample); None: the whole population."""
    unique: bool = False
    """Never send twice to a number (the stream stops early when they run out)."""


class DestinationEntry(_Model):
    """An explicit destination with what the sender knows about its owner."""

    number: str = Field(min_length=1)
    """The number (national or E.164)."""
    owner: str | None = None
    """The owner the sender means to reach (for misdelivery detection)."""
    obtained: date | None = None
    """When the sender obtained the number (for the owner check)."""


def _entry(value: object) -> object:
    return {"number": value} if isinstance(value, str | int) else value


class ListDestinations(_Model):
    """An explicit list of numbers."""

    kind: Literal["list"]
    """Discriminator."""
    numbers: list[
        Annotated[
            DestinationEntry,
            BeforeValidator(_entry, json_schema_input_type=str | DestinationEntry),
        ]
    ] = Field(min_length=1)
    """The numbers: plain strings, or entries with owner and obtained date."""
    order: Literal["cycle", "random"] = "cycle"
    """cycle: in list order, again and again; random: a seeded draw per message."""


class RangeDestinations(_Model):
    """Every number of an inclusive range of equal-length numbers."""

    kind: Literal["range"]
    """Discriminator."""
    first: str = Field(pattern=r"^\+?\d{6,15}$")
    """First number."""
    last: str = Field(pattern=r"^\+?\d{6,15}$")
    """Last number (same length as `first`)."""
    order: Literal["sequential", "random"] = "random"
    """sequential: first, first+1, ... (wrapping); random: a seeded draw per message."""

    @model_validator(mode="after")
    def _ordered(self) -> RangeDestinations:
        if len(self.first) != len(self.last) or int(self.last) < int(self.first):
            raise FieldProblem(("last",), f"range {self.first}..{self.last} is empty or uneven")
        return self


Destinations: TypeAlias = Annotated[
    PopulationDestinations | ListDestinations | RangeDestinations, Field(discriminator="kind")
]
"""Where generated messages go, tagged by `kind`."""


class _StreamBase(_Model):
    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    """Stream name; message keys are ``<name>-<n>`` (generator) or ``<name>-<row key>``."""
    start: Duration = 0.0
    """Offset of the first message from the scenario start."""
    account: str | None = None
    """system_id of the gateway binds to send through; None: the gateway's routes decide."""
    route: str | None = None
    """Force this gateway route; None: by destination prefix."""
    source: str | None = None
    """Sender (source_addr): digits or an alphanumeric ID of at most 11 characters; None: the
    route's `default_sender`."""
    validity: Duration | None = None
    """Validity of each message; None: the gateway's default."""


class GeneratorStream(_StreamBase):
    """Seeded synthetic traffic: rate phases, a text mix, destinations."""

    kind: Literal["generator"]
    """Discriminator."""
    phases: list[RatePhase] = Field(min_length=1)
    """Rate profile, phase after phase."""
    arrivals: Literal["uniform", "poisson"] = "uniform"
    """uniform: evenly spaced at the phase rate; poisson: seeded exponential gaps (same mean)."""
    messages: int | None = Field(default=None, ge=1)
    """Stop after this many messages; None: when the phases (or the run) end."""
    text: TextMix = Field(default_factory=TextMix)
    """What the messages say."""
    destinations: Destinations = Field(
        default_factory=lambda: PopulationDestinations(kind="population")
    )
    """Where they go."""

    @model_validator(mode="after")
    def _open_only_last(self) -> GeneratorStream:
        for i, phase in enumerate(self.phases[:-1]):
            if isinstance(phase, SteadyPhase) and phase.duration is None:
                raise FieldProblem(
                    ("phases", i, "duration"), "only the last phase may run without a duration"
                )
        return self

    @property
    def finite(self) -> bool:
        """True when the stream ends by itself (a message cap, or a last phase with an end)."""
        last = self.phases[-1]
        open_ended = isinstance(last, SteadyPhase) and last.duration is None
        return self.messages is not None or not open_ended


CellValue: TypeAlias = str | int | float | date
"""A campaign cell: text, a number or a date."""


class CampaignStream(_StreamBase):
    """A dunning campaign: rows from a CSV file (or inline), one message per row."""

    kind: Literal["campaign"]
    """Discriminator."""
    file: Path | None = None
    """CSV file (UTF-8, header row); relative paths are resolved against the scenario file."""
    rows: list[dict[str, CellValue]] | None = None
    """Inline rows instead of a file (column -> value)."""
    template: str | None = None
    """Message text with {column} merge fields; None: the `text_column` of each row."""
    number_column: str = "number"
    """Column holding the destination."""
    key_column: str | None = None
    """Column holding the row's key (message key ``<stream>-<key>``); None: the row number."""
    owner_column: str | None = None
    """Column holding the intended owner id (misdelivery detection)."""
    obtained_column: str | None = None
    """Column holding the date the number was obtained (owner check)."""
    text_column: str = "text"
    """Column holding the text when there is no template."""
    rate: float | None = Field(default=None, gt=0)
    """Rows released per second; None: all at `start` (the gateway paces them)."""

    @field_validator("file")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        context = info.context if isinstance(info.context, dict) else {}
        if value is None:
            return None
        base = context.get("base_dir")
        if base is not None and not value.is_absolute():
            value = Path(base) / value
        if context.get("check_files", True) and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _source(self) -> CampaignStream:
        if (self.file is None) == (self.rows is None):
            raise FieldProblem(("file",), "give exactly one of file or rows")
        if self.rows is not None:
            needed = (self.template_fields() - set(CAMPAIGN_FIELDS)) | {self.number_column}
            if self.template is None:
                needed.add(self.text_column)
            for column in (self.key_column, self.owner_column, self.obtained_column):
                if column is not None:
                    needed.add(column)
            for i, row in enumerate(self.rows):
                missing = sorted(needed - set(row))
                if missing:
                    raise FieldProblem(("rows", i), f"missing column(s): {', '.join(missing)}")
        return self

    def template_fields(self) -> set[str]:
        """The merge fields the template uses."""
        return set(_FIELD.findall(self.template or ""))


Stream: TypeAlias = Annotated[GeneratorStream | CampaignStream, Field(discriminator="kind")]
"""One traffic stream, tagged by `kind`."""


# ---------------------------------------------------------------------------------------------
# Expectations
# ---------------------------------------------------------------------------------------------


class _ExpectationBase(_Model):
    name: str | None = None
    """Name shown in progress and reports; None: the expectation written as text."""

    def text(self) -> str:
        """The expectation written in the shorthand syntax."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """`name`, or the shorthand text."""
        return self.name or self.text()


def _num(value: float) -> str:
    return f"{value:g}"


class RatioExpectation(_ExpectationBase):
    """A ratio of two counters against a threshold (``delivered_ratio >= 0.98``)."""

    kind: Literal["ratio"]
    """Discriminator."""
    metric: RatioMetric
    """A ratio of the metric catalogue."""
    op: Op = ">="
    """Comparison."""
    threshold: float = Field(ge=0, le=1)
    """The bound, between 0 and 1."""

    def text(self) -> str:
        """``metric op threshold``."""
        return f"{self.metric} {self.op} {_num(self.threshold)}"


class CountExpectation(_ExpectationBase):
    """A counter against a threshold (``misdeliveries == 0``)."""

    kind: Literal["count"]
    """Discriminator."""
    metric: CounterMetric
    """A counter of the metric catalogue."""
    op: Op = "=="
    """Comparison."""
    threshold: int = Field(default=0, ge=0)
    """The bound."""

    def text(self) -> str:
        """``metric op threshold``."""
        return f"{self.metric} {self.op} {self.threshold}"


class LatencyExpectation(_ExpectationBase):
    """A statistic of a latency series (``p99 submit_to_resp_ms <= 500``)."""

    kind: Literal["latency"]
    """Discriminator."""
    metric: LatencyMetric
    """A latency series of the metric catalogue."""
    percentile: Percentile = "p99"
    """Which statistic."""
    op: Op = "<="
    """Comparison."""
    threshold: float = Field(ge=0)
    """The bound in milliseconds."""

    def text(self) -> str:
        """``percentile metric op threshold``."""
        return f"{self.percentile} {self.metric} {self.op} {_num(self.threshold)}"


class AllTerminalExpectation(_ExpectationBase):
    """Every accepted message reached a terminal state by the end of the run."""

    kind: Literal["all_terminal"]
    """Discriminator."""

    def text(self) -> str:
        """``all_terminal``."""
        return "all_terminal"


class MoReassembledExpectation(_ExpectationBase):
    """Every reply the handsets sent arrived at the gateway whole and equal, and nothing else."""

    kind: Literal["mo_reassembled_equals_sent"]
    """Discriminator."""

    def text(self) -> str:
        """``mo_reassembled_equals_sent``."""
        return "mo_reassembled_equals_sent"


class ThroughputExpectation(_ExpectationBase):
    """A counter's rate over its active span (``throughput submit_ok >= 50``)."""

    kind: Literal["throughput"]
    """Discriminator."""
    metric: CounterMetric = "submit_ok"
    """The counter whose rate is measured (first to last occurrence, scenario clock)."""
    op: Op = ">="
    """Comparison."""
    threshold: float = Field(ge=0)
    """The bound in messages per second of the scenario clock."""

    def text(self) -> str:
        """``throughput metric op threshold``."""
        return f"throughput {self.metric} {self.op} {_num(self.threshold)}"


ExpectationSpec: TypeAlias = Annotated[
    RatioExpectation
    | CountExpectation
    | LatencyExpectation
    | AllTerminalExpectation
    | MoReassembledExpectation
    | ThroughputExpectation,
    Field(discriminator="kind"),
]
"""An expectation in its full form, tagged by `kind`."""

_OPS: Final[tuple[str, ...]] = get_args(Op)
_SHORTHAND: Final = re.compile(
    r"^\s*(?:(?P<head>p50|p90|p95|p99|max|mean|throughput)\s+)?"
    r"(?P<metric>[a-z_0-9]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[-+0-9.eE]+)\s*$"
)
_SHORTHAND_TEXT: Final[str] = (
    r"^\s*(all_terminal|mo_reassembled_equals_sent|"
    r"((p50|p90|p95|p99|max|mean|throughput)\s+)?[a-z_0-9]+\s*(>=|<=|==|!=|>|<)\s*[-+0-9.eE]+)\s*$"
)


def parse_expectation(text: str) -> dict[str, Any]:
    """Turn the shorthand text of an expectation into its full form.

    Forms: ``all_terminal``, ``mo_reassembled_equals_sent``, ``<ratio> <op> <x>``,
    ``<counter> <op> <n>``, ``<p50|p90|p95|p99|max|mean> <latency> <op> <ms>``,
    ``throughput <counter> <op> <per second>``.

    Args:
        text: The shorthand.

    Returns:
        The mapping to validate as an `ExpectationSpec`.

    Raises:
        ValueError: Not one of the forms, or an unknown metric.
    """
    stripped = text.strip()
    if stripped in ("all_terminal", "mo_reassembled_equals_sent"):
        return {"kind": stripped}
    match = _SHORTHAND.match(stripped)
    if match is None:
        raise ValueError(
            f"cannot read expectation {text!r}: write e.g. 'delivered_ratio >= 0.98', "
            "'misdeliveries == 0', 'p99 submit_to_resp_ms <= 500' or 'all_terminal'"
        )
    head, metric, op, raw = match.group("head", "metric", "op", "value")
    info = METRICS.get(metric)
    if info is None:
        raise ValueError(f"unknown metric {metric!r} in {text!r}{_suggest(metric)}")
    try:
        value: float = float(raw)
    except ValueError:
        raise ValueError(f"not a number: {raw!r} in {text!r}") from None
    if head == "throughput":
        if info.kind != "counter":
            raise ValueError(f"throughput needs a counter, {metric!r} is a {info.kind}")
        return {"kind": "throughput", "metric": metric, "op": op, "threshold": value}
    if head is not None:
        if info.kind != "latency":
            raise ValueError(f"{head} needs a latency series, {metric!r} is a {info.kind}")
        return {
            "kind": "latency",
            "metric": metric,
            "percentile": head,
            "op": op,
            "threshold": value,
        }
    if info.kind == "latency":
        return {"kind": "latency", "metric": metric, "op": op, "threshold": value}
    if info.kind == "ratio":
        return {"kind": "ratio", "metric": metric, "op": op, "threshold": value}
    if value != int(value):
        raise ValueError(f"a count threshold is a whole number, got {raw!r}")
    return {"kind": "count", "metric": metric, "op": op, "threshold": int(value)}


def _suggest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(METRICS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _expectation_input(value: object) -> object:
    return parse_expectation(value) if isinstance(value, str) else value


Expectation: TypeAlias = Annotated[
    ExpectationSpec,
    BeforeValidator(
        _expectation_input,
        json_schema_input_type=Annotated[str, Field(pattern=_SHORTHAND_TEXT)] | ExpectationSpec,
    ),
]
"""An expectation: the full form, or its shorthand text (``delivered_ratio >= 0.98``)."""


def compare(observed: float, op: str, threshold: float) -> bool:
    """Apply a comparison operator.

    Args:
        observed: Left side.
        op: One of `Op`.
        threshold: Right side.

    Returns:
        The truth of ``observed op threshold``.

    Raises:
        ValueError: Unknown operator.
    """
    if op == ">=":
        return observed >= threshold
    if op == ">":
        return observed > threshold
    if op == "<=":
        return observed <= threshold
    if op == "<":
        return observed < threshold
    if op == "==":
        return observed == threshold
    if op == "!=":
        return observed != threshold
    raise ValueError(f"unknown operator {op!r} (known: {', '.join(_OPS)})")


# ---------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------


class Scenario(_Model):
    """One scenario file."""

    schema_version: Literal[1]
    """Version of the scenario format (this code reads 1)."""
    name: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=64)]
    """Scenario name: run directories are ``runs/<name>-<timestamp>``, and it names the random
    streams (with the seed)."""
    description: str = ""
    """What the scenario shows, for humans."""
    seed: int = Field(default=0, ge=0)
    """Seed of every random stream (traffic, carrier model): same seed, same per-message fates."""
    start: AwareDatetime | None = None
    """Simulated start of the run (t = 0 of every offset); None: `simulator.network.epoch`
    (default 2026-01-01T00:00:00Z)."""
    speed: float = Field(default=1.0, gt=0, le=1_000_000)
    """Clock acceleration: simulated seconds per real second (3600: an hour a second). Must be
    1 with an external system."""
    duration: Duration | None = None
    """Stop generating traffic this long after the start; None: when the streams end."""
    messages: int | None = Field(default=None, ge=1)
    """Stop after this many messages over all streams; None: no cap."""
    drain: Duration = 60.0
    """After the traffic ends, wait at most this long (simulated) for receipts, retries and MO
    before evaluating; the runner may stop earlier once every message is terminal."""
    simulator: SimulatorSpec | None = None
    """Our simulated SMSC; None: the defaults (open mode, default carrier model), or not run
    at all with external.smsc."""
    gateway: GatewaySpec | None = None
    """Our gateway; None: the defaults, or not run at all with external.esme."""
    external: ExternalSpec | None = None
    """A system under test in place of our simulator or our gateway."""
    traffic: list[Stream] = Field(default_factory=list)
    """Traffic streams (none with external.esme: their ESME makes the traffic)."""
    expectations: list[Expectation] = Field(default_factory=list)
    """What must hold at the end (evaluated against the run's results)."""

    _source_path: Path | None = PrivateAttr(default=None)
    _source_text: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        self._check_topology()
        self._check_binds()
        self._check_streams()
        self._check_bounded()
        labels = [e.label for e in self.expectations]
        for i, label in enumerate(labels):
            if labels.index(label) != i:
                raise FieldProblem(
                    ("expectations", i), f"duplicate expectation {label!r}: give it a name"
                )
        return self

    def _check_topology(self) -> None:
        ext = self.external
        if ext is None:
            return
        if self.speed != 1:
            raise FieldProblem(
                ("speed",), "must be 1 with an external system (it runs in real time)"
            )
        if ext.smsc is not None:
            if self.simulator is not None:
                raise FieldProblem(
                    ("simulator",), "not used with external.smsc: their SMSC replaces ours"
                )
            gw = self.gateway
            if gw is not None and "binds" in gw.model_fields_set:
                raise FieldProblem(
                    ("gateway", "binds"),
                    "not used with external.smsc: the binds use external.smsc's credentials",
                )
            if gw is not None and gw.owner_check.enabled and gw.owner_check.url is None:
                raise FieldProblem(
                    ("gateway", "owner_check", "url"),
                    "required with external.smsc (there is no simulator to ask)",
                )
        if ext.esme is not None:
            if self.gateway is not None:
                raise FieldProblem(
                    ("gateway",), "not used with external.esme: their ESME is the client"
                )
            if self.traffic:
                raise FieldProblem(
                    ("traffic",), "not used with external.esme: their ESME makes the traffic"
                )

    def _check_binds(self) -> None:
        if not (self.runs_simulator and self.runs_gateway) or self.simulator is None:
            return
        sim = self.simulator
        if not sim.accounts:
            return
        gw = self.gateway_spec
        per_account: dict[str, int] = {}
        for i, bind in enumerate(gw.binds):
            account = sim.account(bind.system_id)
            where: tuple[str | int, ...] = ("gateway", "binds", i)
            if account is None:
                known = ", ".join(a.system_id for a in sim.accounts)
                raise FieldProblem(
                    (*where, "system_id"),
                    f"no SMSC account {bind.system_id!r} in simulator.accounts (known: {known})",
                )
            if bind.password.get_secret_value() != account.password.get_secret_value():
                raise FieldProblem(
                    (*where, "password"),
                    f"does not match simulator account {bind.system_id!r}",
                )
            if bind.mode not in account.bind_modes:
                raise FieldProblem(
                    (*where, "mode"),
                    f"account {bind.system_id!r} may bind only as {', '.join(account.bind_modes)}",
                )
            per_account[bind.system_id] = per_account.get(bind.system_id, 0) + bind.count
            if account.max_binds is not None and per_account[bind.system_id] > account.max_binds:
                raise FieldProblem(
                    (*where, "count"),
                    f"account {bind.system_id!r} allows {account.max_binds} binds, "
                    f"the gateway opens {per_account[bind.system_id]}",
                )

    def _check_streams(self) -> None:
        names = [s.name for s in self.traffic]
        accounts = {b.system_id for b in self.gateway_spec.binds} if self.runs_gateway else set()
        if self.external is not None and self.external.smsc is not None:
            accounts = {self.external.smsc.system_id}
        routes = {r.name for r in self.gateway_spec.routes}
        for i, stream in enumerate(self.traffic):
            if names.index(stream.name) != i:
                raise FieldProblem(("traffic", i, "name"), f"duplicate stream {stream.name!r}")
            if stream.account is not None and stream.account not in accounts:
                raise FieldProblem(
                    ("traffic", i, "account"),
                    f"no gateway bind with system_id {stream.account!r} "
                    f"(known: {', '.join(sorted(accounts))})",
                )
            if stream.route is not None and stream.route not in routes:
                raise FieldProblem(
                    ("traffic", i, "route"),
                    f"no gateway route {stream.route!r} (known: {', '.join(sorted(routes))})",
                )
        for i, route in enumerate(self.gateway_spec.routes):
            if route.account is not None and accounts and route.account not in accounts:
                raise FieldProblem(
                    ("gateway", "routes", i, "account"),
                    f"no gateway bind with system_id {route.account!r}",
                )

    def _check_bounded(self) -> None:
        if self.duration is not None or self.messages is not None:
            return
        if self.external is not None and self.external.esme is not None:
            raise FieldProblem(("duration",), "required with external.esme (when does it end?)")
        if not self.traffic:
            raise FieldProblem(("duration",), "required when there is no traffic")
        for i, stream in enumerate(self.traffic):
            if isinstance(stream, GeneratorStream) and not stream.finite:
                raise FieldProblem(
                    ("traffic", i, "phases", len(stream.phases) - 1, "duration"),
                    "the last phase never ends: give it a duration, or set the stream's "
                    "messages or the scenario's duration or messages",
                )

    # -- what the runner reads ------------------------------------------------------------------

    @property
    def runs_simulator(self) -> bool:
        """True when our simulator runs (every topology but external.smsc)."""
        return self.external is None or self.external.smsc is None

    @property
    def runs_gateway(self) -> bool:
        """True when our gateway runs (every topology but external.esme)."""
        return self.external is None or self.external.esme is None

    @property
    def simulator_spec(self) -> SimulatorSpec:
        """The simulator section, defaults filled in."""
        return self.simulator if self.simulator is not None else SimulatorSpec()

    @property
    def gateway_spec(self) -> GatewaySpec:
        """The gateway section, defaults filled in."""
        return self.gateway if self.gateway is not None else GatewaySpec()

    @property
    def start_s(self) -> float:
        """The simulated start as seconds since 1970 (`start`, else the network epoch)."""
        if self.start is not None:
            return self.start.timestamp()
        return self.simulator_spec.network.epoch_s

    def network_config(self) -> NetworkConfig:
        """The carrier model's configuration for this run: the epoch set to the start, and the
        fault timeline appended to the network's own faults.

        Returns:
            A validated `NetworkConfig`; pass it to `CarrierNetwork(config, seed, name)`.
        """
        net = self.simulator_spec.network
        update: dict[str, object] = {}
        if self.start is not None:
            update["epoch"] = self.start
        faults = self.simulator_spec.faults
        if faults:
            update["faults"] = [*net.faults, *faults]
        if not update:
            return net
        return NetworkConfig.model_validate({**net.model_dump(), **update})

    @property
    def source_path(self) -> Path | None:
        """The file this scenario was loaded from, if any."""
        return self._source_path

    @property
    def source_text(self) -> str | None:
        """The document this scenario was loaded from, if any (copied into run directories)."""
        return self._source_text


def schema_json() -> str:
    """The JSON schema of `Scenario`, as committed in `scenarios/schema.json`.

    Returns:
        Pretty-printed JSON (2-space indent, UTF-8 characters kept) with a final newline.
    """
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sms-harness.invalid/scenarios/schema-v1.json"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
