"""Kannel (Debian package ``kannel``) as a peer gateway: how fast does it push SMPP?

What it does:
    1. Installs Kannel if ``bearerbox``/``smsbox`` are missing: ``apt-get update`` once, then
       ``apt-get install -y --no-install-recommends kannel`` with a temporary policy-rc.d so
       the Debian service never starts, then ``update-rc.d kannel disable``. The Debian
       service's /etc/kannel/kannel.conf is never used: we run our own bearerbox and smsbox.
    2. Writes kannel.conf into a temporary directory: one SMPP smsc group (transceiver,
       system-id/password, ``max-pending-submits`` = the window, no throughput limit), dlr-storage
       internal, a smsbox with sendsms on a free 127.0.0.1 port, one sendsms-user. Every
       port is free and bound to 127.0.0.1; every process is started under ``timeout`` so it
       stops by itself.
    3. Pushes N messages through the sendsms HTTP interface (aiohttp, many concurrent requests)
       with ``dlr-mask=3`` (delivered + undelivered: registered_delivery=1 on the submit_sm)
       and a ``dlr-url`` pointing at a tiny aiohttp server of ours that counts the receipts
       Kannel hands back.

       To measure Kannel's SMPP side rather than our HTTP client (mode ``preload``, the
       default): bearerbox starts with only a "gate" smsc aimed at a closed loopback port, so
       it keeps re-connecting and every accepted message waits in bearerbox's queue
       ("3: Queued for later delivery"); once all N are queued, the real smsc group is added
       to kannel.conf and started with the admin command ``/add-smsc``, and bearerbox drains
       the queue as fast as its SMPP client and the window allow. (``/stop-smsc`` does not
       work for this: with the only smsc stopped, sendsms answers "Not routable".) Mode
       ``live`` pushes while the link is up, so HTTP ingestion is part of the figure.
    4. Figures: the SMSC side counts when we can read them (an SMSC we start ourselves:
       bench.peers.counting_smsc in a child process, which reports first/last submit_sm times);
       always Kannel's own counters (admin status.xml, polled every 50 ms: submit_sm acked
       ``sent``, deliver_sm receipts ``dlr received``) and the receipts delivered back to the
       dlr-url (the full receipt path: SMSC -> bearerbox -> smsbox -> HTTP).

Pitfalls met (and handled here):
    * The boxes' console (stderr) log level is a command-line option that defaults to DEBUG,
      whatever ``log-level`` in the file says (235,000 lines for 5,000 messages): they are
      started with ``--verbosity 2``.
    * Kannel's SMPP socket keeps Nagle on (no TCP_NODELAY). With receipts, its small
      deliver_sm_resp writes wait for the SMSC's ACK, which a Linux SMSC delays by up to 40 ms
      when it has nothing to answer: each window of submits then takes about 40 ms, so the rate
      is about window / 0.04 s whatever the CPU. ``--smsc-quickack`` (our counting SMSC sets
      TCP_QUICKACK) shows the figure without that stall. Without receipts there is no stall.
    * The internal DLR storage and the dlr-url callbacks are the receipt path measured; the
      default (string) ``msg-id-type`` matches our SMSCs, which use the same decimal id in
      submit_sm_resp and in the receipt.

Usage::

    python -m bench.peers.kannel --count 5000 --window 100          # own counting SMSC
    python -m bench.peers.kannel --smsc 127.0.0.1:2775 --count 5000 --window 100
    python -m bench.peers.kannel --install-only

    result = await run_kannel("127.0.0.1", 2775, 5000, 100)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote

import aiohttp
from aiohttp import web

from bench.peers.common import (
    LOOPBACK,
    emit,
    free_port,
    last_json_line,
    parse_hostport,
    project_root,
    python_module_cmd,
    rate,
    require_loopback,
    spawn,
    terminate,
    wait_port,
)

Mode = Literal["preload", "live"]
#: How much of Kannel's state survives a crash (see `persistence_groups`).
Persistence = Literal["none", "store", "durable"]
PERSISTENCE: Final[tuple[str, ...]] = ("none", "store", "durable")

SMSC_ID: Final[str] = "bench"
GATE_ID: Final[str] = "bench-gate"
ADMIN_PASSWORD: Final[str] = "bench-admin"
SENDSMS_USER: Final[str] = "bench"
SENDSMS_PASSWORD: Final[str] = "bench-send"
#: Seconds a Kannel process may live before `timeout` stops it (it stops by itself).
PROCESS_LIFETIME: Final[int] = 900

_SBIN: Final[tuple[str, ...]] = ("/usr/sbin", "/usr/local/sbin", "/usr/bin")


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def kannel_version() -> str | None:
    """The installed Debian package version of kannel, or None."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "kannel"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def ensure_installed() -> float:
    """Install Kannel unless bearerbox and smsbox are there; return the seconds spent.

    Idempotent. The Debian service is kept from starting (temporary policy-rc.d returning
    101 during the install, unless one already exists) and is disabled afterwards, so the
    only Kannel processes are the ones this module starts with its own configuration.
    """
    if _binary("bearerbox") and _binary("smsbox"):
        return 0.0
    if os.geteuid() != 0:
        raise RuntimeError("Kannel is missing; installing it needs root (apt-get install kannel)")
    started = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# sms-harness bench: do not start services\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "kannel"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    if shutil.which("update-rc.d") and Path("/etc/init.d/kannel").exists():
        subprocess.run(
            ["update-rc.d", "kannel", "disable"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        subprocess.run(
            ["systemctl", "disable", "--now", "kannel"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if not (_binary("bearerbox") and _binary("smsbox")):
        raise RuntimeError("apt-get install kannel did not provide bearerbox and smsbox")
    return time.monotonic() - started


@dataclass(slots=True)
class KannelPorts:
    """The loopback ports of one Kannel instance."""

    admin: int
    smsbox: int
    sendsms: int


def smsc_group(
    workdir: Path,
    smsc_id: str,
    smsc_host: str,
    smsc_port: int,
    window: int,
    *,
    system_id: str = "kannel",
    password: str = "kannel",
    log_level: int = 2,
) -> str:
    """One SMPP smsc group: transceiver, `window` submits in flight, no throughput limit."""
    return f"""\
group = smsc
smsc = smpp
smsc-id = {smsc_id}
host = {smsc_host}
port = {smsc_port}
transceiver-mode = true
smsc-username = {system_id}
smsc-password = {password}
system-type = ""
max-pending-submits = {window}
enquire-link-interval = 30
reconnect-delay = 1
source-addr-ton = 5
source-addr-npi = 0
dest-addr-ton = 1
dest-addr-npi = 1
log-file = "{workdir}/{smsc_id}.log"
log-level = {log_level}

"""


#: Kannel's DLR table (the layout of /usr/share/doc/kannel/examples/dlr-sqlite3.conf) and the
#: index its lookups (``WHERE smsc = ? AND ts = ?``) need: without it every receipt scans.
DLR_SQLITE_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE dlr (smsc VARCHAR(40), ts VARCHAR(40), destination VARCHAR(40),"
    " source VARCHAR(40), service VARCHAR(40), url VARCHAR(255), mask INT(10),"
    " status INT(10), boxc VARCHAR(40))",
    "CREATE INDEX dlr_smsc_ts ON dlr (smsc, ts)",
)


def persistence_groups(workdir: Path, persistence: Persistence) -> tuple[str, str, str]:
    """The core-group store lines, the ``dlr-storage`` value and the extra groups.

    * ``none``: no store file, DLR mappings in memory (``dlr-storage = internal``): a crash
      loses the queued messages and every receipt mapping. Kannel's fastest setup.
    * ``store``: Kannel's message store (``store-type = file``): accepted messages are written
      to the store file and survive a restart; DLR mappings are still in memory.
    * ``durable``: the store file and the DLR mappings in SQLite (``dlr-storage = sqlite3``,
      Kannel's own SQLite DLR code, one statement per submit and per receipt), i.e. what
      sms-harness's gateway keeps across a crash: accepted messages and receipt correlation.
      The database file and table are created by `prepare_persistence`.
    """
    if persistence == "none":
        return "", "internal", ""
    store = f'store-type = file\nstore-location = "{workdir}/kannel.store"\n'
    if persistence == "store":
        return store, "internal", ""
    groups = f"""\
group = sqlite3-connection
id = benchdlr
database = "{workdir}/dlr.sqlite3"
max-connections = 1

group = dlr-db
id = benchdlr
table = dlr
field-smsc = smsc
field-timestamp = ts
field-destination = destination
field-source = source
field-service = service
field-url = url
field-mask = mask
field-status = status
field-boxc-id = boxc

"""
    return store, "sqlite3", groups


def prepare_persistence(workdir: Path, persistence: Persistence) -> None:
    """Create what `persistence_groups` refers to (the DLR database with its table)."""
    if persistence != "durable":
        return
    with contextlib.closing(sqlite3.connect(workdir / "dlr.sqlite3")) as db:
        for statement in DLR_SQLITE_SCHEMA:
            db.execute(statement)
        db.commit()


def kannel_conf(
    workdir: Path,
    ports: KannelPorts,
    smsc_groups: str,
    *,
    log_level: int = 2,
    access_log: bool = False,
    persistence: Persistence = "none",
) -> str:
    """The kannel.conf text for bearerbox and smsbox (one file, read by both)."""
    access = f'access-log = "{workdir}/access.log"\n' if access_log else ""
    store, dlr_storage, dlr_groups = persistence_groups(workdir, persistence)
    return f"""\
# Written by bench/peers/kannel.py for one benchmark run; not the Debian service's config.
group = core
admin-port = {ports.admin}
admin-interface = {LOOPBACK}
admin-password = {ADMIN_PASSWORD}
status-password = {ADMIN_PASSWORD}
admin-allow-ip = "{LOOPBACK}"
smsbox-port = {ports.smsbox}
smsbox-interface = {LOOPBACK}
box-allow-ip = "{LOOPBACK}"
log-file = "{workdir}/bearerbox.log"
log-level = {log_level}
{access}{store}dlr-storage = {dlr_storage}
sms-resend-retry = 0

{dlr_groups}{smsc_groups}group = smsbox
bearerbox-host = {LOOPBACK}
bearerbox-port = {ports.smsbox}
sendsms-port = {ports.sendsms}
sendsms-interface = {LOOPBACK}
log-file = "{workdir}/smsbox.log"
log-level = {log_level}
max-pending-requests = 512

group = sendsms-user
username = {SENDSMS_USER}
password = {SENDSMS_PASSWORD}
max-messages = 1
concatenation = false

group = sms-service
keyword = default
text = "no service"
omit-empty = true
"""


@dataclass(slots=True)
class _Receipts:
    """Receipts that smsbox delivered back to our dlr-url."""

    by_type: Counter[str] = field(default_factory=Counter)
    total: int = 0
    first_at: float | None = None
    last_at: float | None = None
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0


async def _start_dlr_server(receipts: _Receipts) -> tuple[web.AppRunner, int]:
    async def handle(request: web.Request) -> web.Response:
        kind = request.query.get("type", "?")
        receipts.by_type[kind] += 1
        # 1 delivered, 2 undelivered: a final receipt from the SMSC (8/16 are SMSC acks).
        if kind in ("1", "2"):
            now = time.perf_counter()
            receipts.total += 1
            if receipts.first_at is None:
                receipts.first_at = now
            receipts.last_at = now
            if receipts.total >= receipts.expected:
                receipts.all_in.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/dlr", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, LOOPBACK, port, backlog=1024)
    await site.start()
    return runner, port


class _Kannel:
    """bearerbox + smsbox processes with our own configuration."""

    def __init__(self, workdir: Path, ports: KannelPorts) -> None:
        self.workdir = workdir
        self.ports = ports
        self.conf = workdir / "kannel.conf"
        self.procs: list[subprocess.Popen[bytes]] = []

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        binary = _binary(name)
        if binary is None:
            raise RuntimeError(f"{name} not found")
        log = (self.workdir / f"{name}.stderr").open("wb")
        with log:
            proc = subprocess.Popen(
                [
                    "timeout",
                    "--signal=TERM",
                    "--kill-after=10",
                    str(PROCESS_LIFETIME),
                    binary,
                    "--verbosity",
                    "2",
                    str(self.conf),
                ],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    async def start(self) -> None:
        self._spawn("bearerbox")
        await wait_port(LOOPBACK, self.ports.admin, 20.0)
        await wait_port(LOOPBACK, self.ports.smsbox, 20.0)
        self._spawn("smsbox")
        await wait_port(LOOPBACK, self.ports.sendsms, 20.0)

    async def stop(self) -> None:
        # smsbox first, then bearerbox (SIGTERM: orderly shutdown; SIGKILL after 10 s).
        for proc in reversed(self.procs):
            await asyncio.to_thread(terminate, proc, 10.0)
        self.procs.clear()

    def log_tail(self, name: str, lines: int = 15) -> list[str]:
        path = self.workdir / name
        if not path.exists():
            return []
        return path.read_text(errors="replace").splitlines()[-lines:]


async def _admin(http: aiohttp.ClientSession, port: int, command: str, **params: str) -> str:
    query = {"password": ADMIN_PASSWORD, **params}
    async with http.get(f"http://{LOOPBACK}:{port}/{command}", params=query) as resp:
        return await resp.text()


@dataclass(slots=True)
class SmscStatus:
    """One smsc's counters from bearerbox's status.xml."""

    status: str
    sent: int
    failed: int
    queued: int
    dlr_received: int


async def kannel_status(http: aiohttp.ClientSession, admin_port: int) -> ET.Element:
    """bearerbox's status.xml, parsed."""
    return ET.fromstring(await _admin(http, admin_port, "status.xml"))


async def smsc_status(
    http: aiohttp.ClientSession, admin_port: int, smsc_id: str = SMSC_ID
) -> SmscStatus | None:
    """One smsc's entry in status.xml (None while bearerbox does not list it)."""
    root = await kannel_status(http, admin_port)
    for smsc in root.iter("smsc"):
        ident = smsc.findtext("id") or smsc.findtext("admin-id") or ""
        if ident != smsc_id:
            continue

        def num(path: str, smsc: ET.Element = smsc) -> int:
            value = smsc.findtext(path)
            return int(value) if value and value.strip().lstrip("-").isdigit() else 0

        return SmscStatus(
            status=(smsc.findtext("status") or "").strip(),
            sent=num("sms/sent") or num("sent"),
            failed=num("failed"),
            queued=num("queued"),
            dlr_received=num("dlr/received"),
        )
    return None


async def _wait_status(
    http: aiohttp.ClientSession, admin_port: int, smsc_id: str, want: str, within: float
) -> SmscStatus:
    deadline = time.monotonic() + within
    last: SmscStatus | None = None
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, ET.ParseError):
            last = await smsc_status(http, admin_port, smsc_id)
            if last is not None and last.status.startswith(want):
                return last
        await asyncio.sleep(0.05)
    raise TimeoutError(f"smsc never became {want!r} (last: {last})")


async def _wait_queued(
    http: aiohttp.ClientSession, admin_port: int, expected: int, within: float
) -> int:
    """Wait until bearerbox's outbound queue holds `expected` messages; return the count."""
    deadline = time.monotonic() + within
    queued = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, ET.ParseError, ValueError):
            root = await kannel_status(http, admin_port)
            text = root.findtext("sms/sent/queued") or "0"
            queued = int(text.strip() or 0)
            if queued >= expected:
                return queued
        await asyncio.sleep(0.05)
    return queued


async def _push(
    http: aiohttp.ClientSession,
    sendsms_port: int,
    count: int,
    concurrency: int,
    dlr_url: str | None,
) -> tuple[int, Counter[str], float]:
    """Send `count` sendsms requests, `concurrency` at a time; (accepted, replies, seconds)."""
    base = (
        f"http://{LOOPBACK}:{sendsms_port}/cgi-bin/sendsms?username={SENDSMS_USER}"
        f"&password={SENDSMS_PASSWORD}&from=ACME&text=kannel+benchmark+message"
        + (f"&dlr-mask=3&dlr-url={quote(dlr_url, safe='')}" if dlr_url else "")
        + "&to="
    )
    replies: Counter[str] = Counter()
    accepted = 0
    next_index = 0

    async def worker() -> None:
        nonlocal accepted, next_index
        while next_index < count:
            index = next_index
            next_index += 1
            url = f"{base}8190{index:08d}"
            async with http.get(url) as resp:
                body = (await resp.text()).strip()
            if resp.status in (200, 202):
                accepted += 1
            replies[f"{resp.status} {body[:40]}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, replies, time.perf_counter() - started


async def run_kannel(
    smsc_host: str,
    smsc_port: int,
    count: int,
    window: int,
    *,
    mode: Mode = "preload",
    receipts: bool = True,
    access_log: bool = False,
    http_concurrency: int = 64,
    system_id: str = "kannel",
    password: str = "kannel",
    max_seconds: float = 300.0,
    keep_workdir: bool = False,
    persistence: Persistence = "none",
) -> dict[str, Any]:
    """Run Kannel against the SMSC at smsc_host:smsc_port and return its figures.

    Args:
        smsc_host: SMSC address (loopback only).
        smsc_port: SMSC port.
        count: Messages to send.
        window: Kannel's ``max-pending-submits`` (submit_sm in flight without a response).
        mode: ``preload`` (queue everything first, then add the smsc: measures the SMPP side)
            or ``live`` (push while connected: HTTP ingestion included).
        receipts: Ask for receipts (dlr-mask=3 and a dlr-url): registered_delivery=1.
        access_log: Let Kannel write its access log (as a production setup would).
        http_concurrency: Concurrent sendsms requests.
        system_id: SMPP system_id Kannel binds with.
        password: SMPP password.
        max_seconds: Seconds to wait for the submits and the receipts.
        keep_workdir: Keep the temporary directory (config and logs) for inspection.
        persistence: What survives a crash of Kannel (`persistence_groups`).
    """
    require_loopback(smsc_host)
    install_seconds = await asyncio.to_thread(ensure_installed)
    workdir = Path(tempfile.mkdtemp(prefix="bench-kannel-"))
    ports = KannelPorts(admin=free_port(), smsbox=free_port(), sendsms=free_port())
    while len({ports.admin, ports.smsbox, ports.sendsms}) < 3:
        ports = KannelPorts(admin=free_port(), smsbox=free_port(), sendsms=free_port())
    live_group = smsc_group(
        workdir, SMSC_ID, smsc_host, smsc_port, window, system_id=system_id, password=password
    )
    # preload: bearerbox starts with only a "gate" smsc aimed at a closed port, so it keeps
    # re-connecting and every message is queued (a stopped smsc would make them unroutable).
    gate_group = smsc_group(workdir, GATE_ID, LOOPBACK, free_port(), window)
    conf = workdir / "kannel.conf"
    prepare_persistence(workdir, persistence)
    conf.write_text(
        kannel_conf(
            workdir,
            ports,
            gate_group if mode == "preload" else live_group,
            access_log=access_log,
            persistence=persistence,
        )
    )
    dlrs = _Receipts(expected=count if receipts else 0)
    runner, dlr_port = await _start_dlr_server(dlrs)
    dlr_url = f"http://{LOOPBACK}:{dlr_port}/dlr?type=%d&id=%F" if receipts else None
    kannel = _Kannel(workdir, ports)
    result: dict[str, Any] = {
        "peer": "kannel",
        "kannel_version": kannel_version(),
        "install_seconds": round(install_seconds, 2),
        "smsc": f"{smsc_host}:{smsc_port}",
        "count": count,
        "window": window,
        "mode": mode,
        "receipts": receipts,
        "access_log": access_log,
        "persistence": persistence,
    }
    connector = aiohttp.TCPConnector(limit=http_concurrency + 4)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            await kannel.start()
            if mode == "live":
                await _wait_status(http, ports.admin, SMSC_ID, "online", 30.0)
            else:
                await _wait_status(http, ports.admin, GATE_ID, "", 30.0)
            push_started = time.perf_counter()
            accepted, replies, push_seconds = await _push(
                http, ports.sendsms, count, http_concurrency, dlr_url
            )
            result["http_accepted"] = accepted
            result["http_replies"] = dict(replies)
            result["http_seconds"] = round(push_seconds, 3)
            result["http_rate"] = rate(accepted, push_seconds)
            if accepted < count:
                raise RuntimeError(f"sendsms accepted {accepted} of {count}: {dict(replies)}")
            if mode == "preload":
                queued = await _wait_queued(http, ports.admin, accepted, 30.0)
                result["queued_before_start"] = queued
                conf.write_text(
                    kannel_conf(
                        workdir,
                        ports,
                        gate_group + live_group,
                        access_log=access_log,
                        persistence=persistence,
                    )
                )
            # Figures count from the moment the SMPP side may send: add-smsc (preload), or
            # the first sendsms request (live: HTTP ingestion is part of the figure).
            started = time.perf_counter() if mode == "preload" else push_started
            if mode == "preload":
                await _admin(http, ports.admin, "add-smsc", smsc=SMSC_ID)
            figures = await _watch(http, ports.admin, dlrs, accepted, started, max_seconds)
            result.update(figures)
    finally:
        await kannel.stop()
        await runner.cleanup()
        if keep_workdir:
            result["workdir"] = str(workdir)
        else:
            result["log_tail"] = kannel.log_tail("bearerbox.log", 5)
            shutil.rmtree(workdir, ignore_errors=True)
    return result


async def _watch(
    http: aiohttp.ClientSession,
    admin_port: int,
    receipts: _Receipts,
    expected: int,
    started: float,
    max_seconds: float,
) -> dict[str, Any]:
    """Poll status.xml until every message is acked and every wanted receipt came back."""
    deadline = started + max_seconds
    if receipts.expected:
        receipts.expected = expected
    if receipts.total >= receipts.expected:
        receipts.all_in.set()
    sent_done_at: float | None = None
    dlr_done_at: float | None = None
    status: SmscStatus | None = None
    while time.perf_counter() < deadline:
        with contextlib.suppress(aiohttp.ClientError, ET.ParseError):
            status = await smsc_status(http, admin_port)
        now = time.perf_counter()
        if status is not None:
            if sent_done_at is None and status.sent + status.failed >= expected:
                sent_done_at = now
            if dlr_done_at is None and receipts.expected and status.dlr_received >= expected:
                dlr_done_at = now
        if sent_done_at is not None and receipts.all_in.is_set():
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receipts.all_in.wait(), 0.05)
    sent_span = sent_done_at - started if sent_done_at else None
    dlr_span = dlr_done_at - started if dlr_done_at else None
    receipt_span = receipts.last_at - started if receipts.last_at else None
    return {
        "kannel_sent": status.sent if status else None,
        "kannel_failed": status.failed if status else None,
        "kannel_dlr_received": status.dlr_received if status else None,
        "sent_seconds": round(sent_span, 3) if sent_span else None,
        "sent_rate": rate(status.sent if status else 0, sent_span),
        "dlr_in_seconds": round(dlr_span, 3) if dlr_span else None,
        "receipts_to_url": receipts.total,
        "receipt_types": dict(receipts.by_type),
        "receipt_seconds": round(receipt_span, 3) if receipt_span else None,
        "receipt_rate": rate(receipts.total, receipt_span),
        "timed_out": not (sent_done_at is not None and receipts.all_in.is_set()),
    }


def _fast_smsc_counts(out: str) -> dict[str, Any] | None:
    """Counters from bench.fast_smsc's closing line (``fast_smsc stopped: submits=N ...``)."""
    for line in reversed(out.splitlines()):
        if line.startswith("fast_smsc stopped:"):
            pairs = (item.split("=", 1) for item in line.split(":", 1)[1].split())
            return {key: int(value) for key, value in pairs if value.isdigit()}
    return None


async def _with_own_smsc(args: argparse.Namespace) -> dict[str, Any]:
    """Start an SMSC of ours in a child process, run Kannel against it, add its counts."""
    port = free_port()
    if args.smsc_impl == "fast":
        argv = python_module_cmd("bench.fast_smsc", "--port", str(port), "--receipts")
    else:
        argv = python_module_cmd(
            "bench.peers.counting_smsc",
            "--port",
            str(port),
            "--max-seconds",
            str(args.timeout + 120),
            *(["--quickack"] if args.smsc_quickack else []),
        )
    proc = spawn(argv, stdout=subprocess.PIPE, text=True, cwd=project_root())
    try:
        await wait_port(LOOPBACK, port, 15.0)
        result = await run_kannel(
            LOOPBACK,
            port,
            args.count,
            args.window,
            mode=args.mode,
            receipts=args.receipts,
            access_log=args.access_log,
            http_concurrency=args.http_concurrency,
            max_seconds=args.timeout,
            keep_workdir=args.keep_workdir,
            persistence=args.persistence,
        )
    finally:
        await asyncio.to_thread(terminate, proc)
        out, _ = await asyncio.to_thread(proc.communicate)
    result["smsc_impl"] = args.smsc_impl
    if args.smsc_impl == "fast":
        counts = _fast_smsc_counts(out)
        result["smsc_counts"] = counts
        if counts:
            result["smsc_submits"] = counts.get("submits")
            result["smsc_receipts_acked"] = counts.get("receipts_acked")
        return result
    smsc = last_json_line(out)
    result["smsc_quickack"] = args.smsc_quickack
    result["smsc_counts"] = smsc
    if smsc:
        result["smsc_submits"] = smsc.get("submits")
        result["smsc_submit_rate"] = smsc.get("submit_rate")
        result["smsc_receipts_acked"] = smsc.get("receipts_acked")
        first, last_ack = smsc.get("first_submit_at"), smsc.get("last_ack_at")
        if first is not None and last_ack is not None and last_ack > first:
            result["smsc_receipt_ack_rate"] = rate(
                int(smsc.get("receipts_acked") or 0), last_ack - first
            )
    return result


def main(argv: list[str] | None = None) -> int:
    """Run once and print one JSON line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers.kannel", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--smsc", help="HOST:PORT of the SMSC (default: start one of ours)")
    parser.add_argument(
        "--smsc-impl",
        choices=["counting", "fast"],
        default="counting",
        help="without --smsc: bench.peers.counting_smsc (reports submit times) or bench.fast_smsc",
    )
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--window", type=int, default=100, help="max-pending-submits")
    parser.add_argument("--mode", choices=["preload", "live"], default="preload")
    parser.add_argument(
        "--no-receipts",
        dest="receipts",
        action="store_false",
        help="no dlr-mask: submit_sm without registered_delivery",
    )
    parser.add_argument("--access-log", action="store_true", help="let Kannel write access.log")
    parser.add_argument("--http-concurrency", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--smsc-quickack",
        action="store_true",
        help="own SMSC only: TCP_QUICKACK (shows Kannel's Nagle stall)",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep config and logs")
    parser.add_argument(
        "--persistence",
        choices=PERSISTENCE,
        default="none",
        help="none: no store, DLRs in memory; store: store file; durable: store file + SQLite DLRs",
    )
    parser.add_argument("--install-only", action="store_true")
    args = parser.parse_args(argv)
    if args.install_only:
        emit(
            {
                "peer": "kannel",
                "install_seconds": round(ensure_installed(), 2),
                "kannel_version": kannel_version(),
            }
        )
        return 0
    if args.smsc:
        host, port = parse_hostport(args.smsc)
        result = asyncio.run(
            run_kannel(
                host,
                port,
                args.count,
                args.window,
                mode=args.mode,
                receipts=args.receipts,
                access_log=args.access_log,
                http_concurrency=args.http_concurrency,
                max_seconds=args.timeout,
                keep_workdir=args.keep_workdir,
                persistence=args.persistence,
            )
        )
    else:
        result = asyncio.run(_with_own_smsc(args))
    emit(result)
    return 0 if not result.get("timed_out") else 1


if __name__ == "__main__":
    sys.exit(main())
