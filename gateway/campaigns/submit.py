"""The ports between the campaign runner and the gateway: `Submitter` (hand a message over) and
`StoreView` (read back states, replies, suppressions), with adapters over `MessageStore`.

What a `Submitter` must do (the contract the running gateway's ``Gateway.submit`` satisfies):

* ``destination`` is E.164 (``+819012345678``): the same form must be used for the message
  row, so that an MO from that handset links to it and a suppression entry matches it.
* ``source`` is the sender ID exactly as displayed (a numeric sender, e.g. ``0005012345``).
* ``not_before`` (epoch s, or None): do not hand the message to the SMSC before it (quiet
  hours, scheduled sends). The gateway must keep it ``scheduled`` until then and re-check at
  the actual hand-off.
* ``validity_until`` (epoch s, or None): never hand it over after this instant, and put it
  in submit_sm ``validity_period`` (absolute, or relative to the hand-off) so the carrier
  stops retrying by then: that is how quiet hours bind carrier retries.
* ``campaign_id`` and ``client_ref`` are stored with the message (`NewMessage` fields);
  ``client_ref`` is ``<campaign>:<line>:<slot>`` and unique per campaign.
* ``metadata`` is JSON-serialisable and stored as given; ``metadata["profile"]`` is the
  segmentation profile the preview priced the text with; ``metadata["obtained"]`` (ISO date,
  when the CSV row gives one) is when the number was obtained, and ``metadata["owner"]`` the
  intended owner's id (when known): what the harness vendor TLVs carry (`sms.harness`).
* Returns the gateway message id (the store's row id) **after** the message is durable
  (ARCHITECTURE rule 7). Raises on refusal; the runner records the error for that recipient
  and retries it on the next send.

Optionally (`ClientRefLookup`) a submitter finds a message by client_ref: the runner uses it to
settle hand-offs whose outcome a crash left unknown, instead of sending them twice.

`GatewaySubmitter` hands the message to a running `gateway.gateway.Gateway` (its ``submit``),
so the message goes the real way: validation, routing, suppression, the store, SMPP. With
``harness=True`` it attaches the harness vendor TLVs (0x1500 message key = client_ref, 0x1501
intended owner, 0x1502 obtained date) per recipient, so the simulator can tell a delivery to
the wrong person.

Invariants:
    * `StoreSubmitter` writes exactly one `NewMessage` per call, through the store's asyncio
      view, so concurrent calls share the store's group commit.
    * `GatewaySubmitter` converts the absolute ``validity_until`` into the gateway's relative
      ``validity`` on the gateway's own clock at the hand-off, and refuses a message whose
      validity has already run out (it would reach the handset outside its window).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from gateway.campaigns.errors import CampaignError
from gateway.gateway import derived_tlvs
from gateway.store import MessageState, MessageStore, MessageSummary, MoRecord, NewMessage
from sms.clock import Clock
from sms.segments import plan

__all__ = [
    "ClientRefLookup",
    "GatewayApi",
    "GatewaySubmitter",
    "StoreSubmitter",
    "StoreView",
    "Submitter",
]


class Submitter(Protocol):
    """Hands one message to the gateway (see the module docstring for the contract)."""

    async def submit(
        self,
        destination: str,
        text: str,
        *,
        source: str,
        campaign_id: str,
        client_ref: str,
        not_before: float | None,
        validity_until: float | None,
        metadata: Mapping[str, Any],
    ) -> int:
        """Accept a message durably and return its gateway message id."""
        ...


@runtime_checkable
class ClientRefLookup(Protocol):
    """A submitter that can find an earlier hand-off by its client_ref."""

    async def find_client_ref(self, campaign_id: str, client_ref: str) -> int | None:
        """The message id stored with this reference, or None."""
        ...


class StoreView(Protocol):
    """The read side the runner and the report need (`MessageStore` has it)."""

    def list_messages(
        self,
        *,
        state: MessageState | None = None,
        campaign_id: str | None = None,
        destination: str | None = None,
        client_ref: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[MessageSummary]:
        """Messages matching all filters, by id, after `after_id`."""
        ...

    def list_mo(
        self, *, source: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[MoRecord]:
        """Stored MO messages by id."""
        ...

    def suppressed_among(self, numbers: Iterable[str]) -> set[str]:
        """Which of `numbers` are on the suppression list."""
        ...


class StoreSubmitter:
    """A `Submitter` that writes straight into a `MessageStore` (``smsh campaign send`` and
    ``smsh campaign run``: a gateway process serving the same store file sends them).

    The message is planned with the profile given in ``metadata["profile"]`` (default
    `default_profile`) to fill the part count and encoding, and accepted with ``not_before``
    (the store keeps it ``scheduled`` until then) and ``validity_deadline = validity_until``.

    Args:
        store: The gateway's message store.
        clock: Gives the accept time.
        default_profile: Profile when the metadata names none.
        priority: Priority of campaign messages.
    """

    def __init__(
        self,
        store: MessageStore,
        clock: Clock,
        *,
        default_profile: str = "jp-docomo",
        priority: int = 0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._default_profile = default_profile
        self._priority = priority

    async def submit(
        self,
        destination: str,
        text: str,
        *,
        source: str,
        campaign_id: str,
        client_ref: str,
        not_before: float | None,
        validity_until: float | None,
        metadata: Mapping[str, Any],
    ) -> int:
        """See `Submitter.submit`."""
        profile = str(metadata.get("profile", self._default_profile))
        planned = plan(text, profile)
        message = NewMessage(
            source=source,
            destination=destination,
            text=text,
            parts_total=len(planned.parts),
            client_ref=client_ref,
            encoding=str(planned.encoding),
            profile=planned.profile.name,
            method=str(planned.method),
            priority=self._priority,
            validity_deadline=validity_until,
            not_before=not_before,
            campaign_id=campaign_id,
            metadata=dict(metadata),
        )
        [message_id] = await self._store.aio.accept([message], self._clock.now())
        return message_id

    async def find_client_ref(self, campaign_id: str, client_ref: str) -> int | None:
        """See `ClientRefLookup.find_client_ref`."""
        found = await self._store.aio.list_messages(
            campaign_id=campaign_id, client_ref=client_ref, limit=1
        )
        return found[0].id if found else None


class GatewayApi(Protocol):
    """What `GatewaySubmitter` needs of `gateway.gateway.Gateway` (a port, so that this module
    does not import the service and tests can stand in for it)."""

    @property
    def clock(self) -> Clock:
        """The gateway's clock (validity and not_before are on it)."""
        ...

    async def submit(
        self,
        destination: str,
        text: str,
        *,
        source: str | None = None,
        client_ref: str | None = None,
        priority: int = 0,
        validity: float | None = None,
        not_before: float | None = None,
        route: str | None = None,
        campaign_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tlvs: Sequence[tuple[int, bytes]] = (),
    ) -> int:
        """Accept one message durably and return its id."""
        ...

    async def list_messages(
        self,
        *,
        state: MessageState | None = None,
        destination: str | None = None,
        client_ref: str | None = None,
        campaign_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[MessageSummary]:
        """Messages matching the filters."""
        ...


class GatewaySubmitter:
    """A `Submitter` over a running gateway's ``submit`` (the real path to the SMSC).

    Args:
        gateway: The gateway (`gateway.gateway.Gateway`).
        route: Gateway route name to use (None: the gateway resolves one by destination).
        priority: Priority of campaign messages.
        harness: Attach the harness vendor TLVs (`gateway.gateway.derived_tlvs`) to every
            message. Off by default, like on the gateway's routes (`sms.harness`: for the
            simulator; a real SMSC ignores them); with it off, a route with
            ``harness_tlvs: true`` still derives them from the message's client_ref and
            ``metadata`` (``owner``, ``obtained``).
    """

    def __init__(
        self,
        gateway: GatewayApi,
        *,
        route: str | None = None,
        priority: int = 0,
        harness: bool = False,
    ) -> None:
        self._gateway = gateway
        self._route = route
        self._priority = priority
        self._harness = harness

    async def submit(
        self,
        destination: str,
        text: str,
        *,
        source: str,
        campaign_id: str,
        client_ref: str,
        not_before: float | None,
        validity_until: float | None,
        metadata: Mapping[str, Any],
    ) -> int:
        """See `Submitter.submit`.

        Raises:
            CampaignError: The validity ran out before the hand-off.
            gateway.routing.SubmitRejected: The gateway refused the message.
        """
        validity: float | None = None
        if validity_until is not None:
            validity = validity_until - self._gateway.clock.now()
            if validity <= 0:
                raise CampaignError(
                    f"{client_ref}: its validity ended {-validity:.0f} s before the hand-off"
                )
        tlvs = derived_tlvs(client_ref, metadata) if self._harness else ()
        return await self._gateway.submit(
            destination,
            text,
            source=source,
            client_ref=client_ref,
            priority=self._priority,
            validity=validity,
            not_before=not_before,
            route=self._route,
            campaign_id=campaign_id,
            metadata=metadata,
            tlvs=tlvs,
        )

    async def find_client_ref(self, campaign_id: str, client_ref: str) -> int | None:
        """See `ClientRefLookup.find_client_ref`."""
        found = await self._gateway.list_messages(
            campaign_id=campaign_id, client_ref=client_ref, limit=1
        )
        return found[0].id if found else None
