"""Carrier and SMSC misbehaviour as data: one schema entry + one handler per fault `kind`.

A fault is a scenario entry (a pydantic model tagged by `kind`) scoped by account, route and a
time window. `FaultPlan.active(now, account, route)` lists the faults in force; the per-phase
decision functions turn them into what the server or the model must do:

    phase      kinds                                                   decided by
    submit     tps_throttle queue_full system_error_rate generic_nack  submit_decision
               no_response response_delay
    session    disconnect_after_pdus disconnect_at server_unbind stall session_decision
    receipt    slow_receipts                                           receipt_extra_delay
    delivery   carrier_outage                                          outage_decision
                                                                       (at each delivery attempt)

Invariants:
    * The plan changes only through `FaultPlan.add` / `remove` (runtime injection); both drop
      the scope cache and bump `FaultPlan.revision`, so a decision never sees a stale set and a
      consumer that caches a view of the plan (the model's carrier outages) knows when to renew.
    * Faults are data, never subclasses with behaviour: each kind has exactly one handler in the
      `_SUBMIT_HANDLERS` / `_SESSION_HANDLERS` tables (jasmin's SMSC simulator catalogue, written
      as entries instead of classes; STYLE.md §D).
    * Decisions are pure: time is an argument, randomness arrives as uniforms drawn by the caller
      from the message's own stream, and counters (PDUs seen, submits in this second) are
      arguments. The module keeps no state.
    * Handlers run in configuration order; the first one that rejects decides the status, and
      `response_delay` adds to whatever was decided. A fault therefore never hides another
      silently: the decision names the `kind` that made it.
    * Windows are seconds relative to the scenario epoch, half-open `[start_s, end_s)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final, Literal, TypeAlias

from pydantic import Field, model_validator

from simulator.network.base import ConfigModel
from simulator.network.distributions import FixedLatency, LatencySpec, compile_latency
from simulator.network.errors import NetworkConfigError
from simulator.smpp.constants import CommandStatus

__all__ = [
    "ACCEPT",
    "AnyFault",
    "CarrierOutageFault",
    "DisconnectAfterPdusFault",
    "DisconnectAtFault",
    "Fault",
    "FaultPlan",
    "GenericNackFault",
    "NoResponseFault",
    "OutageDecision",
    "Phase",
    "QueueFullFault",
    "ResponseDelayFault",
    "ServerUnbindFault",
    "SessionAction",
    "SessionDecision",
    "SlowReceiptsFault",
    "StallFault",
    "SubmitDecision",
    "SystemErrorFault",
    "TpsThrottleFault",
    "next_session_deadline",
    "outage_decision",
    "receipt_extra_delay",
    "session_decision",
    "submit_decision",
]


class _FaultScope(ConfigModel):
    """Where and when a fault applies (shared fields of every fault kind)."""

    accounts: list[str] | None = None
    """system_ids the fault applies to; None for every account."""
    routes: list[str] | None = None
    """Routes the fault applies to (`domestic_direct`, `international`); None for all."""
    start_s: float = 0.0
    """Start of the window, in seconds after the scenario epoch (inclusive)."""
    end_s: float | None = None
    """End of the window, in seconds after the scenario epoch (exclusive); None for open-ended."""

    @model_validator(mode="after")
    def _window(self) -> _FaultScope:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise NetworkConfigError("end_s", f"{self.end_s} must be after start_s {self.start_s}")
        return self


class TpsThrottleFault(_FaultScope):
    """Submits beyond `max_tps` in one second (per account) get ESME_RTHROTTLED."""

    kind: Literal["tps_throttle"] = "tps_throttle"
    """Discriminator."""
    max_tps: int = Field(default=10, ge=0)
    """Submits accepted per account per whole second of simulated time."""


class QueueFullFault(_FaultScope):
    """The SMSC's queue is full: ESME_RMSGQFUL."""

    kind: Literal["queue_full"] = "queue_full"
    """Discriminator."""
    rate: float = Field(default=1.0, ge=0, le=1)
    """Share of submits refused."""


class SystemErrorFault(_FaultScope):
    """A share of submits fail with a system error."""

    kind: Literal["system_error_rate"] = "system_error_rate"
    """Discriminator."""
    rate: float = Field(default=0.05, ge=0, le=1)
    """Share of submits refused."""
    status: int = Field(default=int(CommandStatus.ESME_RSYSERR), ge=1)
    """command_status answered (default ESME_RSYSERR 0x08)."""


class ResponseDelayFault(_FaultScope):
    """submit_sm_resp is sent late (the message itself is processed at once)."""

    kind: Literal["response_delay"] = "response_delay"
    """Discriminator."""
    delay: LatencySpec = Field(default_factory=lambda: FixedLatency(seconds=5.0))
    """Extra delay before the response."""


class NoResponseFault(_FaultScope):
    """No submit_sm_resp at all (jasmin NoResponseOnSubmitSMSC)."""

    kind: Literal["no_response"] = "no_response"
    """Discriminator."""
    rate: float = Field(default=1.0, ge=0, le=1)
    """Share of submits left unanswered."""
    process: bool = False
    """True: the message is still delivered (so an ESME retry makes a duplicate);
    False: the message is dropped as well."""


class DisconnectAfterPdusFault(_FaultScope):
    """The SMSC closes the TCP connection after a session has received `pdus` PDUs."""

    kind: Literal["disconnect_after_pdus"] = "disconnect_after_pdus"
    """Discriminator."""
    pdus: int = Field(default=100, ge=1)
    """PDUs received on one session (bind included) before the connection is closed."""


class DisconnectAtFault(_FaultScope):
    """The SMSC closes every matching connection at one instant."""

    kind: Literal["disconnect_at"] = "disconnect_at"
    """Discriminator."""
    at_s: float = 60.0
    """When, in seconds after the scenario epoch. Sessions bound after it are left alone."""


class GenericNackFault(_FaultScope):
    """A submit is answered with generic_nack instead of submit_sm_resp."""

    kind: Literal["generic_nack"] = "generic_nack"
    """Discriminator."""
    rate: float = Field(default=1.0, ge=0, le=1)
    """Share of submits answered this way."""
    status: int = Field(default=int(CommandStatus.ESME_RSYSERR), ge=1)
    """command_status of the generic_nack."""


class ServerUnbindFault(_FaultScope):
    """The SMSC sends unbind (a graceful close initiated by the carrier)."""

    kind: Literal["server_unbind"] = "server_unbind"
    """Discriminator."""
    at_s: float | None = None
    """When, in seconds after the scenario epoch; None to use `after_pdus` only."""
    after_pdus: int | None = Field(default=None, ge=1)
    """Or after a session has received this many PDUs; None to use `at_s` only."""

    @model_validator(mode="after")
    def _trigger(self) -> ServerUnbindFault:
        if self.at_s is None and self.after_pdus is None:
            raise NetworkConfigError("server_unbind", "needs at_s or after_pdus")
        return self


class StallFault(_FaultScope):
    """The SMSC stops reading and answering for the whole window (TCP stays open)."""

    kind: Literal["stall"] = "stall"
    """Discriminator."""


class SlowReceiptsFault(_FaultScope):
    """Receipts falling due in the window are held back by an extra delay."""

    kind: Literal["slow_receipts"] = "slow_receipts"
    """Discriminator."""
    extra: LatencySpec = Field(default_factory=lambda: FixedLatency(seconds=600.0))
    """Extra delay added to each receipt due in the window."""


class CarrierOutageFault(_FaultScope):
    """A carrier's deliveries are delayed to the end of the window, or fail.

    Decided at each delivery attempt against the live plan (so an outage injected or cleared at
    run time acts on messages already in flight): an attempt falling inside the window either
    waits for the window to end (or for the fault to be taken out of the plan) and is made again
    one first-attempt latency later, or fails. `accounts` and `routes` do not narrow an outage: a
    carrier's outage hits every account's traffic to its subscribers.
    """

    kind: Literal["carrier_outage"] = "carrier_outage"
    """Discriminator."""
    carrier: str = "docomo"
    """Carrier whose subscribers are affected."""
    mode: Literal["delay", "fail"] = "delay"
    """delay: a delivery attempt inside the window happens at its end instead;
    fail: it ends UNDELIV with `err`."""
    err: int = Field(default=34, ge=0)
    """GSM MAP error reported in `fail` mode (34 system failure)."""


Fault: TypeAlias = Annotated[
    TpsThrottleFault
    | QueueFullFault
    | SystemErrorFault
    | ResponseDelayFault
    | NoResponseFault
    | DisconnectAfterPdusFault
    | DisconnectAtFault
    | GenericNackFault
    | ServerUnbindFault
    | StallFault
    | SlowReceiptsFault
    | CarrierOutageFault,
    Field(discriminator="kind"),
]
"""Any fault, tagged by `kind`."""

AnyFault: TypeAlias = (
    TpsThrottleFault
    | QueueFullFault
    | SystemErrorFault
    | ResponseDelayFault
    | NoResponseFault
    | DisconnectAfterPdusFault
    | DisconnectAtFault
    | GenericNackFault
    | ServerUnbindFault
    | StallFault
    | SlowReceiptsFault
    | CarrierOutageFault
)


class Phase(StrEnum):
    """When a fault kind is consulted."""

    SUBMIT = "submit"
    SESSION = "session"
    RECEIPT = "receipt"
    DELIVERY = "delivery"


_PHASE: Final[dict[str, Phase]] = {
    "tps_throttle": Phase.SUBMIT,
    "queue_full": Phase.SUBMIT,
    "system_error_rate": Phase.SUBMIT,
    "response_delay": Phase.SUBMIT,
    "no_response": Phase.SUBMIT,
    "generic_nack": Phase.SUBMIT,
    "disconnect_after_pdus": Phase.SESSION,
    "disconnect_at": Phase.SESSION,
    "server_unbind": Phase.SESSION,
    "stall": Phase.SESSION,
    "slow_receipts": Phase.RECEIPT,
    "carrier_outage": Phase.DELIVERY,
}


# ---------------------------------------------------------------------------------------------
# The plan: which faults are in force
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scheduled:
    fault: AnyFault
    phase: Phase
    start: float
    end: float


class FaultPlan:
    """The faults of a scenario, with their windows resolved to absolute epoch seconds."""

    def __init__(self, faults: Sequence[AnyFault], epoch: float) -> None:
        """Resolve windows against the scenario epoch.

        Args:
            faults: The validated fault entries, in configuration order.
            epoch: The scenario epoch (seconds since 1970) that windows are relative to.
        """
        self._epoch = epoch
        self._all = tuple(
            _Scheduled(
                f,
                _PHASE[f.kind],
                epoch + f.start_s,
                math.inf if f.end_s is None else epoch + f.end_s,
            )
            for f in faults
        )
        self.empty = not self._all
        """True when the plan holds no fault at all (the hot path skips every check); kept
        by `add` and `remove` (an attribute, not a property: the hot path reads it per
        message)."""
        self._scoped: dict[tuple[str, str, Phase | None], tuple[_Scheduled, ...]] = {}
        self._revision = 0

    @property
    def revision(self) -> int:
        """Counts the changes made by `add` and `remove` (0 for the configured plan)."""
        return self._revision

    def __contains__(self, fault: object) -> bool:
        """True when this very fault object is in the plan (identity, as `remove` uses)."""
        return any(s.fault is fault for s in self._all)

    def add(self, fault: AnyFault) -> None:
        """Put one more fault in force (runtime injection, `simulator.control`).

        Its window is resolved against the epoch like the configured ones, and it comes after
        them in configuration order.

        Args:
            fault: A validated fault entry.
        """
        self._all = (
            *self._all,
            _Scheduled(
                fault,
                _PHASE[fault.kind],
                self._epoch + fault.start_s,
                math.inf if fault.end_s is None else self._epoch + fault.end_s,
            ),
        )
        self.empty = False
        self._scoped.clear()
        self._revision += 1

    def remove(self, fault: AnyFault) -> bool:
        """Take a fault out of the plan (the very object given to `add` or the constructor).

        Args:
            fault: The fault entry.

        Returns:
            True when it was in the plan.
        """
        kept = tuple(s for s in self._all if s.fault is not fault)
        if len(kept) == len(self._all):
            return False
        self._all = kept
        self.empty = not kept
        self._scoped.clear()
        self._revision += 1
        return True

    @property
    def epoch(self) -> float:
        """The scenario epoch the windows are relative to."""
        return self._epoch

    def _candidates(self, account: str, route: str, phase: Phase | None) -> tuple[_Scheduled, ...]:
        key = (account, route, phase)
        found = self._scoped.get(key)
        if found is None:
            found = tuple(
                s
                for s in self._all
                if (phase is None or s.phase is phase)
                and (s.fault.accounts is None or account in s.fault.accounts)
                and (s.fault.routes is None or route in s.fault.routes)
            )
            self._scoped[key] = found
        return found

    def active(
        self, now: float, account: str, route: str, phase: Phase | None = None
    ) -> list[AnyFault]:
        """The faults in force at `now` for an account on a route.

        Args:
            now: Simulated time, epoch seconds.
            account: The ESME's system_id.
            route: The route the traffic takes.
            phase: Only faults consulted in this phase; None for all.

        Returns:
            The matching faults in configuration order.
        """
        return [s.fault for s in self._candidates(account, route, phase) if s.start <= now < s.end]

    def scoped(self, account: str, route: str, phase: Phase) -> list[AnyFault]:
        """Every fault of a phase for an account and route, whatever its window.

        Args:
            account: The ESME's system_id.
            route: The route.
            phase: The phase.

        Returns:
            The matching faults in configuration order.
        """
        return [s.fault for s in self._candidates(account, route, phase)]

    def window(self, fault: AnyFault) -> tuple[float, float]:
        """A fault's absolute window `[start, end)` in epoch seconds (end may be infinite).

        Args:
            fault: One of this plan's faults.

        Returns:
            The window.

        Raises:
            KeyError: The fault is not part of this plan.
        """
        for s in self._all:
            if s.fault is fault:
                return (s.start, s.end)
        raise KeyError(fault.kind)

    def carrier_outages(self) -> list[tuple[CarrierOutageFault, float, float]]:
        """Every carrier outage with its absolute window (they apply to all accounts' traffic).

        Returns:
            `(fault, start, end)` triples in configuration order.
        """
        return [
            (s.fault, s.start, s.end) for s in self._all if isinstance(s.fault, CarrierOutageFault)
        ]


# ---------------------------------------------------------------------------------------------
# Submit phase
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitDecision:
    """How the SMSC answers one submit_sm."""

    status: int = int(CommandStatus.ESME_ROK)
    """command_status of the answer (0 = ESME_ROK: accepted)."""
    respond: bool = True
    """False: send no answer at all."""
    generic_nack: bool = False
    """True: answer with generic_nack carrying `status` instead of submit_sm_resp."""
    delay_s: float = 0.0
    """Hold the answer back by this many seconds."""
    process: bool = True
    """False: the message is dropped (not delivered, no receipt)."""
    fault: str | None = None
    """The fault kind that decided a non-default answer, if any."""

    @property
    def accepted(self) -> bool:
        """True when the message enters the network (status OK and processed)."""
        return self.status == 0 and self.process


#: The plain answer: ESME_ROK at once.
ACCEPT: Final[SubmitDecision] = SubmitDecision()


@dataclass(slots=True)
class _SubmitContext:
    draw: Callable[[], float]
    tps_count: int
    status: int = 0
    respond: bool = True
    generic_nack: bool = False
    delay_s: float = 0.0
    process: bool = True
    fault: str | None = None

    @property
    def decided(self) -> bool:
        return self.status != 0 or not self.respond or self.generic_nack


def _on_tps_throttle(fault: AnyFault, ctx: _SubmitContext) -> None:
    assert isinstance(fault, TpsThrottleFault)
    if not ctx.decided and ctx.tps_count >= fault.max_tps:
        ctx.status = int(CommandStatus.ESME_RTHROTTLED)
        ctx.process = False
        ctx.fault = fault.kind


def _rate_hit(ctx: _SubmitContext, rate: float) -> bool:
    # Always draw, hit or not, so a fault's uniform never depends on an earlier fault's outcome.
    u = ctx.draw()
    return not ctx.decided and u < rate


def _on_queue_full(fault: AnyFault, ctx: _SubmitContext) -> None:
    assert isinstance(fault, QueueFullFault)
    if _rate_hit(ctx, fault.rate):
        ctx.status = int(CommandStatus.ESME_RMSGQFUL)
        ctx.process = False
        ctx.fault = fault.kind


def _on_system_error(fault: AnyFault, ctx: _SubmitContext) -> None:
    assert isinstance(fault, SystemErrorFault)
    if _rate_hit(ctx, fault.rate):
        ctx.status = fault.status
        ctx.process = False
        ctx.fault = fault.kind


def _on_generic_nack(fault: AnyFault, ctx: _SubmitContext) -> None:
    assert isinstance(fault, GenericNackFault)
    if _rate_hit(ctx, fault.rate):
        ctx.generic_nack = True
        ctx.status = fault.status
        ctx.process = False
        ctx.fault = fault.kind


def _on_no_response(fault: AnyFault, ctx: _SubmitContext) -> None:
    assert isinstance(fault, NoResponseFault)
    if _rate_hit(ctx, fault.rate):
        ctx.respond = False
        ctx.process = fault.process
        ctx.fault = fault.kind


def _on_response_delay(fault: AnyFault, ctx: _SubmitContext) -> None:
    assert isinstance(fault, ResponseDelayFault)
    u = ctx.draw()
    ctx.delay_s += compile_latency(fault.delay)(u)
    if ctx.fault is None:
        ctx.fault = fault.kind


_SUBMIT_HANDLERS: Final[dict[str, Callable[[AnyFault, _SubmitContext], None]]] = {
    "tps_throttle": _on_tps_throttle,
    "queue_full": _on_queue_full,
    "system_error_rate": _on_system_error,
    "generic_nack": _on_generic_nack,
    "no_response": _on_no_response,
    "response_delay": _on_response_delay,
}


def submit_decision(
    active: Sequence[AnyFault], draw: Callable[[], float], tps_count: int = 0
) -> SubmitDecision:
    """Decide the answer to one submit_sm from the submit-phase faults in force.

    Args:
        active: Faults in force (any phase; non-submit kinds are ignored), configuration order.
        draw: Source of uniforms in (0, 1) from the submit attempt's own stream.
        tps_count: Submits this account already had accepted in the current whole second.

    Returns:
        `ACCEPT` when no fault applies, else the decision with the deciding `fault` kind.
    """
    if not active:
        return ACCEPT
    ctx = _SubmitContext(draw=draw, tps_count=tps_count)
    for fault in active:
        handler = _SUBMIT_HANDLERS.get(fault.kind)
        if handler is not None:
            handler(fault, ctx)
    if ctx.fault is None:
        return ACCEPT
    return SubmitDecision(
        status=ctx.status,
        respond=ctx.respond,
        generic_nack=ctx.generic_nack,
        delay_s=ctx.delay_s,
        process=ctx.process,
        fault=ctx.fault,
    )


# ---------------------------------------------------------------------------------------------
# Session phase
# ---------------------------------------------------------------------------------------------


class SessionAction(StrEnum):
    """What the server must do to a session."""

    NONE = "none"
    """Carry on."""
    DISCONNECT = "disconnect"
    """Close the TCP connection without unbind."""
    UNBIND = "unbind"
    """Send unbind and close after unbind_resp."""
    STALL = "stall"
    """Stop reading and answering until `until`."""


@dataclass(frozen=True, slots=True)
class SessionDecision:
    """What the server must do to one session now."""

    action: SessionAction = SessionAction.NONE
    """The action."""
    until: float | None = None
    """For STALL: when to resume (epoch seconds; may be infinite)."""
    fault: str | None = None
    """The fault kind that decided, if any."""


_NO_ACTION: Final[SessionDecision] = SessionDecision()


@dataclass(frozen=True, slots=True)
class _SessionContext:
    now: float
    pdus_received: int
    bound_at: float
    epoch: float
    window: Callable[[AnyFault], tuple[float, float]]


def _on_disconnect_after_pdus(fault: AnyFault, ctx: _SessionContext) -> SessionDecision | None:
    assert isinstance(fault, DisconnectAfterPdusFault)
    start, end = ctx.window(fault)
    if start <= ctx.now < end and ctx.pdus_received >= fault.pdus:
        return SessionDecision(SessionAction.DISCONNECT, fault=fault.kind)
    return None


def _on_disconnect_at(fault: AnyFault, ctx: _SessionContext) -> SessionDecision | None:
    assert isinstance(fault, DisconnectAtFault)
    at = ctx.epoch + fault.at_s
    if ctx.bound_at < at <= ctx.now:
        return SessionDecision(SessionAction.DISCONNECT, fault=fault.kind)
    return None


def _on_server_unbind(fault: AnyFault, ctx: _SessionContext) -> SessionDecision | None:
    assert isinstance(fault, ServerUnbindFault)
    if fault.at_s is not None:
        at = ctx.epoch + fault.at_s
        if ctx.bound_at < at <= ctx.now:
            return SessionDecision(SessionAction.UNBIND, fault=fault.kind)
    if fault.after_pdus is not None:
        start, end = ctx.window(fault)
        if start <= ctx.now < end and ctx.pdus_received >= fault.after_pdus:
            return SessionDecision(SessionAction.UNBIND, fault=fault.kind)
    return None


def _on_stall(fault: AnyFault, ctx: _SessionContext) -> SessionDecision | None:
    assert isinstance(fault, StallFault)
    start, end = ctx.window(fault)
    if start <= ctx.now < end:
        return SessionDecision(SessionAction.STALL, until=end, fault=fault.kind)
    return None


_SESSION_HANDLERS: Final[
    dict[str, Callable[[AnyFault, _SessionContext], SessionDecision | None]]
] = {
    "disconnect_after_pdus": _on_disconnect_after_pdus,
    "disconnect_at": _on_disconnect_at,
    "server_unbind": _on_server_unbind,
    "stall": _on_stall,
}


def session_decision(
    plan: FaultPlan,
    now: float,
    account: str,
    route: str,
    *,
    pdus_received: int,
    bound_at: float,
) -> SessionDecision:
    """Decide what happens to one session now (call after each PDU and on each timer).

    Args:
        plan: The scenario's fault plan.
        now: Simulated time, epoch seconds.
        account: The session's system_id.
        route: The account's route.
        pdus_received: PDUs this session has received so far (bind included).
        bound_at: When the session was bound (epoch seconds).

    Returns:
        The first applicable decision in configuration order, or a NONE decision.
    """
    faults = plan.scoped(account, route, Phase.SESSION)
    if not faults:
        return _NO_ACTION
    ctx = _SessionContext(now, pdus_received, bound_at, plan.epoch, plan.window)
    for fault in faults:
        decision = _SESSION_HANDLERS[fault.kind](fault, ctx)
        if decision is not None:
            return decision
    return _NO_ACTION


def next_session_deadline(plan: FaultPlan, now: float, account: str, route: str) -> float | None:
    """The next instant a time-triggered session fault fires, for arming the server's timer.

    Args:
        plan: The scenario's fault plan.
        now: Simulated time, epoch seconds.
        account: The session's system_id.
        route: The account's route.

    Returns:
        The earliest `disconnect_at` / `server_unbind.at_s` / `stall` start after `now`, or None.
    """
    best: float | None = None
    for fault in plan.scoped(account, route, Phase.SESSION):
        when: float | None = None
        if isinstance(fault, DisconnectAtFault | ServerUnbindFault) and fault.at_s is not None:
            when = plan.epoch + fault.at_s
        elif isinstance(fault, StallFault):
            when = plan.window(fault)[0]
        if when is not None and when > now and (best is None or when < best):
            best = when
    return best


# ---------------------------------------------------------------------------------------------
# Receipt and delivery phases
# ---------------------------------------------------------------------------------------------


def receipt_extra_delay(active: Sequence[AnyFault], u: float) -> float:
    """Extra delay for a receipt falling due while `slow_receipts` faults are in force.

    Args:
        active: Faults in force at the receipt's due time (other kinds are ignored).
        u: A uniform in (0, 1) from the receipt's own stream.

    Returns:
        Seconds to add (the sum over matching faults; 0.0 when none).
    """
    extra = 0.0
    for fault in active:
        if isinstance(fault, SlowReceiptsFault):
            extra += compile_latency(fault.extra)(u)
    return extra


@dataclass(frozen=True, slots=True)
class OutageDecision:
    """What a carrier outage does to one delivery attempt."""

    mode: Literal["delay", "fail"]
    """delay: the attempt moves to `until`; fail: the message ends UNDELIV with `err`."""
    until: float
    """End of the outage window (epoch seconds)."""
    err: int
    """GSM MAP error for `fail`."""
    fault: CarrierOutageFault | None = None
    """The outage entry that decided (the model parks delayed deliveries on it)."""


def outage_decision(
    outages: Sequence[tuple[CarrierOutageFault, float, float]], carrier: str, attempt_at: float
) -> OutageDecision | None:
    """Whether a carrier outage hits a delivery attempt.

    Args:
        outages: `(fault, start, end)` from `FaultPlan.carrier_outages()`.
        carrier: The recipient's carrier.
        attempt_at: When the delivery attempt would happen (epoch seconds).

    Returns:
        The first matching outage's effect, or None when the attempt is unaffected.
    """
    for fault, start, end in outages:
        if fault.carrier == carrier and start <= attempt_at < end:
            return OutageDecision(fault.mode, end, fault.err, fault)
    return None
