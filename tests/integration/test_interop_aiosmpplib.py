"""Interop with aiosmpplib 0.7.4's ESME (the gateway's own library): bind, submit GSM-7, UCS-2,
a concatenated message and a message_payload one, and receive a matching receipt for every part.

aiosmpplib splits a long text itself when ``auto_message_payload=False``; with esm_class UDHI it
writes a UDH *and* the sar_* TLVs in each part. Its SAR-only path (no UDHI) is not exercised:
in 0.7.4 ``ESME._dequeue_messages`` reads ``encoding`` before assigning it in that branch, the
sender task dies with UnboundLocalError and the message is never sent (an aiosmpplib bug).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from aiosmpplib import ESME, PhoneNumber, SubmitSm
from aiosmpplib.hook import AbstractHook
from aiosmpplib.state import NPI, TON

from simulator.smpp.codec import decode
from simulator.smpp.pdu import DeliverSm, SubmitSmResp
from simulator.testing import running_simulator
from sms.receipt import parse_receipt

pytestmark = pytest.mark.asyncio

LONG = "Dear customer, this is a reminder that your invoice is overdue. " * 4


class Recorder(AbstractHook):  # type: ignore[misc]  # aiosmpplib ships no types
    """Keeps every PDU the ESME receives, decoded with the simulator's own codec."""

    def __init__(self) -> None:
        self.responses: list[SubmitSmResp] = []
        self.receipts: list[DeliverSm] = []
        self.errors: list[BaseException] = []
        self.changed = asyncio.Event()

    async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        return None

    async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        decoded = decode(pdu)
        if isinstance(decoded, SubmitSmResp):
            self.responses.append(decoded)
        elif isinstance(decoded, DeliverSm):
            self.receipts.append(decoded)
        self.changed.set()

    async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
        self.errors.append(error)


def message(text: str, log_id: str, **kwargs: Any) -> SubmitSm:
    return SubmitSm(
        short_message=text,
        source=PhoneNumber("ACME", TON.ALPHANUMERIC, NPI.UNKNOWN),
        destination=PhoneNumber("819012345678", TON.INTERNATIONAL, NPI.ISDN),
        registered_delivery=1,
        log_id=log_id,
        **kwargs,
    )


async def test_aiosmpplib_esme_submits_and_receives_receipts() -> None:
    hook = Recorder()
    async with asyncio.timeout(30), running_simulator({"receipts": {"delay_s": 0.2}}) as sim:
        esme = ESME(
            smsc_host=sim.host,
            smsc_port=sim.port,
            system_id="aiosmpp",
            password="pw",
            hook=hook,
            log_level=logging.WARNING,
        )
        task = asyncio.create_task(esme.start())
        try:
            await esme.broker.enqueue(message("Hello from aiosmpplib", "gsm7"))
            await esme.broker.enqueue(message("お支払い期限のお知らせ", "ucs2", encoding="ucs2"))
            # Split by aiosmpplib into UDH (+ sar_*) parts.
            await esme.broker.enqueue(
                message(LONG, "udh", auto_message_payload=False, esm_class=0x40)
            )
            # Too long for short_message: sent whole in message_payload.
            await esme.broker.enqueue(message(LONG, "payload"))
            while len(hook.responses) < 4 or len(hook.receipts) < len(hook.responses):
                hook.changed.clear()
                await hook.changed.wait()
        finally:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    await esme.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stats = sim.server.stats
    assert not hook.errors
    parts = len(hook.responses)
    assert parts >= 5  # 1 + 1 + at least 2 + 1
    assert all(r.command_status == 0 for r in hook.responses)
    ids = {r.message_id for r in hook.responses}
    assert len(ids) == parts
    receipted = {r.receipted_message_id for r in hook.receipts}
    assert receipted == ids
    for receipt in hook.receipts:
        text = parse_receipt(receipt.short_message.decode("ascii"))
        assert text.message_id == receipt.receipted_message_id
        assert text.stat == "DELIVRD"
    assert stats.accepted == parts
    assert stats.receipts_sent == parts
    # The server saw the concatenated parts as parts; the payload one is whole.
    records = [sim.server.store.get(i) for i in ids]
    assert sum(1 for r in records if r is not None and r.total is not None) == parts - 3
    assert any(r is not None and r.body == LONG.encode() for r in records)
