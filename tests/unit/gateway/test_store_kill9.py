"""A real kill -9: every id the child printed after its accept resolved is in the database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.store import MessageState, MessageStore

CHILD = Path(__file__).with_name("kill9_child.py")
REPO = Path(__file__).resolve().parents[3]
WANTED = 1500


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_every_acknowledged_accept_survives_sigkill(tmp_path: Path, synchronous: str) -> None:
    db = tmp_path / "kill9.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-u", str(CHILD), str(db), synchronous],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    printed: list[int] = []
    assert child.stdout is not None
    deadline = time.monotonic() + 20
    try:
        while len(printed) < WANTED and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            printed.append(int(line))
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        child.send_signal(signal.SIGKILL)  # mid-run: writes are still in flight
        # Whatever the pipe already holds was also printed after a resolved accept.
        rest, _ = child.communicate(timeout=10)
        printed.extend(int(x) for x in rest.split())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert len(printed) >= WANTED, f"child printed only {len(printed)} ids"

    # A fresh connection on the file the child left behind (WAL not checkpointed).
    conn = sqlite3.connect(db)
    try:
        on_disk = {row[0] for row in conn.execute("SELECT id FROM messages")}
    finally:
        conn.close()
    missing = set(printed) - on_disk
    assert not missing, f"{len(missing)} acknowledged ids lost, e.g. {sorted(missing)[:5]}"
    with MessageStore(db) as store:
        assert store.counts()[MessageState.QUEUED] == len(on_disk)
        assert store.recover(1_767_225_700.0).requeued == ()
