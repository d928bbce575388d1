"""Vendor TLVs end to end: the gateway (aiosmpplib's codec) sends a message's TLVs on every
part, and the simulator (the project's own codec) decodes them, over loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest

from gateway.store import MessageState
from simulator.config import ReceiptConfig
from simulator.network.messages import vendor_fields
from simulator.server import FixedFateHandler, HandlerEffect, Submission, Verdict
from simulator.testing import running_simulator
from sms.harness import TLV_HARNESS_MESSAGE_KEY, TLV_INTENDED_OWNER, TLV_OBTAINED_DATE
from tests.integration.test_gateway_loopback import JP_670, final, make_config, running

pytestmark = pytest.mark.asyncio

TIMEOUT = 30.0


class Recorder:
    """A FixedFateHandler that remembers every submission it saw."""

    def __init__(self) -> None:
        self.inner = FixedFateHandler(ReceiptConfig(delay_s=0.05))
        self.submissions: list[Submission] = []

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        self.submissions.append(submission)
        return self.inner.handle_submit(submission, now)

    def advance(self, now: float) -> Iterable[HandlerEffect]:
        return self.inner.advance(now)

    def next_due(self) -> float | None:
        return self.inner.next_due()


@pytest.mark.parametrize("method", ["udh8", "sar", "payload"])
async def test_derived_harness_tlvs_reach_the_simulator_on_every_part(
    tmp_path: Path, method: str
) -> None:
    routes = [
        {
            "name": "jp",
            "default_sender": "SENDER",
            "profile": "jp-au",
            "method": method,
            "harness_tlvs": True,
        }
    ]
    recorder = Recorder()
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(None, handler=recorder) as sim,
        running(tmp_path / "g.db", make_config(sim.port, routes=routes)) as gw,
    ):
        long_id = await gw.submit(
            "09012345678",
            JP_670,
            client_ref="dunning/42",
            metadata={"owner": "山田太郎", "obtained": "2021-07-01"},
        )
        plain_id = await gw.submit("09012345679", "no metadata", client_ref="k-2")
        statuses = await final(gw, [long_id, plain_id])
    assert [s.state for s in statuses] == [MessageState.DELIVERED] * 2
    long_parts = [s for s in recorder.submissions if s.destination_addr.endswith("5678")]
    plain_parts = [s for s in recorder.submissions if s.destination_addr.endswith("5679")]
    assert len(long_parts) == statuses[0].parts_total == (1 if method == "payload" else 10)
    for part in long_parts:
        fields = vendor_fields(dict(part.tlvs))
        assert (fields.message_key, fields.intended_owner, fields.obtained_date) == (
            "dunning/42",
            "山田太郎",
            date(2021, 7, 1),
        )
        assert not fields.problems
    (plain,) = plain_parts
    tags = {tag for tag, _ in plain.tlvs}
    assert TLV_HARNESS_MESSAGE_KEY in tags
    assert not tags & {TLV_INTENDED_OWNER, TLV_OBTAINED_DATE}


async def test_caller_tlvs_win_and_survive_a_restart(tmp_path: Path) -> None:
    recorder = Recorder()
    db = tmp_path / "g.db"
    routes = [{"name": "jp", "default_sender": "SENDER", "harness_tlvs": True}]
    mine = ((0x1501, b"owner-x" + b"\x00"), (0x1600, b"\x00\xff\x10"))
    async with asyncio.timeout(TIMEOUT), running_simulator(None, handler=recorder) as sim:
        # Accepted while no bind can come up (wrong port), then sent by a new process.
        config = make_config(sim.port, routes=routes)
        offline = make_config(1, routes=routes)
        async with running(db, offline) as gw:
            message_id = await gw.submit("09012345678", "hello", client_ref="k-1", tlvs=mine)
        async with running(db, config) as gw:
            (status,) = await final(gw, [message_id])
    assert status.state is MessageState.DELIVERED
    (part,) = recorder.submissions
    assert [t for t in part.tlvs if t[0] in {0x1500, 0x1501, 0x1502, 0x1600}] == list(mine)
