"""node-smpp (npm package ``smpp``) as a peer SMSC.

bench/peers/node/server.js answers any bind, every submit_sm with an incrementing message_id and
(receipts on by default, to compare with our SMSCs) one delivery receipt deliver_sm per message.
This wrapper installs the npm package into bench/peers/node/node_modules when missing
(``npm ci`` from the committed package-lock.json, else ``npm install``, both ``--no-audit
--no-fund``), starts ``node server.js`` as a subprocess on 127.0.0.1, waits for the port, and
stops it (SIGTERM; the server also exits by itself after ``max_seconds``).

Usage::

    async with NodeSmppServer(port=0) as server:   # server.port
        ...
    print(server.stats)   # the server's own counters, read from its last JSON line

    python -m bench.peers.node_smpp --port 2775            # serve until Ctrl-C / --max-seconds
    python -m bench.peers.node_smpp --measure --count 5000 --window 100
        # start it, rate it with bench.peers.pipelined_esme, print one JSON line, stop it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from bench.peers.common import (
    LOOPBACK,
    emit,
    free_port,
    last_json_line,
    spawn,
    terminate,
    wait_port,
)

NODE_DIR: Final[Path] = Path(__file__).resolve().parent / "node"
SMPP_VERSION_FILE: Final[Path] = NODE_DIR / "node_modules" / "smpp" / "package.json"


def _wanted_version() -> str:
    manifest = json.loads((NODE_DIR / "package.json").read_text())
    version: str = manifest["dependencies"]["smpp"]
    return version


def installed_version() -> str | None:
    """The smpp version in bench/peers/node/node_modules, or None."""
    try:
        version: str = json.loads(SMPP_VERSION_FILE.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return version


def ensure_installed() -> float:
    """Install node-smpp if it is missing or not the pinned version; return seconds spent."""
    if installed_version() == _wanted_version():
        return 0.0
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("node and npm are needed (Debian: apt-get install -y nodejs npm)")
    started = time.monotonic()
    verb = "ci" if (NODE_DIR / "package-lock.json").exists() else "install"
    subprocess.run(
        [npm, verb, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if installed_version() != _wanted_version():
        raise RuntimeError(f"npm {verb} did not install smpp {_wanted_version()}")
    return time.monotonic() - started


class NodeSmppServer:
    """``node server.js`` in a subprocess; ``async with`` starts and stops it."""

    def __init__(
        self,
        *,
        port: int = 0,
        receipts: bool = True,
        max_seconds: float = 600.0,
        host: str = LOOPBACK,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.receipts = receipts
        self.max_seconds = max_seconds
        self.install_seconds = 0.0
        self.stats: dict[str, Any] | None = None
        """The server's counters (its ``stopped`` JSON line), after `stop`."""
        self.banner: dict[str, Any] | None = None
        self._proc: subprocess.Popen[str] | None = None

    async def start(self) -> None:
        """Install if needed, spawn node, wait until the port accepts connections."""
        self.install_seconds = await asyncio.to_thread(ensure_installed)
        node = shutil.which("node")
        assert node is not None  # ensure_installed checked
        argv = [
            node,
            "server.js",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--max-seconds",
            str(self.max_seconds),
        ]
        if not self.receipts:
            argv.append("--no-receipts")
        self._proc = spawn(
            argv, cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            await wait_port(self.host, self.port, 15.0)
        except TimeoutError:
            await self.stop()
            raise RuntimeError(f"node-smpp server did not start: {self.stats}") from None

    async def stop(self) -> None:
        """SIGTERM the server and read its counters."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        await asyncio.to_thread(terminate, proc)
        out, err = await asyncio.to_thread(proc.communicate)
        for line in out.splitlines():
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict) and value.get("event") == "listening":
                    self.banner = value
        self.stats = last_json_line(out) or {"event": "no-output", "stderr": err[-2000:]}

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def measure(count: int, window: int, *, receipts: bool = True) -> dict[str, Any]:
    """Start node-smpp, drive it with the pipelined ESME, return client and server figures."""
    from bench.peers.pipelined_esme import run_pipelined

    server = NodeSmppServer(receipts=receipts)
    async with server:
        client = await run_pipelined(server.host, server.port, count, window, receipts=receipts)
    return {
        "peer": "node-smpp",
        "smpp_version": installed_version(),
        "install_seconds": round(server.install_seconds, 2),
        "client": client,
        "server": server.stats,
    }


async def _serve(port: int, receipts: bool, max_seconds: float) -> None:
    server = NodeSmppServer(port=port, receipts=receipts, max_seconds=max_seconds)
    async with server:
        print(f"node-smpp listening on {server.host}:{server.port} (Ctrl-C stops)", flush=True)
        proc = server._proc
        if proc is not None:
            await asyncio.to_thread(proc.wait)
    emit({"peer": "node-smpp", "server": server.stats})


def main(argv: list[str] | None = None) -> int:
    """Serve (default) or measure once."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers.node_smpp", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=2775, help="port to serve on (serve mode)")
    parser.add_argument("--no-receipts", dest="receipts", action="store_false")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--install-only", action="store_true", help="npm install, then exit")
    parser.add_argument(
        "--measure",
        action="store_true",
        help="rate it with the pipelined ESME and print one JSON line",
    )
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--window", type=int, default=100)
    args = parser.parse_args(argv)
    if args.install_only:
        emit(
            {
                "peer": "node-smpp",
                "install_seconds": round(ensure_installed(), 2),
                "smpp_version": installed_version(),
            }
        )
        return 0
    if args.measure:
        emit(asyncio.run(measure(args.count, args.window, receipts=args.receipts)))
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.receipts, args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
