"""Gateway load benchmark: `smsh load` against bench.fast_smsc, one process each, plus
python-smpplib as a peer ESME on the same SMSC for comparison. Prints figures.

Run: ``.venv/bin/python -m bench.gateway_load [--count 20000] [--windows 1,10,100] [--binds 1,4]``

How it measures:
    * The SMSC (bench.fast_smsc on uvloop, receipts on after ``--receipt-delay``) runs in its
      own process for the whole benchmark; each gateway run is a fresh
      ``python -m scenarios.commands.load --json`` process with a fresh durable store
      (synchronous=FULL unless ``--sync NORMAL``), so the gateway is what is measured.
    * Every figure but CPU comes from the load command's JSON: submit rate = ESME_ROK responses
      per second from the first accept to the last response; receipt rate likewise for
      receipts; latencies are submit_sm written -> response / receipt read, percentiles from
      the gateway's log-scale histograms (within 4.4 %); RSS is the gateway process's peak.
    * CPU: the SMSC's and the gateway's CPU seconds per wall second during the run (from
      /proc and getrusage), to show which side was busy.
    * The smpplib peer sends the same messages (GSM-7, receipts requested) from a thread with a
      window (a semaphore released by the response handler), reads in another thread, and has
      no store: it is the "bare ESME" reference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.contextmanager
def fast_smsc(port: int, receipt_delay: float) -> Iterator[subprocess.Popen[str]]:
    """The SMSC process (uvloop, receipts on)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.fast_smsc",
            "--port",
            str(port),
            "--receipts",
            "--receipt-delay",
            str(receipt_delay),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"fast_smsc did not start: {line!r}")
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_gateway(
    port: int, count: int, window: int, binds: int, sync: str, smsc_pid: int
) -> dict[str, Any]:
    """One `smsh load --json` run; returns its report plus CPU figures."""
    cmd = [
        sys.executable,
        "-m",
        "scenarios.commands.load",
        "--smsc",
        f"127.0.0.1:{port}",
        "--system-id",
        "bench",
        "--password",
        "pw",
        "--count",
        str(count),
        "--window",
        str(window),
        "--binds",
        str(binds),
        "--sync",
        sync,
        "--timeout",
        "600",
        "--json",
    ]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    smsc_cpu0 = _cpu_seconds(smsc_pid)
    start = time.perf_counter()
    out = subprocess.run(
        cmd,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    smsc_cpu = _cpu_seconds(smsc_pid) - smsc_cpu0
    if not out.stdout.strip():
        raise RuntimeError(f"load failed ({out.returncode}): {out.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(out.stdout)
    gw_cpu = (after_children.ru_utime + after_children.ru_stime) - (
        before_children.ru_utime + before_children.ru_stime
    )
    # The store's writer process is a grandchild (forked by its zygote): not in RUSAGE_CHILDREN.
    gw_cpu += float(report.get("writer_process_cpu_s") or 0.0)
    report["gateway_cpu_pct"] = round(100 * gw_cpu / wall, 1)
    report["smsc_cpu_pct"] = round(100 * smsc_cpu / wall, 1)
    return report


# -- the python-smpplib peer -------------------------------------------------------------------


def smpplib_peer(port: int, count: int, window: int) -> dict[str, Any]:
    """Send `count` submit_sm with a window through python-smpplib; count responses/receipts."""
    import smpplib.client
    import smpplib.consts

    client = smpplib.client.Client("127.0.0.1", port, timeout=30, allow_unknown_opt_params=True)
    send_lock = threading.Lock()
    original_send = client.send_pdu

    def locked_send(pdu: Any) -> Any:
        with send_lock:  # the reader thread answers deliver_sm on the same socket
            return original_send(pdu)

    client.send_pdu = locked_send
    slots = threading.Semaphore(window)
    done = threading.Event()
    state = {"resp": 0, "ok": 0, "receipts": 0, "last_resp": 0.0, "last_receipt": 0.0}
    sent_at: dict[int, float] = {}
    latencies: list[float] = []

    def on_sent(pdu: Any, **_kw: Any) -> None:
        now = time.perf_counter()
        state["resp"] += 1
        if pdu.status == 0:
            state["ok"] += 1
        t0 = sent_at.pop(pdu.sequence, None)
        if t0 is not None:
            latencies.append((now - t0) * 1000)
        state["last_resp"] = now
        slots.release()
        if state["resp"] >= count and state["receipts"] >= count:
            done.set()

    def on_received(pdu: Any, **_kw: Any) -> int:
        state["receipts"] += 1
        state["last_receipt"] = time.perf_counter()
        if state["resp"] >= count and state["receipts"] >= count:
            done.set()
        return int(smpplib.consts.SMPP_ESME_ROK)

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.connect()
    client.bind_transceiver(system_id="peer", password="pw")
    reader = threading.Thread(target=_listen, args=(client,), daemon=True)
    reader.start()
    start = time.perf_counter()
    for i in range(count):
        slots.acquire()
        pdu = client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr="LOADTEST",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr=f"8190{10_000_000 + i:08d}",
            short_message=f"Load test message {i}".encode(),
            registered_delivery=1,
        )
        sent_at[pdu.sequence] = time.perf_counter()
    done.wait(timeout=600)
    latencies.sort()

    def pct(q: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)
            if latencies
            else 0.0
        )

    return {
        "peer": "python-smpplib",
        "count": count,
        "window": window,
        "responses_ok": state["ok"],
        "receipts": state["receipts"],
        "submit_rate": round(state["ok"] / (state["last_resp"] - start), 1),
        "receipt_rate": round(state["receipts"] / (state["last_receipt"] - start), 1)
        if state["receipts"]
        else 0.0,
        "latency_ms": {"submit_to_resp": {"p50": pct(0.5), "p99": pct(0.99)}},
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _listen(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.listen()


def run_peer(port: int, count: int, window: int, smsc_pid: int) -> dict[str, Any]:
    """The smpplib peer in its own process."""
    smsc_cpu0 = _cpu_seconds(smsc_pid)
    start = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.gateway_load",
            "--peer",
            "--port",
            str(port),
            "--count",
            str(count),
            "--window",
            str(window),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if not out.stdout.strip():
        raise RuntimeError(f"peer failed: {out.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(out.stdout)
    report["smsc_cpu_pct"] = round(100 * (_cpu_seconds(smsc_pid) - smsc_cpu0) / wall, 1)
    return report


# -- main ------------------------------------------------------------------------------------------


def _row(label: str, r: dict[str, Any]) -> str:
    lat = r.get("latency_ms", {})
    resp = lat.get("submit_to_resp", {})
    rcpt = lat.get("submit_to_receipt", {})
    return (
        f"{label:<22} {r.get('submit_rate', 0):>9,.0f} {r.get('receipt_rate', 0):>9,.0f}"
        f" {resp.get('p50', 0):>8.2f} {resp.get('p99', 0):>8.2f}"
        f" {rcpt.get('p50', 0):>8.1f} {rcpt.get('p99', 0):>8.1f}"
        f" {r.get('rss_mb', 0):>7.0f} {r.get('gateway_cpu_pct', '-')!s:>6}"
        f" {r.get('smsc_cpu_pct', '-')!s:>6}"
        f" {'yes' if r.get('complete', True) else 'NO'}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (and optionally a JSON file)."""
    p = argparse.ArgumentParser(
        prog="python -m bench.gateway_load", description=__doc__.split("\n")[0]
    )
    p.add_argument("--count", type=int, default=20_000)
    p.add_argument("--windows", default="1,10,100")
    p.add_argument("--binds", default="1,4")
    p.add_argument("--receipt-delay", type=float, default=0.05)
    p.add_argument("--sync", choices=["FULL", "NORMAL"], default="FULL")
    p.add_argument("--peer-windows", default="10,100")
    p.add_argument("--json", type=Path, default=None, help="also write every report here")
    p.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--window", type=int, default=10, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.peer:
        print(json.dumps(smpplib_peer(args.port, args.count, args.window)))
        return 0

    for option, values in (
        ("--windows", args.windows),
        ("--binds", args.binds),
        ("--peer-windows", args.peer_windows),
    ):
        if any(not v.strip().isdigit() or int(v) < 1 for v in values.split(",") if v):
            p.error(f"{option}: comma-separated whole numbers >= 1 (got {values!r})")
    port = _free_port()
    results: list[dict[str, Any]] = []
    header = (
        f"{'run':<22} {'submit/s':>9} {'rcpt/s':>9} {'resp p50':>8} {'resp p99':>8}"
        f" {'rcpt p50':>8} {'rcpt p99':>8} {'RSS MB':>7} {'gw CPU':>6} {'SMSC':>6} done"
    )
    print(
        f"gateway load: {args.count} messages per run, receipts after {args.receipt_delay}s,"
        f" store synchronous={args.sync}; latencies in ms; CPU in % of one core",
        flush=True,
    )
    print(header, flush=True)
    with fast_smsc(port, args.receipt_delay) as smsc:
        for binds in (int(b) for b in args.binds.split(",")):
            for window in (int(w) for w in args.windows.split(",")):
                report = run_gateway(port, args.count, window, binds, args.sync, smsc.pid)
                report["run"] = f"gateway w={window} b={binds}"
                results.append(report)
                print(_row(report["run"], report), flush=True)
        for window in (int(w) for w in args.peer_windows.split(",") if w):
            peer = run_peer(port, args.count, window, smsc.pid)
            peer["run"] = f"smpplib w={window} b=1"
            results.append(peer)
            print(_row(peer["run"], peer), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
