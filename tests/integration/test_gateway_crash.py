"""Crash safety: SIGKILL the gateway in the middle of a 10,000-message run, restart it on the
same database, and check that every message ends in exactly one terminal state and that the
SMSC saw at most window x binds parts twice.

The gateway runs as `python -m scenarios.commands.load` in a subprocess (the real CLI path);
the SMSC (bench.fast_smsc, receipts on, unacknowledged receipts redelivered on the next bind)
runs in a thread of the test process and records every submit_sm.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.fast_smsc import serve_in_thread

REPO = Path(__file__).resolve().parents[2]
COUNT = 10_000
WINDOW = 10
BINDS = 2


def _load(port: int, db: Path, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scenarios.commands.load",
            "--smsc",
            f"127.0.0.1:{port}",
            "--system-id",
            "crash",
            "--password",
            "pw",
            "--count",
            str(count),
            "--window",
            str(WINDOW),
            "--binds",
            str(BINDS),
            "--db",
            str(db),
            "--sync",
            "NORMAL",
            "--timeout",
            "90",
            "--json",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.timeout(180)
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_run_then_restart_ends_every_message_once(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    with serve_in_thread(receipt_delay=0.05, record=False, track_duplicates=True) as smsc:
        first = _load(smsc.port, db, COUNT)
        try:
            deadline = time.monotonic() + 60
            while smsc.stats.accepted < 3_000:
                assert first.poll() is None, first.communicate()[1].decode()[-2000:]
                assert time.monotonic() < deadline, "the first run made no progress"
                time.sleep(0.01)
            first.send_signal(signal.SIGKILL)  # mid-run: parts in flight, receipts pending
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        sent_before = smsc.stats.accepted
        assert sent_before < COUNT  # really killed in the middle

        second = _load(smsc.port, db, 0)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()[-3000:]
        report = json.loads(out)
        duplicates = smsc.duplicates()

    assert report["recovered"] > 0
    assert report["in_store"] == COUNT
    assert report["states"] == {"delivered": COUNT}
    conn = sqlite3.connect(db)
    try:
        states = dict(conn.execute("SELECT state, COUNT(*) FROM messages GROUP BY state"))
        ids = [row[0] for row in conn.execute("SELECT id FROM messages ORDER BY id")]
        parts = conn.execute(
            "SELECT COUNT(*) FROM parts WHERE state = 'delivered' AND smsc_message_id IS NOT NULL"
        ).fetchone()[0]
    finally:
        conn.close()
    assert states == {"delivered": COUNT}  # one state per message, and it is terminal
    assert ids == list(range(1, COUNT + 1))
    assert parts == COUNT
    assert duplicates <= WINDOW * BINDS, f"{duplicates} parts reached the SMSC twice"
