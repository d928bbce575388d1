"""`smsh gateway`: run the SMPP client gateway as a daemon with its HTTP JSON API.

Subcommands:
    * ``smsh gateway serve --config FILE [--host H] [--port P]`` — bind to the SMSCs of the
      config, serve ``POST /messages``, ``GET /messages/{id}``, ``GET /messages``, ``GET /mo``,
      ``GET /health``; SIGINT/SIGTERM stop it gracefully (in-flight submits are answered,
      the rest stays queued in the store). It also runs the dunning campaigns kept in its
      store file (`gateway.campaigns.service`): the scheduler hands approved campaigns' due
      messages to this gateway (every ``--campaign-interval`` seconds, and at once after an
      API change), progress goes on the bus, and the campaign API is served under
      ``/campaigns/`` (``--no-campaigns``: none of this). Campaigns are created with
      ``smsh campaign create --db STORE``; a second operator approves them with
      ``POST /campaigns/{id}/approve``.
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
    serve.add_argument(
        "--no-campaigns",
        dest="campaigns",
        action="store_false",
        help="do not run the campaign scheduler nor serve /campaigns/",
    )
    serve.add_argument(
        "--campaign-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between two campaign scheduler ticks (default: 60)",
    )
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


async def _serve(
    config: GatewayConfig, *, campaigns: bool = True, campaign_interval: float = 60.0
) -> int:
    from gateway.campaigns.service import running_campaigns
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
            contextlib.AsyncExitStack() as stack,
        ):
            service = None
            if campaigns:
                try:
                    service = await stack.enter_async_context(
                        running_campaigns(gateway, interval=campaign_interval)
                    )
                except GatewayError as exc:
                    print(f"smsh gateway: campaigns: {exc}", file=sys.stderr)
                    return 1
            try:
                runner, port = await start_http(
                    gateway,
                    config.http.host,
                    config.http.port,
                    campaigns=service.app() if service is not None else None,
                )
            except OSError as exc:
                print(f"smsh gateway: cannot listen on {config.http.host}: {exc}", file=sys.stderr)
                return 1
            print(
                f"smsh gateway {config.instance}: HTTP on http://{config.http.host}:{port}"
                + (" (campaigns on /campaigns/)" if service is not None else ""),
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
    if args.campaign_interval <= 0:
        print("smsh gateway: --campaign-interval must be positive", file=sys.stderr)
        return 2
    return asyncio.run(
        _serve(config, campaigns=args.campaigns, campaign_interval=args.campaign_interval)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m scenarios.commands.gateway``."""
    parser = argparse.ArgumentParser(prog="smsh gateway", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
