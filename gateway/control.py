"""Operator controls for the gateway: `GatewayControls` answers `Control` messages from the bus.

``async with GatewayControls(gateway):`` registers the handlers on a `ControlChannel` for
``gateway/{config.instance}`` (and the broadcast ``gateway/all``) and answers every control with
a `ControlAcknowledged`. Actions and their arguments (the ones the TUI sends):

* ``pause_bind`` ``{"bind_id": str}``: the bind stops taking parts off its queue; the session
  stays bound, parts already handed out or in flight still complete. The dispatcher stops
  claiming for it. Publishes `BindStateChanged` with ``paused=True``.
* ``resume_bind`` ``{"bind_id": str}``: the opposite (``paused=False``).
* ``set_rate`` ``{"bind_id": str | null, "rate": float, "burst": float?}``: sets the token
  bucket of that bind, or the global bucket when `bind_id` is missing or null, to `rate` parts
  (submit_sm PDUs) per second with `burst` (default ``max(rate, 1)``). Refused unless
  ``rate`` is a finite number >= 0 (and `burst` > 0).
* ``drain`` ``{"wait_s": float?}``: from now on `Gateway.submit` raises `SubmitRejected` with
  reason ``"draining"``; the ack is sent once nothing is queued or being submitted (store
  states ``queued`` / ``submitting``, parts on the binds) or after `wait_s` seconds
  (default `DRAIN_WAIT`), with ``result.drained`` saying which. Draining cannot be undone
  (stop the gateway afterwards).

Any other action (``inject_fault``, ``clear_fault``) is answered ``ok=False`` by the channel.

Invariants:
    * An unknown `bind_id`, a missing or malformed argument is refused (`ControlRefused`), never
      half applied.
    * A `set_rate` rebuilds the gateway's `RateLimits` from the configuration plus every
      operator rate set so far and swaps it in on every bind at once; the new buckets start
      full (at most one `burst` goes out right after the change).
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType
from typing import Final, Self

from pydantic import JsonValue

from gateway.esme import Bind
from gateway.gateway import Gateway
from gateway.policy.bucket import Rate, RateLimits, Scope
from gateway.routing import RejectReason, SubmitRejected
from gateway.store import MessageState
from sms.bus.control import ControlChannel, ControlRefused
from sms.bus.events import Control

__all__ = ["DRAIN_WAIT", "GatewayControls", "GatewayDraining"]

#: Default seconds a ``drain`` waits for the queue to empty before it answers anyway (below the
#: TUI's 5 s acknowledgement timeout).
DRAIN_WAIT: Final[float] = 4.0
#: How often a drain looks at the queue, in seconds.
DRAIN_POLL: Final[float] = 0.05


class GatewayDraining(SubmitRejected):
    """`SubmitRejected` with reason ``"draining"``: the operator drained the gateway."""

    def __init__(self, detail: str = "the gateway is draining and takes no new messages") -> None:
        super().__init__(RejectReason.DRAINING, detail)


def _refuse_draining() -> None:
    raise GatewayDraining()


def _number(args: dict[str, JsonValue], key: str) -> float | None:
    """A numeric argument, None when absent; refuses anything that is not a finite number."""
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlRefused(f"{key!r} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ControlRefused(f"{key!r} must be finite, got {value!r}")
    return number


class GatewayControls:
    """The gateway's responder for operator controls (see the module docstring).

    Args:
        gateway: The gateway to act on (started or not; controls act on its binds).
        channel: The channel to answer on (default: a new one on the gateway's bus, component
            ``gateway``, the configured instance, the gateway's clock).
    """

    def __init__(self, gateway: Gateway, channel: ControlChannel | None = None) -> None:
        self.gateway = gateway
        self.channel = channel or ControlChannel(
            gateway.bus, "gateway", gateway.config.instance, clock=gateway.clock
        )
        self.channel.on("pause_bind", self.pause_bind)
        self.channel.on("resume_bind", self.resume_bind)
        self.channel.on("set_rate", self.set_rate)
        self.channel.on("drain", self.drain)
        self.bind_rates: dict[str, Rate] = {}
        """Operator rates per bind (override the configuration)."""
        self.global_rate: Rate | None = None
        """Operator global rate (overrides the configuration), if set."""
        self.draining = False
        """True once a drain was requested."""

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
        """Stop answering controls."""
        await self.channel.__aexit__(exc_type, exc, tb)

    # -- helpers ------------------------------------------------------------------------------

    def _bind(self, control: Control, *, required: bool = True) -> Bind | None:
        value = control.args.get("bind_id")
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise ControlRefused(f"{control.action} needs a 'bind_id' string, got {value!r}")
        names = {info.name for info in self.gateway.binds()}
        if value not in names:
            raise ControlRefused(f"unknown bind_id {value!r} (binds: {', '.join(sorted(names))})")
        return self.gateway.bind(value)

    def _limits(self) -> RateLimits:
        """The configured limits with the operator's rates on top (fresh, full buckets)."""
        config = self.gateway.config
        rates = config.rates
        overrides: dict[tuple[Scope, str], Rate] = {}
        for group in config.binds:
            if group.rate is not None:
                for session in group.session_names:
                    overrides[(Scope.BIND, session)] = group.rate.to_rate()
        for route in config.routes:
            if route.rate is not None:
                overrides[(Scope.ROUTE, route.name)] = route.rate.to_rate()
        for sender, rate in rates.senders.items():
            overrides[(Scope.SENDER, sender)] = rate.to_rate()
        for name, spec in self.bind_rates.items():
            overrides[(Scope.BIND, name)] = spec
        global_rate = self.global_rate
        if global_rate is None and rates.global_ is not None:
            global_rate = rates.global_.to_rate()
        return RateLimits(
            global_rate=global_rate,
            per_bind=rates.per_bind.to_rate() if rates.per_bind else None,
            per_route=rates.per_route.to_rate() if rates.per_route else None,
            per_sender=rates.per_sender.to_rate() if rates.per_sender else None,
            overrides=overrides,
        )

    def _queue_empty(self, counts: dict[MessageState, int]) -> bool:
        if counts.get(MessageState.QUEUED, 0) or counts.get(MessageState.SUBMITTING, 0):
            return False
        return not any(b.queued or b.in_flight for b in self.gateway.binds())

    # -- handlers -----------------------------------------------------------------------------

    async def pause_bind(self, control: Control) -> dict[str, JsonValue]:
        """``pause_bind``: stop handing out parts on a bind (it stays bound)."""
        bind = self._bind(control)
        assert bind is not None
        bind.set_paused(True)
        return {"bind_id": bind.name, "paused": True}

    async def resume_bind(self, control: Control) -> dict[str, JsonValue]:
        """``resume_bind``: hand out parts on a paused bind again."""
        bind = self._bind(control)
        assert bind is not None
        bind.set_paused(False)
        return {"bind_id": bind.name, "paused": False}

    async def set_rate(self, control: Control) -> dict[str, JsonValue]:
        """``set_rate``: set a bind's (or the global) token bucket."""
        bind = self._bind(control, required=False)
        rate = _number(control.args, "rate")
        if rate is None:
            raise ControlRefused("set_rate needs a 'rate' (parts per second, >= 0)")
        if rate < 0:
            raise ControlRefused(f"'rate' must be >= 0, got {rate:g}")
        burst = _number(control.args, "burst")
        if burst is None:
            burst = max(rate, 1.0)
        elif burst <= 0:
            raise ControlRefused(f"'burst' must be > 0, got {burst:g}")
        spec = Rate(rate, burst)
        if bind is None:
            self.global_rate = spec
        else:
            self.bind_rates[bind.name] = spec
        limits = self._limits()
        self.gateway.ctx.limits = limits
        for info in self.gateway.binds():
            self.gateway.bind(info.name).limiter.limits = limits
        for info in self.gateway.binds():
            self.gateway.bind(info.name).broker.kick()
        return {
            "scope": "global" if bind is None else "bind",
            "bind_id": None if bind is None else bind.name,
            "rate": rate,
            "burst": burst,
        }

    async def drain(self, control: Control) -> dict[str, JsonValue]:
        """``drain``: refuse new submits, answer once the queue is empty (or `wait_s` passed)."""
        wait = _number(control.args, "wait_s")
        if wait is None:
            wait = DRAIN_WAIT
        elif wait < 0:
            raise ControlRefused(f"'wait_s' must be >= 0, got {wait:g}")
        self.draining = True
        self.gateway.submit_guard = _refuse_draining
        drained = False
        counts = await self.gateway.counts()
        try:
            async with asyncio.timeout(wait):
                while not (drained := self._queue_empty(counts)):
                    await asyncio.sleep(DRAIN_POLL)
                    counts = await self.gateway.counts()
        except TimeoutError:
            drained = self._queue_empty(counts)
        return {
            "draining": True,
            "drained": drained,
            "queued": counts.get(MessageState.QUEUED, 0),
            "submitting": counts.get(MessageState.SUBMITTING, 0),
            "scheduled": counts.get(MessageState.SCHEDULED, 0),
            "in_flight": sum(b.in_flight for b in self.gateway.binds()),
        }
