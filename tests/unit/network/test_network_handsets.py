"""Handsets: concatenated parts reassembled, threads keyed by the exact displayed sender."""

from __future__ import annotations

from simulator.network import EventKind, vendor_fields
from simulator.network.handsets import Inbox, flag_text
from simulator.network.messages import SubmittedMessage
from sms.segments import Method, Sar, plan
from sms.udh import Concat, split_udh
from tests.unit.network.helpers import DAY, EPOCH, HOUR, events, msg, network, sub

NUMBER = "09011112222"
TEXT = "お支払い期限は1月31日です。" * 8  # 128 UCS-2 characters: 2 parts


def _parts(method: Method = Method.UDH8) -> list[SubmittedMessage]:
    planned = plan(TEXT, method=method, reference=42)
    out = []
    for part in planned.parts:
        concat: Concat | Sar | None = part.sar
        body = part.short_message
        if part.udh:
            udh, body = split_udh(part.short_message)
            concat = udh.concat
        out.append(msg(NUMBER, body, data_coding=planned.data_coding, concat=concat))
    return out


def test_parts_out_of_order_form_one_message() -> None:
    net = network(subscribers=[sub(NUMBER)])
    parts = _parts()
    assert len(parts) == 2
    for i, part in enumerate(reversed(parts)):
        net.submit(part, EPOCH + i)
    effects = net.advance(EPOCH + DAY)
    assert len(events(effects, EventKind.DELIVERED)) == 2
    (completed,) = events(effects, EventKind.MESSAGE_COMPLETED)
    assert completed.detail["text"] == TEXT
    (thread,) = net.handset(NUMBER).threads
    (message,) = thread.messages
    assert message.text == TEXT
    assert message.parts == 2
    assert message.missing == ()
    assert len(set(message.keys)) == 1  # both parts carry the same message key


def test_sar_parts_reassemble_too() -> None:
    net = network(subscribers=[sub(NUMBER)])
    for part in _parts(Method.SAR):
        net.submit(part, EPOCH)
    net.advance(EPOCH + DAY)
    assert net.handset(NUMBER).threads[0].texts == (TEXT,)


def test_missing_part_shows_incomplete_after_the_timeout() -> None:
    net = network(subscribers=[sub(NUMBER)])
    net.submit(_parts()[0], EPOCH)
    net.advance(EPOCH + HOUR)
    assert net.handset(NUMBER).threads == ()
    due = net.next_due()
    assert due is not None
    assert due > EPOCH + 23 * HOUR
    net.advance(EPOCH + 2 * DAY)
    (message,) = net.handset(NUMBER).threads[0].messages
    assert "incomplete" in message.flags
    assert message.missing == (2,)


def test_threads_are_keyed_by_the_exact_string() -> None:
    net = network(subscribers=[sub(NUMBER)], accounts={"intl": {"route": "international"}})
    for i, sender in enumerate(["NTT DOCOMO", "NTT Docomo", "NTT DOCOMO ", "NTT DOCOMO"]):
        net.submit(msg(NUMBER, b"m%d" % i, account="intl", source=sender, source_ton=5), EPOCH + i)
    net.advance(EPOCH + DAY)
    view = net.handset(NUMBER)
    assert sorted(t.sender for t in view.threads) == ["NTT DOCOMO", "NTT DOCOMO ", "NTT Docomo"]
    thread = view.thread("NTT DOCOMO")
    assert thread is not None
    assert sorted(thread.texts) == ["m0", "m3"]
    assert [m.at for m in thread.messages] == sorted(m.at for m in thread.messages)
    assert view.thread("nope") is None
    assert net.handset("+819011112222") == view


def test_handset_sees_nothing_before_delivery_time() -> None:
    net = network(subscribers=[sub(NUMBER)])
    fate = net.submit(msg(NUMBER), EPOCH).fate
    assert fate is not None
    net.advance(EPOCH + fate.final_after_s - 0.001)
    assert net.handset(NUMBER).threads == ()
    net.advance(EPOCH + fate.final_after_s)
    assert len(net.handset(NUMBER).threads) == 1


def test_vendor_tlvs() -> None:
    fields = vendor_fields({0x1500: b"camp-7/row-12\0", 0x1501: b"alice\0", 0x1502: b"20190401"})
    assert (fields.message_key, fields.intended_owner) == ("camp-7/row-12", "alice")
    assert fields.obtained_date is not None
    assert fields.obtained_date.isoformat() == "2019-04-01"
    bad = vendor_fields({0x1502: b"2019-4-1", 0x1501: b"\xff\0"})
    assert bad.obtained_date is None
    assert bad.intended_owner is None
    assert len(bad.problems) == 2


def test_appending_to_a_deferred_thread_is_file_deferred() -> None:
    """`Inbox.deferred_thread` + append (the network's hot path) files what `file_deferred`
    files, threads created in the same order, flags and undecodable bodies included."""
    filed = [
        (EPOCH + 1, "ACME", "k1#0", "acme", frozenset(), "hi".encode("utf-16-be"), 0x08),
        (EPOCH + 2, "BANK", "k2#0", "acme", frozenset({"relabelled", "genuine"}), b"pay", 0x00),
        (EPOCH + 3, "ACME", "k3#0", "other", frozenset({"spoof"}), b"\x01odd", 0x0B),
    ]
    eager, direct = Inbox(NUMBER, 2), Inbox(NUMBER, 2)
    for at, sender, key, account, flags, body, coding in filed * 2:
        eager.file_deferred(at, sender, key, account, flags, body, coding)
        direct.deferred_thread(sender).append(
            (at, sender, key, account, flag_text(flags), body, coding)
        )
    assert direct.view() == eager.view()
    assert [t.sender for t in direct.view().threads] == ["ACME", "BANK"]
    acme = direct.view().thread("ACME")
    assert acme is not None
    assert len(acme.messages) == 2
