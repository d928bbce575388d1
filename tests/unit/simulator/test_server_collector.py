"""SimulatorServer raises the collector's young-generation threshold while it runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from simulator.config import config_from_mapping
from simulator.server import GC_YOUNG_THRESHOLD, SimulatorServer


@pytest.fixture
def default_threshold() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield gc.get_threshold()
    finally:
        gc.set_threshold(*before)


@pytest.mark.asyncio
async def test_threshold_raised_while_any_server_runs(
    default_threshold: tuple[int, int, int],
) -> None:
    first = SimulatorServer(config_from_mapping({}))
    second = SimulatorServer(config_from_mapping({}))
    await first.start(host="127.0.0.1", port=0)
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
    await second.start(host="127.0.0.1", port=0)
    await first.stop(grace=0)
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD  # the second still runs
    await second.stop(grace=0)
    assert gc.get_threshold() == default_threshold
    await second.stop(grace=0)  # a second stop changes nothing
    assert gc.get_threshold() == default_threshold


@pytest.mark.asyncio
async def test_a_setting_changed_meanwhile_is_left_alone(
    default_threshold: tuple[int, int, int],
) -> None:
    server = SimulatorServer(config_from_mapping({}))
    await server.start(host="127.0.0.1", port=0)
    gc.set_threshold(1234, 10, 10)
    await server.stop(grace=0)
    assert gc.get_threshold() == (1234, 10, 10)


@pytest.mark.asyncio
async def test_collection_switched_off_stays_off() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0, 10, 10)
    try:
        server = SimulatorServer(config_from_mapping({}))
        await server.start(host="127.0.0.1", port=0)
        assert gc.get_threshold()[0] == 0
        await server.stop(grace=0)
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
