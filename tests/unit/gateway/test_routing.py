"""gateway.routing: longest-prefix routes, hints, fallback, sender-ID policy."""

from __future__ import annotations

import pytest

from gateway.config import config_from_dict
from gateway.routing import RejectReason, Router, SubmitRejected
from sms.numbers import Npi, Ton
from sms.segments import Method


@pytest.fixture
def router() -> Router:
    return Router(
        config_from_dict(
            {
                "binds": [
                    {"name": "docomo", "system_id": "d", "count": 2},
                    {"name": "au", "system_id": "a"},
                    {"name": "rx", "system_id": "r", "mode": "receiver"},
                ],
                "routes": [
                    {"name": "jp", "prefixes": ["+81"], "binds": ["au"], "default_sender": "ACME"},
                    {
                        "name": "jp-docomo",
                        "prefixes": ["+8190", "+8180"],
                        "binds": ["docomo"],
                        "profile": "jp-docomo",
                        "method": "udh16",
                        "allowed_senders": ["ACME", "0120000000"],
                        "default_sender": "ACME",
                    },
                    {"name": "world"},
                ],
            }
        )
    )


def test_longest_prefix_wins_and_fallback_catches_the_rest(router: Router) -> None:
    route = router.resolve("+819012345678")
    assert route.name == "jp-docomo"
    assert route.sessions == ("docomo-1", "docomo-2")
    assert route.method is Method.UDH16
    assert route.profile.name == "jp-docomo"
    assert router.resolve("+817012345678").name == "jp"
    assert router.resolve("+447700900123").name == "world"
    assert router.resolve("+447700900123").sessions == ("docomo-1", "docomo-2", "au")


def test_hint_must_serve_the_destination(router: Router) -> None:
    assert router.resolve("+819012345678", "jp").name == "jp"
    with pytest.raises(SubmitRejected) as info:
        router.resolve("+447700900123", "jp")
    assert info.value.reason is RejectReason.NO_ROUTE
    with pytest.raises(SubmitRejected):
        router.resolve("+819012345678", "nowhere")


def test_sender_policy(router: Router) -> None:
    docomo = router.resolve("+819012345678")
    assert router.sender(docomo, None) == "ACME"
    assert router.sender(docomo, "0120000000") == "0120000000"
    with pytest.raises(SubmitRejected) as not_allowed:
        router.sender(docomo, "OTHER")
    assert not_allowed.value.reason is RejectReason.SENDER_NOT_ALLOWED
    with pytest.raises(SubmitRejected) as invalid:
        router.sender(docomo, "WAY TOO LONG SENDER")
    assert invalid.value.reason is RejectReason.INVALID_SENDER
    with pytest.raises(SubmitRejected) as missing:
        router.sender(router.resolve("+447700900123"), None)
    assert missing.value.reason is RejectReason.NO_SENDER


def test_source_address_is_by_sender_kind() -> None:
    assert Router.source_address("ACME") == (Ton.ALPHANUMERIC, Npi.UNKNOWN, "ACME")
    assert Router.source_address("+819012345678") == (Ton.INTERNATIONAL, Npi.ISDN, "819012345678")


def test_no_fallback_means_no_route() -> None:
    router = Router(
        config_from_dict(
            {
                "binds": [{"name": "a", "system_id": "x"}],
                "routes": [{"name": "jp", "prefixes": ["+81"]}],
            }
        )
    )
    with pytest.raises(SubmitRejected) as info:
        router.resolve("+447700900123")
    assert info.value.reason is RejectReason.NO_ROUTE


def test_sender_checks_and_addresses_are_remembered_with_the_same_answers(
    router: Router,
) -> None:
    for _ in range(2):
        assert router.sender(router.routes[0], "ACME") == "ACME"
        assert router.address_of("ACME") == Router.source_address("ACME")
        assert router.address_of("+819012345678") == Router.source_address("+819012345678")
        with pytest.raises(SubmitRejected):
            router.sender(router.routes[0], "")  # refused every time, never remembered
