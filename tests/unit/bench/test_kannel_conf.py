"""bench.peers.kannel: the configuration text for each persistence level (no Kannel needed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.peers.kannel import (
    KannelPorts,
    kannel_conf,
    persistence_groups,
    prepare_persistence,
)

PORTS = KannelPorts(admin=13000, smsbox=13001, sendsms=13013)


def _core(text: str) -> str:
    return text.split("group = smsbox", 1)[0]


def test_no_persistence_keeps_everything_in_memory(tmp_path: Path) -> None:
    text = kannel_conf(tmp_path, PORTS, "", persistence="none")
    assert "dlr-storage = internal" in text
    assert "store-location" not in text
    assert "sqlite3-connection" not in text


def test_store_writes_the_message_store_file(tmp_path: Path) -> None:
    text = _core(kannel_conf(tmp_path, PORTS, "", persistence="store"))
    assert "store-type = file" in text
    assert f'store-location = "{tmp_path}/kannel.store"' in text
    assert "dlr-storage = internal" in text


def test_durable_keeps_dlr_mappings_in_sqlite(tmp_path: Path) -> None:
    text = kannel_conf(tmp_path, PORTS, "group = smsc\n\n", persistence="durable")
    assert "dlr-storage = sqlite3" in text
    assert "store-type = file" in text
    # the dlr-db group names the connection it uses, and every field Kannel requires
    assert "group = sqlite3-connection\nid = benchdlr" in text
    assert "group = dlr-db\nid = benchdlr\ntable = dlr" in text
    for name in ("smsc", "timestamp", "destination", "source", "service", "url", "mask"):
        assert f"field-{name} = " in text
    assert "field-boxc-id = boxc" in text


@pytest.mark.parametrize("persistence", ["none", "store"])
def test_prepare_creates_nothing_without_sqlite_dlrs(tmp_path: Path, persistence: str) -> None:
    prepare_persistence(tmp_path, persistence)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_prepare_creates_the_dlr_table_and_its_lookup_index(tmp_path: Path) -> None:
    prepare_persistence(tmp_path, "durable")
    _store, storage, groups = persistence_groups(tmp_path, "durable")
    assert storage == "sqlite3"
    assert f'database = "{tmp_path}/dlr.sqlite3"' in groups
    db = sqlite3.connect(tmp_path / "dlr.sqlite3")
    try:
        columns = [row[1] for row in db.execute("PRAGMA table_info(dlr)")]
        plan = " ".join(
            str(row[3])
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM dlr WHERE smsc = 'a' AND ts = 'b'"
            )
        )
    finally:
        db.close()
    assert columns == [
        "smsc",
        "ts",
        "destination",
        "source",
        "service",
        "url",
        "mask",
        "status",
        "boxc",
    ]
    assert "dlr_smsc_ts" in plan
