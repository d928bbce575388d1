"""Sending policies applied at submit, before a message is stored: the owner check and quiet
hours (`GatewayConfig.owner_check`, `GatewayConfig.quiet_hours`).

Theory of operation:
    `Gateway.submit_many` validates each request (`Gateway.prepare`), then hands the prepared
    messages to `Admission.admit` together with `now`:

    1. Owner check (他人接続判定). Every message whose metadata gives ``obtained`` (an ISO
       date: when the sender obtained the number) is checked with the `OwnerCheckClient`, all
       of a batch in one `check_many` call per distinct date. ``changed`` refuses the message
       (``owner_check_blocked``); ``no_data`` refuses it under the ``hold`` policy
       (``owner_check_no_data``); a client error, a missing answer or no client at all refuses
       it too (``owner_check_failed``: fail closed, a number nobody vouched for is not sent).
    2. Quiet hours. `gateway.policy.quiet.send_slot` is asked where a send due at
       ``max(now, not_before)`` goes: outside the window the message's ``not_before`` moves to
       the next opening (the store accepts it as ``scheduled``) and its validity (what was
       left of it at the asked start; `default_validity` when it has none) counts from there;
       with `cap_validity` the deadline becomes ``min(start + validity, close of that
       window)``. No window with `min_validity` left within 8 days refuses it
       (``quiet_hours``).

    A refusal is a `SubmitRejected` naming the message (``message 3: ...`` in a batch); the
    batch is then refused as a whole, like every other submit refusal (nothing is stored).

Invariants:
    * Policies only refuse a message, delay its start or cap its validity: a message is never
      sent earlier than asked, and the validity it asked for counts from its (deferred) start.
    * The decision is a function of the configuration, the request, `now` and the owner-check
      answers (no clock read here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config import GatewayConfig
from gateway.errors import GatewayError, OwnerCheckError, QuietHoursError
from gateway.ownercheck import HttpOwnerCheckClient, NoDataPolicy, OwnerCheckClient, OwnerStatus
from gateway.policy.quiet import DailyWindow, send_slot
from gateway.routing import RejectReason, SubmitRejected
from gateway.store import NewMessage

__all__ = ["Admission", "obtained_date"]


def obtained_date(metadata: Mapping[str, Any] | None) -> date | None:
    """The ``obtained`` date of a message's metadata (None when absent).

    Raises:
        SubmitRejected: INVALID_REQUEST when it is not an ISO date.
    """
    value = (metadata or {}).get("obtained")
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SubmitRejected(
            RejectReason.INVALID_REQUEST, f"metadata obtained {value!r} is not an ISO date"
        ) from None


@dataclass(frozen=True, slots=True)
class _Quiet:
    window: DailyWindow
    zone: ZoneInfo
    cap: bool
    min_validity: timedelta
    default_validity: float


class Admission:
    """The owner check and quiet hours of one gateway (see the module docstring).

    Args:
        config: The gateway configuration (`owner_check`, `quiet_hours`, `validity`).
        client: Owner-check client; None: an `HttpOwnerCheckClient` on `owner_check.url`
            when one is configured.
    """

    def __init__(self, config: GatewayConfig, client: OwnerCheckClient | None = None) -> None:
        oc = config.owner_check
        self.owner_check_enabled = oc.enabled
        """True when messages with an obtained date are checked."""
        if client is None and oc.enabled and oc.url is not None:
            client = HttpOwnerCheckClient(oc.url, timeout=oc.timeout, batch_size=oc.batch_size)
        self.client: OwnerCheckClient | None = client
        """The owner-check client (settable: a harness may start the service later)."""
        self._no_data = NoDataPolicy(oc.no_data)
        qh = config.quiet_hours
        self._quiet = (
            _Quiet(
                DailyWindow.parse(qh.window),
                ZoneInfo(qh.timezone),
                qh.cap_validity,
                timedelta(seconds=qh.min_validity),
                config.validity if config.validity is not None else qh.default_validity,
            )
            if qh.enabled
            else None
        )

    @property
    def active(self) -> bool:
        """True when any policy is on (otherwise `admit` returns its input)."""
        return self.owner_check_enabled or self._quiet is not None

    async def admit(self, messages: Sequence[NewMessage], now: float) -> list[NewMessage]:
        """Apply the policies to prepared messages.

        Args:
            messages: The prepared messages, in request order.
            now: Clock time of the submit.

        Returns:
            The messages, with ``not_before`` / ``validity_deadline`` moved by quiet hours.

        Raises:
            SubmitRejected: A message is refused; the detail names it in a batch.
        """
        if not self.active:
            return list(messages)
        many = len(messages) > 1
        if self.owner_check_enabled:
            await self._check_owners(messages, many)
        if self._quiet is None:
            return list(messages)
        out: list[NewMessage] = []
        for i, message in enumerate(messages):
            try:
                out.append(self._slot(self._quiet, message, now))
            except QuietHoursError as exc:
                where = f"message {i}: " if many else ""
                raise SubmitRejected(RejectReason.QUIET_HOURS, f"{where}{exc}") from None
        return out

    async def _check_owners(self, messages: Sequence[NewMessage], many: bool) -> None:
        by_date: dict[date, list[int]] = {}
        for i, message in enumerate(messages):
            obtained = obtained_date(message.metadata)
            if obtained is not None:
                by_date.setdefault(obtained, []).append(i)
        for obtained, indexes in by_date.items():
            numbers = sorted({messages[i].destination for i in indexes})
            try:
                if self.client is None:
                    raise OwnerCheckError("no owner-check service is configured")
                results = await self.client.check_many([(n, obtained) for n in numbers])
            except GatewayError as exc:  # OwnerCheckError, or a client's own family
                where = f"message {indexes[0]}: " if many else ""
                raise SubmitRejected(
                    RejectReason.OWNER_CHECK_FAILED,
                    f"{where}owner check of {numbers[0]} failed: {exc}",
                ) from None
            for i in indexes:
                self._verdict(messages[i].destination, obtained, results, i if many else None)

    def _verdict(
        self, number: str, obtained: date, results: Mapping[str, Any], index: int | None
    ) -> None:
        where = f"message {index}: " if index is not None else ""
        result = results.get(number)
        if result is None:
            raise SubmitRejected(
                RejectReason.OWNER_CHECK_FAILED,
                f"{where}owner check of {number} failed: no answer for it",
            )
        if result.status is OwnerStatus.CHANGED:
            since = result.last_change_date
            when = f" (last change {since.isoformat()})" if since is not None else ""
            raise SubmitRejected(
                RejectReason.OWNER_CHECK_BLOCKED,
                f"{where}{number} changed hands since {obtained.isoformat()}{when}",
            )
        if result.status is OwnerStatus.NO_DATA and self._no_data is NoDataPolicy.HOLD:
            raise SubmitRejected(
                RejectReason.OWNER_CHECK_NO_DATA,
                f"{where}no owner data for {number} back to {obtained.isoformat()}",
            )

    @staticmethod
    def _slot(quiet: _Quiet, message: NewMessage, now: float) -> NewMessage:
        asked = max(now, message.not_before) if message.not_before is not None else now
        if message.validity_deadline is not None:
            seconds = message.validity_deadline - asked
            if seconds <= 0:
                return message  # already dead at its start: the store expires it
        else:
            seconds = quiet.default_validity
        slot = send_slot(
            quiet.window,
            quiet.zone,
            datetime.fromtimestamp(asked, UTC),
            validity=timedelta(seconds=seconds),
            min_validity=quiet.min_validity,
        )
        start = slot.not_before.timestamp()
        deadline = message.validity_deadline
        if quiet.cap:
            deadline = slot.validity_until.timestamp()
        elif deadline is not None:
            deadline = start + seconds
        return replace(
            message,
            not_before=start if slot.deferred else message.not_before,
            validity_deadline=deadline,
        )
