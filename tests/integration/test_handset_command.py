"""`smsh handset` against a real lookup API (`running_lookup`) over the carrier model that a real
simulator (`running_simulator` + `CarrierNetworkHandler`) delivered messages with: a one-part
and a two-part (UDH) message to one number, then the view, the JSON, and each error."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from scenarios import cli
from scenarios.commands.handset import render
from simulator.carrier import CarrierNetworkHandler
from simulator.lookup import running_lookup
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.smpp.pdu import SubmitSm
from simulator.testing import running_simulator
from sms.clock import ManualClock
from tests.integration.test_simulator_carrier import (
    BASE,
    DAY,
    EPOCH,
    OK,
    STRANGER,
    bound,
    finish,
    receipts,
    submit,
)

pytestmark = pytest.mark.timeout(60)

PART_1 = "Your invoice 1234 is due on 2026-01-10. Please pay via the link we sent "
PART_2 = "earlier, or call us. Thank you."


def concatenated(seq: int, text: str) -> SubmitSm:
    """One part of a two-part message (UDH 8-bit reference 0x42), GSM default alphabet."""
    udh = bytes([0x05, 0x00, 0x03, 0x42, 0x02, seq])
    return SubmitSm(
        source_addr="00051234",
        destination_addr=OK,
        esm_class=0x40,
        registered_delivery=1,
        short_message=udh + text.encode("ascii"),
    )


@asynccontextmanager
async def delivered() -> AsyncIterator[str]:
    """A simulator with the carrier model that delivered two messages to OK; yields the
    lookup API's URL (serving the same network and clock)."""
    clock = ManualClock(EPOCH)
    network = CarrierNetwork(NetworkConfig.model_validate(BASE), 7, "handset")
    handler = CarrierNetworkHandler(network, keep_outcomes=100)
    async with (
        running_simulator(None, handler=handler, clock=clock, stop_grace=0.1) as sim,
        running_lookup(network, clock) as url,
    ):
        client = await bound(sim.host, sim.port, "acme")
        await submit(
            client,
            SubmitSm(
                source_addr="00051234",
                destination_addr=OK,
                registered_delivery=1,
                short_message=b"Hello from ACME",
            ),
        )
        await finish(sim, clock, 60.0)
        await submit(client, concatenated(1, PART_1))
        await submit(client, concatenated(2, PART_2))
        await finish(sim, clock, DAY)
        await receipts(client, 3)
        await client.close()
        yield url


async def smsh(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `smsh` in a worker thread (it blocks on HTTP; the servers run on this loop)."""
    code = await asyncio.to_thread(cli.main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.asyncio
async def test_view_and_json_of_a_handset(capsys: pytest.CaptureFixture[str]) -> None:
    async with asyncio.timeout(30), delivered() as url:
        code, out, err = await smsh(capsys, "handset", OK, "--url", url)
        json_code, json_out, _ = await smsh(capsys, "handset", "+819011112222", "--url", url)
        raw_code, raw, _ = await smsh(capsys, "handset", OK, "--url", url, "--json")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Handset +819011112222 (09011112222): 1 thread(s), 2 messages"
    assert "== 00051234 (2 messages)" in lines
    assert "    Hello from ACME" in lines
    assert f"    {PART_1}{PART_2}" in lines
    heads = [line for line in lines if line.startswith("  20")]
    assert len(heads) == 2
    assert "2 parts" not in heads[0]
    assert "  2 parts  from account acme" in heads[1]
    assert heads[0].startswith("  2026-01-01 09:0")  # visible at the epoch, Tokyo time
    assert heads[0].split("  ")[1].endswith("+09:00")
    assert (json_code, json_out) == (0, out)  # E.164 input shows the same handset
    assert raw_code == 0
    view: dict[str, Any] = json.loads(raw)
    assert view["known"] is True
    assert list(view["threads"]) == ["00051234"]
    messages = view["threads"]["00051234"]["messages"]
    assert [(m["text"], m["parts"]) for m in messages] == [
        ("Hello from ACME", 1),
        (PART_1 + PART_2, 2),
    ]
    assert not any(m["flags"]["spoofed"] for m in messages)


@pytest.mark.asyncio
async def test_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with asyncio.timeout(30), delivered() as url:
        unknown = await smsh(capsys, "handset", STRANGER, "--url", url)
        bad = await smsh(capsys, "handset", "0312345678", "--url", url)
        garbage = await smsh(capsys, "handset", "not-a-number", "--url", url)
        not_lookup = await smsh(capsys, "handset", OK, "--url", f"{url}/nothing")
    unreachable = await smsh(capsys, "handset", OK, "--url", dead)
    bad_url = await smsh(capsys, "handset", OK, "--url", "127.0.0.1:8081")
    assert unknown == (
        1,
        "",
        "smsh handset: unknown number +819077778888: the simulated network has no subscriber"
        " with this number\n",
    )
    assert bad[0] == 2
    assert bad[2].startswith("smsh handset: bad number '0312345678': landline:")
    assert garbage[0] == 2
    assert "bad number 'not-a-number'" in garbage[2]
    assert not_lookup[0] == 3
    assert "has no handset API" in not_lookup[2]
    assert unreachable[0] == 3
    assert unreachable[2].startswith(f"smsh handset: cannot reach the lookup API at {dead}:")
    assert bad_url[0] == 2
    assert "--url must be http://HOST:PORT" in bad_url[2]


def test_render_shows_every_flag_and_missing_parts() -> None:
    flags = dict.fromkeys(
        ("spoofed", "misdelivered", "quiet_hours", "relabelled", "genuine", "replaced"), False
    )
    view = {
        "number": "09011112222",
        "e164": "+819011112222",
        "known": True,
        "threads": {
            "NTT DOCOMO": {
                "sender": "NTT DOCOMO",
                "has_genuine": True,
                "has_spoof": True,
                "messages": [
                    {
                        "text": "genuine notice",
                        "time": "2026-01-01T09:00:00+09:00",
                        "parts": 1,
                        "missing": [],
                        "account": "docomo",
                        "flags": {**flags, "genuine": True, "incomplete": False},
                    },
                    {
                        "text": "pay here\nhttp://x.example",
                        "time": "2026-01-01T23:30:00.250000+09:00",
                        "parts": 3,
                        "missing": [2],
                        "account": "fraud",
                        "flags": {
                            **flags,
                            "spoofed": True,
                            "quiet_hours": True,
                            "relabelled": True,
                            "misdelivered": True,
                            "incomplete": True,
                        },
                    },
                ],
            }
        },
    }
    lines = render(view)
    assert lines[2] == (
        "== NTT DOCOMO (2 messages)  ! holds spoofed messages, mixed with genuine ones"
    )
    assert lines[3] == "  2026-01-01 09:00:00+09:00  from account docomo  [genuine]"
    assert lines[5] == (
        "  2026-01-01 23:30:00+09:00  3 parts  from account fraud  [SPOOFED] [RELABELLED]"
        " [MISDELIVERED] [QUIET HOURS] [INCOMPLETE (missing part 2)]"
    )
    assert lines[6:] == ["    pay here", "    http://x.example"]
