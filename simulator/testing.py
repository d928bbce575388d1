"""Run a real simulated SMSC inside a test (aiosmtpd's Controller, as an async context manager).

Example, in a user's pytest suite::

    from simulator.testing import running_simulator

    async def test_my_esme() -> None:
        async with running_simulator({"receipts": {"delay_s": 0.1}}) as sim:
            await my_esme.connect(sim.host, sim.port)
            ...
            assert sim.server.stats.accepted == 1
            record = sim.server.store.get(message_id)
            sim.server.inject_mo("my_system_id", "819012345678", "12345", "STOP")

Invariants of this module:

* The server listens on ``host`` (loopback by default) and port 0 (a free port) unless told
  otherwise; ``sim.port`` is the port actually bound.
* Leaving the block always stops the server (unbinds the sessions, closes every connection),
  also when the block raised.
* Nothing here is test-only behaviour: the server is the same ``SimulatorServer`` that
  ``smsh simulator`` runs.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from simulator.config import SimulatorConfig, config_from_mapping, load_config
from simulator.server import Handler, SimulatorServer
from simulator.smpp.codec import decode, encode
from simulator.smpp.constants import SEQUENCE_NUMBER_MAX
from simulator.smpp.errors import SmppProtocolError
from simulator.smpp.framing import Framer
from simulator.smpp.pdu import (
    BindReceiver,
    BindRequest,
    BindResponse,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Pdu,
    Request,
    Response,
)
from sms.bus.bus import Bus
from sms.clock import Clock

__all__ = ["RunningSimulator", "SmppTestClient", "running_simulator"]

_P = TypeVar("_P", bound=Pdu)


@dataclass(frozen=True, slots=True)
class RunningSimulator:
    """A started simulator: where it listens, and the server object."""

    host: str
    """Address of the plain listener."""
    port: int
    """Port of the plain listener."""
    server: SimulatorServer
    """The server: ``stats``, ``store``, ``accounts``, ``inject_mo``, ``wake``, ``core``."""
    tls_port: int | None = None
    """Port of the TLS listener, when configured."""


def _config(config: SimulatorConfig | Mapping[str, Any] | str | Path | None) -> SimulatorConfig:
    if config is None:
        return SimulatorConfig()
    if isinstance(config, SimulatorConfig):
        return config
    if isinstance(config, str | Path):
        return load_config(config)
    return config_from_mapping(dict(config))


@asynccontextmanager
async def running_simulator(
    config: SimulatorConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    bus: Bus | None = None,
    clock: Clock | None = None,
    handler: Handler | None = None,
    stop_grace: float = 2.0,
) -> AsyncIterator[RunningSimulator]:
    """Start a simulator for the duration of an ``async with`` block.

    Args:
        config: A ``SimulatorConfig``, a mapping in the YAML layout, a YAML file path, or None
            for open mode (any system_id/password binds, receipts on).
        host: Address to listen on.
        port: Port (0 = any free port).
        bus: Publish events on this bus (component "simulator").
        clock: Simulated clock for receipt dates and the handler (default: system clock).
        handler: Decides message fates (default: ``FixedFateHandler``, DELIVRD after
            ``receipts.delay_s``).
        stop_grace: Seconds the stop waits for ESMEs to answer unbind before dropping them.

    Yields:
        The running simulator.

    Raises:
        simulator.errors.ConfigError: The configuration is invalid.
        OSError: The port cannot be bound.
    """
    server = SimulatorServer(_config(config), handler=handler, bus=bus, clock=clock)
    await server.start(host=host, port=port)
    try:
        address = server.address
        assert address is not None
        yield RunningSimulator(
            host=address[0],
            port=address[1],
            server=server,
            tls_port=server.tls_address[1] if server.tls_address is not None else None,
        )
    finally:
        await server.stop(grace=stop_grace)


_BIND_CLASSES: dict[str, type[BindRequest]] = {
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
    "transceiver": BindTransceiver,
}


class SmppTestClient:
    """A deliberately simple SMPP peer for tests: send PDUs or crafted octets, read what comes.

    It does nothing behind the caller's back (no automatic answers, no keep-alive), so a test
    sees every octet the server sends; ``answer_deliveries`` and ``request`` are conveniences.
    Frames are split with the same bounded ``Framer`` the server uses (at most 1 MiB per PDU, so
    a broken server cannot make a test allocate without bound either).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wrap an open stream pair (use ``connect``).

        Args:
            reader: The stream reader.
            writer: The stream writer.
        """
        self.reader = reader
        """The stream reader."""
        self.writer = writer
        """The stream writer."""
        self._framer = Framer(1 << 20)
        self._frames: deque[bytes] = deque()
        self._seq = 0
        self.eof = False
        """True once the server closed the connection."""
        self.unsolicited: list[Pdu] = []
        """PDUs ``request`` and ``deliveries`` read past (answered when they were requests)."""

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        within: float = 5.0,
    ) -> SmppTestClient:
        """Open a connection.

        Args:
            host: Server address.
            port: Server port.
            ssl_context: TLS context (pin the server certificate in it).
            server_hostname: Name to verify the certificate against.
            within: Seconds to wait.

        Returns:
            The client.
        """
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl_context, server_hostname=server_hostname
            )
        return cls(reader, writer)

    def next_sequence(self) -> int:
        """The next sequence number (1..0x7FFFFFFF, then 1 again)."""
        self._seq = self._seq % SEQUENCE_NUMBER_MAX + 1
        return self._seq

    def send_bytes(self, data: bytes) -> None:
        """Write octets as they are (crafted or broken PDUs).

        Args:
            data: The octets.
        """
        self.writer.write(data)

    def send(self, pdu: Pdu) -> int:
        """Encode and write a PDU; a request with sequence_number 0 gets the next number.

        Args:
            pdu: The PDU.

        Returns:
            Its sequence number.
        """
        if isinstance(pdu, Request) and pdu.sequence_number == 0:
            pdu.sequence_number = self.next_sequence()
        self.writer.write(encode(pdu))
        return pdu.sequence_number

    async def read_frame(self, within: float = 5.0) -> bytes | None:
        """Read one whole PDU as octets.

        Args:
            within: Seconds to wait.

        Returns:
            The frame, or None when the server closed the connection.

        Raises:
            TimeoutError: Nothing complete arrived in time.
        """
        async with asyncio.timeout(within):
            while not self._frames:
                frame = self._framer.next_frame()
                if frame is not None:
                    self._frames.append(frame)
                    break
                if self.eof:
                    return None
                data = await self.reader.read(65536)
                if not data:
                    self.eof = True
                    continue
                self._framer.feed(data)
        return self._frames.popleft()

    async def read(self, within: float = 5.0) -> Pdu | None:
        """Read and decode one PDU.

        Args:
            within: Seconds to wait.

        Returns:
            The PDU, or None when the server closed the connection.

        Raises:
            TimeoutError: Nothing complete arrived in time.
            SmppProtocolError: The server sent something undecodable.
        """
        frame = await self.read_frame(within)
        return None if frame is None else decode(frame)

    async def expect(self, kind: type[_P], within: float = 5.0) -> _P:
        """Read the next PDU and check its type.

        Args:
            kind: The expected class.
            within: Seconds to wait.

        Returns:
            The PDU.

        Raises:
            AssertionError: Something else (or nothing) came.
        """
        pdu = await self.read(within)
        if not isinstance(pdu, kind):
            raise AssertionError(f"expected {kind.__name__}, got {pdu!r}")
        return pdu

    async def request(self, pdu: Request, within: float = 5.0) -> Response:
        """Send a request and read until its response, answering deliver_sm and enquire_link
        that arrive meanwhile (they are kept in ``unsolicited``).

        Args:
            pdu: The request.
            within: Seconds to wait.

        Returns:
            The response (or generic_nack) with the request's sequence number.

        Raises:
            AssertionError: The connection closed first.
        """
        seq = self.send(pdu)
        async with asyncio.timeout(within):
            while True:
                got = await self.read(within)
                if got is None:
                    raise AssertionError(f"connection closed before the answer to {pdu!r}")
                if isinstance(got, Response) and got.sequence_number == seq:
                    return got
                self._auto_answer(got)

    def _auto_answer(self, pdu: Pdu) -> None:
        self.unsolicited.append(pdu)
        if isinstance(pdu, DeliverSm):
            self.send(DeliverSmResp(pdu.sequence_number))
        elif isinstance(pdu, EnquireLink):
            self.send(EnquireLinkResp(pdu.sequence_number))

    async def bind(
        self,
        system_id: str = "esme",
        password: str = "pw",
        mode: str = "transceiver",
        *,
        interface_version: int = 0x34,
        within: float = 5.0,
    ) -> BindResponse:
        """Bind.

        Args:
            system_id: system_id.
            password: password.
            mode: transmitter, receiver or transceiver.
            interface_version: 0x34, or 0x50 to bind as an SMPP 5.0 peer.
            within: Seconds to wait.

        Returns:
            The bind response (check its command_status).
        """
        request = _BIND_CLASSES[mode](
            system_id=system_id, password=password, interface_version=interface_version
        )
        response = await self.request(request, within)
        assert isinstance(response, BindResponse), response
        return response

    async def deliveries(self, count: int, within: float = 5.0) -> list[DeliverSm]:
        """Read until ``count`` deliver_sm arrived, answering each with ESME_ROK.

        Args:
            count: How many to wait for.
            within: Seconds to wait in all.

        Returns:
            The deliver_sm PDUs in arrival order.
        """
        out: list[DeliverSm] = []
        async with asyncio.timeout(within):
            while len(out) < count:
                pdu = await self.read(within)
                if pdu is None:
                    raise AssertionError(f"connection closed after {len(out)} deliveries")
                self._auto_answer(pdu)
                if isinstance(pdu, DeliverSm):
                    out.append(pdu)
        return out

    async def closed(self, within: float = 5.0) -> bool:
        """Wait for the server to close the connection, discarding what it sends.

        Args:
            within: Seconds to wait.

        Returns:
            True if it closed in time.
        """
        try:
            async with asyncio.timeout(within):
                while await self.read_frame(within) is not None:
                    pass
        except (TimeoutError, SmppProtocolError):
            return False
        except (ConnectionError, OSError):
            return True
        return True

    async def close(self) -> None:
        """Close the connection (without unbinding)."""
        self.writer.close()
        try:
            async with asyncio.timeout(2):
                await self.writer.wait_closed()
        except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass
