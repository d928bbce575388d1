"""The message store's writer in a child process (``MessageStore(..., writer="process")``).

Why: the writer thread's SQL work (~80 us of CPU per message under load) and the event loop
take turns on one GIL, so the gateway process uses one core. In a child process with its own
interpreter the writer runs on another core, and the loop keeps its GIL for the protocol work.

Theory of operation
-------------------
* A writer process is a fresh interpreter, never a fork of the threaded asyncio parent: the
  parent starts one *zygote* (``python -c`` running `zygote`; single-threaded, `gateway.store`
  imported, no database open) at the first open, and each store's writer is a fork of it
  (`_Zygote`: ~10 ms instead of a ~0.1 s Python start-up per store; no re-import of the
  parent's ``__main__``). Without pidfds (not Linux) each writer is started with ``python
  -c`` running `main`. The parent talks to its writer over one ``socketpair``: messages
  are length-prefixed as `multiprocessing.connection.Connection` writes them (the child
  uses one; the parent frames and parses them itself, `_frame` and `_Frames`, because it
  reads without blocking). The first message carries the settings; the writer opens the
  write connection (`gateway.store._open_writer`: WAL, schema, migration) and answers
  ``("ready", None)`` or ``("error", exception)``, which the constructor raises.
* An op is data: ``(fn, args)``, a module-level function and picklable arguments (see
  `gateway.store._Op`). `ProcessWriter.submit` packs the ops it is given into one message
  (their count, then one pickle of their ``(fn, args)``), appends the ops to the *sent* FIFO
  and writes the message, under one lock, so the FIFO and the byte stream have the same
  order. Who waits (futures, loops, callbacks) never leaves the parent. A message the child
  cannot unpickle (e.g. a function of the parent's ``__main__``) is answered op by op with a
  `StoreError`, so the FIFO stays aligned.
* The child runs the same group-commit engine as the writer thread
  (`gateway.store._Batches`), fed from the socket instead of a queue: it takes every message
  already waiting (up to ``max_batch`` ops, after ``linger``) into one transaction, and after
  each COMMIT sends one message back: the ops' ``(ok, value-or-error)`` in order, the writer
  counters, and ``picked``. ``picked`` is None when the message answers the next ops in
  order; when a batch's responses went first (`gateway.store._Batches`) it is ``(n,
  picks)``: the message answers ``picks`` (positions) among the next ``n`` ops, and a later
  message answers the others, in order. Errors are the gateway's exception types, which
  pickle with their attributes (`gateway.errors`); a result that does not pickle comes back
  as a `StoreError` saying so.
* Who reads the answers. The *home loop* does: the first event loop that submits ops from
  its own thread (`ProcessWriter.submit` from `gateway.store.MessageStore`'s end-of-pass
  flush) registers the socket with ``loop.add_reader``; a later loop takes over only once
  the home loop is closed. When readable, the home loop reads what the socket holds
  without blocking (``MSG_DONTWAIT``), keeps the bytes of an unfinished message for the next
  read, and for each whole message takes the ops it answers (first those *held*: sent, and
  passed over by a picked message; then from the sent FIFO) and settles them
  (`gateway.store._deliver` with ``keep``): its own ops right there on its thread, with no
  ``call_soon_threadsafe`` and no wake-up; sync futures at once; other loops' ops with one
  ``call_soon_threadsafe`` per loop per message.
* The *reader thread* reads (the same way, after ``poll``) only while the home loop may not:
  while an op is pending that no home loop waits for (``_Op.by_thread``: a sync op, from any
  thread, the loop's own included, where the loop is blocked in the call; an op of another
  loop; any op while there is no home loop, e.g. no ``add_reader``), while a send waits
  for room in the socket (the sender may be the home loop, and the child may be waiting
  for us to read its answers before it reads on), and from `close` until EOF. Else it
  sleeps on a condition. The home loop's ops it reads go to an inbox that the home loop
  drains on its thread (one ``call_soon_threadsafe``), as the home loop's own reads do
  first, so each loop sees its answers in order. One lock lets one reader at a time read
  and settle; whoever reads settles everything it read, so a sync caller is answered
  whichever reads first, and nobody waits for a loop that is not running.

Stopping and crashes
--------------------
* `ProcessWriter.close` sends the stop message after everything queued; the child runs what
  it has, checkpoints the WAL, closes the database and exits; the reader thread reads up
  to EOF; `close` joins both. The home loop's callbacks of what was answered meanwhile run
  on that loop later (as ever). The socket is unregistered from the home loop on its own
  thread: by `close` when called there, else by the home loop (when it reads EOF, or by
  a callback `close` schedules), which then closes it; when the home loop is closed, its
  selector is gone and `close` closes the socket.
* The parent dies (even kill -9): the kernel closes its end of the socket; the child reads
  EOF at its next read (it reads between batches, so at most one batch later), stops and
  exits (without the TRUNCATE checkpoint, which would hold the write lock while it waited
  for a restarted parent's readers); the zygote reads EOF on its control socket and exits
  too. What the child committed is committed; the callers that waited are gone with the
  parent. A new parent can open the file at once: SQLite's busy timeout covers a child that
  is still finishing its last COMMIT. The child and the zygote ignore SIGINT and SIGTERM:
  a Ctrl-C in a terminal reaches the whole process group, and the parent's orderly close
  still needs the writer.
* The child dies (or its socket breaks): whoever reads next sees EOF (a partial message is
  dropped), marks the writer closed and fails every op sent and not answered with
  `StoreClosedError`; later submits raise it at once. Nobody hangs: a sync caller's op
  keeps the reader thread reading, and a loop's ops are read by that loop or the thread.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import copyreg
import dataclasses
import io
import logging
import operator
import os
import pickle
import queue
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, Protocol

import gateway.store
from gateway.errors import StoreClosedError, StoreError
from gateway.store import (
    _STOP,
    WriterStats,
    _Batches,
    _close_writer,
    _deliver,
    _fail,
    _Item,
    _Op,
    _open_writer,
    _settle,
)

log = logging.getLogger("smsh.gateway.store")

_PROTOCOL: Final[int] = pickle.HIGHEST_PROTOCOL
#: Seconds the child may take to start and open the database.
START_TIMEOUT: Final[float] = 60.0
#: Seconds `ProcessWriter.close` waits for the child to exit after its socket closed.
EXIT_TIMEOUT: Final[float] = 30.0
#: The op count that starts each message of ops (an empty message is the stop message).
_COUNT: Final = struct.Struct("=I")
#: The pid the zygote answers (-1: a malformed request).
_PID: Final = struct.Struct("=q")
#: The zygote's and the directly started writer's commands: put the parent's source root
#: first on sys.path (the child runs the same code as the parent), then run `zygote` or
#: `main` on the inherited socket.
_ZYGOTE_BOOT: Final[str] = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from gateway.storeproc import zygote; zygote(int(sys.argv[2]))"
)
_BOOT: Final[str] = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from gateway.storeproc import main; main(int(sys.argv[2]))"
)


class ProcessWriter:
    """The parent side of the writer process (same interface as `gateway.store._Writer`).

    Args:
        path: Database file.
        synchronous: ``"FULL"`` or ``"NORMAL"``.
        max_batch: Most ops per transaction.
        linger: Seconds the child waits for more ops after the first of a batch.
        cache_kib: SQLite page cache of the write connection, in KiB.

    Raises:
        StoreError: The child could not start, or could not open the database (the child's
            error, e.g. an unknown schema version).
        sqlite3.Error: The child's SQLite error while opening the database.
    """

    def __init__(
        self,
        path: str,
        *,
        synchronous: str,
        max_batch: int,
        linger: float,
        cache_kib: int,
    ) -> None:
        self._proc, self._sock = _start()
        try:
            self._handshake(path, synchronous, max_batch, linger, cache_kib)
        except BaseException:
            self._sock.close()
            self._reap()
            raise
        self._fd = self._sock.fileno()
        # Sending: the sent FIFO and the byte stream in one order.
        self._send_lock = threading.Lock()
        self._closed = False
        self._sent: collections.deque[_Op] = collections.deque()
        # Reading: one reader at a time (the home loop, the reader thread).
        self._read_lock = threading.Lock()
        self._frames = _Frames()
        self._held: collections.deque[_Op] = collections.deque()
        self._eof = False
        self._home: asyncio.AbstractEventLoop | None = None
        self._inbox: collections.deque[list[_Item]] = collections.deque()
        self._drain_due = False
        # When the reader thread reads (short critical sections only).
        self._state = threading.Condition(threading.Lock())
        self._by_thread = 0
        self._blocked_sends = 0
        self._closing = False
        self._registered: asyncio.AbstractEventLoop | None = None
        """The loop the socket is registered with (``add_reader``), under `_state`."""
        self._stats = WriterStats(0, 0, 0, 0, 0)
        self._reader = threading.Thread(
            target=self._read, name="smsh-store-writer-reader", daemon=True
        )
        self._reader.start()

    def _handshake(
        self, path: str, synchronous: str, max_batch: int, linger: float, cache_kib: int
    ) -> None:
        settings = {
            "path": path,
            "synchronous": synchronous,
            "max_batch": max_batch,
            "linger": linger,
            "cache_kib": cache_kib,
        }
        try:
            self._sock.sendall(_frame(pickle.dumps(settings, _PROTOCOL)))
            if not select.select([self._sock], [], [], START_TIMEOUT)[0]:
                raise StoreError(f"the store writer process did not start in {START_TIMEOUT} s")
            kind, payload = pickle.loads(_recv_message(self._sock))
        except (EOFError, OSError) as exc:
            self._reap()
            raise StoreError(
                f"the store writer process (pid {self._proc.pid}) stopped while opening {path}"
            ) from exc
        if kind != "ready":
            assert isinstance(payload, BaseException)
            raise payload

    def _reap(self) -> None:
        """Wait for the child to exit (kill it when it does not)."""
        if not self._proc.wait(EXIT_TIMEOUT):
            log.error("smsh.gateway.store.writer_process_killed", extra={"pid": self._proc.pid})
            self._proc.kill()
            self._proc.wait(EXIT_TIMEOUT)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._proc.pid

    @property
    def closed(self) -> bool:
        """True once closed (or the child stopped): `submit` raises `StoreClosedError`."""
        return self._closed

    @property
    def home(self) -> asyncio.AbstractEventLoop | None:
        """The loop that reads the child's answers itself (None: the reader thread does)."""
        return self._home

    def stats(self) -> WriterStats:
        """The child's group-commit counters, as of its last answered batch."""
        return self._stats

    def submit(self, op: _Op | list[_Op]) -> None:
        """Send one op, or a list of ops that enter the same or consecutive batches in order.

        Called on a loop's thread with ops of that loop, it makes that loop the home loop
        when there is none yet (or the home loop is closed).

        Raises:
            StoreClosedError: The writer is closed or its process stopped.
        """
        if self._closed:
            raise StoreClosedError("the message store is closed")
        ops = op if isinstance(op, list) else [op]
        data, ops = _pack(ops)
        if not ops:
            return
        home = self._home
        loop = ops[0].loop
        if (
            loop is not None
            and loop is not home
            and (home is None or home.is_closed())
            and asyncio._get_running_loop() is loop
        ):
            self._attach(loop)
            home = self._home
        remote = ops if home is None else [o for o in ops if o.loop is not home]
        for o in remote:
            o.by_thread = True
        with self._send_lock:
            if self._closed:
                raise StoreClosedError("the message store is closed")
            self._sent.extend(ops)
            if remote:
                with self._state:
                    self._by_thread += len(remote)
                    self._state.notify()
            self._send(data)

    def _send(self, data: bytes) -> None:
        """Write one message (under `_send_lock`). When the socket is full, the reader
        thread reads while we wait: the child may be waiting for us to read its answers
        before it reads our ops, and the home loop may be the thread that waits here."""
        try:
            done = self._sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            done = 0
        except OSError:
            # The child is gone: whoever reads sees EOF and fails every op sent.
            log.debug("smsh.gateway.store.writer_process_send_failed", exc_info=True)
            return
        if done == len(data):
            return
        with self._state:
            self._blocked_sends += 1
            self._state.notify()
        try:
            self._sock.sendall(memoryview(data)[done:])
        except OSError:
            log.debug("smsh.gateway.store.writer_process_send_failed", exc_info=True)
        finally:
            with self._state:
                self._blocked_sends -= 1

    def close(self) -> None:
        """Run what was sent, stop the child (it checkpoints the WAL) and join it. What the
        child answers meanwhile is read by the reader thread (this thread may be the home
        loop's); the home loop's callbacks run on it later, as ever."""
        with self._state:
            if self._closing:
                return
            self._closing = True
            self._state.notify()
        with self._send_lock:
            if not self._closed:
                self._closed = True
                try:
                    self._sock.sendall(_frame(b""))  # stop
                except OSError:  # already gone: the reader fails what was sent
                    log.debug("smsh.gateway.store.writer_process_stop_failed", exc_info=True)
        self._reader.join()
        # EOF is read; a child not asked to stop (a reader gave up) now reads EOF too.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._reap()
        with self._state:
            loop = self._registered
            if loop is not None and not loop.is_closed():
                if asyncio._get_running_loop() is not loop:
                    # Only that loop may unregister the socket: it closes it after.
                    try:
                        loop.call_soon_threadsafe(self._unregister, True)
                    except RuntimeError:  # closed meanwhile: its selector is gone
                        pass
                    else:
                        return
                loop.remove_reader(self._fd)
            self._registered = None
        self._sock.close()

    # -- reading -------------------------------------------------------------------------

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make `loop` (running on this thread) the home loop: it reads the socket when
        readable. Where it cannot (no ``add_reader``), the reader thread stays the reader."""
        with self._read_lock:
            if self._eof:
                return
            with self._state:
                old = self._registered
                if old is not None and not old.is_closed():
                    return  # registered with a live loop (a racing attach)
                try:
                    loop.add_reader(self._fd, self._on_readable)
                except (NotImplementedError, RuntimeError):
                    log.debug("smsh.gateway.store.no_add_reader", exc_info=True)
                    return
                self._registered = loop
            self._home = loop
            self._inbox.clear()  # items of a closed home loop: nobody waits for them
            self._drain_due = False

    def _on_readable(self) -> None:
        """The home loop's reader callback: read what came, settle this loop's ops here."""
        self._pump()
        if self._inbox:
            self._drain()
        if self._eof:
            self._unregister(False)

    def _unregister(self, close: bool) -> None:
        """On the home loop: remove the reader (and close the socket, for `close`)."""
        with self._state:
            loop = self._registered
            if loop is not None:
                self._registered = None
                if not loop.is_closed():
                    loop.remove_reader(self._fd)
        if close:
            self._sock.close()

    def _drain(self) -> None:
        """Settle the home loop's items, in the order they were read (on its thread)."""
        self._drain_due = False
        inbox = self._inbox
        while inbox:
            _settle(inbox.popleft())

    def _read(self) -> None:
        """The reader thread: read while an op that no loop reads for is pending, a send
        waits for room, or `close` waits for EOF; exit at EOF."""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        state = self._state
        try:
            while True:
                with state:
                    while not (
                        self._eof or self._by_thread or self._blocked_sends or self._closing
                    ):
                        state.wait()
                if self._eof:
                    return
                poller.poll()
                self._pump()
                home = self._home
                if self._inbox and home is not None and not self._drain_due:
                    self._drain_due = True
                    try:
                        home.call_soon_threadsafe(self._drain)
                    except RuntimeError:  # the home loop is closed: nobody waits
                        self._inbox.clear()
        except BaseException:  # pragma: no cover - defensive: keep callers from hanging
            log.exception("smsh.gateway.store.writer_reader_crashed")
            with self._read_lock:
                self._at_eof()

    def _pump(self) -> None:
        """Read what the socket holds (never blocks) and settle each whole message: the
        home loop's items go to the inbox (`_drain`), the others to their callers."""
        with self._read_lock:
            if self._eof:
                return
            sock, frames = self._sock, self._frames
            while True:
                try:
                    data = sock.recv(_CHUNK, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    data = b""  # e.g. ECONNRESET: the child is gone
                if not data:
                    self._at_eof()  # a partial message left is lost with the child
                    return
                try:
                    for message in frames.feed(data):
                        self._answer(message)
                except Exception:  # defensive: keep callers from hanging
                    log.exception("smsh.gateway.store.writer_answer_unreadable")
                    self._at_eof()  # the FIFO is out of step with the child: give up
                    return
                if len(data) < _CHUNK:
                    return

    def _answer(self, message: memoryview) -> None:
        """Settle the ops one message answers (under `_read_lock`). A message answers the
        next ops in order, or (``picked``: a batch whose responses went first) some of the
        next ``n``; the others wait in `_held`, ahead of the sent FIFO, for the message that
        answers them."""
        results, counters, picked = pickle.loads(message)
        self._stats = WriterStats(*counters)
        held, sent = self._held, self._sent
        n = len(results) if picked is None else picked[0]
        if held:
            ops = [held.popleft() for _ in range(min(n, len(held)))]
            ops.extend([sent.popleft() for _ in range(n - len(ops))])
        else:
            ops = [sent.popleft() for _ in range(n)]
        if picked is None:
            batch = ops
        else:
            picks = picked[1]
            batch = [ops[i] for i in picks]
            chosen = set(picks)
            held.extendleft(reversed([op for i, op in enumerate(ops) if i not in chosen]))
        by_thread = 0
        for target, (ok, value) in zip(batch, results, strict=True):
            if ok:
                target.ok, target.value = True, value
            else:
                target.ok, target.error = False, value
            by_thread += target.by_thread
        if by_thread:
            with self._state:
                self._by_thread -= by_thread
        kept = _deliver(batch, self._home)
        if kept:
            self._inbox.append(kept)

    def _at_eof(self) -> None:
        """The child closed its end (asked to, or not; under `_read_lock`): fail every op
        sent and not answered with `StoreClosedError`; later submits raise it."""
        self._eof = True
        with self._send_lock:
            self._closed = True
            pending = [*self._held, *self._sent]
            self._held.clear()
            self._sent.clear()
        with self._state:
            asked = self._closing
            self._by_thread = 0
            self._state.notify_all()
        if not asked or pending:
            pid = self._proc.pid
            log.error(
                "smsh.gateway.store.writer_process_stopped",
                extra={"pid": pid, "pending": len(pending)},
            )
            error = StoreClosedError(f"the store writer process (pid {pid}) stopped")
            kept = _fail(pending, error, self._home)
            if kept:
                self._inbox.append(kept)


#: Bytes asked of the socket per read (below malloc's mmap threshold).
_CHUNK: Final[int] = 65536
#: The length prefix of a message, as `multiprocessing.connection.Connection` writes it (the
#: child's side): a signed 32-bit big-endian length, or -1 and an unsigned 64-bit length.
_LENGTH: Final = struct.Struct("!i")
_LONG_LENGTH: Final = struct.Struct("!Q")


def _frame(data: bytes) -> bytes:
    """`data` with its length prefix (`_LENGTH`)."""
    if len(data) > 0x7FFFFFFF:
        return _LENGTH.pack(-1) + _LONG_LENGTH.pack(len(data)) + data
    return _LENGTH.pack(len(data)) + data


class _Frames:
    """Whole messages out of a byte stream (sans I/O): `feed` what a read gave, get the
    messages it completed; the bytes of an unfinished one wait for the next `feed` (kept as
    chunks and joined once the message is whole: a large message costs linear time)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._have = 0
        self._need = 0
        """Bytes the first unfinished message needs with its prefix (0: not known yet)."""

    @property
    def pending(self) -> int:
        """Bytes of an unfinished message held."""
        return self._have

    def feed(self, data: bytes) -> list[memoryview]:
        """The messages `data` completes (views of it; empty if none)."""
        if self._chunks:
            self._chunks.append(data)
            self._have += len(data)
            if self._need == 0:
                self._need = _needed(b"".join(self._chunks)[:12])
            if self._need == 0 or self._have < self._need:
                return []
            data = b"".join(self._chunks)
            self._chunks.clear()
            self._have = self._need = 0
        view = memoryview(data)
        end = len(data)
        pos = 0
        need = 0
        out: list[memoryview] = []
        while end - pos >= 4:
            (size,) = _LENGTH.unpack_from(data, pos)
            head = 4
            if size < 0:
                if end - pos < 12:
                    break
                (size,) = _LONG_LENGTH.unpack_from(data, pos + 4)
                head = 12
            if end - pos < head + size:
                need = head + size
                break
            out.append(view[pos + head : pos + head + size])
            pos += head + size
        if pos < end:
            self._chunks.append(data[pos:])
            self._have, self._need = end - pos, need
        return out


def _needed(head: bytes | memoryview) -> int:
    """Bytes of a whole message with its prefix, from its first (up to 12) bytes; 0 while
    the prefix itself is not whole."""
    if len(head) < 4:
        return 0
    (size,) = _LENGTH.unpack_from(head)
    if size >= 0:
        return 4 + int(size)
    if len(head) < 12:
        return 0
    (size,) = _LONG_LENGTH.unpack_from(head, 4)
    return 12 + int(size)


def _recv_message(sock: socket.socket) -> memoryview:
    """Read one whole message (blocking; the handshake's answer, the only one in flight).

    Raises:
        EOFError: The socket closed first.
    """
    frames = _Frames()
    while True:
        data = sock.recv(_CHUNK)
        if not data:
            raise EOFError("the store writer process closed its socket")
        messages = frames.feed(data)
        if messages:
            return messages[0]


def _spawn() -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start a writer process (it boots, then waits for its settings on the socket)."""
    mine, theirs = socket.socketpair()
    try:
        proc = _boot(_BOOT, theirs, "the store writer process")
    except StoreError:
        mine.close()
        raise
    return proc, mine


def _boot(code: str, theirs: socket.socket, what: str) -> subprocess.Popen[bytes]:
    """``python -c code ROOT FD`` with `theirs` as the inherited socket FD; our copy of it is
    closed either way (the child has its own: EOF reaches us when it exits)."""
    child_fd = theirs.detach()
    root = str(Path(__file__).resolve().parents[1])
    try:
        return subprocess.Popen(
            [sys.executable, "-c", code, root, str(child_fd)],
            pass_fds=(child_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise StoreError(f"cannot start {what}: {exc}") from exc
    finally:
        os.close(child_fd)


class _Process(Protocol):
    """A writer process, started directly (`_Spawned`) or forked by the zygote (`_Forked`)."""

    @property
    def pid(self) -> int: ...

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the process to exit; True once it has."""
        ...

    def kill(self) -> None:
        """SIGKILL it."""
        ...


class _Spawned:
    """A writer process that is our child (`subprocess.Popen`)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait(self, timeout: float) -> bool:
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        self._proc.kill()


class _Forked:
    """A writer process forked by the zygote (not our child): its exit is watched with a
    pidfd; the zygote's kernel-side reaping (SIGCHLD ignored) leaves no zombie."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._fd: int | None
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._fd = None  # already gone

    @property
    def pid(self) -> int:
        return self._pid

    def wait(self, timeout: float) -> bool:
        if self._fd is None:
            return True
        if not select.select([self._fd], [], [], timeout)[0]:
            return False
        os.close(self._fd)
        self._fd = None
        return True

    def kill(self) -> None:
        if self._fd is not None:
            signal.pidfd_send_signal(self._fd, signal.SIGKILL)


class _Zygote:
    """A booted process that forks writer processes on request.

    Starting a writer with ``python -c`` costs a Python start-up and the imports (~0.1 s); a
    process that opens many stores (tests, tools) pays it once here: the zygote (started at
    the first open, single-threaded, `gateway.store` imported, no database open) receives the
    writer's socket over its control socket (SCM_RIGHTS), forks, and answers the pid; the
    fork runs `main`. The zygote exits on EOF of its control socket: at this process's exit
    (`stop`, registered with atexit) or death. It ignores SIGCHLD, so the kernel reaps the
    writers; a writer whose zygote is gone is reaped by init."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None

    def fork(self) -> tuple[_Process, socket.socket]:
        """A new writer process and our end of its socket.

        Raises:
            StoreError: The zygote cannot be started or does not answer (after one restart).
        """
        with self._lock:
            for _attempt in range(2):
                if self._sock is None or self._owner != os.getpid():
                    self._boot()
                assert self._sock is not None
                mine, theirs = socket.socketpair()
                try:
                    socket.send_fds(self._sock, [b"w"], [theirs.fileno()])
                    reply = self._sock.recv(16)
                except OSError:
                    reply = b""
                finally:
                    theirs.close()
                if len(reply) == _PID.size and (pid := _PID.unpack(reply)[0]) > 0:
                    return _Forked(pid), mine
                mine.close()
                log.warning("smsh.gateway.store.zygote_restarted")
                self._halt()
            raise StoreError("the store writer zygote does not answer")

    def stop(self) -> None:
        """Let the zygote go (EOF) and reap it."""
        with self._lock:
            if self._owner == os.getpid():
                self._halt()

    def _boot(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        mine.settimeout(START_TIMEOUT)
        try:
            proc = _boot(_ZYGOTE_BOOT, theirs, "the store writer zygote")
        except StoreError:
            mine.close()
            raise
        self._proc, self._sock, self._owner = proc, mine, os.getpid()

    def _halt(self) -> None:
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if sock is not None:
            sock.close()
        if proc is not None:
            try:
                proc.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:  # pragma: no cover - defensive
                proc.kill()
                proc.wait()


def _pidfd_works() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return hasattr(socket, "send_fds") and hasattr(socket, "SOCK_SEQPACKET")


#: Writers are forked by the zygote where pidfds exist (Linux >= 5.3), else spawned each.
_ZYGOTE: Final = _Zygote() if _pidfd_works() else None
if _ZYGOTE is not None:
    atexit.register(_ZYGOTE.stop)


def _start() -> tuple[_Process, socket.socket]:
    """A new writer process (waiting for its settings) and our end of its socket."""
    if _ZYGOTE is not None:
        return _ZYGOTE.fork()
    proc, sock = _spawn()
    return _Spawned(proc), sock


def _pack(ops: list[_Op]) -> tuple[bytes, list[_Op]]:
    """One message, framed (`_frame`): the op count, then one pickle of the ops' ``(fn,
    args)``. An op that does not pickle is failed here with a `StoreError` (it never runs);
    the others go."""
    try:
        data = pickle.dumps([(op.fn, op.args) for op in ops], _PROTOCOL)
    except Exception:
        good: list[_Op] = []
        bad: list[_Op] = []
        for op in ops:
            try:
                pickle.dumps((op.fn, op.args), _PROTOCOL)
            except Exception as exc:
                op.ok, op.value = False, None
                op.error = StoreError(
                    f"{getattr(op.fn, '__name__', op.fn)!r} cannot be sent to the writer"
                    f" process: {exc}"
                )
                bad.append(op)
            else:
                good.append(op)
        _deliver(bad)
        ops = good
        data = pickle.dumps([(op.fn, op.args) for op in good], _PROTOCOL)
    size = _COUNT.size + len(data)
    if size > 0x7FFFFFFF:  # pragma: no cover - 2 GiB of ops
        return _frame(_COUNT.pack(len(ops)) + data), ops
    return b"".join((_LENGTH.pack(size), _COUNT.pack(len(ops)), data)), ops


def _refuse(conn: sqlite3.Connection, reason: str) -> None:
    """The op that stands for one the child could not unpickle: it fails with `reason`."""
    raise StoreError(reason)


# --------------------------------------------------------------------------------------------
# The child


class _Child:
    """The child's side of the socket: a `_Batches` source (`get`) and sink (`finish`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.batches: _Batches | None = None
        self.orphaned = False
        """The parent went away (EOF) instead of asking us to stop."""

    def get(self, timeout: float | None) -> Any:
        """The next message as a list of ops; `_STOP` on the stop message or EOF."""
        if timeout is not None and not self.conn.poll(timeout):
            raise queue.Empty
        try:
            data = self.conn.recv_bytes()
        except (EOFError, OSError):
            self.orphaned = True  # the parent is gone
            return _STOP
        if not data:
            return _STOP
        try:
            calls = pickle.loads(memoryview(data)[_COUNT.size :])
        except Exception as exc:
            # E.g. a function of the parent's __main__: answer each op (the parent's FIFO
            # expects one result per op) with the reason, and go on.
            (count,) = _COUNT.unpack_from(data)
            reason = f"the writer process cannot read these ops: {exc!r}"
            return [_Op(_refuse, (reason,)) for _ in range(count)]
        return [_Op(fn, args) for fn, args in calls]

    def finish(self, batch: list[_Op], picks: list[int] | None) -> None:
        """Send the results of a transaction (in order) and the counters to the parent: of
        all of `batch`, or (`picks`, the batch's responses went first) of ``batch[i] for i
        in picks``, which the parent finds among the next ``len(batch)`` ops it sent."""
        assert self.batches is not None
        ops = batch if picks is None else [batch[i] for i in picks]
        picked = None if picks is None else (len(batch), picks)
        results = [(op.ok, op.value if op.ok else op.error) for op in ops]
        s = self.batches.stats()
        counters = (s.ops, s.batches, s.largest_batch, s.failed_ops, s.failed_commits)
        try:
            data = _dump_results((results, counters, picked))
        except Exception:
            data = _dump_results(([_portable(r) for r in results], counters, picked))
        self.conn.send_bytes(data)


def _by_fields(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    names = [f.name for f in dataclasses.fields(cls)]
    # attrgetter of several names returns their values as a tuple, in C.
    values = (
        operator.attrgetter(*names) if len(names) > 1 else lambda obj: (getattr(obj, names[0]),)
    )

    def reduce(obj: Any) -> tuple[Any, ...]:
        return cls, values(obj)

    return reduce


def _result_reducers() -> dict[type, Callable[[Any], tuple[Any, ...]]]:
    """Pickle the store's result dataclasses as ``cls(*field values)``: about half the cost
    of the default reduction of a frozen slots dataclass (``__getstate__`` and
    ``__setstate__`` in Python, per object), which matters for `ClaimBatch` (one
    `ClaimedMessage` per message). Classes with a field outside ``__init__`` keep the
    default."""
    table: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
    for obj in vars(gateway.store).values():
        if (
            isinstance(obj, type)
            and dataclasses.is_dataclass(obj)
            and obj.__module__ == gateway.store.__name__
            and all(f.init for f in dataclasses.fields(obj))
        ):
            table[obj] = _by_fields(obj)
    return table


_RESULTS_TABLE: Final = {**copyreg.dispatch_table, **_result_reducers()}


def _dump_results(obj: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, _PROTOCOL)
    pickler.dispatch_table = _RESULTS_TABLE
    pickler.dump(obj)
    return buffer.getvalue()


def _portable(result: tuple[bool, Any]) -> tuple[bool, Any]:
    """`result` if it pickles, else a `StoreError` that says what could not be sent."""
    try:
        pickle.dumps(result, _PROTOCOL)
    except Exception as exc:
        return False, StoreError(f"the writer process cannot return {result[1]!r}: {exc}")
    return result


def main(fd: int) -> None:
    """The writer process: open the database, then run batches until stopped or orphaned.

    Args:
        fd: The inherited socket to the parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        settings = pickle.loads(conn.recv_bytes())
    except (EOFError, OSError):
        return
    try:
        db = _open_writer(
            settings["path"], synchronous=settings["synchronous"], cache_kib=settings["cache_kib"]
        )
    except Exception as exc:
        conn.send_bytes(pickle.dumps(("error", _portable((False, exc))[1]), _PROTOCOL))
        return
    child = _Child(conn)
    child.batches = _Batches(
        db, max_batch=settings["max_batch"], linger=settings["linger"], finish=child.finish
    )
    try:
        conn.send_bytes(pickle.dumps(("ready", None), _PROTOCOL))
        child.batches.run(child.get)
    except (EOFError, OSError):
        child.orphaned = True  # the parent is gone while we answered: what is committed stays
    finally:
        if child.orphaned:
            # No TRUNCATE checkpoint: it would hold the write lock while it waits for the
            # readers of a restarted parent (up to the busy timeout), delaying its writes.
            db.close()
        else:
            _close_writer(db)
        conn.close()


def zygote(fd: int) -> None:
    """The zygote process (see `_Zygote`): fork a writer per request until EOF.

    Args:
        fd: The inherited control socket (SOCK_SEQPACKET) to the parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the writers
    ctrl = socket.socket(fileno=fd)
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(ctrl, 16, 4)
        except OSError:
            return
        if not message:
            return  # EOF: the parent closed us or is gone
        if len(fds) != 1:
            for extra in fds:
                os.close(extra)
            ctrl.send(_PID.pack(-1))
            continue
        pid = os.fork()
        if pid == 0:  # the writer
            code = 0
            try:
                ctrl.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                main(fds[0])
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        os.close(fds[0])
        ctrl.send(_PID.pack(pid))
