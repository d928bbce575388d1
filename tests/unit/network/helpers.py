"""Shared builders for the carrier-model tests: small configs, messages and a pump."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simulator.network import (
    CarrierNetwork,
    Effect,
    EventKind,
    MoDue,
    NetworkConfig,
    NetworkEvent,
    ReceiptDue,
    SubmittedMessage,
)

#: The default scenario epoch: 2026-01-01T00:00:00Z (09:00 in Tokyo).
EPOCH = 1_767_225_600.0
HOUR = 3600.0
DAY = 86_400.0

#: A quiet baseline: no generated population, no filters, no replies, no receipt loss.
BASE: dict[str, Any] = {
    "population": {"size": 0},
    "two_way": {"enabled": False},
    "receipts": {"loss_rate": 0.0},
    "quiet_hours": {"enabled": False},
}


def config(**sections: Any) -> NetworkConfig:
    """A validated config: `BASE` with the given top-level sections replaced/merged."""
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **value}
        else:
            data[name] = value
    return NetworkConfig.model_validate(data)


def network(seed: int = 1, scenario: str = "test", **sections: Any) -> CarrierNetwork:
    """A `CarrierNetwork` over `config(**sections)`."""
    return CarrierNetwork(config(**sections), seed, scenario)


def sub(number: str, **fields: Any) -> dict[str, Any]:
    """An explicit subscriber entry (delivered outcome unless told otherwise)."""
    entry: dict[str, Any] = {"number": number, "outcome": "delivered"}
    entry.update(fields)
    return entry


def msg(
    dest: str,
    body: bytes = b"hello",
    *,
    account: str = "acme",
    source: str = "00051234",
    **fields: Any,
) -> SubmittedMessage:
    """A submitted part."""
    return SubmittedMessage(account, source, dest, body, **fields)


def receipts(effects: Iterable[Effect]) -> list[ReceiptDue]:
    """Only the receipts."""
    return [e for e in effects if isinstance(e, ReceiptDue)]


def events(effects: Iterable[Effect], kind: EventKind | None = None) -> list[NetworkEvent]:
    """Only the events (of one kind)."""
    return [e for e in effects if isinstance(e, NetworkEvent) and (kind is None or e.kind is kind)]


def mos(effects: Iterable[Effect]) -> list[MoDue]:
    """Only the MO parts."""
    return [e for e in effects if isinstance(e, MoDue)]
