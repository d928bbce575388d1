"""simulator.wire: damaging frames, and which writes a wire-fault plan picks."""

from __future__ import annotations

import pytest

from simulator.config import WireFaultsConfig, config_from_mapping
from simulator.errors import ConfigError
from simulator.smpp.codec import decode, encode
from simulator.smpp.constants import CommandId
from simulator.smpp.errors import FramingError, SmppProtocolError
from simulator.smpp.framing import Framer
from simulator.smpp.pdu import DeliverSm, EnquireLink, SubmitSmResp
from simulator.wire import BAD_COMMAND_ID, TOO_LONG, TOO_SHORT, WirePlan, damage

EPOCH = 1_000_000.0


def plan(*faults: dict[str, object], seed: int = 1) -> WirePlan:
    """A plan over these faults, windows from EPOCH."""
    config = WireFaultsConfig.model_validate({"seed": seed, "faults": list(faults)})
    return WirePlan(config, EPOCH)


def deliver_frame() -> bytes:
    """An encoded deliver_sm."""
    pdu = DeliverSm(source_addr="81901", destination_addr="12345", short_message=b"hi")
    pdu.sequence_number = 7
    return encode(pdu)


def header(frame: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number)."""
    return tuple(int.from_bytes(frame[i : i + 4], "big") for i in range(0, 16, 4))  # type: ignore[return-value]


def test_length_variants_break_framing_and_keep_the_rest() -> None:
    frame = deliver_frame()
    short = damage(frame, "command_length_too_short")
    long = damage(frame, "command_length_too_long")
    assert header(short)[0] == TOO_SHORT
    assert header(long)[0] == TOO_LONG
    assert short[4:] == frame[4:]
    assert long[4:] == frame[4:]
    for bad in (short, long):
        framer = Framer(7424)
        framer.feed(bad)
        with pytest.raises(FramingError):
            framer.next_frame()


def test_invalid_command_id_keeps_the_response_bit() -> None:
    request = damage(deliver_frame(), "invalid_command_id")
    resp = SubmitSmResp(sequence_number=3, message_id="abc")
    response = damage(encode(resp), "invalid_command_id")
    assert header(request)[1] == BAD_COMMAND_ID
    assert header(response)[1] == BAD_COMMAND_ID | 0x80000000
    assert header(request)[3] == 7


@pytest.mark.parametrize(
    "pdu",
    [
        DeliverSm(sequence_number=5, source_addr="1", destination_addr="2", short_message=b"x"),
        SubmitSmResp(sequence_number=5, message_id="abc"),
        EnquireLink(sequence_number=5),
    ],
)
def test_bad_field_keeps_a_sound_header_and_an_unparsable_body(pdu: object) -> None:
    frame = encode(pdu)  # type: ignore[arg-type]
    bad = damage(frame, "bad_field")
    length, command_id, _, seq = header(bad)
    assert length == len(bad)
    assert (command_id, seq) == header(frame)[1:4:2]
    with pytest.raises(SmppProtocolError):
        decode(bad)


def test_unknown_variant_and_short_frames_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        damage(deliver_frame(), "sideways")
    with pytest.raises(ValueError, match="16"):
        damage(b"\x00" * 8, "bad_field")


def test_windows_accounts_and_max_count() -> None:
    p = plan(
        {
            "kind": "malformed_pdu",
            "pdu": "deliver_sm",
            "accounts": ["acme"],
            "start_s": 10,
            "end_s": 20,
            "max_count": 2,
        }
    )
    deliver = int(CommandId.DELIVER_SM)
    assert p.commands == frozenset({deliver})
    assert p.damage_frame(deliver, "acme", EPOCH + 5) is None
    assert p.damage_frame(deliver, "other", EPOCH + 15) is None
    assert p.damage_frame(int(CommandId.SUBMIT_SM_RESP), "acme", EPOCH + 15) is None
    assert p.damage_frame(deliver, "acme", EPOCH + 15) is not None
    assert p.damage_frame(deliver, "acme", EPOCH + 16) is not None
    assert p.damage_frame(deliver, "acme", EPOCH + 17) is None  # max_count reached
    assert p.damage_frame(deliver, "acme", EPOCH + 20) is None
    assert p.next_start(EPOCH) == EPOCH + 10
    assert p.next_start(EPOCH + 10) is None


def test_rate_draws_are_deterministic_per_seed() -> None:
    fault = {"kind": "malformed_pdu", "pdu": "submit_sm_resp", "rate": 0.3}
    resp = int(CommandId.SUBMIT_SM_RESP)

    def picks(seed: int) -> list[bool]:
        p = plan(fault, seed=seed)
        return [p.damage_frame(resp, "a", EPOCH + i) is not None for i in range(400)]

    first = picks(5)
    assert first == picks(5)
    assert first != picks(6)
    assert 80 <= sum(first) <= 160  # 30 % of 400, loosely


def test_garbage_once_per_session_and_never_a_pdu_header() -> None:
    p = plan({"kind": "garbage_bytes", "octets": 32, "start_s": 0, "end_s": 10})
    first = p.garbage("s1", "acme", EPOCH + 1)
    assert len(first) == 32
    assert first[0] == 0xFF
    assert p.garbage("s1", "acme", EPOCH + 2) == b""
    assert len(p.garbage("s2", "acme", EPOCH + 2)) == 32
    assert p.garbage("s3", "acme", EPOCH + 11) == b""
    p.forget("s1")
    assert len(p.garbage("s1", "acme", EPOCH + 3)) == 32
    again = plan({"kind": "garbage_bytes", "octets": 32, "start_s": 0, "end_s": 10})
    assert again.garbage("s1", "acme", EPOCH + 1) == first


def test_before_bound_window() -> None:
    p = plan({"kind": "deliver_before_bound", "start_s": 5, "end_s": 6})
    assert not p.before_bound("acme", EPOCH + 4)
    assert p.before_bound("acme", EPOCH + 5.5)
    assert not p.before_bound("acme", EPOCH + 6)


def test_the_configuration_section_is_strict() -> None:
    config = config_from_mapping(
        {
            "wire_faults": {
                "epoch_s": 5.0,
                "faults": [{"kind": "malformed_pdu", "variant": "invalid_command_id"}],
            }
        }
    )
    assert config.wire_faults.epoch_s == 5.0
    assert WirePlan(config.wire_faults, 0.0).epoch == 5.0
    with pytest.raises(ConfigError, match="variant"):
        config_from_mapping(
            {"wire_faults": {"faults": [{"kind": "malformed_pdu", "variant": "x"}]}}
        )
    with pytest.raises(ConfigError, match="end_s") as info:
        config_from_mapping(
            {"wire_faults": {"faults": [{"kind": "garbage_bytes", "start_s": 5, "end_s": 1}]}}
        )
    # The field is named from the document's root, not only relative to the fault.
    assert info.value.field == "wire_faults.faults[0].garbage_bytes.end_s"
