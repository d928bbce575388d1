"""Small helpers shared by the peer wrappers: ports, host:port parsing, process control."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Final

LOOPBACK: Final[str] = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """An ephemeral TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def parse_hostport(text: str, default_host: str = LOOPBACK) -> tuple[str, int]:
    """``"127.0.0.1:2775"`` or ``"2775"`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return default_host, int(port)
    return host or default_host, int(port)


def require_loopback(host: str) -> None:
    """Refuse any target that is not on this machine (benchmarks send loopback traffic only)."""
    if host == "localhost" or host.startswith("127.") or host == "::1":
        return
    raise ValueError(f"{host!r} is not a loopback address: peers run on loopback only")


async def wait_port(host: str, port: int, within: float) -> None:
    """Wait until something accepts TCP connections on host:port (at most `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {within:g}s") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


def wait_port_sync(host: str, port: int, timeout: float) -> None:
    """Blocking `wait_port`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:g}s") from None
            time.sleep(0.05)


def spawn(
    argv: list[str], *, cwd: str | os.PathLike[str] | None = None, **kwargs: Any
) -> subprocess.Popen[Any]:
    """Start a child process (fork/exec only: does not wait for it)."""
    return subprocess.Popen(argv, cwd=cwd, **kwargs)


def terminate(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """SIGTERM one child we started, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout)


def last_json_line(text: str) -> dict[str, Any] | None:
    """The last line of `text` that parses as a JSON object."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    return value
    return None


def rate(count: int, seconds: float | None) -> float | None:
    """count / seconds rounded to 1 decimal, or None when it cannot be computed."""
    if not seconds or seconds <= 0 or count <= 0:
        return None
    return round(count / seconds, 1)


def emit(result: dict[str, Any]) -> None:
    """Print one JSON line of figures on stdout."""
    sys.stdout.write(json.dumps(result, sort_keys=False) + "\n")
    sys.stdout.flush()


def python_module_cmd(module: str, *args: str) -> list[str]:
    """argv to run ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def project_root() -> str:
    """The repository root (two levels above this package)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
