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
  -c`` running `main`. The parent talks to its writer over one ``socketpair`` wrapped in
  `multiprocessing.connection.Connection` (length-prefixed messages). The first message
  carries the settings; the writer opens the write connection (`gateway.store._open_writer`:
  WAL, schema, migration) and answers ``("ready", None)`` or ``("error", exception)``, which
  the constructor raises.
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
* A reader thread in the parent blocks on the socket (the GIL is released while it waits),
  takes the ops a message answers (first those *held*: sent, and passed over by a picked
  message; then from the FIFO), and settles them with `gateway.store._deliver`: one
  ``call_soon_threadsafe`` per loop per message, as the thread writer does.

Stopping and crashes
--------------------
* `ProcessWriter.close` sends the stop message after everything queued; the child runs what
  it has, checkpoints the WAL, closes the database and exits; the reader sees EOF; `close`
  joins both.
* The parent dies (even kill -9): the kernel closes its end of the socket; the child reads
  EOF at its next read (it reads between batches, so at most one batch later), stops and
  exits (without the TRUNCATE checkpoint, which would hold the write lock while it waited
  for a restarted parent's readers); the zygote reads EOF on its control socket and exits
  too. What the child committed is committed; the callers that waited are gone with the
  parent. A new parent can open the file at once: SQLite's busy timeout covers a child that
  is still finishing its last COMMIT. The child and the zygote ignore SIGINT and SIGTERM:
  a Ctrl-C in a terminal reaches the whole process group, and the parent's orderly close
  still needs the writer.
* The child dies (or its socket breaks): the reader sees EOF, marks the writer closed and
  fails every op sent and not answered with `StoreClosedError`; later submits raise it at
  once. Nobody hangs.
"""

from __future__ import annotations

import atexit
import collections
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
    _Op,
    _open_writer,
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
        self._proc, self._conn = _start()
        try:
            self._handshake(path, synchronous, max_batch, linger, cache_kib)
        except BaseException:
            self._conn.close()
            self._reap()
            raise
        self._lock = threading.Lock()
        self._closed = False
        self._closing = False
        self._sent: collections.deque[_Op] = collections.deque()
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
            self._conn.send_bytes(pickle.dumps(settings, _PROTOCOL))
            if not self._conn.poll(START_TIMEOUT):
                raise StoreError(f"the store writer process did not start in {START_TIMEOUT} s")
            kind, payload = pickle.loads(self._conn.recv_bytes())
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

    def stats(self) -> WriterStats:
        """The child's group-commit counters, as of its last answered batch."""
        return self._stats

    def submit(self, op: _Op | list[_Op]) -> None:
        """Send one op, or a list of ops that enter the same or consecutive batches in order.

        Raises:
            StoreClosedError: The writer is closed or its process stopped.
        """
        if self._closed:
            raise StoreClosedError("the message store is closed")
        ops = op if isinstance(op, list) else [op]
        data, ops = _pack(ops)
        if not ops:
            return
        with self._lock:
            if self._closed:
                raise StoreClosedError("the message store is closed")
            self._sent.extend(ops)
            try:
                self._conn.send_bytes(data)
            except OSError:
                # The child is gone: the reader reads EOF and fails every op sent.
                log.debug("smsh.gateway.store.writer_process_send_failed", exc_info=True)

    def close(self) -> None:
        """Run what was sent, stop the child (it checkpoints the WAL) and join it."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            if not self._closed:
                self._closed = True
                try:
                    self._conn.send_bytes(b"")  # stop
                except OSError:  # already gone: the reader fails what was sent
                    log.debug("smsh.gateway.store.writer_process_stop_failed", exc_info=True)
        self._reader.join()
        self._reap()
        self._conn.close()

    def _read(self) -> None:
        """The reader thread: settle each answered transaction, then fail what is left at
        EOF. A message answers the next ops in order, or (``picked``: a batch whose
        responses went first) some of the next ``n``; the others wait in `held`, ahead of
        the sent FIFO, for the message that answers them."""
        held: collections.deque[_Op] = collections.deque()
        sent = self._sent

        def take(n: int) -> list[_Op]:
            ops = [held.popleft() for _ in range(min(n, len(held)))]
            ops.extend([sent.popleft() for _ in range(n - len(ops))])
            return ops

        try:
            while True:
                results, counters, picked = pickle.loads(self._conn.recv_bytes())
                self._stats = WriterStats(*counters)
                if picked is None:
                    batch = take(len(results))
                else:
                    n, picks = picked
                    ops = take(n)
                    batch = [ops[i] for i in picks]
                    chosen = set(picks)
                    held.extendleft(reversed([op for i, op in enumerate(ops) if i not in chosen]))
                for target, (ok, value) in zip(batch, results, strict=True):
                    if ok:
                        target.ok, target.value = True, value
                    else:
                        target.ok, target.error = False, value
                _deliver(batch)
        except (EOFError, OSError):
            pass  # the child closed its end: it stopped (asked to, or not)
        except BaseException:  # pragma: no cover - defensive: keep callers from hanging
            log.exception("smsh.gateway.store.writer_reader_crashed")
        finally:
            with self._lock:
                asked = self._closing
                self._closed = True
                pending = [*held, *self._sent]
                held.clear()
                self._sent.clear()
            if not asked or pending:
                pid = self._proc.pid
                log.error(
                    "smsh.gateway.store.writer_process_stopped",
                    extra={"pid": pid, "pending": len(pending)},
                )
                _fail(pending, StoreClosedError(f"the store writer process (pid {pid}) stopped"))


def _spawn() -> tuple[subprocess.Popen[bytes], Connection]:
    """Start a writer process (it boots, then waits for its settings on the socket)."""
    mine, theirs = socket.socketpair()
    conn = Connection(mine.detach())
    try:
        proc = _boot(_BOOT, theirs, "the store writer process")
    except StoreError:
        conn.close()
        raise
    return proc, conn


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

    def fork(self) -> tuple[_Process, Connection]:
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
                    return _Forked(pid), Connection(mine.detach())
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


def _start() -> tuple[_Process, Connection]:
    """A new writer process (waiting for its settings) and our end of its socket."""
    if _ZYGOTE is not None:
        return _ZYGOTE.fork()
    proc, conn = _spawn()
    return _Spawned(proc), conn


def _pack(ops: list[_Op]) -> tuple[bytes, list[_Op]]:
    """One message: the op count, then one pickle of the ops' ``(fn, args)``. An op that does
    not pickle is failed here with a `StoreError` (it never runs); the others go."""
    try:
        return _COUNT.pack(len(ops)) + pickle.dumps(
            [(op.fn, op.args) for op in ops], _PROTOCOL
        ), ops
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
        data = pickle.dumps([(op.fn, op.args) for op in good], _PROTOCOL)
        return _COUNT.pack(len(good)) + data, good


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
