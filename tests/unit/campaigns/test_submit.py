"""`GatewaySubmitter`: the campaign's hand-off to a running gateway's ``submit``, with the
harness vendor TLVs per recipient and the validity made relative to the gateway's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pytest

from gateway.campaigns.errors import CampaignError
from gateway.campaigns.submit import GatewaySubmitter
from gateway.gateway import derived_tlvs
from gateway.store import MessageState, MessageSummary
from sms.clock import Clock, ManualClock
from sms.harness import harness_tlvs

NOW = 1_780_000_000.0


class FakeGateway:
    """Records `submit` calls; the store side answers from them."""

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self.calls: list[dict[str, Any]] = []

    @property
    def clock(self) -> Clock:
        return self._clock

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
        self.calls.append(
            {
                "destination": destination,
                "text": text,
                "source": source,
                "client_ref": client_ref,
                "priority": priority,
                "validity": validity,
                "not_before": not_before,
                "route": route,
                "campaign_id": campaign_id,
                "metadata": dict(metadata or {}),
                "tlvs": tuple(tlvs),
            }
        )
        return len(self.calls)

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
        del state, destination, after_id
        hits = [
            i + 1
            for i, c in enumerate(self.calls)
            if c["client_ref"] == client_ref and c["campaign_id"] == campaign_id
        ]
        return [_summary(i) for i in hits[:limit]]


def _summary(message_id: int) -> MessageSummary:
    fields: dict[str, Any] = dict.fromkeys(MessageSummary.__dataclass_fields__)
    fields["id"] = message_id
    return MessageSummary(**fields)


def submit(sub: GatewaySubmitter, **over: Any) -> int:
    args: dict[str, Any] = {
        "source": "0005012345",
        "campaign_id": "c1",
        "client_ref": "c1:2:once",
        "not_before": NOW + 60,
        "validity_until": NOW + 3600,
        "metadata": {"profile": "jp-docomo", "obtained": "2019-04-01"},
    }
    args.update(over)
    return asyncio.run(sub.submit("+819012345678", "本文", **args))


def test_hand_off_carries_the_harness_tlvs_and_a_relative_validity() -> None:
    gw = FakeGateway(ManualClock(NOW))
    assert submit(GatewaySubmitter(gw, route="jp", priority=2, harness=True)) == 1
    [call] = gw.calls
    assert call["tlvs"] == harness_tlvs("c1:2:once", None, date(2019, 4, 1))
    assert call["tlvs"][-1] == (0x1502, b"20190401")
    assert (call["validity"], call["not_before"]) == (3600.0, NOW + 60)
    assert (call["route"], call["priority"], call["source"]) == ("jp", 2, "0005012345")
    assert (call["campaign_id"], call["client_ref"]) == ("c1", "c1:2:once")
    assert call["metadata"]["obtained"] == "2019-04-01"


def test_owner_and_no_obtained_date() -> None:
    assert derived_tlvs("k", {"owner": "cust-7"}) == ((0x1500, b"k\x00"), (0x1501, b"cust-7\x00"))
    assert derived_tlvs("", {}) == ()


def test_harness_off_by_default_and_no_validity_means_the_gateway_default() -> None:
    gw = FakeGateway(ManualClock(NOW))
    submit(GatewaySubmitter(gw), validity_until=None)
    assert (gw.calls[0]["tlvs"], gw.calls[0]["validity"]) == ((), None)


def test_a_validity_that_already_ended_is_refused() -> None:
    gw = FakeGateway(ManualClock(NOW))
    with pytest.raises(CampaignError, match="validity ended 10 s before"):
        submit(GatewaySubmitter(gw), validity_until=NOW - 10)
    assert gw.calls == []


def test_find_client_ref_reads_the_gateway() -> None:
    gw = FakeGateway(ManualClock(NOW))
    sub = GatewaySubmitter(gw)
    submit(sub)
    assert asyncio.run(sub.find_client_ref("c1", "c1:2:once")) == 1
    assert asyncio.run(sub.find_client_ref("c1", "c1:3:once")) is None
