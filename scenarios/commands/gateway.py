"""`smsh gateway`: run the SMPP client gateway as a daemon with its HTTP JSON API.

Subcommands:
    * ``smsh gateway serve --config FILE [--host H] [--port P]`` — bind to the SMSCs of the
      config, serve ``POST /messages``, ``GET /messages/{id}``, ``GET /messages``, ``GET /mo``,
      ``GET /health``; SIGINT/SIGTERM stop it gracefully (in-flight submits are answered,
      the rest stays queued in the store).
    * ``smsh gateway check --config FILE`` — validate the config and print a summary.

Exit codes: 0 normal stop / valid config; 2 the config is invalid (the message names the file
and the field); 1 the gateway could not start (store or HTTP port unusable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.config import GatewayConfig, load_config
from gateway.errors import GatewayConfigError, GatewayError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the subcommands of `smsh gateway`."""
    sub = parser.add_subparsers(dest="gateway_command", metavar="SUBCOMMAND", required=True)
    serve = sub.add_parser("serve", help="run the gateway and its HTTP API")
    serve.add_argument("--config", type=Path, required=True, metavar="FILE", help="YAML config")
    serve.add_argument("--host", default=None, help="HTTP listen address (overrides config)")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (overrides config)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    check = sub.add_parser("check", help="validate a config file")
    check.add_argument("--config", type=Path, required=True, metavar="FILE", help="YAML config")


def _describe(config: GatewayConfig) -> str:
    lines = [f"instance {config.instance}; store {config.store.path} ({config.store.synchronous})"]
    for bind in config.binds:
        lines.append(
            f"bind {bind.name}: {bind.count} x {bind.mode} {bind.system_id}@{bind.host}:{bind.port}"
            f" window {bind.window}"
        )
    for route in config.routes:
        prefixes = ", ".join(route.prefixes) or "(fallback)"
        lines.append(
            f"route {route.name}: {prefixes} -> {', '.join(route.binds) or 'all binds'};"
            f" {route.profile}/{route.method}"
        )
    lines.append(f"http {config.http.host}:{config.http.port}")
    return "\n".join(lines)


async def _serve(config: GatewayConfig) -> int:
    from gateway.control import GatewayControls
    from gateway.gateway import Gateway, open_store
    from gateway.http import start_http
    from sms.bus import bus_from_url

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        store = open_store(config)
    except GatewayError as exc:
        print(f"smsh gateway: {exc}", file=sys.stderr)
        return 1
    try:
        async with (
            bus_from_url(config.bus) as bus,
            Gateway(config, store, bus) as gateway,
            GatewayControls(gateway),
        ):
            try:
                runner, port = await start_http(gateway, config.http.host, config.http.port)
            except OSError as exc:
                print(f"smsh gateway: cannot listen on {config.http.host}: {exc}", file=sys.stderr)
                return 1
            print(
                f"smsh gateway {config.instance}: HTTP on http://{config.http.host}:{port}",
                flush=True,
            )
            try:
                await stop.wait()
            finally:
                await runner.cleanup()
    finally:
        store.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit code."""
    try:
        config = load_config(args.config)
    except GatewayConfigError as exc:
        print(f"smsh gateway: invalid config: {exc}", file=sys.stderr)
        return 2
    if args.gateway_command == "check":
        print(_describe(config))
        return 0
    http = config.http.model_copy(
        update={k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    )
    config = config.model_copy(update={"http": http})
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    return asyncio.run(_serve(config))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m scenarios.commands.gateway``."""
    parser = argparse.ArgumentParser(prog="smsh gateway", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
