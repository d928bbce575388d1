"""Signals the hot path sets less often than once per PDU or op must still say the same thing
at every point another task can look: the connection keeper's "data received" event after each
read, and `TaskTracker`'s idle event while callback operations start and end in any order."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from gateway.esme import TaskTracker
from tests.unit.gateway.test_esme_read_loop import HEADER, STREAM, chunked, esme_over


def _pdu_ends(stream: bytes) -> list[int]:
    ends, offset = [], 0
    while offset < len(stream):
        offset += HEADER.unpack_from(stream, offset)[0]
        ends.append(offset)
    return ends


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["whole", "octets", "seed-1", "seed-2", "seed-3"])
async def test_keeper_sees_data_after_every_read_that_completed_a_pdu(how: str) -> None:
    """The keeper (here: the reader, which looks and clears at each read, as the keeper only
    can while the loop awaits) sees the event set exactly after the chunks that completed a
    PDU, as when the loop set it for every PDU."""
    chunks = chunked(STREAM, how)
    seen: list[bool] = []
    async with asyncio.timeout(10), esme_over(list(chunks)) as (esme, _bind, _written):
        event: asyncio.Event = esme._data_received
        inner = esme._reader

        class KeeperReader:
            async def read(self, n: int) -> bytes:
                seen.append(event.is_set())
                event.clear()
                data: bytes = await inner.read(n)
                return data

        esme._reader = KeeperReader()
        with pytest.raises(asyncio.IncompleteReadError):
            await esme._receive_data()
    ends = _pdu_ends(STREAM)
    expected = [False]  # before the first chunk
    start = 0
    for chunk in chunks:
        stop = start + len(chunk)
        expected.append(any(start < end <= stop for end in ends))
        start = stop
    assert seen == expected


@pytest.mark.asyncio
async def test_tracker_idle_exactly_when_no_operation_is_pending() -> None:
    tasks = TaskTracker()
    rng = random.Random(5)
    open_ops: list[Any] = []
    for _ in range(400):
        if open_ops and rng.random() < 0.5:
            done = open_ops.pop(rng.randrange(len(open_ops)))
            done(None, None)
        else:
            kind = rng.choice(["track", "calling", "call"])
            if kind == "track":
                open_ops.append(tasks.track("op"))
            elif kind == "calling":
                open_ops.append(tasks.calling(lambda _r, _e: None, what="op"))
            else:
                tasks.call(open_ops.append, what="op")
        assert tasks.pending == len(open_ops)
        assert tasks._idle.is_set() == (not open_ops)
    joined = asyncio.ensure_future(tasks.join())
    await asyncio.sleep(0.01)
    assert joined.done() == (not open_ops)
    for done in open_ops:
        done(None, None)
    async with asyncio.timeout(5):
        await joined
    assert tasks.pending == 0
