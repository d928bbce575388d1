"""Configuration of the simulated SMSC: listeners, accounts and their limits, timers, receipts.

A tree of small pydantic sections (posting's habit): every field has a docstring, choices are
``Literal``, and the root is `SimulatorConfig`. ``load_config(path)`` reads a YAML file.

Invariants of this module:

* Documents are strict: an unknown key is an error (``extra="forbid"``), so a typo fails at load
  time instead of silently using a default. Models are frozen once validated.
* Every error names the file (when there is one) and the dotted field path, e.g.
  ``sim.yaml: accounts[0].password: String should have at most 8 characters``
  (``simulator.errors.ConfigError``).
* No document at all means open mode: any system_id/password binds, receipts are on (SMPPSim's
  default). Listing accounts turns open mode off unless ``open_mode: true`` says otherwise.
* Passwords are ``SecretStr``: they never show in a repr, a log line or an error message.
* Relative certificate paths in a file are resolved against the file's directory.

Example (every key optional)::

    system_id: smsh-sim
    port: 2775
    accounts:
      - system_id: acme
        password: secret
        bind_modes: [transmitter, receiver, transceiver]
        max_binds: 4
        allow_from: [127.0.0.0/8, 10.0.0.0/8]
        max_tps: 50
        window: 10
        max_queue: 10000
        outbind: {host: 127.0.0.1, port: 2776, system_id: smsh-sim, password: out}
        distribution_lists: {staff: ["819011112222", "819033334444"]}
    lockout: {max_failures: 5, window_s: 60, lockout_s: 300}
    tls: {port: 3550, cert_file: cert.pem, key_file: key.pem}
    message_ids: {format: hex, width: 10}
    receipts: {delay_s: 1.0, stat: DELIVRD}
    delivery: {window: 10, retry_delay_s: 5, max_attempts: 10}
    wire_faults:                  # optional: damaged writes of the server shell (simulator.wire)
      seed: 1
      faults:
        - {kind: malformed_pdu, variant: bad_field, pdu: deliver_sm, rate: 0.2, end_s: 60}
        - {kind: garbage_bytes, octets: 32, accounts: [acme], start_s: 120}
    network:                      # optional: the carrier model decides fates (simulator.carrier)
      seed: 1
      scenario_id: demo
      config: {population: {size: 1000}}     # a simulator.network.config.NetworkConfig
    lookup: {host: 127.0.0.1, port: 8080}   # optional: serve the lookup API (needs network)
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeAlias

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from simulator.errors import ConfigError
from simulator.network.config import NetworkConfig
from simulator.smpp.constants import DEFAULT_MAX_COMMAND_LENGTH, MAX_COMMAND_LENGTH_LIMIT

__all__ = [
    "BIND_MODES",
    "AccountConfig",
    "AccountLimits",
    "BindModeName",
    "ConfigFieldProblem",
    "DeliveryConfig",
    "LimitsConfig",
    "LockoutConfig",
    "LookupConfig",
    "MessageIdConfig",
    "NetworkSection",
    "OutbindConfig",
    "ReceiptConfig",
    "SimulatorConfig",
    "StoreConfig",
    "TimerConfig",
    "TlsConfig",
    "WireDeliverBeforeBound",
    "WireFault",
    "WireFaultsConfig",
    "WireGarbageBytes",
    "WireMalformedPdu",
    "config_from_mapping",
    "load_config",
]

BindModeName: TypeAlias = Literal["transmitter", "receiver", "transceiver"]
"""SMPP 3.4 §2.2 bind types, named as in ``sms.bus.events.BindMode``."""

BIND_MODES: Final[tuple[BindModeName, ...]] = ("transmitter", "receiver", "transceiver")
"""Every bind mode."""

ReceiptStat: TypeAlias = Literal[
    "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"
]
"""Final stat words of SMPP 3.4 Appendix B."""


class _Section(BaseModel):
    """Base of every section: strict, frozen, field docstrings become schema descriptions."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, validate_default=True
    )


class AccountLimits(_Section):
    """What an account may do. Open-mode accounts get ``SimulatorConfig.default_account``."""

    bind_modes: tuple[BindModeName, ...] = BIND_MODES
    """Bind types the account may use; others are refused with ESME_RBINDFAIL (row 10)."""
    max_binds: int | None = Field(default=None, ge=1)
    """Most sessions bound at once (any mode); more are refused with ESME_RBINDFAIL."""
    allow_from: tuple[IPvAnyNetwork, ...] = ()
    """Networks (CIDR) the account may bind from; empty = anywhere. Else ESME_RBINDFAIL."""
    max_tps: float | None = Field(default=None, gt=0)
    """submit_sm / data_sm / submit_multi per second over all the account's sessions (token
    bucket); excess answered ESME_RTHROTTLED (row 11). None = unlimited."""
    burst: int | None = Field(default=None, ge=1)
    """Token-bucket depth; default max(1, ceil(max_tps))."""
    window: int | None = Field(default=None, ge=1)
    """Most requests a session may have outstanding (received, unanswered, including the new
    one); excess answered ESME_RTHROTTLED (row 12). None = ``limits.max_inbound_window``."""
    max_queue: int | None = Field(default=None, ge=1)
    """Most accepted messages not yet final; more are answered ESME_RMSGQFUL (row 13)."""
    receipts: bool = True
    """Honour registered_delivery with delivery receipts. False: never send receipts."""
    max_queued_deliveries: int = Field(default=10_000, ge=1)
    """Receipts and MO waiting for a receiver session; beyond it the oldest is dropped."""
    delivery_window: int | None = Field(default=None, ge=1)
    """deliver_sm (receipts, MO) outstanding per session of this account at most; None =
    ``delivery.window`` (10 by default, a typical carrier value). Load tools raise it."""


class OutbindConfig(_Section):
    """Where the SMSC connects out to ask an ESME to bind (outbind, SMPP 3.4 §2.2.1, §4.1.7).

    When the account has receipts or MO queued and no receiver or transceiver session bound,
    the simulator opens a TCP connection to ``host:port``, sends ``outbind`` carrying
    ``system_id`` / ``password``, and serves the connection like an accepted one: the ESME is
    expected to answer with bind_receiver (3.4 prescribes it; any bind the account allows is
    served). A refused or failed connection, or one closed before a receiver bound, is retried
    after ``retry_initial_s``, doubling up to ``retry_max_s``, for as long as deliveries wait.
    """

    host: str = "127.0.0.1"
    """The ESME's address."""
    port: int = Field(ge=1, le=65535)
    """The ESME's listening port."""
    system_id: str | None = Field(default=None, max_length=15)
    """system_id the SMSC presents in outbind; None = the server's ``system_id``."""
    password: SecretStr = Field(default=SecretStr(""))
    """Password the SMSC presents in outbind (at most 8 characters). Never logged."""
    retry_initial_s: float = Field(default=1.0, gt=0)
    """Back-off after the first failed attempt, in real seconds."""
    retry_max_s: float = Field(default=60.0, gt=0)
    """Longest back-off between attempts, in real seconds."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """How long one connection attempt may take before it counts as failed."""

    @field_validator("password")
    @classmethod
    def _password_length(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) > 8:
            raise ValueError("a password has at most 8 characters (SMPP 3.4 §4.1.7)")
        return value


class AccountConfig(AccountLimits):
    """One ESME account."""

    system_id: str = Field(min_length=1, max_length=15)
    """SMPP system_id (at most 15 characters, SMPP 3.4 §4.1.1)."""
    password: SecretStr = Field(default=SecretStr(""))
    """SMPP password (at most 8 characters). Compared in constant time, never logged."""

    outbind: OutbindConfig | None = None
    """Connect out to the ESME when deliveries wait and nothing receives (see
    ``OutbindConfig``); None = never (the ESME must bind by itself)."""
    distribution_lists: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Named distribution lists for submit_multi (dest_flag=2, SMPP 3.4 §4.5.1.2): list name
    (1-20 characters, the dl_name field) -> member addresses (MSISDNs: 1-20 digits, optionally
    after a ``+``).
    A list destination expands to one destination per member, as if the ESME had listed them:
    ``+81...`` / ``81...`` with TON 1 (international), ``0...`` with TON 2 (national), NPI 1;
    each member is checked, decided and reported in unsuccess_sme on its own. A name the
    account does not define is reported in unsuccess_sme (dest_addr_ton/npi 0, the name as
    destination_addr) with ESME_RINVDLNAME 0x34 (§5.1.3); the other destinations proceed."""

    @field_validator("password")
    @classmethod
    def _password_length(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) > 8:
            raise ValueError("a password has at most 8 characters (SMPP 3.4 §4.1.1)")
        return value

    @field_validator("distribution_lists")
    @classmethod
    def _lists(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, members in value.items():
            if not 1 <= len(name) <= 20:
                raise ValueError(f"list name {name!r}: 1 to 20 characters (SMPP 3.4 §5.2.27)")
            if not members:
                raise ValueError(f"list {name!r} has no members")
            for member in members:
                digits = member.removeprefix("+")
                if not (1 <= len(digits) <= 20 and digits.isascii() and digits.isdigit()):
                    raise ValueError(f"list {name!r}: member {member!r} must be 1-20 digits")
        return value


class LockoutConfig(_Section):
    """Refuse binds from an address after repeated failed binds (project choice B11)."""

    enabled: bool = True
    """Turn the lockout on or off."""
    max_failures: int = Field(default=5, ge=1)
    """Failed binds (bad system_id/password) from one address ..."""
    window_s: float = Field(default=60.0, gt=0)
    """... within this many seconds lock the address out ..."""
    lockout_s: float = Field(default=300.0, gt=0)
    """... for this many seconds: every bind is refused with ESME_RBINDFAIL."""
    max_tracked: int = Field(default=4096, ge=1)
    """Addresses remembered at most (the oldest are forgotten first)."""


class TlsConfig(_Section):
    """An additional TLS listener (SMPP over TLS, 5.0 §2.10)."""

    port: int = Field(default=3550, ge=0, le=65535)
    """TLS port (3550 "ssmpp"; 0 = any free port)."""
    host: str | None = None
    """Address to listen on; None = the plain listener's host."""
    cert_file: Path
    """PEM certificate chain."""
    key_file: Path
    """PEM private key."""
    min_version: Literal["1.2", "1.3"] = "1.2"
    """Lowest TLS version accepted."""


class TimerConfig(_Section):
    """Session timers in seconds (SMPP-ERRORS 'Timers seen in anchors'); null disables one."""

    session_init_s: float | None = Field(default=10.0, gt=0)
    """Close a connection not bound within this time (row 25)."""
    enquire_link_s: float | None = Field(default=30.0, gt=0)
    """Send enquire_link after this long without hearing from a bound ESME."""
    inactivity_s: float | None = Field(default=300.0, gt=0)
    """Unbind a session without application traffic for this long."""
    response_s: float | None = Field(default=60.0, gt=0)
    """A deliver_sm unanswered this long is redelivered; enquire_link/unbind: close (row 24)."""
    pdu_read_s: float | None = Field(default=10.0, gt=0)
    """A partial PDU stalled this long: generic_nack ESME_RINVCMDLEN and close (row 3)."""


class MessageIdConfig(_Section):
    """How message ids in submit_sm_resp look."""

    format: Literal["decimal", "padded_decimal", "hex", "uuid"] = "hex"
    """decimal ``42``; padded_decimal ``0000000042``; hex ``000000002a``; uuid (random v4 from
    ``seed``)."""
    width: int = Field(default=10, ge=1, le=64)
    """Zero padding for padded_decimal and hex."""
    uppercase: bool = False
    """Upper-case hex digits (hex and uuid)."""
    start: int = Field(default=1, ge=0)
    """First id number."""
    prefix: str = Field(default="", max_length=16)
    """Literal prefix (e.g. the instance when several simulators run)."""
    seed: int = 0
    """Seed of the uuid generator (ids are reproducible)."""


class ReceiptConfig(_Section):
    """The default handler's fixed fate: every accepted message reaches ``stat`` after a delay."""

    delay_s: float = Field(default=1.0, ge=0)
    """Simulated seconds from submission (or schedule_delivery_time) to the final state."""
    stat: ReceiptStat = "DELIVRD"
    """Final state of every message."""
    err: int = Field(default=0, ge=0, le=999)
    """``err:`` code written in the receipts."""
    timezone: str = "UTC"
    """Zone the receipt and query_sm dates are written in (IANA name)."""
    seconds_in_dates: bool = False
    """Write 12-digit YYMMDDhhmmss receipt dates instead of the standard 10 digits."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class DeliveryConfig(_Section):
    """deliver_sm (receipts, MO) towards the ESMEs."""

    window: int = Field(default=10, ge=1)
    """deliver_sm outstanding per session at most (server default; an account's
    ``delivery_window`` overrides it). 10 is a typical carrier value; load tools raise it."""
    retry_delay_s: float = Field(default=5.0, ge=0)
    """Wait before redelivering after a temporary error or a timeout."""
    max_attempts: int = Field(default=10, ge=1)
    """Give up (and count it) after this many attempts."""
    retry_statuses: tuple[int, ...] = (0x64, 0x14, 0x58, 0x08)
    """deliver_sm_resp statuses that mean "try again later": ESME_RX_T_APPN, ESME_RMSGQFUL,
    ESME_RTHROTTLED, ESME_RSYSERR. Any other error status drops the delivery."""


class StoreConfig(_Section):
    """The in-memory message store."""

    capacity: int = Field(default=100_000, ge=1)
    """Messages remembered for query_sm; final ones are forgotten oldest first."""
    max_pending: int = Field(default=100_000, ge=1)
    """Messages not yet final over all accounts; more are answered ESME_RMSGQFUL."""


class LimitsConfig(_Section):
    """Server-wide resource limits (DoS guards)."""

    max_connections: int = Field(default=1000, ge=1)
    """Open connections at most; more are closed at once."""
    max_command_length: int = Field(
        default=DEFAULT_MAX_COMMAND_LENGTH, ge=16, le=MAX_COMMAND_LENGTH_LIMIT
    )
    """Largest command_length accepted (row 2); raise to ~66000 for 64 KiB message_payload."""
    max_inbound_window: int = Field(default=10_000, ge=1)
    """Window of accounts that set none: a hard cap on unanswered requests per session."""
    max_accounts: int = Field(default=10_000, ge=1)
    """Open mode: distinct system_ids remembered at most (idle ones are forgotten first)."""
    write_buffer_high: int = Field(default=256 * 1024, ge=1024)
    """Stop reading a connection whose unsent output exceeds this many octets."""
    write_buffer_low: int = Field(default=64 * 1024, ge=0)
    """Resume reading once its unsent output is back under this many octets."""


class NetworkSection(_Section):
    """The carrier model (``simulator.network.CarrierNetwork``) in place of the fixed fate."""

    seed: int = 0
    """The scenario seed (every random stream derives from it)."""
    scenario_id: str = Field(default="simulator", min_length=1)
    """The scenario's identifier (part of every random stream's name)."""
    speed: float = Field(default=1.0, gt=0)
    """Simulated seconds per real second; simulated time starts at the network's epoch."""
    config: NetworkConfig = Field(default_factory=NetworkConfig)
    """The carrier model's configuration (population, routes, registry, faults, ...)."""


class LookupConfig(_Section):
    """The HTTP lookup API (owner check, handsets; ``simulator.lookup``) over the carrier model."""

    host: str = "127.0.0.1"
    """Listen address."""
    port: int = Field(default=0, ge=0, le=65535)
    """Listen port (0 = any free port)."""


class _WireScope(_Section):
    """Where and when a wire fault applies (the scenario's ``wire_faults`` fields)."""

    accounts: tuple[str, ...] | None = None
    """system_ids whose sessions are affected; None for all."""
    start_s: float = Field(default=0.0, ge=0)
    """Start of the window, seconds after ``wire_faults.epoch_s`` (inclusive)."""
    end_s: float | None = None
    """End of the window, seconds after ``wire_faults.epoch_s`` (exclusive); None: open-ended."""

    @model_validator(mode="after")
    def _window(self) -> _WireScope:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ConfigFieldProblem("end_s", f"{self.end_s} must be after start_s {self.start_s}")
        return self


class WireMalformedPdu(_WireScope):
    """Damage PDUs written to the ESME (jasmin's CommandLengthTooShort/TooLong, InvalidCommandId
    and NonFatalParseError SMSCs, as data)."""

    kind: Literal["malformed_pdu"] = "malformed_pdu"
    """Discriminator."""
    variant: Literal[
        "command_length_too_short",
        "command_length_too_long",
        "invalid_command_id",
        "bad_field",
    ] = "bad_field"
    """command_length below 16 or above the maximum; a command_id no PDU has; or a body whose
    mandatory fields do not parse (the header is sound)."""
    pdu: Literal["deliver_sm", "submit_sm_resp", "enquire_link"] = "deliver_sm"
    """Which PDU the damage is applied to."""
    rate: float = Field(default=1.0, ge=0, le=1)
    """Share of those PDUs damaged within the window (drawn from the fault's own stream)."""
    max_count: int | None = Field(default=None, ge=1)
    """Stop after this many damaged PDUs; None for no limit."""


class WireDeliverBeforeBound(_WireScope):
    """Write a deliver_sm on a connection before its bind_resp (jasmin's
    DeliverSMBeforeBoundSMSC)."""

    kind: Literal["deliver_before_bound"] = "deliver_before_bound"
    """Discriminator."""


class WireGarbageBytes(_WireScope):
    """Write bytes that are no PDU at all onto each matching bound session, once."""

    kind: Literal["garbage_bytes"] = "garbage_bytes"
    """Discriminator."""
    octets: int = Field(default=64, ge=1, le=65536)
    """How many bytes (drawn from ``wire_faults.seed``)."""


WireFault: TypeAlias = Annotated[
    WireMalformedPdu | WireDeliverBeforeBound | WireGarbageBytes,
    Field(discriminator="kind"),
]
"""One wire fault, tagged by ``kind``."""


class WireFaultsConfig(_Section):
    """Wire-level faults of the server shell (``simulator.wire``): damaged PDUs, garbage."""

    epoch_s: float | None = None
    """Simulated epoch seconds the windows are relative to; None: the simulated clock when the
    server starts (the scenario runner passes the scenario's start)."""
    seed: int = 0
    """Seed of every draw (which PDUs are damaged, the garbage octets)."""
    faults: tuple[WireFault, ...] = ()
    """The faults, in order (the first matching ``malformed_pdu`` decides a PDU)."""


class SimulatorConfig(_Section):
    """The whole simulator configuration (every key optional)."""

    system_id: str = Field(default="smsh-sim", min_length=1, max_length=15)
    """The SMSC's own system_id, sent in bind_*_resp."""
    instance: str = Field(default="sim-1", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    """Instance id in bus topics (``smsh/v1/simulator/{instance}/...``)."""
    host: str = "127.0.0.1"
    """Address of the plain listener."""
    port: int = Field(default=2775, ge=0, le=65535)
    """Port of the plain listener (2775 = IANA smpp; 0 = any free port)."""
    open_mode: bool | None = None
    """Accept any system_id/password. None: on when no accounts are listed."""
    accounts: tuple[AccountConfig, ...] = ()
    """The accounts (system_ids must be unique)."""
    default_account: AccountLimits = Field(default_factory=AccountLimits)
    """Limits of the accounts that open mode creates on the fly."""
    lockout: LockoutConfig = Field(default_factory=LockoutConfig)
    """Failed-bind lockout."""
    tls: TlsConfig | None = None
    """Optional TLS listener."""
    timers: TimerConfig = Field(default_factory=TimerConfig)
    """Session timers."""
    message_ids: MessageIdConfig = Field(default_factory=MessageIdConfig)
    """Message id format."""
    receipts: ReceiptConfig = Field(default_factory=ReceiptConfig)
    """The default handler's fixed fate and the receipt date format."""
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    """deliver_sm window and redelivery."""
    store: StoreConfig = Field(default_factory=StoreConfig)
    """Message store bounds."""
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    """Server-wide limits."""
    network: NetworkSection | None = None
    """The carrier model; None: the fixed-fate handler (``receipts``)."""
    lookup: LookupConfig | None = None
    """Serve the lookup API (requires ``network``)."""
    wire_faults: WireFaultsConfig = Field(default_factory=WireFaultsConfig)
    """Wire-level faults of the server shell; none by default."""

    @model_validator(mode="after")
    def _unique_accounts(self) -> SimulatorConfig:
        seen: set[str] = set()
        for index, account in enumerate(self.accounts):
            if account.system_id in seen:
                raise ConfigFieldProblem(
                    f"accounts[{index}].system_id", f"duplicate system_id {account.system_id!r}"
                )
            seen.add(account.system_id)
        if self.lookup is not None and self.network is None:
            raise ConfigFieldProblem("lookup", "the lookup API needs a network section")
        return self

    @property
    def is_open(self) -> bool:
        """Whether any system_id/password binds (``open_mode``, else no accounts listed)."""
        return not self.accounts if self.open_mode is None else self.open_mode


class ConfigFieldProblem(ValueError):
    """Raised by model validators to blame one field; turned into ``ConfigError`` here and into
    a located problem by the scenario loader (whose ``wire_faults`` are this module's models).

    Attributes:
        field: The field's path relative to the model that raised it (``end_s``,
            ``accounts[0].system_id``).
        detail: What is wrong with it.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def config_from_mapping(
    data: Any, *, path: Path | str | None = None, base_dir: Path | None = None
) -> SimulatorConfig:
    """Validate a configuration document (already parsed from YAML or JSON).

    Args:
        data: The document: a mapping, or None for an empty document.
        path: The file it came from, for error messages.
        base_dir: Directory that relative certificate paths are resolved against.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: The document is invalid; the message names the file and the field.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the document must be a mapping of settings, not {type(data).__name__}", path=path
        )
    try:
        config = SimulatorConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        ctx_error = first.get("ctx", {}).get("error")
        if isinstance(ctx_error, ConfigFieldProblem):
            where = _field_path(tuple(first["loc"]))
            field = f"{where}.{ctx_error.field}" if where else ctx_error.field
            raise ConfigError(ctx_error.detail, path=path, field=field) from None
        detail = _message(first["msg"])
        if len(errors) > 1:
            others = "; ".join(
                f"{_field_path(tuple(e['loc'])) or '(root)'}: {_message(e['msg'])}"
                for e in errors[1:4]
            )
            detail += f" (also: {others}{' ...' if len(errors) > 4 else ''})"
        raise ConfigError(detail, path=path, field=_field_path(tuple(first["loc"]))) from None
    if config.tls is not None and base_dir is not None:
        tls = config.tls
        config = config.model_copy(
            update={
                "tls": tls.model_copy(
                    update={
                        "cert_file": tls.cert_file
                        if tls.cert_file.is_absolute()
                        else base_dir / tls.cert_file,
                        "key_file": tls.key_file
                        if tls.key_file.is_absolute()
                        else base_dir / tls.key_file,
                    }
                )
            }
        )
    return config


def load_config(path: Path | str) -> SimulatorConfig:
    """Read and validate a YAML configuration file.

    Args:
        path: The file.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: The file cannot be read, is not YAML, or is invalid (file and field named).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=file) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", path=file) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}{problem}", path=file) from None
    return config_from_mapping(data, path=file, base_dir=file.parent)
