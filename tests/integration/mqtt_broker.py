"""A real Mosquitto for tests: ``async with running_mosquitto() as broker:``.

Starts ``/usr/sbin/mosquitto`` (or ``mosquitto`` on PATH) on 127.0.0.1 with a free port and a
throw-away config (``listener PORT 127.0.0.1``, ``allow_anonymous true``, no persistence), waits
until it accepts TCP connections, and terminates it afterwards. `MosquittoBroker.stop` and
`MosquittoBroker.start` restart it on the same port, for reconnection tests.

A missing Mosquitto is a failure, not a skip: ``./smsh test`` installs it (apt ``mosquitto``), so
its absence means the environment is broken. Use `require_mosquitto` in fixtures to turn that into
a clear `pytest.fail`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest

#: Where Debian's package installs the broker.
DEFAULT_MOSQUITTO: Final[str] = "/usr/sbin/mosquitto"


class MosquittoNotFound(RuntimeError):
    """No mosquitto executable on this machine."""


class MosquittoFailed(RuntimeError):
    """Mosquitto did not start (or not in time)."""


def find_mosquitto() -> str:
    """Locate the broker executable.

    Returns:
        Its path.

    Raises:
        MosquittoNotFound: Neither /usr/sbin/mosquitto nor ``mosquitto`` on PATH exists.
    """
    if os.access(DEFAULT_MOSQUITTO, os.X_OK):
        return DEFAULT_MOSQUITTO
    found = shutil.which("mosquitto")
    if found is None:
        raise MosquittoNotFound(
            "mosquitto is not installed (looked for /usr/sbin/mosquitto and 'mosquitto' on PATH). "
            "The @pytest.mark.mqtt tests need a real broker: run './smsh test', which installs it, "
            "or 'apt-get install mosquitto'."
        )
    return found


def require_mosquitto() -> str:
    """`find_mosquitto`, failing the current test (not skipping it) when it is missing."""
    try:
        return find_mosquitto()
    except MosquittoNotFound as exc:
        pytest.fail(str(exc), pytrace=False)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MosquittoBroker:
    """One Mosquitto process on a fixed port, which can be stopped and started again."""

    def __init__(self, executable: str, workdir: Path, *, host: str = "127.0.0.1") -> None:
        self.executable = executable
        self.workdir = workdir
        self.host = host
        self.port = free_port(host)
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self._process: asyncio.subprocess.Process | None = None
        lines = [
            f"listener {self.port} {host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.append("user root")  # otherwise it switches to the 'mosquitto' user
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        """``mqtt://host:port``, for `sms.bus.bus_from_url`."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self._process is not None and self._process.returncode is None

    def log_tail(self, lines: int = 20) -> str:
        """The end of the broker's log, for error messages."""
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def start(self, ready_within: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            MosquittoFailed: It exited or did not listen within `ready_within` seconds.
        """
        if self.running:
            return
        with self.log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                self.executable,
                "-c",
                str(self.config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_within
        while True:
            if self._process.returncode is not None:
                raise MosquittoFailed(
                    f"mosquitto exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if loop.time() > deadline:
                    await self.stop()
                    raise MosquittoFailed(
                        f"mosquitto did not listen on {self.host}:{self.port}"
                        f" within {ready_within} s:\n{self.log_tail()}"
                    ) from None
                await asyncio.sleep(0.02)
            else:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return

    async def stop(self, grace: float = 5.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after `grace` s) and wait for it."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def running_mosquitto(executable: str | None = None) -> AsyncIterator[MosquittoBroker]:
    """Run a Mosquitto on a free port of 127.0.0.1 for the duration of the block.

    Args:
        executable: The broker to run; found with `find_mosquitto` when None.

    Raises:
        MosquittoNotFound: No broker is installed.
        MosquittoFailed: It did not start.
    """
    with tempfile.TemporaryDirectory(prefix="smsh-mosquitto-") as workdir:
        broker = MosquittoBroker(executable or find_mosquitto(), Path(workdir))
        await broker.start()
        try:
            yield broker
        finally:
            await broker.stop()
