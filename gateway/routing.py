"""Routing: which route (and so which binds, profile and method) serves a destination, and the
sender-ID policy. Also the typed rejection every submit path raises (`SubmitRejected`).

Invariants:
    * Pure: no I/O, no clock. A `Router` is built once from a validated `GatewayConfig`.
    * `resolve` is total over valid numbers when a fallback route (no prefixes) exists, and
      deterministic: the longest matching prefix wins; among equal lengths, the first route in
      the configuration wins; a route hint must name a route that matches (or the fallback).
    * Sender IDs are never rewritten (DOMAIN §6.4, `sms.numbers.classify_sender`): `sender`
      validates the given or default sender and returns it unchanged.
    * Every refusal is a `SubmitRejected` with one `RejectReason`, so callers (HTTP, CLI,
      campaigns) report stable codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from gateway.config import GatewayConfig
from gateway.errors import GatewayError
from sms.numbers import InvalidSender, SmppAddress, classify_sender, sender_address
from sms.segments import Method, Profile, get_profile

__all__ = ["RejectReason", "Route", "Router", "SubmitRejected"]


class RejectReason(StrEnum):
    """Why a submit was refused (stable codes for APIs and reports)."""

    INVALID_NUMBER = "invalid_number"
    """The destination is not a number we may send to."""
    INVALID_SENDER = "invalid_sender"
    """The sender ID is malformed."""
    SENDER_NOT_ALLOWED = "sender_not_allowed"
    """The route does not allow this sender ID."""
    NO_SENDER = "no_sender"
    """No sender given and the route has no default."""
    NO_ROUTE = "no_route"
    """No route serves the destination (or the hinted route does not)."""
    TOO_LONG = "too_long"
    """The text exceeds the route profile's limits."""
    UNENCODABLE = "unencodable"
    """The text cannot be encoded."""
    SUPPRESSED = "suppressed"
    """The destination opted out (or is otherwise suppressed)."""
    INVALID_REQUEST = "invalid_request"
    """Another problem with the request (bad validity, empty text...)."""
    DRAINING = "draining"
    """The operator drained the gateway: it takes no new messages (a temporary refusal)."""
    OWNER_CHECK_BLOCKED = "owner_check_blocked"
    """The owner check says the number changed hands since it was obtained."""
    OWNER_CHECK_NO_DATA = "owner_check_no_data"
    """The owner check has no data back to the obtained date (and the policy holds)."""
    OWNER_CHECK_FAILED = "owner_check_failed"
    """The owner check could not be made (fail closed)."""
    QUIET_HOURS = "quiet_hours"
    """No contact window with enough time left within the search horizon."""


class SubmitRejected(GatewayError):
    """A message was refused before it was stored.

    Args:
        reason: The one reason.
        detail: Human-readable explanation.
    """

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved route."""

    name: str
    """Route name."""
    prefixes: tuple[str, ...]
    """E.164 prefixes served (empty: fallback)."""
    sessions: tuple[str, ...]
    """Session (bind) names that may send its messages."""
    profile: Profile
    """Segmentation limits."""
    method: Method
    """Concatenation method."""
    default_sender: str | None
    """Sender when none is given."""
    allowed_senders: frozenset[str] | None
    """Accepted senders (None: any valid)."""
    national_destination: bool
    """Send JP numbers in national form."""
    registered_delivery: bool
    """Ask for receipts."""
    harness_tlvs: bool = False
    """Derive the harness vendor TLVs for messages that bring none."""


#: Senders remembered by a `Router` (checked and their addresses) before it starts over.
_SENDER_CACHE: Final[int] = 4096


class Router:
    """Resolves routes and senders from a validated configuration.

    Args:
        config: The gateway configuration.
    """

    def __init__(self, config: GatewayConfig) -> None:
        transmitting = [b for b in config.binds if b.mode != "receiver"]
        groups = {b.name: b for b in config.binds}
        routes: list[Route] = []
        for rc in config.routes:
            chosen = [groups[n] for n in rc.binds] if rc.binds else transmitting
            routes.append(
                Route(
                    name=rc.name,
                    prefixes=tuple(rc.prefixes),
                    sessions=tuple(s for b in chosen for s in b.session_names),
                    profile=get_profile(rc.profile),
                    method=rc.method,
                    default_sender=rc.default_sender,
                    allowed_senders=frozenset(rc.allowed_senders)
                    if rc.allowed_senders is not None
                    else None,
                    national_destination=rc.national_destination,
                    registered_delivery=rc.registered_delivery,
                    harness_tlvs=rc.harness_tlvs,
                )
            )
        self.routes: tuple[Route, ...] = tuple(routes)
        """Routes in configuration order."""
        # Senders already classified valid, and their SMPP addresses (pure functions of the
        # sender; a load or campaign uses a few senders for many messages).
        self._valid_senders: set[str] = set()
        self._addresses: dict[str, SmppAddress] = {}
        self._by_name = {r.name: r for r in self.routes}

    def get(self, name: str) -> Route:
        """The route called `name`.

        Raises:
            SubmitRejected: NO_ROUTE when there is none.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise SubmitRejected(RejectReason.NO_ROUTE, f"no route named {name!r}") from None

    @staticmethod
    def _match(route: Route, e164: str) -> int:
        """Length of the longest matching prefix; 0 for the fallback; -1 for no match."""
        if not route.prefixes:
            return 0
        best = -1
        for prefix in route.prefixes:
            if e164.startswith(prefix) and len(prefix) > best:
                best = len(prefix)
        return best

    def resolve(self, e164: str, hint: str | None = None) -> Route:
        """The route for a destination.

        Args:
            e164: The destination in E.164 form (``+819012345678``).
            hint: A route name asked for by the submitter, or None.

        Returns:
            The route.

        Raises:
            SubmitRejected: NO_ROUTE when nothing serves the destination.
        """
        if hint is not None:
            route = self.get(hint)
            if self._match(route, e164) < 0:
                raise SubmitRejected(RejectReason.NO_ROUTE, f"route {hint!r} does not serve {e164}")
            return route
        best: Route | None = None
        best_len = -1
        for route in self.routes:
            length = self._match(route, e164)
            if length > best_len:
                best, best_len = route, length
        if best is None:
            raise SubmitRejected(RejectReason.NO_ROUTE, f"no route serves {e164}")
        return best

    def sender(self, route: Route, source: str | None) -> str:
        """The validated sender ID for a message on `route`.

        Args:
            route: The route.
            source: The sender asked for, or None for the route default.

        Returns:
            The sender ID, unchanged.

        Raises:
            SubmitRejected: NO_SENDER, INVALID_SENDER or SENDER_NOT_ALLOWED.
        """
        sender = source if source is not None else route.default_sender
        if sender is None:
            raise SubmitRejected(
                RejectReason.NO_SENDER, f"no sender given and route {route.name!r} has no default"
            )
        if sender not in self._valid_senders:
            try:
                classify_sender(sender)
            except InvalidSender as exc:
                raise SubmitRejected(RejectReason.INVALID_SENDER, str(exc)) from None
            if len(self._valid_senders) >= _SENDER_CACHE:
                self._valid_senders.clear()
            self._valid_senders.add(sender)
        if route.allowed_senders is not None and sender not in route.allowed_senders:
            raise SubmitRejected(
                RejectReason.SENDER_NOT_ALLOWED,
                f"sender {sender!r} is not allowed on route {route.name!r}",
            )
        return sender

    @staticmethod
    def source_address(sender: str) -> SmppAddress:
        """The SMPP source address (TON/NPI by sender kind) of a validated sender."""
        return sender_address(sender)

    def address_of(self, sender: str) -> SmppAddress:
        """`source_address`, remembered per sender."""
        address = self._addresses.get(sender)
        if address is None:
            if len(self._addresses) >= _SENDER_CACHE:
                self._addresses.clear()
            address = self._addresses[sender] = sender_address(sender)
        return address
