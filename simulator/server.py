"""The simulated SMSC on TCP: the asyncio shell around the pure core (``simulator.smsc``).

Layering (aiosmtpd's split: the server parses, the handler decides)::

    SimulatorServer / _Connection   this module: listeners (plain, TLS), one asyncio.Protocol
                                    per connection, one loop timer per connection, one global
                                    timer; reads loop time, writes bytes. No protocol branching.
    Smsc (simulator.smsc)           the pure core over all connections, and the ``Handler``
                                    interface the carrier model plugs into; see its docstring
                                    for the theory of operation, session and wire faults.

The shell's part of the contract: it feeds ``Smsc.data`` / ``timer`` / ``lost`` / ``tick`` with
the loop's monotonic time, writes what the core flushes to each connection's sink, pauses
reading a connection whose peer does not read (``write_buffer_high``) and when the core asks
(``LinkSink.set_reading``, a stall fault), and re-arms one global timer at
``Smsc.next_wakeup``. For outbind it also dials out: after each global tick it asks
``Smsc.due_outbinds`` which accounts to connect to, opens those connections (each attempt
bounded by ``connect_timeout_s``), hands each new one to ``Smsc.start_outbind`` and reports a
failed attempt with ``Smsc.outbind_failed``; the core decides when and whether to try.

Every public name of ``simulator.smsc`` is re-exported here (``from simulator.server import
Smsc, Submission, Verdict, ...`` keeps working).

Invariants of this module:

* No protocol decision is made here: every byte written comes from the core.
* Leaving ``stop`` always closes every connection: unbind first, abort after ``grace``; pending
  outbind attempts are cancelled.
* A connection paused for a stall is resumed only when the core says so, and one paused for
  back-pressure only when both conditions are gone.
* While at least one server runs in the process, the cyclic garbage collector's young-generation
  threshold is ``GC_YOUNG_THRESHOLD`` (when it was lower); the last ``stop`` puts back what it
  was, unless someone else changed it meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import socket
import ssl
from typing import Any, Final, cast

from simulator.accounts import AccountBook
from simulator.config import OutbindConfig, SimulatorConfig
from simulator.errors import ServerStateError
from simulator.smsc import (
    ACCEPT,
    AlertOrder,
    FixedFateHandler,
    Handler,
    HandlerEffect,
    Link,
    LinkSink,
    MoOrder,
    ReceiptOrder,
    ServerStats,
    Smsc,
    Submission,
    Verdict,
)
from simulator.store import MessageStore
from sms.alphabet import Encoding
from sms.bus.bus import Bus, Publisher
from sms.clock import Clock
from sms.segments import Method

__all__ = [
    "ACCEPT",
    "AlertOrder",
    "FixedFateHandler",
    "Handler",
    "HandlerEffect",
    "Link",
    "LinkSink",
    "MoOrder",
    "ReceiptOrder",
    "ServerStats",
    "SimulatorServer",
    "Smsc",
    "Submission",
    "Verdict",
]

logger = logging.getLogger("smsh.simulator")

#: Young-generation threshold of the cyclic garbage collector while a server runs. CPython's
#: default, 700 allocations, means a collection every ~25 messages here (each allocates a few
#: dozen objects, nearly all freed by reference counting): about 14 % of the server's CPU at
#: 1 session x window 100 (the core in-process, best of 3: 25.2 -> 21.7 us per message).
GC_YOUNG_THRESHOLD: Final[int] = 50_000


class _Collector:
    """The process-wide collector setting, raised while any server runs (counted)."""

    users = 0
    before: tuple[int, int, int] | None = None

    @classmethod
    def acquire(cls) -> None:
        if cls.users == 0:
            first, second, third = gc.get_threshold()
            if 0 < first < GC_YOUNG_THRESHOLD:  # 0: collection is off; leave it so
                cls.before = (first, second, third)
                gc.set_threshold(GC_YOUNG_THRESHOLD, second, third)
        cls.users += 1

    @classmethod
    def release(cls) -> None:
        cls.users = max(cls.users - 1, 0)
        before = cls.before
        if cls.users == 0 and before is not None:
            cls.before = None
            if gc.get_threshold()[0] == GC_YOUNG_THRESHOLD:
                gc.set_threshold(*before)


# --------------------------------------------------------------------------------------------
# The asyncio shell
# --------------------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: bytes to the core, the core's bytes to the transport."""

    def __init__(self, server: SimulatorServer, outbind: str | None = None) -> None:
        self._server = server
        self._outbind = outbind
        self._loop = server.loop
        self._transport: asyncio.Transport | None = None
        self._link: Link | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._write_paused = False
        self._stalled = False

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        server = self._server
        limits = server.config.limits
        high = limits.write_buffer_high
        transport.set_write_buffer_limits(high=high, low=min(limits.write_buffer_low, high))
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        host, port = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("?", 0)
        link = server.core.connect(host, port, self, self._loop.time())
        if link is None:
            logger.warning("refusing %s:%s: max_connections reached", host, port)
            transport.abort()
            if self._outbind is not None:
                server.core.outbind_failed(self._outbind, self._loop.time())
            return
        self._link = link
        server._connections.add(self)
        if self._outbind is not None:
            server.core.start_outbind(link, self._outbind, self._loop.time())
        self._rearm()

    def data_received(self, data: bytes) -> None:
        link = self._link
        if link is None:
            return
        self._server.core.data(link, data, self._loop.time())
        self._rearm()
        self._server._rearm_global()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._server._connections.discard(self)
        link = self._link
        if link is not None:
            self._server.core.lost(link, self._loop.time())
            self._link = None
        self._server._rearm_global()

    def pause_writing(self) -> None:
        self._write_paused = True
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()
        if self._link is not None:
            self._server.core.set_paused(self._link, True, self._loop.time())

    def resume_writing(self) -> None:
        self._write_paused = False
        transport = self._transport
        if transport is not None and not transport.is_closing() and not self._stalled:
            transport.resume_reading()
        if self._link is not None:
            self._server.core.set_paused(self._link, False, self._loop.time())

    # -- LinkSink --------------------------------------------------------------------------------

    def set_reading(self, reading: bool) -> None:
        """Stop or resume reading the socket (a stall fault); see ``LinkSink.set_reading``."""
        self._stalled = not reading
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if not reading:
            transport.pause_reading()
        elif not self._write_paused:
            transport.resume_reading()

    def flush(self, data: bytes, close: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        if data:
            transport.write(data)
        if close:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            transport.close()
        else:
            self._rearm()

    # -- the connection's timer ------------------------------------------------------------------

    def _rearm(self) -> None:
        link = self._link
        if link is None:
            return
        when = link.session.get_timer()
        if when is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
                self._timer_at = math.inf
            return
        # Keep an earlier timer: it fires, finds nothing due, and re-arms (cheaper than
        # cancelling and re-creating a handle for every PDU).
        if self._timer is not None and self._timer_at <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        link = self._link
        if link is None:
            return
        self._server.core.timer(link, self._loop.time())
        self._rearm()
        self._server._rearm_global()

    def abort(self) -> None:
        """Drop the connection at once (shutdown after the grace period)."""
        if self._transport is not None:
            self._transport.abort()


class SimulatorServer:
    """The simulated SMSC on TCP (and optionally TLS) listeners.

    Example::

        server = SimulatorServer(config)
        await server.start()
        ...
        await server.stop()

    or ``async with simulator.testing.running_simulator(config) as sim: ...``.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        handler: Handler | None = None,
        bus: Bus | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Prepare a server (nothing listens until ``start``).

        Args:
            config: Configuration (default: open mode on 127.0.0.1:2775, receipts on).
            handler: Fate of messages (default: ``FixedFateHandler``).
            bus: Where to publish events (component "simulator", instance ``config.instance``).
            clock: Simulated clock for dates and the handler (default: system clock).
        """
        self.config = config if config is not None else SimulatorConfig()
        self._handler = handler
        self._clock = clock
        self.bus = bus
        """The bus events are published on, if any."""
        self._publisher = Publisher(bus, "simulator", self.config.instance) if bus else None
        self._core: Smsc | None = None
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_Connection] = set()
        self._global: asyncio.TimerHandle | None = None
        self._global_at = math.inf
        self._dialing: set[asyncio.Task[None]] = set()
        self.address: tuple[str, int] | None = None
        """(host, port) of the plain listener once started."""
        self.tls_address: tuple[str, int] | None = None
        """(host, port) of the TLS listener once started, if configured."""

    # -- properties ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._running

    @property
    def core(self) -> Smsc:
        """The pure core (after ``start``; kept after ``stop`` for inspection).

        Raises:
            ServerStateError: Not started.
        """
        if self._core is None:
            raise ServerStateError("the server is not started")
        return self._core

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on (after ``start``).

        Raises:
            ServerStateError: Not started.
        """
        if self._loop is None:
            raise ServerStateError("the server is not started")
        return self._loop

    @property
    def stats(self) -> ServerStats:
        """Counters since start."""
        return self.core.stats

    @property
    def store(self) -> MessageStore:
        """The message store."""
        return self.core.store

    @property
    def accounts(self) -> AccountBook:
        """The accounts."""
        return self.core.accounts

    @property
    def handler(self) -> Handler:
        """The handler deciding message fates."""
        return self.core.handler

    @property
    def clock(self) -> Clock:
        """The simulated clock (the one given, else the core's system clock once started)."""
        if self._clock is not None:
            return self._clock
        return self.core.clock

    def faults_changed(self) -> None:
        """The handler's fault plan changed at runtime: decide every session again now."""
        if self._core is None:
            return
        self._core.faults_changed()
        if self._running:
            self._on_global()

    @property
    def queued_deliveries(self) -> int:
        """Receipts and MO waiting for a receiver."""
        return self.core.queues.total

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        """Listen.

        Args:
            host: Override ``config.host``.
            port: Override ``config.port`` (0 = any free port).

        Raises:
            ServerStateError: Already started.
            OSError: A listener could not bind.
            ssl.SSLError: The TLS certificate or key cannot be loaded.
        """
        if self._running:
            raise ServerStateError("the server is already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        publisher = self._publisher
        self._core = Smsc(
            self.config,
            handler=self._handler,
            clock=self._clock,
            publish=publisher.publish_nowait if publisher is not None else None,
            now=loop.time(),
        )
        bind_host = host if host is not None else self.config.host
        bind_port = port if port is not None else self.config.port
        try:
            plain = await loop.create_server(
                lambda: _Connection(self), bind_host, bind_port, reuse_address=True
            )
            self._servers.append(plain)
            self.address = _bound_address(plain, bind_host)
            tls = self.config.tls
            if tls is not None:
                context = _ssl_context(tls.cert_file, tls.key_file, tls.min_version)
                tls_host = tls.host or bind_host
                secure = await loop.create_server(
                    lambda: _Connection(self),
                    tls_host,
                    tls.port,
                    ssl=context,
                    ssl_handshake_timeout=10.0,
                    reuse_address=True,
                )
                self._servers.append(secure)
                self.tls_address = _bound_address(secure, tls_host)
        except BaseException:
            for server in self._servers:
                server.close()
            self._servers.clear()
            self._core = None
            raise
        self._running = True
        _Collector.acquire()
        self._rearm_global()
        logger.info(
            "simulator listening on %s:%s%s",
            *self.address,
            f" (TLS {self.tls_address[0]}:{self.tls_address[1]})" if self.tls_address else "",
            extra={"event": "smsh.simulator.listening"},
        )

    async def stop(self, grace: float = 2.0) -> None:
        """Stop: close the listeners, unbind every session, wait up to ``grace`` seconds for the
        ESMEs to answer, then drop what is left.

        Args:
            grace: Seconds to wait for unbind_resp.
        """
        if not self._running or self._core is None:
            return
        self._running = False
        _Collector.release()
        for task in list(self._dialing):
            task.cancel()
        for server in self._servers:
            server.close()
        core = self._core
        loop = self.loop
        core.unbind_all(loop.time())
        deadline = loop.time() + grace
        while self._connections and loop.time() < deadline:  # noqa: ASYNC110 - polls a set
            await asyncio.sleep(0.01)
        for connection in list(self._connections):
            connection.abort()
        for server in self._servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(grace):
                    await server.wait_closed()
        self._servers.clear()
        if self._global is not None:
            self._global.cancel()
            self._global = None
        # Let the aborted transports call connection_lost.
        await asyncio.sleep(0)

    async def __aenter__(self) -> SimulatorServer:
        """Start with the configured host and port."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop."""
        await self.stop()

    # -- API ---------------------------------------------------------------------------------

    def inject_mo(
        self,
        account: str,
        source_addr: str,
        destination_addr: str,
        text: str,
        *,
        method: Method | str = Method.UDH8,
        profile: str = "generic",
        encoding: Encoding | None = None,
    ) -> int:
        """Deliver a mobile-originated message to an account's receivers (see ``Smsc.inject_mo``).

        Args:
            account: system_id to deliver to.
            source_addr: The handset.
            destination_addr: The number or short code it was sent to.
            text: The text (split when long).
            method: udh8, udh16, sar or payload.
            profile: Segmentation profile.
            encoding: Force an encoding.

        Returns:
            The number of deliver_sm parts queued.
        """
        parts = self.core.inject_mo(
            account,
            source_addr,
            destination_addr,
            text,
            now=self.loop.time(),
            method=method,
            profile=profile,
            encoding=encoding,
        )
        self._rearm_global()
        return parts

    def wake(self) -> None:
        """Run due work now (after advancing a ``ManualClock``, for example)."""
        self._on_global()

    # -- the global timer --------------------------------------------------------------------

    def _rearm_global(self) -> None:
        core = self._core
        if core is None or not self._running:
            return
        loop = self.loop
        when = core.next_wakeup(loop.time())
        if self._global is not None and self._global_at <= when + 1e-4:
            return
        if self._global is not None:
            self._global.cancel()
        self._global_at = when
        self._global = loop.call_at(when, self._on_global)

    def _on_global(self) -> None:
        if self._global is not None:
            self._global.cancel()
        self._global = None
        self._global_at = math.inf
        core = self._core
        if core is None or not self._running:
            return
        core.tick(self.loop.time())
        if core.outbinds_waiting:
            self._dial_outbinds(core)
        self._rearm_global()

    # -- outbind (SMPP 3.4 §4.1.7): connect out when deliveries wait and nothing receives ------

    def _dial_outbinds(self, core: Smsc) -> None:
        loop = self.loop
        for account_id, target in core.due_outbinds(loop.time()):
            task = loop.create_task(self._dial(account_id, target))
            self._dialing.add(task)
            task.add_done_callback(self._dialing.discard)

    async def _dial(self, account_id: str, target: OutbindConfig) -> None:
        loop = self.loop
        try:
            async with asyncio.timeout(target.connect_timeout_s):
                await loop.create_connection(
                    lambda: _Connection(self, outbind=account_id), target.host, target.port
                )
        except (OSError, TimeoutError) as exc:
            logger.info(
                "outbind to %s:%s for %s failed: %s",
                target.host,
                target.port,
                account_id,
                exc,
                extra={"event": "smsh.simulator.outbind_failed"},
            )
            if self._core is not None:
                self._core.outbind_failed(account_id, loop.time())
                self._rearm_global()


def _bound_address(server: asyncio.AbstractServer, host: str) -> tuple[str, int]:
    sockets = getattr(server, "sockets", None) or ()
    for sock in sockets:
        name = sock.getsockname()
        return str(name[0]), int(name[1])
    return host, 0


def _ssl_context(cert_file: Any, key_file: Any, min_version: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if min_version == "1.3" else ssl.TLSVersion.TLSv1_2
    )
    context.load_cert_chain(str(cert_file), str(key_file))
    return context
