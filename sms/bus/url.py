"""`bus_from_url`: pick the bus transport from a URL (``--bus`` options, config files).

Accepted forms:
    * None, ``""``, ``memory://`` -> `InMemoryBus` (one process, the default)
    * ``mqtt://HOST[:PORT][?client_id=ID]`` -> `MqttBus` (port 1883 when omitted)
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, urlsplit

from sms.bus.bus import Bus
from sms.bus.errors import BusUrlError
from sms.bus.memory import InMemoryBus
from sms.bus.mqtt import MqttBus

__all__ = ["DEFAULT_MQTT_PORT", "bus_from_url"]

#: IANA port of unencrypted MQTT.
DEFAULT_MQTT_PORT: Final[int] = 1883


def bus_from_url(url: str | None) -> Bus:
    """Make the bus a URL names (not started: enter it with ``async with``).

    Args:
        url: ``mqtt://host:port`` (optionally ``?client_id=...``), ``memory://``, or None.

    Returns:
        An `MqttBus` or an `InMemoryBus`.

    Raises:
        BusUrlError: The URL's scheme, host, port or query is not understood.
    """
    if url is None or url.strip() in ("", "memory:", "memory://"):
        return InMemoryBus()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BusUrlError(f"bad bus URL {url!r}: {exc}") from None
    if parts.scheme != "mqtt":
        raise BusUrlError(
            f"bad bus URL {url!r}: the scheme must be mqtt:// or memory:// (TLS is not supported)"
        )
    if not parts.hostname:
        raise BusUrlError(f"bad bus URL {url!r}: no host")
    if parts.username or parts.password:
        raise BusUrlError(f"bad bus URL {url!r}: credentials are not supported")
    if parts.path not in ("", "/") or parts.fragment:
        raise BusUrlError(f"bad bus URL {url!r}: unexpected path or fragment")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"client_id"}
    if unknown:
        raise BusUrlError(f"bad bus URL {url!r}: unknown parameter(s) {sorted(unknown)}")
    client_id = query.get("client_id", [None])[-1] or None
    return MqttBus(parts.hostname, port or DEFAULT_MQTT_PORT, identifier=client_id)
