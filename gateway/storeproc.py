"""The message store's writer in a child process (``MessageStore(..., writer="process")``).

Why: the writer thread's SQL work (~80 us of CPU per message under load) and the event loop
take turns on one GIL, so the gateway process uses one core. In a child process with its own
interpreter the writer runs on another core, and the loop keeps its GIL for the protocol work.

Theory of operation
-------------------
* The parent starts ``python -c`` running `main` (a fresh interpreter: no fork of a threaded
  asyncio process, and no re-import of the parent's ``__main__``) and talks to it over one
  ``socketpair`` wrapped in `multiprocessing.connection.Connection` (length-prefixed
  messages). The first message carries the settings; the child opens the write connection
  (`gateway.store._open_writer`: WAL, schema, migration) and answers ``("ready", None)`` or
  ``("error", exception)``, which the constructor raises.
* An op is data: ``(fn, args)``, a module-level function and picklable arguments (see
  `gateway.store._Op`). `ProcessWriter.submit` pickles the ``(fn, args)`` of the ops it is
  given (one list: one pickle, one message), appends the ops to the *sent* FIFO and writes
  the message, under one lock, so the FIFO and the byte stream have the same order. Who waits
  (futures, loops, callbacks) never leaves the parent.
* The child runs the same group-commit engine as the writer thread
  (`gateway.store._Batches`), fed from the socket instead of a queue: it takes every message
  already waiting (up to ``max_batch`` ops, after ``linger``) into one transaction, and after
  COMMIT sends one message back: each op's ``(ok, value-or-error)`` in order, and the writer
  counters. Errors are the gateway's exception types, which pickle with their attributes
  (`gateway.errors`); a result that does not pickle comes back as a `StoreError` saying so.
* A reader thread in the parent blocks on the socket (the GIL is released while it waits),
  pops as many ops from the FIFO as the message has results, and settles them with
  `gateway.store._deliver`: one ``call_soon_threadsafe`` per loop per batch, as the thread
  writer does.

Stopping and crashes
--------------------
* `ProcessWriter.close` sends the stop message after everything queued; the child runs what
  it has, checkpoints the WAL, closes the database and exits; the reader sees EOF; `close`
  joins both.
* The parent dies (even kill -9): the kernel closes its end of the socket; the child reads
  EOF at its next read (it reads between batches, so at most one batch later), stops and
  exits. What it committed is committed; the callers that waited are gone with the parent.
  A new parent can open the file at once: SQLite's busy timeout covers a child that is still
  finishing its last COMMIT. The child ignores SIGINT and SIGTERM: a Ctrl-C in a terminal
  reaches the whole process group, and the parent's orderly close still needs the writer.
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
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

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
#: The child's command: put the parent's source root first on sys.path (the child runs the
#: same code as the parent), then run `main` on the inherited socket.
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
        self._proc, self._conn = _SPARE.take()
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
            code = self._reap()
            raise StoreError(
                f"the store writer process stopped while opening {path} (exit code {code})"
            ) from exc
        if kind != "ready":
            assert isinstance(payload, BaseException)
            raise payload

    def _reap(self) -> int | None:
        """Wait for the child to exit (kill it when it does not); its exit code."""
        try:
            return self._proc.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.error("smsh.gateway.store.writer_process_killed", extra={"pid": self._proc.pid})
            self._proc.kill()
            return self._proc.wait()

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
                    self._conn.send_bytes(pickle.dumps(None, _PROTOCOL))
                except OSError:  # already gone: the reader fails what was sent
                    log.debug("smsh.gateway.store.writer_process_stop_failed", exc_info=True)
        self._reader.join()
        self._reap()
        self._conn.close()
        _SPARE.prepare()

    def _read(self) -> None:
        """The reader thread: settle each answered batch, then fail what is left at EOF."""
        try:
            while True:
                results, counters = pickle.loads(self._conn.recv_bytes())
                self._stats = WriterStats(*counters)
                sent = self._sent
                batch = [sent.popleft() for _ in range(len(results))]
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
                pending = list(self._sent)
                self._sent.clear()
            if not asked or pending:
                code = self._proc.poll()
                log.error(
                    "smsh.gateway.store.writer_process_stopped",
                    extra={"pid": self._proc.pid, "exit_code": code, "pending": len(pending)},
                )
                _fail(
                    pending,
                    StoreClosedError(f"the store writer process stopped (exit code {code})"),
                )


def _spawn() -> tuple[subprocess.Popen[bytes], Connection]:
    """Start a writer process (it boots, then waits for its settings on the socket)."""
    mine, theirs = socket.socketpair()
    conn = Connection(mine.detach())
    child_fd = theirs.detach()
    root = str(Path(__file__).resolve().parents[1])
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, root, str(child_fd)],
            pass_fds=(child_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
    except OSError as exc:
        conn.close()
        raise StoreError(f"cannot start the store writer process: {exc}") from exc
    finally:
        os.close(child_fd)  # the child has its copy: EOF reaches us when it exits
    return proc, conn


class _Spare:
    """One booted writer process kept ready after a store closes, for the next open.

    Starting a child costs a Python start-up (~0.1 s); a process that closes a store often
    opens another (tests, tools), and the spare has booted meanwhile, so that open costs only
    the handshake. Nothing is spawned before the first close, so a process that opens one
    store (the gateway, `smsh load`) never has a spare. The spare waits for its settings and
    exits on EOF: at this process's exit (`drop`, registered with atexit) or death."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: tuple[int, subprocess.Popen[bytes], Connection] | None = None

    def take(self) -> tuple[subprocess.Popen[bytes], Connection]:
        """The spare if there is a live one made by this process, else a new process."""
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None:
            owner, proc, conn = ready
            if owner == os.getpid() and proc.poll() is None:
                return proc, conn
            if owner == os.getpid():
                _discard(proc, conn)
        return _spawn()

    def prepare(self) -> None:
        """Start a spare unless one is ready (best effort: a failure only logs)."""
        with self._lock:
            if self._ready is not None and self._ready[0] == os.getpid():
                return
            try:
                proc, conn = _spawn()
            except StoreError:
                log.warning("smsh.gateway.store.spare_failed", exc_info=True)
                return
            self._ready = (os.getpid(), proc, conn)

    def drop(self) -> None:
        """Let the spare go (EOF) and reap it."""
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None and ready[0] == os.getpid():
            _discard(ready[1], ready[2])


def _discard(proc: subprocess.Popen[bytes], conn: Connection) -> None:
    conn.close()  # EOF: it exits
    try:
        proc.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:  # pragma: no cover - defensive
        proc.kill()
        proc.wait()


_SPARE: Final = _Spare()
atexit.register(_SPARE.drop)


def _pack(ops: list[_Op]) -> tuple[bytes, list[_Op]]:
    """One pickle of the ops' ``(fn, args)``. An op that does not pickle is failed here with a
    `StoreError` (it never runs); the others go."""
    try:
        return pickle.dumps([(op.fn, op.args) for op in ops], _PROTOCOL), ops
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
        return pickle.dumps([(op.fn, op.args) for op in good], _PROTOCOL), good


# --------------------------------------------------------------------------------------------
# The child


class _Child:
    """The child's side of the socket: a `_Batches` source (`get`) and sink (`finish`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.batches: _Batches | None = None

    def get(self, timeout: float | None) -> Any:
        """The next message as a list of ops; `_STOP` on the stop message or EOF."""
        if timeout is not None and not self.conn.poll(timeout):
            raise queue.Empty
        try:
            data = self.conn.recv_bytes()
        except (EOFError, OSError):
            return _STOP  # the parent is gone
        calls = pickle.loads(data)
        if calls is None:
            return _STOP
        return [_Op(fn, args) for fn, args in calls]

    def finish(self, batch: list[_Op]) -> None:
        """Send the batch's results (in order) and the counters to the parent."""
        assert self.batches is not None
        results = [(op.ok, op.value if op.ok else op.error) for op in batch]
        s = self.batches.stats()
        counters = (s.ops, s.batches, s.largest_batch, s.failed_ops, s.failed_commits)
        try:
            data = _dump_results((results, counters))
        except Exception:
            data = _dump_results(([_portable(r) for r in results], counters))
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
        pass  # the parent is gone while we answered: what is committed stays
    finally:
        _close_writer(db)
        conn.close()
