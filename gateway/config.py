"""The gateway's configuration: a tree of pydantic models, read from YAML.

Invariants:
    * Every model forbids unknown keys, so a typo is an error, never a silently ignored setting.
    * `load_config` reports every problem as a `GatewayConfigError` whose text names the file
      and the dotted field (``gateway.yaml: binds.0.window: Input should be greater than or
      equal to 1``); `GatewayConfigError.field` carries the dotted field.
    * Cross-references are checked once, here: route -> bind names exist, names are unique,
      profiles exist, at least one bind can transmit. The rest of the gateway trusts the model.
    * Pure: no sockets, no clock; `load_config` is the only function that reads a file.

Example (the smallest useful file)::

    binds:
      - name: carrier-a
        host: 127.0.0.1
        port: 2775
        system_id: esme1
        password: secret

A fuller one (every key is optional unless marked)::

    instance: gw-1                      # bus topics: smsh/v1/gateway/gw-1/...
    seed: 7                             # retry/reconnect jitter
    store: {path: gateway.sqlite3, synchronous: FULL}   # relative to this file
    binds:                              # required, at least one transmitter/transceiver
      - name: docomo                    # required
        host: smsc.example.net
        port: 2775
        system_id: esme1                # required, <= 15 chars
        password: secret                # <= 8 chars
        mode: transceiver               # transceiver | transmitter | receiver
        count: 2                        # sessions docomo-1, docomo-2
        window: 10                      # outstanding submit_sm per session
        enquire_link_interval: 30
        response_timeout: 30            # then the part is requeued (retry.timeout rule)
        reconnect: {base: 1, factor: 2, cap: 30, jitter: 0.2}
        rate: {rate: 50, burst: 50}     # parts/s per session
        tls:                            # SMPP over TLS (omit for plain TCP)
          enabled: true
          ca_file: ca.pem               # trusted CAs (PEM); null = the system's CAs
          verify: true                  # false: no certificate or host check (tests only)
          server_hostname: smsc.example.net   # name checked and sent (SNI); null = host
          cert_file: client.pem         # optional client certificate (PEM) ...
          key_file: client.key          # ... and its key (omit if in cert_file)
    routes:                             # longest prefix wins; no prefixes = fallback
      - name: jp-docomo
        prefixes: ["+8180", "+8190"]
        binds: [docomo]
        profile: jp-docomo              # sms.segments.PROFILES
        method: udh8                    # udh8 | udh16 | sar | payload
        default_sender: ACME
        allowed_senders: [ACME, "0120000000"]
        registered_delivery: true
        harness_tlvs: false             # vendor TLVs 0x1500-0x1502 for the simulator
      - {name: default, default_sender: ACME}
    rates: {global: {rate: 200}, per_sender: {rate: 100}, senders: {ACME: {rate: 150}}}
    retry:                              # gateway.policy.RetryConfig, over Kannel/Jasmin defaults
      max_attempts: 5
      rules: {ESME_RMSGQFUL: {action: retry_later, max_attempts: 5, backoff: {base: 30}}}
      timeout: {action: retry_later, max_attempts: 3, backoff: {base: 5}}
    throttle: {backoff: {base: 1, factor: 2, cap: 30, jitter: 0.1}}
    receipts: {resp_id: hex, receipt_id: dec, pending_expiry: 600, receipt_timeout: 3600}
    mo: {stop_keywords: [STOP, 停止, 配信停止], reassembly_timeout: 600}
    numbers: {default_country: JP, allow_060: false}
    validity: 86400                     # seconds a message stays sendable
    owner_check:                        # 他人接続判定 of messages with metadata "obtained"
      enabled: true
      url: http://127.0.0.1:8081        # gateway.ownercheck API; fail closed
      timeout: 10
      no_data: hold                     # hold (refuse) | send
    quiet_hours:                        # contact hours in the recipients' local time
      enabled: true
      window: "08:00-21:00"             # outside: scheduled for the next opening
      timezone: Asia/Tokyo
      cap_validity: true                # validity ends at the window's close
    http: {host: 127.0.0.1, port: 8080}
    bus: mqtt://127.0.0.1:1883          # omit for the in-process bus

A bind's ``tls`` section: the TCP connection is upgraded to TLS before the bind PDU is sent
(`gateway.esme.GatewayEsme`). Relative file names are resolved against the config file's
directory. The files are read at each connect, so a rotated certificate is used from the next
reconnect on; a file that cannot be read, or a failed handshake, is a failed connect (the bind
retries with its ``reconnect`` back-off; its state reason reads ``ConnectionError: TLS handshake
with HOST:PORT failed: ...`` or ``ConnectionError: TLS setup failed: ...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.errors import GatewayConfigError
from gateway.policy.backoff import BackoffSchedule
from gateway.policy.bucket import Rate, RateLimits, Scope
from gateway.policy.quiet import DailyWindow
from gateway.policy.retry import RetryConfig
from sms.receipt import IdBase, IdRule
from sms.segments import PROFILES, Method

__all__ = [
    "BackoffModel",
    "BindConfig",
    "BindTlsConfig",
    "DispatchConfig",
    "GatewayConfig",
    "HttpConfig",
    "MoConfig",
    "NumbersConfig",
    "OwnerCheckConfig",
    "QuietHoursConfig",
    "RateConfig",
    "RateLimitsConfig",
    "ReceiptConfig",
    "RouteConfig",
    "StoreConfig",
    "ThrottleConfig",
    "config_from_dict",
    "load_config",
]

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
Name = Annotated[str, Field(pattern=_NAME.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackoffModel(_Model):
    """An exponential back-off (see `gateway.policy.BackoffSchedule`)."""

    base: float = Field(default=1.0, ge=0)
    """First delay in seconds."""
    factor: float = Field(default=2.0, ge=1)
    """Growth per further attempt."""
    cap: float = Field(default=30.0, ge=0)
    """Largest delay in seconds."""
    jitter: float = Field(default=0.0, ge=0, le=1)
    """Fraction by which a delay may be shortened at random (seeded)."""

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> BackoffModel:
        if self.cap < self.base:
            raise ValueError(f"cap ({self.cap}) must be >= base ({self.base})")
        return self

    def schedule(self) -> BackoffSchedule:
        """The policy object."""
        return BackoffSchedule(self.base, self.factor, self.cap, self.jitter)


class RateConfig(_Model):
    """A token bucket: `rate` parts per second, bursts of up to `burst` parts."""

    rate: float = Field(ge=0)
    """Parts (submit_sm PDUs) per second."""
    burst: float | None = Field(default=None, gt=0)
    """Bucket size; default max(rate, 1)."""

    def to_rate(self) -> Rate:
        """The policy object."""
        return Rate(self.rate, self.burst if self.burst is not None else max(self.rate, 1.0))


class BindTlsConfig(_Model):
    """SMPP over TLS for a bind (the ``tls`` section of a bind)."""

    enabled: bool = True
    """Connect with TLS (false: plain TCP, the section is kept for later)."""
    ca_file: Path | None = None
    """PEM file of the CAs (or the pinned certificate) to trust; None: the system's CAs."""
    verify: bool = True
    """Check the SMSC's certificate and host name; false accepts any certificate."""
    server_hostname: str | None = Field(default=None, min_length=1)
    """Name the certificate must carry and SNI sends; None: the bind's `host`."""
    cert_file: Path | None = None
    """PEM client certificate (chain) presented to the SMSC, if it asks for one."""
    key_file: Path | None = None
    """PEM key of `cert_file` (omit when `cert_file` holds the key too)."""

    @model_validator(mode="after")
    def _key_needs_cert(self) -> BindTlsConfig:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        return self

    def resolved(self, base: Path) -> BindTlsConfig:
        """This section with relative file names resolved against `base` (pure)."""
        update = {
            key: base / value
            for key in ("ca_file", "cert_file", "key_file")
            if (value := getattr(self, key)) is not None and not value.is_absolute()
        }
        return self.model_copy(update=update) if update else self


class BindConfig(_Model):
    """One SMPP connection group: `count` identical sessions to one SMSC account."""

    name: Name
    """Group name; sessions are named `name` (count 1) or `name-1`..`name-N`."""
    host: str = "127.0.0.1"
    """SMSC host."""
    port: int = Field(default=2775, ge=1, le=65535)
    """SMSC port."""
    system_id: str = Field(min_length=1, max_length=15)
    """SMPP system_id (SMPP 3.4 §5.2.1: at most 15 characters)."""
    password: str = Field(default="", max_length=8)
    """SMPP password (at most 8 characters)."""
    system_type: str = Field(default="", max_length=12)
    """SMPP system_type."""
    address_range: str = Field(default="", max_length=40)
    """address_range of the bind (for receivers)."""
    mode: Literal["transceiver", "transmitter", "receiver"] = "transceiver"
    """Bind type. A transmitter needs a receiver group for receipts and MO."""
    count: int = Field(default=1, ge=1, le=64)
    """How many sessions of this group to open."""
    window: int = Field(default=10, ge=1, le=10_000)
    """Outstanding submit_sm per session without a response (Kannel max-pending-submits)."""
    enquire_link_interval: float = Field(default=30.0, gt=0)
    """Seconds of silence before an enquire_link."""
    socket_timeout: float = Field(default=30.0, gt=0)
    """Connect/bind timeout, and how long an enquire_link may stay unanswered."""
    response_timeout: float = Field(default=30.0, gt=0)
    """How long a submit_sm may stay unanswered before it is requeued."""
    reconnect: BackoffModel = BackoffModel(base=1.0, factor=2.0, cap=30.0, jitter=0.2)
    """Delay between reconnect attempts."""
    rate: RateConfig | None = None
    """Limit for each session of this group (overrides `rates.per_bind`)."""
    tls: BindTlsConfig | None = None
    """SMPP over TLS (None: plain TCP)."""

    @property
    def session_names(self) -> list[str]:
        """The names of this group's sessions."""
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(1, self.count + 1)]


class RouteConfig(_Model):
    """Which binds serve which destinations, with which segmentation and sender policy."""

    name: Name
    """Route name."""
    prefixes: list[str] = []
    """E.164 prefixes served (``+8190``); empty: every destination (the fallback route)."""
    binds: list[str] = []
    """Bind group names that may send this route's messages; empty: every transmitting bind."""
    profile: str = "generic"
    """Segmentation profile (`sms.segments.PROFILES`)."""
    method: Method = Method.UDH8
    """Concatenation method: udh8, udh16, sar or payload."""
    default_sender: str | None = None
    """source_addr when the submitter gives none."""
    allowed_senders: list[str] | None = None
    """Sender IDs accepted on this route (None: any valid sender ID)."""
    national_destination: bool = False
    """Send JP destinations in national form (TON 2) instead of E.164 digits (TON 1)."""
    registered_delivery: bool = True
    """Ask for delivery receipts."""
    harness_tlvs: bool = False
    """Attach the harness vendor TLVs 0x1500-0x1502 (`sms.harness`) to every part of a message
    submitted without TLVs of its own: the key from its client_ref, the intended owner and
    obtained date (ISO) from its metadata ``owner`` / ``obtained``. For the simulator; a real
    SMSC ignores them."""
    rate: RateConfig | None = None
    """Limit for this route (overrides `rates.per_route`)."""

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}; known: {', '.join(PROFILES)}")
        return value

    @field_validator("prefixes")
    @classmethod
    def _e164_prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not re.fullmatch(r"\+[0-9]{1,15}", prefix):
                raise ValueError(f"prefix {prefix!r} must be '+' and digits (E.164)")
        return value


class RateLimitsConfig(_Model):
    """Token buckets counted per part (see `gateway.policy.RateLimits`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    global_: RateConfig | None = Field(default=None, alias="global")
    """Everything this gateway sends."""
    per_bind: RateConfig | None = None
    """Each session (bind), unless the bind group sets `rate`."""
    per_route: RateConfig | None = None
    """Each route, unless the route sets `rate`."""
    per_sender: RateConfig | None = None
    """Each sender ID."""
    senders: dict[str, RateConfig] = {}
    """Limits for named sender IDs."""


class ReceiptConfig(_Model):
    """How receipts are matched to submitted parts (see `sms.receipt.IdRule`)."""

    resp_id: IdBase = IdBase.TEXT
    """How the SMSC writes ids in submit_sm_resp: text, dec, hex or auto."""
    receipt_id: IdBase = IdBase.TEXT
    """How it writes them in receipts (text ``id:`` and receipted_message_id)."""
    casefold: bool = True
    """Text ids: compare case-insensitively."""
    strip_zeros: bool = True
    """Text ids: ignore leading zeros."""
    kannel_msg_id_type: int | None = Field(default=None, ge=0, le=3)
    """Shortcut: Kannel's msg-id-type (0-3); overrides resp_id/receipt_id when set."""
    pending_expiry: float = Field(default=600.0, gt=0)
    """Seconds a receipt may wait for its submit_sm_resp before it counts as unmatched."""
    receipt_timeout: float | None = Field(default=None, gt=0)
    """Seconds a submitted message may wait for its final receipts past its validity deadline
    (past its last submit_sm_resp when it has none) before it ends as ``unknown``; None:
    wait for ever."""

    @model_validator(mode="after")
    def _consistent(self) -> ReceiptConfig:
        self.id_rule()
        return self

    def id_rule(self) -> IdRule:
        """The id comparison rule."""
        if self.kannel_msg_id_type is not None:
            return IdRule.from_kannel(self.kannel_msg_id_type)
        return IdRule(self.resp_id, self.receipt_id, self.casefold, self.strip_zeros)


class MoConfig(_Model):
    """Mobile-originated messages."""

    stop_keywords: list[str] = ["STOP", "STOPALL", "UNSUBSCRIBE", "停止", "配信停止"]
    """An MO whose text (or first word) is one of these adds its sender to the suppression
    list. Compared after NFKC normalisation and case folding."""
    opt_out_reason: str = "opt_out"
    """Reason stored with the suppression."""
    opt_out_alert: bool = True
    """Publish an ``opted_out`` `Alert` when an MO suppresses a number (destination: the
    number; message_id: the message it replied to, when there is one)."""
    reassembly_timeout: float = Field(default=600.0, gt=0)
    """Seconds to wait for missing parts of a concatenated MO before storing it incomplete."""
    max_pending: int = Field(default=1024, ge=1)
    """Concatenated MOs waiting for parts at most."""


class NumbersConfig(_Model):
    """Destination number policy (see `sms.numbers.parse_msisdn`)."""

    default_country: Literal["JP"] | None = "JP"
    """Read national numbers with the JP plan, or require E.164."""
    allow_060: bool = False
    """Accept 060 mobile numbers."""
    allow_m2m: bool = False
    """Accept 020/0200 M2M numbers."""


class StoreConfig(_Model):
    """The durable message store."""

    path: Path = Path("gateway.sqlite3")
    """SQLite file (relative paths are relative to the config file)."""
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """FULL survives power loss; NORMAL survives process crashes only (faster)."""
    max_batch: int = Field(default=2000, ge=1)
    """Most operations per group commit."""
    writer: Literal["thread", "process"] = "process"
    """Where the store's writer runs: ``process`` (default) is a child process with its own
    interpreter, so the SQL work of the group commits runs on another core than the event
    loop (faster when a second core is free; the first open in a process starts a Python
    process, ~0.1-0.2 s, later ones fork it); ``thread`` is a thread of the gateway process
    (one GIL for both; a little less CPU in all, cheaper to open)."""


class HttpConfig(_Model):
    """The JSON API of `smsh gateway serve`."""

    host: str = "127.0.0.1"
    """Listen address."""
    port: int = Field(default=8080, ge=0, le=65535)
    """Listen port (0: any free port)."""


class DispatchConfig(_Model):
    """How messages move from the store to the binds."""

    claim_batch: int = Field(default=500, ge=1, le=10_000)
    """Most messages claimed from the store in one transaction."""
    queue_per_bind: int | None = Field(default=None, ge=1)
    """Parts queued in memory per session ahead of its window (default 2 x window + 64)."""
    poll_interval: float = Field(default=0.25, gt=0)
    """Seconds between store polls when idle (scheduled retries become due on a poll)."""
    maintenance_interval: float = Field(default=1.0, gt=0)
    """Seconds between expiry / receipt sweeps / metrics snapshots."""


class ThrottleConfig(_Model):
    """Pause after ESME_RTHROTTLED (see `gateway.policy.ThrottleState`)."""

    backoff: BackoffModel = BackoffModel(base=1.0, factor=2.0, cap=30.0, jitter=0.1)
    """Pause per consecutive throttle episode."""


class OwnerCheckConfig(_Model):
    """The owner check (他人接続判定) at submit: has the number changed hands since it was
    obtained? Applies to messages whose metadata gives ``obtained`` (ISO date); see
    `gateway.ownercheck` for the HTTP API. Fail closed: when the check cannot be made (no
    service, an error, a missing answer) the message is refused (``owner_check_failed``)."""

    enabled: bool = False
    """Check before accepting; ``changed`` numbers are refused (``owner_check_blocked``)."""
    url: str | None = None
    """Base URL of the owner-check API (``http://host:port``); None: a client must be given
    to `Gateway` (``owner_check=``), otherwise every checked message is refused."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds per HTTP request."""
    no_data: Literal["hold", "send"] = "hold"
    """A ``no_data`` answer: hold (refuse, ``owner_check_no_data``) or send anyway."""
    batch_size: int = Field(default=1000, ge=1)
    """Most numbers per request."""


class QuietHoursConfig(_Model):
    """Contact hours in the recipients' local time (`gateway.policy.quiet`): a message due
    outside `window` is accepted as scheduled for the next opening, and its validity is capped
    at the close of the window it starts in, so no carrier retry delivers in quiet hours."""

    enabled: bool = False
    """Apply the window at submit."""
    window: str = "08:00-21:00"
    """Allowed local times of day (``HH:MM-HH:MM``, comma-separated; may wrap midnight)."""
    timezone: str = "Asia/Tokyo"
    """IANA zone of the recipients."""
    cap_validity: bool = True
    """Cap each message's validity at its window's close."""
    min_validity: float = Field(default=60.0, gt=0)
    """A window with less time left than this is skipped (the next one is used)."""
    default_validity: float = Field(default=86_400.0, gt=0)
    """Validity assumed for the cap when neither the message nor `validity` sets one."""

    @field_validator("window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        if DailyWindow.parse(value).empty:
            raise ValueError(f"window {value!r} allows no time")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class GatewayConfig(_Model):
    """Everything `Gateway` needs (the root of the YAML file)."""

    instance: Name = "gw-1"
    """Instance id: part of every bus topic (``smsh/v1/gateway/{instance}/...``)."""
    seed: int = 0
    """Seed of every random choice (retry jitter)."""
    store: StoreConfig = StoreConfig()
    """The message store."""
    binds: list[BindConfig] = Field(min_length=1)
    """SMPP connection groups."""
    routes: list[RouteConfig] = [RouteConfig(name="default")]
    """Routes; the first route whose prefix matches longest wins, a route without prefixes
    is the fallback."""
    rates: RateLimitsConfig = RateLimitsConfig()
    """Rate limits."""
    retry: RetryConfig = RetryConfig()
    """Retry table overrides (see `gateway.policy.RetryConfig`)."""
    throttle: ThrottleConfig = ThrottleConfig()
    """Throttle pause."""
    receipts: ReceiptConfig = ReceiptConfig()
    """Receipt matching."""
    mo: MoConfig = MoConfig()
    """MO handling."""
    numbers: NumbersConfig = NumbersConfig()
    """Destination number policy."""
    http: HttpConfig = HttpConfig()
    """HTTP API."""
    dispatch: DispatchConfig = DispatchConfig()
    """Store-to-bind dispatch."""
    validity: float | None = Field(default=86_400.0, gt=0)
    """Default validity window in seconds from acceptance (None: no deadline)."""
    owner_check: OwnerCheckConfig = OwnerCheckConfig()
    """Owner check at submit (off by default)."""
    quiet_hours: QuietHoursConfig = QuietHoursConfig()
    """Contact hours at submit (off by default)."""
    bus: str | None = None
    """Bus URL (``mqtt://host:1883``); None: in-process bus."""
    shutdown_timeout: float = Field(default=10.0, gt=0)
    """Seconds `stop` waits for in-flight submits to be answered."""

    @model_validator(mode="after")
    def _cross_references(self) -> GatewayConfig:
        names = [b.name for b in self.binds]
        sessions = [s for b in self.binds for s in b.session_names]
        dupes = sorted({n for n in sessions if sessions.count(n) > 1})
        if dupes:
            raise ValueError(f"bind names must be unique, repeated: {', '.join(dupes)}")
        if not any(b.mode != "receiver" for b in self.binds):
            raise ValueError("binds: at least one bind must be a transmitter or transceiver")
        route_names = [r.name for r in self.routes]
        if len(set(route_names)) != len(route_names):
            raise ValueError("route names must be unique")
        if not self.routes:
            raise ValueError("routes: at least one route is needed")
        receivers = {b.name for b in self.binds if b.mode == "receiver"}
        for i, route in enumerate(self.routes):
            for bind in route.binds:
                if bind not in names:
                    raise ValueError(f"routes.{i}.binds: no bind named {bind!r}")
                if bind in receivers:
                    raise ValueError(f"routes.{i}.binds: bind {bind!r} is a receiver")
        return self

    def id_rule(self) -> IdRule:
        """The receipt id rule."""
        return self.receipts.id_rule()

    def rate_limits(self) -> RateLimits:
        """Build the rate-limit buckets."""
        r = self.rates
        overrides: dict[tuple[Scope, str], Rate] = {}
        for bind in self.binds:
            if bind.rate is not None:
                for session in bind.session_names:
                    overrides[(Scope.BIND, session)] = bind.rate.to_rate()
        for route in self.routes:
            if route.rate is not None:
                overrides[(Scope.ROUTE, route.name)] = route.rate.to_rate()
        for sender, rate in r.senders.items():
            overrides[(Scope.SENDER, sender)] = rate.to_rate()
        return RateLimits(
            global_rate=r.global_.to_rate() if r.global_ else None,
            per_bind=r.per_bind.to_rate() if r.per_bind else None,
            per_route=r.per_route.to_rate() if r.per_route else None,
            per_sender=r.per_sender.to_rate() if r.per_sender else None,
            overrides=overrides,
        )


def _describe(exc: ValidationError, source: str) -> GatewayConfigError:
    problems = []
    first_field: str | None = None
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        first_field = first_field or where
        problems.append(f"{source}: {where}: {err['msg']}")
    return GatewayConfigError("; ".join(problems), None if first_field is None else first_field)


def config_from_dict(data: Any, *, source: str = "<config>") -> GatewayConfig:
    """Validate a configuration given as plain data.

    Args:
        data: The parsed YAML/JSON document.
        source: Name used in error messages (the file name).

    Returns:
        The validated configuration.

    Raises:
        GatewayConfigError: The data does not validate; the message names `source` and each
            offending field.
    """
    if not isinstance(data, dict):
        raise GatewayConfigError(
            f"{source}: the document must be a mapping, not {type(data).__name__}"
        )
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, source) from None


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate a YAML configuration file.

    A relative `store.path`, and relative file names in a bind's ``tls`` section, are
    resolved against the file's directory.

    Args:
        path: The YAML file.

    Returns:
        The validated configuration.

    Raises:
        GatewayConfigError: The file cannot be read, is not YAML, or does not validate.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise GatewayConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise GatewayConfigError(f"{file}:{where}: not valid YAML: {exc}") from None
    config = config_from_dict(data if data is not None else {}, source=str(file))
    if not config.store.path.is_absolute():
        store = config.store.model_copy(update={"path": file.parent / config.store.path})
        config = config.model_copy(update={"store": store})
    if any(b.tls is not None for b in config.binds):
        binds = [
            b if b.tls is None else b.model_copy(update={"tls": b.tls.resolved(file.parent)})
            for b in config.binds
        ]
        config = config.model_copy(update={"binds": binds})
    return config
