"""`Ticket.encoded_body` (what `GatewayEsme`'s send loop writes) equals the body of the
`PlannedSubmitSm` for the same ticket, which test_pdu.py checks against aiosmpplib's own
`SubmitSm.pdu()`: byte for byte, for the test_pdu.py tickets and for generated ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.esme import PlannedSubmitSm, Ticket
from sms.alphabet import Encoding
from sms.numbers import Npi, SmppAddress, Ton
from tests.unit.gateway.test_pdu import CODECS, make_ticket, reference


def planned_body(ticket: Ticket) -> bytes:
    message = PlannedSubmitSm.for_ticket(ticket)
    message.set_encoding_info("gsm0338", CODECS)
    message.sequence_num = 1
    pdu: bytes = message.pdu()
    return pdu[16:]


CASES = [
    make_ticket(),
    make_ticket(user_data=b"\x05\x00\x03\x2a\x02\x01" + b"x" * 134, esm_class=0x40),
    make_ticket(user_data="日本".encode("utf-16-be"), encoding=Encoding.UCS2, priority=3),
    make_ticket(user_data=b"y" * 300, as_payload=True),
    make_ticket(user_data=b"z" * 300),
    make_ticket(sar=(7, 2, 1), tlvs=((0x1500, "Ōwner".encode()),)),
    make_ticket(sar=(7, 2, 2), esm_class=0x40),
    make_ticket(deadline=1_795_000_000.5, registered_delivery=0),
    make_ticket(user_data=b"\x00\xff", encoding=Encoding.BINARY),
    make_ticket(user_data=b"caf\xe9", encoding=Encoding.LATIN1),
    make_ticket(user_data=b"", as_payload=True),
]


@pytest.mark.parametrize("ticket", CASES)
def test_cases_match_planned_and_aiosmpplib(ticket: Ticket) -> None:
    ref = reference(ticket)
    ref.set_encoding_info("gsm0338", CODECS)
    ref.sequence_num = 1
    assert ticket.encoded_body() == planned_body(ticket) == ref.pdu()[16:]
    assert ticket.encoded_body() is ticket.encoded_body()  # encoded once


addresses = st.builds(
    SmppAddress,
    st.sampled_from(list(Ton)),
    st.sampled_from(list(Npi)),
    st.text(alphabet="0123456789ABCXYZ", max_size=20),
)


@given(
    user_data=st.binary(max_size=300),
    as_payload=st.booleans(),
    encoding=st.sampled_from(list(Encoding)),
    esm_class=st.sampled_from([0, 0x40, 0x03]),
    sar=st.none() | st.tuples(st.integers(0, 65535), st.integers(1, 255), st.integers(1, 255)),
    deadline=st.none() | st.floats(1e9, 2e9),
    tlvs=st.lists(st.tuples(st.integers(0x1400, 0x3FFF), st.binary(max_size=8)), max_size=2),
    priority=st.integers(0, 3),
    registered_delivery=st.integers(0, 1),
    source=addresses,
    destination=addresses,
)
def test_generated_tickets_match_planned(
    user_data: bytes,
    as_payload: bool,
    encoding: Encoding,
    esm_class: int,
    sar: tuple[int, int, int] | None,
    deadline: float | None,
    tlvs: list[tuple[int, bytes]],
    priority: int,
    registered_delivery: int,
    source: SmppAddress,
    destination: SmppAddress,
) -> None:
    ticket = make_ticket(
        user_data=user_data,
        as_payload=as_payload,
        encoding=encoding,
        esm_class=esm_class,
        sar=sar,
        deadline=deadline,
        tlvs=tuple(tlvs),
        priority=priority,
        registered_delivery=registered_delivery,
    )
    ticket.source = source
    ticket.destination = destination
    assert ticket.encoded_body() == planned_body(ticket)


@pytest.mark.parametrize(
    "address",
    [
        SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "1" * 21),  # longer than 20
        SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "81901234567é"),  # not ASCII
    ],
)
def test_refused_like_planned(address: SmppAddress) -> None:
    ticket = make_ticket()
    ticket.destination = address
    with pytest.raises(ValueError) as planned:
        planned_body(ticket)
    with pytest.raises(ValueError) as direct:
        ticket.encoded_body()
    assert type(direct.value) is type(planned.value)
    assert str(direct.value) == str(planned.value)
    assert ticket.body is None
