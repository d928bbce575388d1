"""Operator controls for the simulator: `SimulatorControls` injects and clears carrier faults.

``async with SimulatorControls(server):`` registers handlers on a `ControlChannel` for
``simulator/{config.instance}`` (and the broadcast ``simulator/all``) and answers every control
with a `ControlAcknowledged`. Actions and their arguments:

* ``inject_fault``: one fault entry of the carrier model (``simulator.network.faults.Fault``),
  given either as the TUI sends it, ``{"fault_kind": str, "params": {...}, "target": str?,
  "duration_s": float?}``, or whole, ``{"fault": {"kind": str, ...}, "duration_s": float?}``;
  an optional ``fault_id`` names it (default ``op-<n>``). ``target`` scopes it: a route name
  (``domestic_direct``, ``international``) sets ``routes``, anything else ``accounts``. The
  entry is validated with pydantic; a bad one is refused naming the field and why. Its times
  count from the injection instant on the simulator's clock: ``start_s`` (default 0 = now),
  ``end_s``, and ``at_s`` of ``disconnect_at`` / ``server_unbind``; ``duration_s`` ends it that
  many simulated seconds after its start (and clears it by itself). A ``carrier_outage`` acts on
  messages already in flight: the model decides outages at each delivery attempt, and the
  deliveries it holds are attempted again when it ends or is cleared. The fault joins the live
  ``FaultPlan``; the server re-decides its sessions at once. Publishes `FaultInjected`; the
  ack's result is ``{"fault_id", "fault_kind", "until"}``.
* ``clear_fault`` ``{"fault_id": str}``: takes an injected fault out of the plan. Publishes
  `FaultCleared` (reason ``operator``; ``expired`` when a duration ran out).

Refused: any fault when the server has no carrier model (the fixed-fate handler has no plan);
an unknown ``fault_id``.

Invariants:
    * A control is applied whole or not at all: validation happens before the plan changes.
    * Only faults injected here can be cleared here; the scenario's own faults are left alone.
    * Expiry timers run on the loop in real seconds (``clock.to_real`` when the clock has it);
      leaving the block cancels them and leaves the injected faults in force.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from types import TracebackType
from typing import Any, Final, Self

from pydantic import JsonValue, TypeAdapter, ValidationError

from simulator.network.faults import (
    AnyFault,
    DisconnectAtFault,
    Fault,
    FaultPlan,
    ServerUnbindFault,
)
from simulator.server import SimulatorServer
from sms.bus.bus import Publisher
from sms.bus.control import ControlChannel, ControlRefused
from sms.bus.events import Control, FaultCleared, FaultInjected

__all__ = ["ROUTES", "SimulatorControls"]

#: Route names a ``target`` may give (anything else is an account).
ROUTES: Final[frozenset[str]] = frozenset({"domestic_direct", "international"})
_FAULT: Final[TypeAdapter[AnyFault]] = TypeAdapter(Fault)


def _entry(args: dict[str, JsonValue]) -> dict[str, Any]:
    """The raw fault entry from either argument layout (see the module docstring)."""
    whole = args.get("fault")
    if whole is not None:
        if not isinstance(whole, dict):
            raise ControlRefused(f"'fault' must be an object, got {whole!r}")
        return dict(whole)
    kind = args.get("fault_kind")
    if not isinstance(kind, str) or not kind:
        raise ControlRefused("inject_fault needs 'fault_kind' (or a whole 'fault' entry)")
    params = args.get("params") or {}
    if not isinstance(params, dict):
        raise ControlRefused(f"'params' must be an object, got {params!r}")
    entry: dict[str, Any] = {**params, "kind": kind}
    target = args.get("target")
    if target is not None:
        if not isinstance(target, str) or not target:
            raise ControlRefused(f"'target' must be a non-empty string, got {target!r}")
        entry["routes" if target in ROUTES else "accounts"] = [target]
    return entry


def _problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "fault"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def _duration(args: dict[str, JsonValue]) -> float | None:
    value = args.get("duration_s")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlRefused(f"'duration_s' must be a number, got {value!r}")
    duration = float(value)
    if not math.isfinite(duration) or duration <= 0:
        raise ControlRefused(f"'duration_s' must be a positive number, got {value!r}")
    return duration


class SimulatorControls:
    """The simulator's responder for operator controls (see the module docstring).

    Args:
        server: The simulator (started before controls arrive; it must have a bus unless a
            channel is given).
        channel: The channel to answer on (default: a new one on the server's bus, component
            ``simulator``, the configured instance, the server's clock).

    Raises:
        ValueError: No channel given and the server has no bus.
    """

    def __init__(self, server: SimulatorServer, channel: ControlChannel | None = None) -> None:
        bus = server.bus
        if channel is None:
            if bus is None:
                raise ValueError("SimulatorControls needs a server with a bus, or a channel")
            channel = ControlChannel(bus, "simulator", server.config.instance, clock=server.clock)
        self.server = server
        self.channel = channel
        self.channel.on("inject_fault", self.inject_fault)
        self.channel.on("clear_fault", self.clear_fault)
        self._publisher = (
            Publisher(bus, "simulator", server.config.instance) if bus is not None else None
        )
        self._ids = itertools.count(1)
        self.injected: dict[str, AnyFault] = {}
        """Faults injected here and still in the plan, by fault_id."""
        self._timers: dict[str, asyncio.TimerHandle] = {}

    async def __aenter__(self) -> Self:
        """Start answering controls."""
        await self.channel.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop answering controls (pending expiries are cancelled)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self.channel.__aexit__(exc_type, exc, tb)

    # -- helpers ----------------------------------------------------------------------------------

    def _plan(self) -> FaultPlan:
        plan = getattr(self.server.handler, "fault_plan", None)
        if not isinstance(plan, FaultPlan):
            raise ControlRefused(
                "this simulator has no carrier model (configure a network section) to fault"
            )
        return plan

    def _publish(self, event: FaultInjected | FaultCleared) -> None:
        if self._publisher is not None:
            self._publisher.publish_nowait(event)

    # -- actions ----------------------------------------------------------------------------------

    async def inject_fault(self, control: Control) -> dict[str, JsonValue]:
        """Validate a fault entry and put it in force from now (see the module docstring).

        Args:
            control: The ``inject_fault`` control.

        Returns:
            ``{"fault_id", "fault_kind", "until"}``.

        Raises:
            ControlRefused: No carrier model, a bad entry or argument, or a taken fault_id.
        """
        args = dict(control.args)
        plan = self._plan()
        entry = _entry(args)
        duration = _duration(args)
        try:
            fault = _FAULT.validate_python(entry)
        except ValidationError as exc:
            raise ControlRefused(_problem(exc)) from None
        except ValueError as exc:
            raise ControlRefused(str(exc)) from None
        fault_id = args.get("fault_id")
        if fault_id is None:
            fault_id = f"op-{next(self._ids)}"
            while fault_id in self.injected:
                fault_id = f"op-{next(self._ids)}"
        elif not isinstance(fault_id, str) or not fault_id or fault_id in self.injected:
            raise ControlRefused(f"'fault_id' must be a new non-empty string, got {fault_id!r}")
        now = self.server.clock.now()
        offset = now - plan.epoch
        start_s = offset + fault.start_s
        update: dict[str, Any] = {"start_s": start_s}
        if duration is not None:
            update["end_s"] = start_s + duration
        elif fault.end_s is not None:
            update["end_s"] = offset + fault.end_s
        if isinstance(fault, DisconnectAtFault | ServerUnbindFault) and fault.at_s is not None:
            update["at_s"] = offset + fault.at_s
        placed = fault.model_copy(update=update)
        plan.add(placed)
        self.injected[fault_id] = placed
        end_s = update.get("end_s")
        until = None if end_s is None else plan.epoch + end_s
        if until is not None:
            delay = until - now
            to_real = getattr(self.server.clock, "to_real", None)
            real = to_real(delay) if to_real is not None else delay
            self._timers[fault_id] = asyncio.get_running_loop().call_later(
                max(real, 0.0), self._expire, fault_id
            )
        self.server.faults_changed()
        target = ",".join([*(placed.accounts or ()), *(placed.routes or ())]) or None
        self._publish(
            FaultInjected(
                at=now,
                fault_id=fault_id,
                fault_kind=placed.kind,
                target=target,
                params=placed.model_dump(mode="json"),
                until=until,
            )
        )
        return {"fault_id": fault_id, "fault_kind": placed.kind, "until": until}

    async def clear_fault(self, control: Control) -> dict[str, JsonValue]:
        """Take an injected fault out of the plan.

        Args:
            control: The ``clear_fault`` control (``{"fault_id": str}``).

        Returns:
            ``{"fault_id", "fault_kind"}``.

        Raises:
            ControlRefused: Missing or unknown fault_id.
        """
        fault_id = control.args.get("fault_id")
        if not isinstance(fault_id, str) or fault_id not in self.injected:
            known = ", ".join(sorted(self.injected)) or "none"
            raise ControlRefused(f"unknown fault_id {fault_id!r} (injected: {known})")
        fault = self._remove(fault_id, "operator")
        return {"fault_id": fault_id, "fault_kind": fault.kind}

    def _remove(self, fault_id: str, reason: str) -> AnyFault:
        fault = self.injected.pop(fault_id)
        timer = self._timers.pop(fault_id, None)
        if timer is not None:
            timer.cancel()
        plan = getattr(self.server.handler, "fault_plan", None)
        if isinstance(plan, FaultPlan):
            plan.remove(fault)
        self.server.faults_changed()
        self._publish(
            FaultCleared(
                at=self.server.clock.now(), fault_id=fault_id, fault_kind=fault.kind, reason=reason
            )
        )
        return fault

    def _expire(self, fault_id: str) -> None:
        self._timers.pop(fault_id, None)
        if fault_id in self.injected:
            self._remove(fault_id, "expired")
