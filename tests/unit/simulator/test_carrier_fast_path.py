"""simulator.carrier: the adapter's hot path gives the server exactly what the general path gives.

`CarrierNetworkHandler` offers a TLV-free single submission to `CarrierNetwork.submit_single`
and builds its receipt orders through the model's `ReceiptMaker`. A handler that must keep the
model's outcomes (``keep_outcomes``) takes the general path instead (``submit`` and the
`ReceiptDue` -> `ReceiptOrder` mapping), and so does a model without shortcuts. The same
submissions, including a submit_multi whose later destinations are keyed by the first one's
id, must give the same verdicts and the same orders in the same order on all three.
"""

from __future__ import annotations

import random
from dataclasses import astuple
from typing import Any

import pytest

from simulator.carrier import CarrierNetworkHandler
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.server import Submission
from simulator.smpp.constants import CommandId
from simulator.smsc import ReceiptOrder, Verdict

EPOCH = 1_767_225_600.0
CONFIG = NetworkConfig.model_validate(
    {
        "population": {"size": 50},
        "default_account": {"alphanumeric_policy": "allow", "max_tps": None},
        "absence": {"p_absent": 0.2},
        "receipts": {"loss_rate": 0.1},
        "two_way": {"enabled": False},
    }
)


def submission(
    number: str,
    text: str,
    at: float,
    *,
    rd: int = 1,
    validity: float | None = None,
    multi: str | None = None,
) -> Submission:
    """A single submission (one destination of a submit_multi fixed to ``multi``'s id)."""
    return Submission(
        account="acme",
        session_id=1,
        command_id=CommandId.SUBMIT_MULTI if multi is not None else CommandId.SUBMIT_SM,
        message_id=multi or "proposed",
        service_type="",
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="ACME",
        dest_addr_ton=0,
        dest_addr_npi=0,
        destination_addr=number,
        esm_class=0,
        registered_delivery=rd,
        data_coding=0,
        udh=b"",
        body=text.encode(),
        place=None,
        submitted_at=at,
        validity_at=None if validity is None else at + validity,
        message_id_fixed=multi is not None,
    )


def _run(handler: CarrierNetworkHandler, seed: int) -> dict[str, Any]:
    handler.set_publishing(False)  # as a server without a bus
    numbers = handler.network.population.numbers()
    rng = random.Random(seed)
    verdicts: list[Verdict] = []
    orders: list[Any] = []
    aliased: dict[str, tuple[str, str]] = {}  # network id -> (stored id, destination)
    at = EPOCH
    for i in range(300):
        at += rng.choice([0.0, 0.5, 1.0, 3.0])
        orders += handler.advance(at)
        number = rng.choice(numbers)
        text = rng.choice(["pay now", "hello", f"reminder {i % 7}"])
        if i % 25 == 5:  # a submit_multi: the first destination's id keys the second one
            first = handler.handle_submit(submission(number, text, at), at)
            verdicts.append(first)
            if first.status == 0 and first.message_id is not None:
                second = submission(rng.choice(numbers), text, at, multi=first.message_id)
                verdict = handler.handle_submit(second, at)
                verdicts.append(verdict)
                if verdict.status == 0 and verdict.message_id is not None:
                    aliased[verdict.message_id] = (first.message_id, second.destination_addr)
            continue
        verdicts.append(
            handler.handle_submit(
                submission(
                    number,
                    text,
                    at,
                    rd=rng.choice([1, 1, 0, 2, 3]),
                    validity=rng.choice([None, None, 3.0, 600.0]),
                ),
                at,
            )
        )
    orders += handler.advance(at + 10 * 86_400)
    return {
        "aliased": aliased,
        "verdicts": [astuple(v) for v in verdicts],
        "orders": [astuple(o) if isinstance(o, ReceiptOrder) else o for o in orders],
    }


def test_fast_path_equals_the_general_paths() -> None:
    for seed in range(3):
        fast = _run(CarrierNetworkHandler(CarrierNetwork(CONFIG, seed, "fast")), seed)
        kept = _run(
            CarrierNetworkHandler(CarrierNetwork(CONFIG, seed, "fast"), keep_outcomes=10), seed
        )
        general = _run(
            CarrierNetworkHandler(CarrierNetwork(CONFIG, seed, "fast", shortcuts=False)), seed
        )
        assert fast == kept == general
        assert len(fast["orders"]) > 150
        # A later submit_multi destination's receipt is keyed by the stored (first
        # destination's) id, with that id in its text, and tells the handset by its address.
        keyed = {o[1] for o in fast["orders"]}
        assert fast["aliased"]
        assert not keyed & set(fast["aliased"])
        later = 0
        for stored_id, destination in fast["aliased"].values():
            assert stored_id in keyed
            mine = [o for o in fast["orders"] if o[1] == stored_id and o[7] == destination]
            assert all(o[5].startswith(f"id:{stored_id} ") for o in mine)
            later += len(mine)
        assert later > 0


def test_the_fast_path_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most plain submissions never reach `CarrierNetwork.submit` (so the test above can fail)."""
    handler = CarrierNetworkHandler(CarrierNetwork(CONFIG, 1, "fast"))
    handler.set_publishing(False)
    calls = 0
    submit = handler.network.submit

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return submit(*args)

    monkeypatch.setattr(handler.network, "submit", counting)
    numbers = handler.network.population.numbers()
    for i in range(200):
        handler.handle_submit(submission(numbers[i % len(numbers)], "hi", EPOCH + i), EPOCH + i)
    assert calls < 60
