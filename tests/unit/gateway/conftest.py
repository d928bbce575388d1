"""Fixtures for the gateway store tests: a store on a fresh file, and message builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store import MessageStore, NewMessage

#: 2026-01-01T00:00:00Z, the project's default start of time (sms.clock.ManualClock).
T0 = 1_767_225_600.0


def new_message(destination: str = "09012345678", **overrides: Any) -> NewMessage:
    """A plain one-part message; keyword arguments override fields."""
    fields: dict[str, Any] = {"source": "SENDER", "destination": destination, "text": "hello"}
    fields.update(overrides)
    return NewMessage(**fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a database file that does not exist yet."""
    return tmp_path / "gateway.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[MessageStore]:
    """A store on a fresh file (synchronous=NORMAL: these tests are about logic, not fsync)."""
    s = MessageStore(db_path, synchronous="NORMAL")
    try:
        yield s
    finally:
        s.close()
