"""simulator.carrier / simulator.network.alerts: every model fact with a bus counterpart."""

from __future__ import annotations

from typing import Any

from simulator.carrier import CarrierNetworkHandler, carrier_handler
from simulator.config import config_from_mapping
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.network.alerts import ALERT_FOR, to_alert
from simulator.network.effects import EventKind, NetworkEvent
from simulator.network.faults import SessionAction
from simulator.server import Submission
from simulator.smpp.constants import CommandId
from sms.bus.events import ALERT_KINDS, Alert, HandsetDelivered

EPOCH = 1_767_225_600.0
NUMBER = "09033330001"


def handler(**extra: Any) -> CarrierNetworkHandler:
    """A model with one subscriber and a relabelling registry for ACMEPAY."""
    config: dict[str, Any] = {
        "population": {"size": 0},
        "subscribers": [{"number": NUMBER}],
        "absence": {"p_absent": 0},
        "receipts": {"loss_rate": 0},
        "two_way": {"enabled": False},
        "quiet_hours": {"enabled": False},
        "accounts": {
            "acme": {"route": "international"},
            "fraud": {"route": "international", "attacker": True},
        },
        "registry": {
            "mode": "relabel",
            "protected": [{"sender_id": "ACMEPAY", "accounts": ["acme"]}],
        },
        "routes": {
            "international": {
                "outcomes": {
                    "delivered": 1.0,
                    "expired": 0,
                    "unknown_subscriber": 0,
                    "rejected": 0,
                    "unknown": 0,
                },
                "latency": {"kind": "fixed", "seconds": 2},
            }
        },
        **extra,
    }
    return CarrierNetworkHandler(CarrierNetwork(NetworkConfig.model_validate(config), 1, "ev"))


def submission(account: str, text: str, message_id: str = "m1") -> Submission:
    """An alphanumeric-sender submission to NUMBER."""
    return Submission(
        account=account,
        session_id=1,
        command_id=CommandId.SUBMIT_SM,
        message_id=message_id,
        service_type="",
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="ACMEPAY",
        dest_addr_ton=0,
        dest_addr_npi=0,
        destination_addr=NUMBER,
        esm_class=0,
        registered_delivery=1,
        data_coding=0,
        udh=b"",
        body=text.encode(),
        place=None,
        submitted_at=EPOCH,
    )


def test_every_mapped_kind_is_a_bus_alert_kind() -> None:
    assert {kind for kind, _ in ALERT_FOR.values()} <= set(ALERT_KINDS)
    mapped = {str(k) for k in ALERT_FOR}
    for name in (
        "sender_relabelled",
        "sender_replaced",
        "filtered",
        "opted_out",
        "sent_after_opt_out",
        "receipt_lost",
    ):
        assert name in mapped


def test_receipt_lost_carries_the_message_id_and_relabel_the_displayed_sender() -> None:
    lost = to_alert(
        NetworkEvent(EPOCH, EventKind.RECEIPT_LOST, "k1", "acme", NUMBER, {"message_id": "abc"})
    )
    assert lost is not None
    assert (lost.alert_kind, lost.message_id, lost.message_key) == ("receipt_lost", "abc", "k1")
    relabel = to_alert(
        NetworkEvent(
            EPOCH,
            EventKind.SENDER_RELABELLED,
            "k2",
            "fraud",
            NUMBER,
            {"sender": "ACMEPAY", "displayed": "Likely-SCAM"},
        )
    )
    assert relabel is not None
    assert relabel.sender == "Likely-SCAM"
    assert to_alert(NetworkEvent(EPOCH, EventKind.DELIVERED, "k", "a", NUMBER)) is None


def test_relabelled_spoof_is_an_alert_and_a_handset_delivery() -> None:
    h = handler()
    genuine = h.handle_submit(submission("acme", "genuine notice", "m1"), EPOCH)
    spoof = h.handle_submit(submission("fraud", "verify now", "m2"), EPOCH + 1)
    assert genuine.status == 0
    assert spoof.status == 0
    effects = [*h.advance(EPOCH + 1), *h.advance(EPOCH + 60)]
    alerts = [e for e in effects if isinstance(e, Alert)]
    assert [a.alert_kind for a in alerts] == ["sender_relabelled"]
    delivered = [e for e in effects if isinstance(e, HandsetDelivered)]
    assert len(delivered) == 2
    by_text = {d.text: d for d in delivered}
    assert by_text["genuine notice"].sender == "ACMEPAY"
    assert not by_text["genuine notice"].relabelled
    fake = by_text["verify now"]
    assert fake.relabelled
    assert fake.sender != "ACMEPAY"
    assert fake.destination == "819033330001"
    assert fake.thread_size == 1
    assert fake.parts == 1


def test_thread_size_counts_the_messages_of_one_displayed_sender() -> None:
    h = handler()
    for i in range(3):
        h.handle_submit(submission("acme", f"notice {i}", f"m{i}"), EPOCH + i)
    effects = [*h.advance(EPOCH + 3), *h.advance(EPOCH + 60)]
    sizes = [e.thread_size for e in effects if isinstance(e, HandsetDelivered)]
    assert sizes == [1, 2, 3]


def test_session_hooks_forward_to_the_model() -> None:
    h = handler(faults=[{"kind": "disconnect_at", "at_s": 10, "accounts": ["acme"]}])
    assert h.next_session_deadline(EPOCH, "acme") == EPOCH + 10
    assert h.next_session_deadline(EPOCH, "fraud") is None
    early = h.session_decision(EPOCH + 5, "acme", pdus_received=1, bound_at=EPOCH)
    late = h.session_decision(EPOCH + 11, "acme", pdus_received=1, bound_at=EPOCH)
    assert early.action is SessionAction.NONE
    assert late.action is SessionAction.DISCONNECT


def test_carrier_handler_runs_the_model_a_network_section_describes() -> None:
    config = config_from_mapping(
        {
            "network": {
                "seed": 7,
                "scenario_id": "night",
                "speed": 60,
                "config": {"population": {"size": 0}, "subscribers": [{"number": NUMBER}]},
            }
        }
    )
    section = config.network
    assert section is not None
    made, clock = carrier_handler(section)
    assert (made.network.seed, made.network.scenario_id) == (7, "night")
    assert made.network.config is section.config
    assert made.network.population.get(NUMBER) is not None
    # The clock starts at the network's epoch and runs at the section's speed.
    assert clock.speed == 60.0
    assert section.config.epoch_s <= clock.now() < section.config.epoch_s + 60.0
