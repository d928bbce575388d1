"""`TaskTracker.calling` ends a callback operation like `call` does: counted while pending,
`join` waits for it, errors other than transition errors are counted, and a failing `on_done`
is logged without breaking the tracker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.errors import IllegalTransitionError
from gateway.esme import TaskTracker


@pytest.mark.asyncio
async def test_calling_counts_until_done_and_join_waits() -> None:
    tasks = TaskTracker()
    seen: list[tuple[Any, BaseException | None]] = []
    done = tasks.calling(lambda r, e: seen.append((r, e)), what="op")
    assert tasks.pending == 1
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, done, 42, None)
    async with asyncio.timeout(5):
        await tasks.join()
    assert seen == [(42, None)]
    assert tasks.pending == 0
    assert tasks.failed == 0


@pytest.mark.asyncio
async def test_calling_errors_like_call(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskTracker()
    results: dict[str, list[Any]] = {"calling": [], "call": []}
    errors = [
        IllegalTransitionError(1, "delivered", "submitted", "record_resp"),
        RuntimeError("disk full"),
    ]
    for error in errors:
        tasks.calling(lambda r, e: results["calling"].append(type(e)), what="op")(None, error)

        def start(cb: Any, error: BaseException = error) -> None:
            cb(None, error)

        tasks.call(start, lambda r, e: results["call"].append(type(e)), what="op")
    assert results["calling"] == results["call"] == [IllegalTransitionError, RuntimeError]
    assert tasks.failed == 2  # the RuntimeError, once per form; transition errors are expected
    assert tasks.pending == 0

    def broken(_r: Any, _e: BaseException | None) -> None:
        raise ValueError("callback bug")

    tasks.calling(broken, what="op")(1, None)
    assert tasks.pending == 0
    assert "smsh.gateway.op_callback_failed" in caplog.text
