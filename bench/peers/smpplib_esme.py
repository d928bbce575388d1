"""python-smpplib as a peer ESME: how fast its natural style can submit.

The natural smpplib style: one ``smpplib.client.Client``, ``bind_transceiver``, a listener
thread running ``client.listen()`` (it calls our sent/received handlers and answers every
deliver_sm with deliver_sm_resp by itself), and the main thread calling ``send_message(...)``
in a plain loop, as fast as it returns: smpplib has no window, it never waits for a
submit_sm_resp. The only additions, needed for correctness with two threads on one client, are a
lock around ``send_pdu`` (the listener writes deliver_sm_resp while the main thread writes
submit_sm) and a thread-safe sequence generator.

Figures: ``send_rate`` (the send loop alone), ``submit_rate`` = accepted / (first send -> last
submit_sm_resp), ``receipt_rate`` = receipts / (first send -> last receipt), in messages/s.

Usage::

    python -m bench.peers.smpplib_esme --smsc 127.0.0.1:2775 --count 5000
    python -m bench.peers.smpplib_esme --own-smsc --count 5000   # against bench.peers.counting_smsc
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from bench.peers.common import (
    emit,
    free_port,
    last_json_line,
    parse_hostport,
    project_root,
    python_module_cmd,
    rate,
    require_loopback,
    terminate,
    wait_port_sync,
)


class LockedSequence:
    """smpplib's sequence generator interface, safe to share between threads."""

    MIN_SEQUENCE = 0x00000001
    MAX_SEQUENCE = 0x7FFFFFFF

    def __init__(self) -> None:
        self._sequence = self.MIN_SEQUENCE
        self._lock = threading.Lock()

    @property
    def sequence(self) -> int:
        return self._sequence

    def next_sequence(self) -> int:
        with self._lock:
            if self._sequence >= self.MAX_SEQUENCE:
                self._sequence = self.MIN_SEQUENCE
            else:
                self._sequence += 1
            return self._sequence


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = 0
        self.errors = 0
        self.receipts = 0
        self.other_delivers = 0
        self.last_resp_at = 0.0
        self.last_receipt_at = 0.0
        self.all_done = threading.Event()
        self.expected = 0
        self.want_receipts = True

    def check(self) -> None:
        if self.accepted + self.errors >= self.expected and (
            not self.want_receipts or self.receipts >= self.accepted
        ):
            self.all_done.set()


def run_smpplib(
    host: str,
    port: int,
    count: int,
    *,
    receipts: bool = True,
    timeout: float = 120.0,
    system_id: str = "bench",
    password: str = "bench",
) -> dict[str, Any]:
    """Submit `count` messages the smpplib way; return the figures."""
    require_loopback(host)
    counters = _Counters()
    counters.expected = count
    counters.want_receipts = receipts
    logging.getLogger("smpplib").setLevel(logging.ERROR)

    client: Any = smpplib.client.Client(
        host,
        port,
        timeout=5,
        sequence_generator=LockedSequence(),
        logger_name="smpplib.bench",
        allow_unknown_opt_params=True,
    )
    send_lock = threading.Lock()
    raw_send_pdu = client.send_pdu

    def send_pdu(pdu: Any) -> bool:
        with send_lock:
            ok: bool = raw_send_pdu(pdu)
            return ok

    client.send_pdu = send_pdu

    def on_sent(pdu: Any, **_kwargs: Any) -> None:
        with counters.lock:
            if pdu.status == smpplib.consts.SMPP_ESME_ROK:
                counters.accepted += 1
            else:
                counters.errors += 1
            counters.last_resp_at = time.perf_counter()
            counters.check()

    def on_received(pdu: Any, **_kwargs: Any) -> int:
        with counters.lock:
            if int(getattr(pdu, "esm_class", 0) or 0) & 0x04:
                counters.receipts += 1
                counters.last_receipt_at = time.perf_counter()
            else:
                counters.other_delivers += 1
            counters.check()
        return int(smpplib.consts.SMPP_ESME_ROK)

    def on_error(pdu: Any) -> None:
        # Error statuses are counted, not raised (smpplib raises by default).
        if pdu.command == "submit_sm_resp":
            on_sent(pdu)

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.set_error_pdu_handler(on_error)

    listener_error: list[BaseException] = []

    def listen() -> None:
        try:
            client.listen(auto_send_enquire_link=True)
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            if not stopping.is_set():
                listener_error.append(exc)
        except BaseException as exc:  # reported in the result
            listener_error.append(exc)
        finally:
            counters.all_done.set()

    stopping = threading.Event()
    client.connect()
    client.bind_transceiver(system_id=system_id, password=password)
    listener = threading.Thread(target=listen, name="smpplib-listener", daemon=True)
    listener.start()

    text = b"smpplib benchmark message"
    registered = (
        smpplib.consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH
        if receipts
        else smpplib.consts.SMPP_SMSC_DELIVERY_RECEIPT_NONE
    )
    started = time.perf_counter()
    for _ in range(count):
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr="ACME",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr="819012345678",
            short_message=text,
            registered_delivery=registered,
        )
    send_loop = time.perf_counter() - started
    finished = counters.all_done.wait(timeout)

    stopping.set()
    with contextlib.suppress(Exception):
        client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        client._socket.shutdown(socket.SHUT_RDWR)
    listener.join(5)
    client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
    client.disconnect()

    with counters.lock:
        submit_span = counters.last_resp_at - started if counters.last_resp_at else None
        receipt_span = counters.last_receipt_at - started if counters.last_receipt_at else None
        return {
            "peer": "smpplib",
            "smpplib_version": version("smpplib"),
            "target": f"{host}:{port}",
            "count": count,
            "accepted": counters.accepted,
            "errors": counters.errors,
            "receipts": counters.receipts,
            "timed_out": not finished,
            "listener_error": repr(listener_error[0]) if listener_error else None,
            "send_loop_seconds": round(send_loop, 3),
            "send_rate": rate(count, send_loop),
            "submit_seconds": round(submit_span, 3) if submit_span else None,
            "submit_rate": rate(counters.accepted, submit_span),
            "receipt_seconds": round(receipt_span, 3) if receipt_span else None,
            "receipt_rate": rate(counters.receipts, receipt_span),
        }


def main(argv: list[str] | None = None) -> int:
    """Run once and print one JSON line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers.smpplib_esme", description=__doc__.split("\n")[0]
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--smsc", help="HOST:PORT of the SMSC (loopback)")
    target.add_argument(
        "--own-smsc",
        action="store_true",
        help="start bench.peers.counting_smsc in a child process and use it",
    )
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--no-receipts", dest="receipts", action="store_false")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.smsc:
        host, port = parse_hostport(args.smsc)
        result = run_smpplib(host, port, args.count, receipts=args.receipts, timeout=args.timeout)
    else:
        host, port = "127.0.0.1", free_port()
        proc = subprocess.Popen(
            python_module_cmd(
                "bench.peers.counting_smsc",
                "--port",
                str(port),
                "--max-seconds",
                str(args.timeout + 60),
            ),
            stdout=subprocess.PIPE,
            text=True,
            cwd=project_root(),
        )
        try:
            wait_port_sync(host, port, 15.0)
            result = run_smpplib(
                host, port, args.count, receipts=args.receipts, timeout=args.timeout
            )
        finally:
            terminate(proc)
            out, _ = proc.communicate()
        result["smsc"] = last_json_line(out)
    emit(result)
    return 0 if result["accepted"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
