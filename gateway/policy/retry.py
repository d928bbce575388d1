"""Retry classification: what to do when a submit_sm does not end in ESME_ROK.

Pure: `decide` takes `now`, the attempt number and (for jitter) a seeded `random.Random`.

Theory of operation:
    A failure is one of four kinds (`FailureKind`): an error status in submit_sm_resp, a
    generic_nack (echoing our sequence number, or with sequence 0 when the SMSC lost framing),
    a response timeout, or the link going away with the request in flight. The table maps each
    to a `RetryRule` (an action, an optional attempt cap and a back-off), and `decide` turns
    the rule plus the message's attempt count and validity deadline into a `Decision`.

Defaults (sources: Kannel gw/smsc/smsc_smpp.c `smpp_status_to_smscconn_failure_reason`, which
treats RMSGQFUL, RTHROTTLED, RX_T_APPN and RSYSERR as temporary and every other status as a
rejection; Jasmin `sm-listener.submit_error_retrial`, which retries RSYSERR 2x30 s,
RTHROTTLED 20x30 s, RMSGQFUL 2x180 s and RINVSCHED 2x300 s; SMPP-ERRORS.md):
    * ESME_RTHROTTLED -> THROTTLE_PAUSE: pause the bind with back-off (1 s doubling to 30 s,
      Kannel sleeps on throttling, Jasmin requeues after 30 s), resume without reordering (see
      `gateway.policy.throttle`). Capped at 20 attempts like Jasmin.
    * ESME_RMSGQFUL, ESME_RSYSERR, ESME_RX_T_APPN -> RETRY_LATER with back-off (Kannel: temporary;
      Jasmin retries the first two). ESME_RINVSCHED -> RETRY_LATER twice (Jasmin).
    * ESME_RINVBNDSTS, ESME_RALYBND, ESME_RBINDFAIL, ESME_RINVPASWD, ESME_RINVSYSID in a submit
      response mean the *session* is wrong, not the message -> RECONNECT_REQUEUE.
    * Address, length, class, TON/NPI, DCS, TLV and application-permanent errors (RINVDSTADR,
      RINVSRCADR, RINVMSGLEN, ...) -> PERMANENT_FAIL: resending the same PDU cannot succeed.
    * Response timeout -> RETRY_LATER soon (5 s, 3 attempts): the SMSC may already hold the
      message, so this retry is the one that can duplicate. If the link is dead the ESME's
      enquire_link fails and the reconnect path takes over (SMPP-ERRORS.md row 24).
    * generic_nack with sequence 0 (header untrusted, framing lost) and a lost link ->
      RECONNECT_REQUEUE of everything in flight, no attempt cap (it is not the message's fault),
      bounded by the validity deadline.
    * generic_nack echoing our sequence number -> classified by its status like a response.
    * Project choice for statuses not in the table (reserved values, vendor range 0x400-0x4FF,
      ESME_RUNKNOWNERR): the request failed (SMPP-ERRORS.md row 21: keep the session) and is
      retried ONCE after 60 s, then fails permanently. Kannel and Jasmin fail them at once; we
      retry once because vendor codes often carry temporary conditions and an error response
      means the SMSC did not take the message, so the retry cannot cause a duplicate.

Invariants:
    * `RetryTable.rule` is total: every 32-bit command_status has a rule (the `unknown` rule
      covers what the table does not name); ESME_ROK maps to ACCEPTED.
    * `decide` never returns a retry time past the validity deadline: such a retry becomes a
      permanent failure with ``expired=True``.
    * A table-wide `max_attempts` caps every rule that has its own cap.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import GatewayConfigError
from gateway.policy.backoff import BackoffSchedule
from sms.command_status import CommandStatus as CommandStatus

#: Largest command_status value (the field is an unsigned 32-bit integer, SMPP 3.4 §3.2).
MAX_COMMAND_STATUS: Final[int] = 0xFFFFFFFF


class RetryAction(StrEnum):
    """What the ESME does with a request that did not succeed."""

    ACCEPTED = "accepted"
    """ESME_ROK: not a failure; nothing to retry."""
    RETRY_LATER = "retry_later"
    """Requeue the message with back-off (``next_attempt_at = now + delay``)."""
    THROTTLE_PAUSE = "throttle_pause"
    """Pause the bind for the back-off, then resend this message before any later one."""
    PERMANENT_FAIL = "permanent_fail"
    """Finalise the message as failed (or expired): resending cannot help."""
    RECONNECT_REQUEUE = "reconnect_requeue"
    """Drop and rebind the session; requeue everything that was in flight on it."""


class FailureKind(StrEnum):
    """How a submit failed."""

    STATUS = "status"
    """submit_sm_resp with a non-zero command_status."""
    GENERIC_NACK = "generic_nack"
    """generic_nack: with our sequence number, or with 0 when the SMSC lost framing."""
    TIMEOUT = "timeout"
    """No response within the response timer."""
    DISCONNECTED = "disconnected"
    """The link dropped (or the SMSC unbound) with the request in flight."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed request, as the ESME saw it."""

    kind: FailureKind
    """Which way it failed."""
    command_status: int = 0
    """The status from the response or generic_nack (0 for timeout and disconnect)."""
    sequence_number: int | None = None
    """The generic_nack's sequence number (0 means the SMSC could not read our header)."""

    @classmethod
    def status(cls, command_status: int) -> Failure:
        """A submit_sm_resp carrying `command_status`."""
        return cls(FailureKind.STATUS, command_status)

    @classmethod
    def generic_nack(cls, command_status: int, sequence_number: int) -> Failure:
        """A generic_nack with `command_status` and `sequence_number`."""
        return cls(FailureKind.GENERIC_NACK, command_status, sequence_number)

    @classmethod
    def timeout(cls) -> Failure:
        """No response within the response timer."""
        return cls(FailureKind.TIMEOUT)

    @classmethod
    def disconnected(cls) -> Failure:
        """The link went away with the request in flight."""
        return cls(FailureKind.DISCONNECTED)


@dataclass(frozen=True, slots=True)
class RetryRule:
    """What to do for one class of failure."""

    action: RetryAction
    """The action."""
    max_attempts: int | None = None
    """Attempts allowed in total before the failure becomes permanent (None = no cap here)."""
    backoff: BackoffSchedule = field(default_factory=BackoffSchedule)
    """Delay before the next attempt (RETRY_LATER, THROTTLE_PAUSE, RECONNECT_REQUEUE)."""

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise GatewayConfigError(f"must be >= 1, got {self.max_attempts}", "max_attempts")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of `RetryTable.decide`."""

    action: RetryAction
    """What to do now (after attempt caps and the validity deadline were applied)."""
    retry_at: float | None
    """When to try again (None unless the action retries)."""
    reason: str
    """Why, for logs and the message's last_error."""
    expired: bool = False
    """True when the retry was refused because the validity deadline would pass first."""
    rule_action: RetryAction | None = None
    """The rule's own action before caps applied (e.g. RETRY_LATER turned PERMANENT_FAIL)."""


_PERMANENT: Final = RetryRule(RetryAction.PERMANENT_FAIL)
_RECONNECT: Final = RetryRule(
    RetryAction.RECONNECT_REQUEUE, None, BackoffSchedule(base=0.0, factor=1.0, cap=0.0)
)

#: Default rules per status (see the module docstring for the sources).
DEFAULT_STATUS_RULES: Final[Mapping[int, RetryRule]] = {
    CommandStatus.ESME_ROK: RetryRule(RetryAction.ACCEPTED),
    CommandStatus.ESME_RTHROTTLED: RetryRule(
        RetryAction.THROTTLE_PAUSE, 20, BackoffSchedule(base=1.0, factor=2.0, cap=30.0, jitter=0.1)
    ),
    CommandStatus.ESME_RMSGQFUL: RetryRule(
        RetryAction.RETRY_LATER, 3, BackoffSchedule(base=60.0, factor=3.0, cap=180.0, jitter=0.2)
    ),
    CommandStatus.ESME_RSYSERR: RetryRule(
        RetryAction.RETRY_LATER, 3, BackoffSchedule(base=30.0, factor=2.0, cap=120.0, jitter=0.2)
    ),
    CommandStatus.ESME_RX_T_APPN: RetryRule(
        RetryAction.RETRY_LATER, 3, BackoffSchedule(base=30.0, factor=2.0, cap=120.0, jitter=0.2)
    ),
    CommandStatus.ESME_RINVSCHED: RetryRule(
        RetryAction.RETRY_LATER, 2, BackoffSchedule(base=300.0, factor=1.0, cap=300.0)
    ),
    # SMPP 5.0 §4.7.6: the service type is temporarily unavailable -> later; the other service
    # type / prohibition refusals are account configuration, which a retry does not change.
    CommandStatus.ESME_RSERTYPUNAVAIL: RetryRule(
        RetryAction.RETRY_LATER, 3, BackoffSchedule(base=60.0, factor=2.0, cap=240.0, jitter=0.2)
    ),
    CommandStatus.ESME_RINVBNDSTS: _RECONNECT,
    CommandStatus.ESME_RALYBND: _RECONNECT,
    CommandStatus.ESME_RBINDFAIL: _RECONNECT,
    CommandStatus.ESME_RINVPASWD: _RECONNECT,
    CommandStatus.ESME_RINVSYSID: _RECONNECT,
    **{
        status: _PERMANENT
        for status in (
            CommandStatus.ESME_RINVMSGLEN,
            CommandStatus.ESME_RINVCMDLEN,
            CommandStatus.ESME_RINVCMDID,
            CommandStatus.ESME_RINVPRTFLG,
            CommandStatus.ESME_RINVREGDLVFLG,
            CommandStatus.ESME_RINVSRCADR,
            CommandStatus.ESME_RINVDSTADR,
            CommandStatus.ESME_RINVMSGID,
            CommandStatus.ESME_RCANCELFAIL,
            CommandStatus.ESME_RREPLACEFAIL,
            CommandStatus.ESME_RINVSERTYP,
            CommandStatus.ESME_RINVNUMDESTS,
            CommandStatus.ESME_RINVDLNAME,
            CommandStatus.ESME_RINVDESTFLAG,
            CommandStatus.ESME_RINVSUBREP,
            CommandStatus.ESME_RINVESMCLASS,
            CommandStatus.ESME_RCNTSUBDL,
            CommandStatus.ESME_RSUBMITFAIL,
            CommandStatus.ESME_RINVSRCTON,
            CommandStatus.ESME_RINVSRCNPI,
            CommandStatus.ESME_RINVDSTTON,
            CommandStatus.ESME_RINVDSTNPI,
            CommandStatus.ESME_RINVSYSTYP,
            CommandStatus.ESME_RINVREPFLAG,
            CommandStatus.ESME_RINVNUMMSGS,
            CommandStatus.ESME_RINVEXPIRY,
            CommandStatus.ESME_RINVDFTMSGID,
            CommandStatus.ESME_RX_P_APPN,
            CommandStatus.ESME_RX_R_APPN,
            CommandStatus.ESME_RQUERYFAIL,
            CommandStatus.ESME_RINVOPTPARSTREAM,
            CommandStatus.ESME_ROPTPARNOTALLWD,
            CommandStatus.ESME_RINVPARLEN,
            CommandStatus.ESME_RMISSINGOPTPARAM,
            CommandStatus.ESME_RINVOPTPARAMVAL,
            CommandStatus.ESME_RDELIVERYFAILURE,
            CommandStatus.ESME_RINVDCS,
            CommandStatus.ESME_RSERTYPUNAUTH,
            CommandStatus.ESME_RPROHIBITED,
            CommandStatus.ESME_RSERTYPDENIED,
        )
    },
}

#: Statuses the table does not name (reserved, vendor-specific, ESME_RUNKNOWNERR).
DEFAULT_UNKNOWN_RULE: Final = RetryRule(
    RetryAction.RETRY_LATER, 2, BackoffSchedule(base=60.0, factor=1.0, cap=60.0)
)
#: No response within the response timer.
DEFAULT_TIMEOUT_RULE: Final = RetryRule(
    RetryAction.RETRY_LATER, 3, BackoffSchedule(base=5.0, factor=2.0, cap=60.0, jitter=0.2)
)
#: generic_nack with sequence number 0, and a link lost with requests in flight.
DEFAULT_RECONNECT_RULE: Final = _RECONNECT


def parse_status(value: str | int) -> int:
    """Read a command_status from config: a name (``ESME_RTHROTTLED`` or ``RTHROTTLED``),
    a number, or a hex string (``"0x58"``).

    Args:
        value: The configured key.

    Returns:
        The status as an int.

    Raises:
        GatewayConfigError: The name is unknown or the number is out of range.
    """
    if isinstance(value, int):
        number = value
    else:
        text = value.strip()
        upper = text.upper()
        name = upper if upper.startswith("ESME_") else f"ESME_{upper}"
        if name in CommandStatus.__members__:
            return int(CommandStatus[name])
        try:
            number = int(text, 0)
        except ValueError:
            raise GatewayConfigError(f"unknown command_status {value!r}", "rules") from None
    if not 0 <= number <= MAX_COMMAND_STATUS:
        raise GatewayConfigError(f"command_status out of range: {value!r}", "rules")
    return number


class BackoffConfig(BaseModel):
    """Back-off settings of one rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: float = 1.0
    """Delay after the first failure (s)."""
    factor: float = 2.0
    """Growth per attempt."""
    cap: float = 300.0
    """Largest delay (s)."""
    jitter: float = 0.0
    """Fraction by which a delay may be shortened at random."""


class RuleConfig(BaseModel):
    """One rule: an action, an optional attempt cap and a back-off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: RetryAction
    """What to do."""
    max_attempts: int | None = None
    """Attempts allowed in total (None = no cap from this rule)."""
    backoff: BackoffConfig = BackoffConfig()
    """Delay before the next attempt."""

    def to_rule(self) -> RetryRule:
        """Build the policy object."""
        b = self.backoff
        return RetryRule(
            self.action, self.max_attempts, BackoffSchedule(b.base, b.factor, b.cap, b.jitter)
        )


class RetryConfig(BaseModel):
    """Retry configuration: overrides on top of the defaults.

    Example::

        {"max_attempts": 10,
         "rules": {"ESME_RMSGQFUL": {"action": "retry_later", "max_attempts": 5,
                                     "backoff": {"base": 30, "cap": 600}},
                   "0x400": {"action": "permanent_fail"}}}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int | None = None
    """Table-wide cap on attempts, applied on top of each rule's own cap."""
    rules: dict[str, RuleConfig] = {}
    """Rules by status name (``ESME_RTHROTTLED``, ``RTHROTTLED``) or number (``"0x58"``)."""
    unknown: RuleConfig | None = None
    """Rule for statuses not named in the table (default: one retry after 60 s)."""
    timeout: RuleConfig | None = None
    """Rule for a response timeout."""
    reconnect: RuleConfig | None = None
    """Rule for generic_nack with sequence 0 and for a link lost with requests in flight."""
    use_defaults: bool = True
    """Start from the Kannel/Jasmin defaults (False: only the rules given here)."""


class RetryTable:
    """Maps every failure to a `RetryRule` and decides what to do.

    Args:
        rules: Rules by command_status, merged over the defaults unless `use_defaults` is False.
        unknown: Rule for statuses not in `rules`.
        timeout: Rule for response timeouts.
        reconnect: Rule for generic_nack sequence 0 and lost links.
        max_attempts: Table-wide attempt cap (None = only the rules' own caps).
        use_defaults: Start from `DEFAULT_STATUS_RULES`.

    Raises:
        GatewayConfigError: max_attempts < 1.
    """

    def __init__(
        self,
        rules: Mapping[int, RetryRule] | None = None,
        *,
        unknown: RetryRule = DEFAULT_UNKNOWN_RULE,
        timeout: RetryRule = DEFAULT_TIMEOUT_RULE,
        reconnect: RetryRule = DEFAULT_RECONNECT_RULE,
        max_attempts: int | None = None,
        use_defaults: bool = True,
    ) -> None:
        if max_attempts is not None and max_attempts < 1:
            raise GatewayConfigError(f"must be >= 1, got {max_attempts}", "max_attempts")
        table: dict[int, RetryRule] = dict(DEFAULT_STATUS_RULES) if use_defaults else {}
        table.update({int(k): v for k, v in (rules or {}).items()})
        # ESME_ROK is never a failure, whatever the configuration says.
        table[CommandStatus.ESME_ROK] = RetryRule(RetryAction.ACCEPTED)
        self._rules = table
        self.unknown = unknown
        self.timeout = timeout
        self.reconnect = reconnect
        self.max_attempts = max_attempts

    @classmethod
    def from_config(cls, config: RetryConfig | Mapping[str, object]) -> RetryTable:
        """Build a table from a `RetryConfig` or a plain dict (YAML/JSON).

        Args:
            config: The configuration.

        Returns:
            The table.

        Raises:
            GatewayConfigError: The configuration does not validate.
        """
        try:
            cfg = config if isinstance(config, RetryConfig) else RetryConfig.model_validate(config)
        except ValidationError as exc:
            raise GatewayConfigError(str(exc), "retry") from exc
        return cls(
            {parse_status(k): v.to_rule() for k, v in cfg.rules.items()},
            unknown=cfg.unknown.to_rule() if cfg.unknown else DEFAULT_UNKNOWN_RULE,
            timeout=cfg.timeout.to_rule() if cfg.timeout else DEFAULT_TIMEOUT_RULE,
            reconnect=cfg.reconnect.to_rule() if cfg.reconnect else DEFAULT_RECONNECT_RULE,
            max_attempts=cfg.max_attempts,
            use_defaults=cfg.use_defaults,
        )

    def rule(self, command_status: int) -> RetryRule:
        """The rule for a response status (total over all 32-bit values).

        Args:
            command_status: The status from submit_sm_resp.

        Returns:
            The configured rule, or the `unknown` rule.
        """
        return self._rules.get(command_status, self.unknown)

    def rule_for(self, failure: Failure) -> RetryRule:
        """The rule for any kind of failure.

        Args:
            failure: What happened.

        Returns:
            The rule that applies.
        """
        if failure.kind is FailureKind.TIMEOUT:
            return self.timeout
        if failure.kind is FailureKind.DISCONNECTED:
            return self.reconnect
        if failure.kind is FailureKind.GENERIC_NACK and failure.sequence_number == 0:
            return self.reconnect
        return self.rule(failure.command_status)

    def decide(
        self,
        failure: Failure,
        *,
        attempt: int,
        now: float,
        deadline: float | None = None,
        rng: random.Random | None = None,
    ) -> Decision:
        """Decide what to do after attempt number `attempt` failed.

        Args:
            failure: What happened.
            attempt: The attempt that just failed (1 for the first).
            now: Current time in seconds.
            deadline: The message's validity deadline, or None.
            rng: Seeded random source for jitter (see `keyed_rng`), or None.

        Returns:
            The decision. Retrying actions carry ``retry_at``; a retry that would exceed the
            attempt caps or land at/after the deadline becomes PERMANENT_FAIL.
        """
        rule = self.rule_for(failure)
        label = _describe(failure)
        if rule.action in (RetryAction.ACCEPTED, RetryAction.PERMANENT_FAIL):
            return Decision(rule.action, None, label, rule_action=rule.action)
        caps = [c for c in (rule.max_attempts, self.max_attempts) if c is not None]
        if caps and attempt >= min(caps):
            return Decision(
                RetryAction.PERMANENT_FAIL,
                None,
                f"{label}: gave up after {attempt} attempts",
                rule_action=rule.action,
            )
        retry_at = now + rule.backoff.delay(attempt, rng)
        if deadline is not None and retry_at >= deadline:
            return Decision(
                RetryAction.PERMANENT_FAIL,
                None,
                f"{label}: validity deadline passes before the next attempt",
                expired=True,
                rule_action=rule.action,
            )
        return Decision(rule.action, retry_at, label, rule_action=rule.action)


def _describe(failure: Failure) -> str:
    if failure.kind is FailureKind.TIMEOUT:
        return "response timeout"
    if failure.kind is FailureKind.DISCONNECTED:
        return "link lost with request in flight"
    try:
        name = CommandStatus(failure.command_status).name
    except ValueError:
        name = f"0x{failure.command_status:08X}"
    if failure.kind is FailureKind.GENERIC_NACK:
        return f"generic_nack {name} seq {failure.sequence_number}"
    return name
