"""What the gateway tells the bus about answers it got over the wire (against the simulator)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import pytest

from simulator.config import ReceiptConfig
from simulator.server import FixedFateHandler, HandlerEffect, Submission, Verdict
from simulator.testing import running_simulator
from sms.bus import MessageFinal, PartSubmitted, ReceiptReceived, SubmitResponded
from tests.integration.test_gateway_loopback import Events, final, make_config, running

pytestmark = pytest.mark.asyncio

ESME_RSYSERR = 0x08


class NackFirst:
    """Answers the first submission with generic_nack(ESME_RSYSERR), then accepts."""

    def __init__(self) -> None:
        self.inner = FixedFateHandler(ReceiptConfig(delay_s=0.05))
        self.seen = 0

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        self.seen += 1
        if self.seen == 1:
            return Verdict(status=ESME_RSYSERR, generic_nack=True)
        return self.inner.handle_submit(submission, now)

    def advance(self, now: float) -> Iterable[HandlerEffect]:
        return self.inner.advance(now)

    def next_due(self) -> float | None:
        return self.inner.next_due()


async def test_a_generic_nack_answer_is_marked_on_the_bus(tmp_path: Path) -> None:
    events = Events()
    retry = {"rules": {"ESME_RSYSERR": {"action": "retry_later", "backoff": {"base": 0.05}}}}
    async with (
        asyncio.timeout(30),
        running_simulator(None, handler=NackFirst()) as sim,
        running(tmp_path / "g.db", make_config(sim.port, retry=retry), events) as gw,
    ):
        (status,) = await final(gw, [await gw.submit("09012345678", "hello")])
    answers = [(e.command_status, e.generic_nack) for e in events.of(SubmitResponded)]
    assert answers == [(ESME_RSYSERR, True), (0, False)]
    assert status.state.value == "delivered"


async def test_a_subscriber_that_comes_later_gets_the_per_message_facts(tmp_path: Path) -> None:
    # The gateway asks `Publisher.wants` before building each per-message event, and the
    # answer is remembered per kind: a subscriber entering after messages went through
    # unobserved (answers remembered as False) must get every fact of the next message, and
    # none once it has left.
    async with (
        asyncio.timeout(30),
        running_simulator(None, handler=FixedFateHandler(ReceiptConfig(delay_s=0.02))) as sim,
        running(tmp_path / "g.db", make_config(sim.port)) as gw,
    ):
        await final(gw, [await gw.submit("09012345678", "before")])
        async with gw.bus.subscribe("smsh/v1/gateway/#", maxsize=10_000) as late:
            (second,) = await final(gw, [await gw.submit("09012345679", "watched")])
            await asyncio.sleep(0.05)  # receipt facts are published after their commit
            seen = late.drain()
        await final(gw, [await gw.submit("09012345670", "after")])
    kinds = {type(e) for _topic, e in seen}
    assert {PartSubmitted, SubmitResponded, ReceiptReceived, MessageFinal} <= kinds
    per_message = [e for _t, e in seen if isinstance(e, PartSubmitted | SubmitResponded)]
    assert {e.message_id for e in per_message} == {str(second.id)}
    finals = [e for _t, e in seen if isinstance(e, MessageFinal)]
    assert [(e.message_id, e.state) for e in finals] == [(str(second.id), "delivered")]
    assert late.received == len(seen)  # nothing of the third message reached it
