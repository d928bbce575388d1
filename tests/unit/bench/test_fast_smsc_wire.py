"""bench.fast_smsc on the wire: the exact bytes it answers and when, from a raw socket client.

The expected PDUs are built here from SMPP 3.4 (§4.4.2 submit_sm_resp, §4.6.1 deliver_sm,
Appendix B receipt text), independently of the server's encoder, so that any change to how the
server builds them (preformatted bytes, batching) must keep every byte and the receipt delay.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from bench.fast_smsc import serve_in_thread

HEADER = struct.Struct(">IIII")
SUBMIT_SM = 0x04
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x05
DELIVER_SM_RESP = 0x80000005
BIND_TRANSCEIVER = 0x09


def _pdu(command: int, seq: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(16 + len(body), command, status, seq) + body


def _submit_body(
    source: bytes, source_ton: int, dest: bytes, dest_ton: int, registered: int, text: bytes
) -> bytes:
    return (
        b"CMT\x00"
        + bytes([source_ton, 1])
        + source
        + b"\x00"
        + bytes([dest_ton, 1])
        + dest
        + b"\x00"
        + bytes([0, 0, 0])
        + b"\x00\x00"
        + bytes([registered, 0, 0, 0, len(text)])
        + text
    )


class Client:
    """A blocking SMPP client: writes bytes, reads whole PDUs with their arrival times."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, count: int) -> list[tuple[float, int, int, int, bytes]]:
        """`count` PDUs as (arrival monotonic time, command, status, seq, body)."""
        out: list[tuple[float, int, int, int, bytes]] = []
        while len(out) < count:
            while len(self.buf) >= 16:
                length, command, status, seq = HEADER.unpack_from(self.buf)
                if len(self.buf) < length:
                    break
                out.append((time.monotonic(), command, status, seq, self.buf[16:length]))
                self.buf = self.buf[length:]
            if len(out) >= count:
                break
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            self.buf += data
        return out

    def close(self) -> None:
        self.sock.close()


def _bind(client: Client) -> None:
    client.send(_pdu(BIND_TRANSCEIVER, 1, b"esme\x00pw\x00\x00\x34\x00\x00\x00"))
    [(_, command, status, _, body)] = client.read(1)
    assert (command, status, body) == (0x80000009, 0, b"fastsmsc\x00")


def _fmt(n: int, fmt: str, width: int) -> str:
    text = f"{n:X}" if fmt == "hex" else str(n)
    return text.rjust(width, "0")


def _expected_receipt(
    rid: str,
    stamp: str,
    *,
    source: bytes,
    source_ton: int,
    dest: bytes,
    dest_ton: int,
    stat: str,
    tlv: bool,
    text_id: bool,
) -> bytes:
    ok = stat == "DELIVRD"
    text = (
        (f"id:{rid} " if text_id else "")
        + f"sub:001 dlvrd:{'001' if ok else '000'} submit date:{stamp} done date:{stamp} "
        + f"stat:{stat} err:{'000' if ok else '001'} text:"
    ).encode()
    states = {"DELIVRD": 2, "UNDELIV": 5, "EXPIRED": 3, "REJECTD": 8}
    tlvs = b""
    if tlv:
        value = rid.encode() + b"\x00"
        tlvs = struct.pack(">HH", 0x001E, len(value)) + value
        tlvs += struct.pack(">HHB", 0x0427, 1, states[stat])
    # The receipt goes back from the handset: its source is the submit's destination.
    return (
        b"\x00"
        + bytes([dest_ton, 1])
        + dest
        + b"\x00"
        + bytes([source_ton, 1])
        + source
        + b"\x00"
        + bytes([0x04, 0, 0])
        + b"\x00\x00"
        + bytes([0, 0, 0, 0, len(text)])
        + text
        + tlvs
    )


STAMP = re.compile(rb"submit date:(\d{10}) ")

VARIANTS: list[dict[str, Any]] = [
    {},
    {"resp_id_format": "hex", "receipt_id_format": "hex", "id_width": 8, "id_start": 250},
    {"receipt_tlv": False, "receipt_text_id": False, "receipt_stat": "UNDELIV"},
    {"receipt_id_format": "hex", "receipt_stat": "EXPIRED"},
]


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recorded"])
@pytest.mark.parametrize("knobs", VARIANTS, ids=lambda k: ",".join(k) or "default")
def test_responses_and_receipts_byte_exact_after_the_delay(
    knobs: dict[str, Any], record: bool
) -> None:
    """The fast path (nothing recorded) and the recording path write the same bytes."""
    delay = 0.15
    messages = [
        (b"SENDER", 5, b"819012345678", 1, 1),
        (b"12345", 1, b"819000000001", 1, 0),  # no receipt wanted
        (b"Shop", 5, b"+447700900123", 0, 1),
        (b"819011112222", 1, b"819033334444", 1, 0x11),  # bit 0 set among others
    ] * 3
    with serve_in_thread(
        receipts=True, receipt_delay=delay, record=record, track_duplicates=record, **knobs
    ) as smsc:
        client = Client(smsc.port)
        try:
            _bind(client)
            stamp_before = datetime.now(UTC).strftime("%y%m%d%H%M")
            # All submits in one write: the server reads them in one pass.
            client.send(
                b"".join(
                    _pdu(SUBMIT_SM, 10 + i, _submit_body(src, sto, dst, dto, reg, b"hi"))
                    for i, (src, sto, dst, dto, reg) in enumerate(messages)
                )
            )
            sent_at = time.monotonic()
            wanted = sum(1 for m in messages if m[4] & 1)
            pdus = client.read(len(messages) + wanted)
            stamp_after = datetime.now(UTC).strftime("%y%m%d%H%M")
            resps = [p for p in pdus if p[1] == SUBMIT_SM_RESP]
            receipts = [p for p in pdus if p[1] == DELIVER_SM]
            assert len(resps) == len(messages)
            assert len(receipts) == wanted
            # Every response precedes every receipt (the receipts wait for the delay).
            assert pdus[: len(messages)] == resps
            start = knobs.get("id_start", 1)
            width = knobs.get("id_width", 0)
            for i, (_, _, status, seq, body) in enumerate(resps):
                resp_id = _fmt(start + i, knobs.get("resp_id_format", "dec"), width)
                assert (status, seq, body) == (0, 10 + i, resp_id.encode() + b"\x00")
            numbers = [start + i for i, m in enumerate(messages) if m[4] & 1]
            wanted_msgs = [m for m in messages if m[4] & 1]
            seqs = [p[3] for p in receipts]
            assert seqs == list(range(seqs[0], seqs[0] + wanted))
            for (at, _, status, _, body), n, (src, sto, dst, dto, _) in zip(
                receipts, numbers, wanted_msgs, strict=True
            ):
                assert at - sent_at >= delay - 0.01
                assert status == 0
                match = STAMP.search(body)
                assert match is not None
                stamp = match.group(1).decode()
                assert stamp_before <= stamp <= stamp_after
                expected = _expected_receipt(
                    _fmt(n, knobs.get("receipt_id_format", "dec"), width),
                    stamp,
                    source=src,
                    source_ton=sto,
                    dest=dst,
                    dest_ton=dto,
                    stat=knobs.get("receipt_stat", "DELIVRD"),
                    tlv=knobs.get("receipt_tlv", True),
                    text_id=knobs.get("receipt_text_id", True),
                )
                assert body == expected
            client.send(b"".join(_pdu(DELIVER_SM_RESP, p[3], b"\x00") for p in receipts))
            deadline = time.monotonic() + 5
            while smsc.stats.receipts_acked < wanted and time.monotonic() < deadline:
                time.sleep(0.01)
            assert smsc.stats.receipts_acked == wanted
            assert smsc.stats.receipts_sent == wanted
            assert smsc.stats.accepted == smsc.stats.submits == len(messages)
            assert smsc.stats.first_submit_at is not None
            assert smsc.stats.last_submit_at is not None
            assert smsc.stats.first_submit_at <= smsc.stats.last_submit_at
        finally:
            client.close()


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recorded"])
def test_receipts_of_later_reads_wait_their_own_delay(record: bool) -> None:
    """Two bursts 0.2 s apart: the second burst's receipts are not sent with the first's."""
    delay = 0.3
    with serve_in_thread(
        receipts=True, receipt_delay=delay, record=record, track_duplicates=record
    ) as smsc:
        client = Client(smsc.port)
        try:
            _bind(client)
            body = _submit_body(b"A", 5, b"819012345678", 1, 1, b"x")
            client.send(_pdu(SUBMIT_SM, 2, body) + _pdu(SUBMIT_SM, 3, body))
            first_at = time.monotonic()
            assert [p[1] for p in client.read(2)] == [SUBMIT_SM_RESP] * 2
            time.sleep(0.2)
            client.send(_pdu(SUBMIT_SM, 4, body))
            second_at = time.monotonic()
            assert client.read(1)[0][1] == SUBMIT_SM_RESP
            first = client.read(2)
            second = client.read(1)
            assert [p[1] for p in first + second] == [DELIVER_SM] * 3
            assert all(p[0] - first_at >= delay - 0.01 for p in first)
            assert first[-1][0] - first_at < delay + 0.15
            assert second[0][0] - second_at >= delay - 0.01
        finally:
            client.close()


def test_receipt_before_response_and_duplicates_keep_their_order() -> None:
    with serve_in_thread(
        receipts=True, receipts_before_resp=True, duplicate_receipts=True, record=False
    ) as smsc:
        client = Client(smsc.port)
        try:
            _bind(client)
            body = _submit_body(b"A", 5, b"819012345678", 1, 1, b"x")
            client.send(_pdu(SUBMIT_SM, 7, body))
            pdus = client.read(3)
            assert [p[1] for p in pdus] == [DELIVER_SM, DELIVER_SM, SUBMIT_SM_RESP]
            assert pdus[0][4] == pdus[1][4]
            assert pdus[2][4] == b"1\x00"
        finally:
            client.close()


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recorded"])
def test_an_unreadable_submit_ends_the_session_unanswered(record: bool) -> None:
    """A submit_sm whose C-strings have no terminating NUL in the buffer: the read pass fails,
    nothing of it is answered (not even the good submit before it) and the session closes."""
    with serve_in_thread(receipts=True, record=record, track_duplicates=record) as smsc:
        client = Client(smsc.port)
        try:
            _bind(client)
            good = _pdu(SUBMIT_SM, 2, _submit_body(b"A", 5, b"819012345678", 1, 1, b"x"))
            client.send(good + _pdu(SUBMIT_SM, 3, b"\x01" * 20))
            assert client.sock.recv(65536) == b""  # closed, nothing written
            # Counted as the general path counts: both read, the first accepted.
            assert (smsc.stats.submits, smsc.stats.accepted) == (2, 1)
        finally:
            client.close()
