"""bus_from_url: which transport a URL names."""

from __future__ import annotations

import pytest

from sms.bus.errors import BusUrlError
from sms.bus.memory import InMemoryBus
from sms.bus.mqtt import MqttBus
from sms.bus.url import bus_from_url


@pytest.mark.parametrize("url", [None, "", "memory://", "memory:", "  "])
def test_memory(url: str | None) -> None:
    assert isinstance(bus_from_url(url), InMemoryBus)


@pytest.mark.parametrize(
    ("url", "host", "port", "client_id"),
    [
        ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, None),
        ("mqtt://broker.local", "broker.local", 1883, None),
        ("mqtt://[::1]:18830/", "::1", 18830, None),
        ("mqtt://h:1?client_id=gw-1", "h", 1, "gw-1"),
    ],
)
def test_mqtt(url: str, host: str, port: int, client_id: str | None) -> None:
    bus = bus_from_url(url)
    assert isinstance(bus, MqttBus)
    assert (bus.hostname, bus.port) == (host, port)
    if client_id is not None:
        assert bus.identifier == client_id
    else:
        assert bus.identifier.startswith("smsh-")


@pytest.mark.parametrize(
    "url",
    [
        "mqtts://h:8883",
        "tcp://h:1883",
        "mqtt://",
        "mqtt://h:notaport",
        "mqtt://h:99999",
        "mqtt://user:pw@h",
        "mqtt://h/some/path",
        "mqtt://h?qos=2",
        "h:1883",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(BusUrlError):
        bus_from_url(url)
