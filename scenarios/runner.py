"""The scenario runner: our simulator and our gateway in one process, over real loopback TCP.

    scenario = load_scenario("scenarios/library/smoke.yaml")
    outcome = asyncio.run(run_scenario(scenario, root="runs"))
    print(render_table(outcome.results, outcome.verdicts))
    sys.exit(0 if outcome.passed else 1)

Theory of operation:
    1. The traffic is generated up front (`scenarios.traffic.generate`) and every message is
       recorded as planned in the run's ledger (`runs/<name>-<timestamp>/ledger.sqlite`).
    2. A `ScaledClock` starts at the scenario's simulated start and runs at `speed`. The
       simulator (`simulator.testing.running_simulator`, with `CarrierNetworkHandler` over
       `CarrierNetwork(scenario.network_config(), seed, name)`) listens on a free loopback port;
       the gateway (`gateway.gateway.Gateway`, with a SQLite store in the run directory) binds
       to it with the scenario's credentials. Both publish on one `InMemoryBus` (the caller's,
       when it passes ``bus=``; else one the runner opens and closes), and every event is piped
       into `Ledger.observe`. The runner publishes its own `ScenarioProgress` there too
       (component `PROGRESS_COMPONENT`, instance `PROGRESS_INSTANCE`), about once a real second
       and once at the end. `gateway.control.GatewayControls` answers operator
       controls (pause_bind, resume_bind, set_rate, drain) on that bus during the run, and
       `simulator.control.SimulatorControls` the simulator's (inject_fault, clear_fault). With a
       `bus_url`, a `sms.bus.bridge.BusBridge` mirrors every event to that (MQTT) bus and
       forwards the controls that arrive there.
    3. Each message is handed to `Gateway.submit` at its `send_at` on the scenario clock, with
       its key as `client_ref` (the ledger keys gateway events by it). A refusal is recorded as
       such (`record_refused`).
    4. The run stops when every accepted message is terminal and every planned message has been
       handed over, or at the timeline's end (traffic end + drain), whichever comes first.
    5. The results are evaluated against the expectations, the ledger is closed and
       `results.json` and `report.html` are written into the run directory.

Limitations (refused up front with `UnsupportedScenario`, never silently ignored):
    * `external` topologies (their SMSC or their ESME): only our simulator + our gateway run here.

Sending policies are the gateway's (`gateway.admission`); the runner only configures them:
    * `gateway.owner_check` becomes the gateway's `owner_check` section. A message whose stream
      gives an obtained date carries it in its metadata (``obtained``) and the gateway checks it
      before accepting it, against `owner_check.url` or, when that is None, the simulator's
      lookup API (`simulator.lookup.running_lookup` on loopback, given to the gateway as its
      ``owner_check`` client). The gateway's refusals (``owner_check_blocked``,
      ``owner_check_no_data``, ``owner_check_failed``: fail closed) are recorded as refused.
    * `gateway.quiet_hours` becomes the gateway's `quiet_hours` section: the gateway accepts a
      message due outside the window as scheduled for the next opening, with its validity
      capped at the window's close; the runner records such a message as a
      ``quiet_hours_deferred`` ledger event.
    * Every route the runner configures has `harness_tlvs` on: the gateway derives the harness
      TLVs 0x1500-0x1502 (key = client_ref, intended owner and obtained date from the metadata)
      and sends them on every part, so the simulator knows each message's key and owner.
    * A route without `default_sender` gets `FALLBACK_SENDER` (streams may still set `source`).

Invariants:
    * Everything the run leaves behind is in its run directory; nothing is written elsewhere.
    * Leaving `run_scenario` (normally or by an exception) stops the gateway and the simulator
      and closes the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from gateway.config import config_from_dict
from gateway.control import GatewayControls
from gateway.gateway import Gateway, open_store
from gateway.ownercheck import HttpOwnerCheckClient, OwnerCheckClient
from gateway.routing import SubmitRejected
from gateway.store import TERMINAL_STATES, MessageState
from scenarios.expectations import ExpectationResult, LiveExpectations, RunResults, evaluate
from scenarios.ledger import Ledger, RunDirectory, create_run_directory, open_ledger
from scenarios.report import report_json, write_reports
from scenarios.schema import GatewaySpec, Scenario, SimulatorSpec, parse_address
from scenarios.traffic import TrafficMessage, generate, timeline
from simulator.carrier import CarrierNetworkHandler
from simulator.control import SimulatorControls
from simulator.lookup import running_lookup
from simulator.network import CarrierNetwork
from simulator.testing import running_simulator
from sms.bus.bridge import BusBridge
from sms.bus.bus import Bus, Publisher, Subscription
from sms.bus.errors import BusClosed
from sms.bus.events import ScenarioPhase, ScenarioProgress
from sms.bus.memory import InMemoryBus
from sms.bus.url import bus_from_url
from sms.clock import ScaledClock

__all__ = [
    "FALLBACK_SENDER",
    "PROGRESS_COMPONENT",
    "PROGRESS_INSTANCE",
    "RunOutcome",
    "UnsupportedScenario",
    "account_route",
    "gateway_config",
    "run_scenario",
    "simulator_config",
    "unsupported",
]

#: Sender of a route that names none (the library's numeric sender code): a scenario whose
#: streams and routes give no sender still runs instead of refusing every message.
FALLBACK_SENDER: Final[str] = "00051234"
#: How often (real seconds) the runner checks whether every message is terminal.
_POLL_S: Final[float] = 0.05
#: Buffer of the ledger's bus subscription: large, so no fact is dropped.
_BUS_BUFFER: Final[int] = 1_000_000
#: Component and instance of the `ScenarioProgress` events the runner publishes.
PROGRESS_COMPONENT: Final[str] = "scenario"
PROGRESS_INSTANCE: Final[str] = "runner"

ProgressCallback = Callable[[ScenarioProgress], None]
"""Called about once a real second with where the run stands."""


class UnsupportedScenario(Exception):
    """The scenario asks for something this runner cannot provide; the text says what."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one run produced."""

    run: RunDirectory
    """The run directory (ledger, scenario copy, results.json, report.html)."""
    results: RunResults
    """The final results."""
    verdicts: list[ExpectationResult]
    """One verdict per expectation, in the scenario's order."""
    report: dict[str, Any]
    """The JSON report (`scenarios.report.report_json`), as written to results.json."""
    stopped_early: bool
    """True when every message became terminal before the timeline's end."""

    @property
    def passed(self) -> bool:
        """True when every expectation passed."""
        return all(v.passed for v in self.verdicts)

    @property
    def failed(self) -> list[ExpectationResult]:
        """The verdicts that failed."""
        return [v for v in self.verdicts if not v.passed]


def unsupported(scenario: Scenario) -> list[str]:
    """What in `scenario` this runner cannot run (empty: it can).

    Args:
        scenario: The scenario.

    Returns:
        One sentence per unsupported feature.
    """
    problems: list[str] = []
    if scenario.external is not None:
        problems.append("external systems (external.smsc / external.esme) are not supported")
    return problems


def simulator_config(
    spec: SimulatorSpec, *, epoch_s: float | None = None, seed: int = 0
) -> dict[str, Any]:
    """The simulator's configuration mapping (`simulator.config`) for a scenario's section.

    Args:
        spec: The scenario's simulator section.
        epoch_s: The scenario's simulated start: `wire_faults` windows count from it (None:
            the simulated clock when the server starts).
        seed: The scenario seed (which PDUs the wire faults damage, the garbage octets).

    Returns:
        A mapping in the YAML layout of `simulator.config.SimulatorConfig`.
    """
    host, port = parse_address(spec.listen)
    accounts: list[dict[str, Any]] = []
    for account in spec.accounts:
        entry: dict[str, Any] = {
            "system_id": account.system_id,
            "password": account.password.get_secret_value(),
            "bind_modes": list(account.bind_modes),
        }
        for name in ("max_binds", "max_tps", "window", "max_queue"):
            value = getattr(account, name)
            if value is not None:
                entry[name] = value
        accounts.append(entry)
    config: dict[str, Any] = {"host": host, "port": port, "accounts": accounts}
    if spec.wire_faults:
        config["wire_faults"] = {
            "epoch_s": epoch_s,
            "seed": seed,
            "faults": [fault.model_dump(mode="json") for fault in spec.wire_faults],
        }
    return config


def gateway_config(
    spec: GatewaySpec,
    *,
    host: str,
    port: int,
    store: Path,
    seed: int,
    accounts: Sequence[str] = (),
) -> dict[str, Any]:
    """The gateway's configuration mapping (`gateway.config`) for a scenario's section.

    Args:
        spec: The scenario's gateway section.
        host: The simulator's address.
        port: The simulator's (actual) port.
        store: Path of the gateway's SQLite store.
        seed: The scenario seed (retry and reconnect jitter).
        accounts: system_ids the traffic forces (`account:` of a stream); each one no route
            names gets a route of its own (`account_route`) over its binds, shaped like the last
            (catch-all) route.

    Returns:
        A mapping accepted by `gateway.config.config_from_dict`.
    """
    binds: list[dict[str, Any]] = []
    by_account: dict[str, list[str]] = {}
    for i, bind in enumerate(spec.binds):
        name = bind.name or f"{bind.system_id}-{i + 1}"
        entry: dict[str, Any] = {
            "name": name,
            "host": host,
            "port": port,
            "system_id": bind.system_id,
            "password": bind.password.get_secret_value(),
            "system_type": bind.system_type,
            "mode": bind.mode,
            "count": bind.count,
            "window": spec.window,
            "response_timeout": spec.response_timeout,
            "enquire_link_interval": spec.enquire_link,
            "reconnect": {"base": spec.reconnect_delay, "factor": 2.0, "cap": 30.0},
        }
        if spec.rate is not None:
            burst = spec.burst if spec.burst is not None else None
            entry["rate"] = {"rate": spec.rate, "burst": burst}
        binds.append(entry)
        if bind.mode != "receiver":
            by_account.setdefault(bind.system_id, []).append(name)
    routes: list[dict[str, Any]] = []
    for route in spec.routes:
        routes.append(
            {
                "name": route.name,
                "prefixes": list(route.prefixes),
                "binds": by_account.get(route.account, []) if route.account else [],
                "profile": route.profile,
                "method": str(route.method),
                "default_sender": route.default_sender or FALLBACK_SENDER,
                "registered_delivery": spec.registered_delivery,
                "harness_tlvs": True,
            }
        )
    fallback = spec.routes[-1]
    for account in accounts:
        if any(r.account == account for r in spec.routes) or account not in by_account:
            continue
        routes.append(
            {
                "name": account_route(account),
                "prefixes": list(fallback.prefixes),
                "binds": by_account[account],
                "profile": fallback.profile,
                "method": str(fallback.method),
                "default_sender": fallback.default_sender or FALLBACK_SENDER,
                "registered_delivery": spec.registered_delivery,
                "harness_tlvs": True,
            }
        )
    return {
        "instance": spec.instance,
        "seed": seed,
        "store": {"path": str(store), "synchronous": "NORMAL"},
        "binds": binds,
        "routes": routes,
        "retry": spec.retry.model_dump(mode="json", exclude_unset=True),
        "receipts": {
            "resp_id": str(spec.receipts.resp_id),
            "receipt_id": str(spec.receipts.receipt_id),
            "pending_expiry": spec.receipts.pending_expiry,
            "receipt_timeout": spec.receipt_timeout if spec.registered_delivery else None,
        },
        "validity": spec.validity,
        "owner_check": {
            "enabled": spec.owner_check.enabled,
            "url": spec.owner_check.url,
            "no_data": spec.owner_check.no_data,
        },
        "quiet_hours": {
            "enabled": spec.quiet_hours.enabled,
            "window": spec.quiet_hours.window,
            "timezone": str(spec.quiet_hours.timezone),
        },
        "dispatch": {"poll_interval": 0.05, "maintenance_interval": 0.5},
        "shutdown_timeout": 5.0,
    }


def account_route(account: str) -> str:
    """The name of the route the runner adds for traffic forced onto SMSC account `account`."""
    return f"account-{account}"


def _route_for(spec: GatewaySpec, message: TrafficMessage) -> str | None:
    if message.route is not None:
        return message.route
    if message.account is not None:
        named = next((r.name for r in spec.routes if r.account == message.account), None)
        return named if named is not None else account_route(message.account)
    return None


class _Cutoff:
    """Once the run has stopped, what the shutdown itself publishes (binds closing, ...) stays
    out of the ledger: `close` takes every event published up to the stop, then shuts the door.
    """

    def __init__(self) -> None:
        self.at: float | None = None
        self.closed = False

    def close(self, at: float, subscription: Subscription, ledger: Ledger) -> None:
        """Record every buffered event, then ignore later ones; `at` is the stop's clock time."""
        for _topic, event in subscription.drain():
            ledger.observe(event)
        self.at = at
        self.closed = True


async def _pump(subscription: Subscription, ledger: Ledger, cutoff: _Cutoff) -> None:
    async for _topic, event in subscription:
        if not cutoff.closed:
            ledger.observe(event)


@contextlib.asynccontextmanager
async def _bridged(local: Bus, remote: Bus | None) -> AsyncIterator[None]:
    """Start `remote` and mirror `local` onto it for the block (nothing when None)."""
    if remote is None:
        yield
        return
    async with remote, BusBridge(local, remote):
        yield


async def run_scenario(
    scenario: Scenario,
    *,
    root: Path | str = "runs",
    speed: float | None = None,
    progress: ProgressCallback | None = None,
    progress_interval: float = 1.0,
    extra_meta: dict[str, Any] | None = None,
    bus_url: str | None = None,
    bus: InMemoryBus | None = None,
) -> RunOutcome:
    """Run a scenario end to end (see the module docstring).

    Args:
        scenario: The loaded scenario.
        root: Parent directory of the run directory.
        speed: Simulated seconds per real second (None: the scenario's `speed`).
        progress: Called with a `ScenarioProgress` about every `progress_interval` real seconds
            and once at the end (each one is published on the bus first).
        progress_interval: Real seconds between progress events.
        extra_meta: More metadata for run.json and the report.
        bus_url: Also mirror every event to this bus (``mqtt://host:port``) and take controls
            (``smsh/v1/control/#``) from it, through a `sms.bus.bridge.BusBridge`; the ledger
            still reads the in-process bus. None: the in-process bus only.
        bus: The in-process bus to run on, started by the caller, who also closes it (an
            operator console watching it, for example). None: the runner opens its own.

    Returns:
        The outcome: run directory, results, verdicts and the JSON report.

    Raises:
        UnsupportedScenario: The scenario needs something this runner cannot do.
        BusUrlError: `bus_url` is not a bus URL (raised before anything is created).
    """
    problems = unsupported(scenario)
    if problems:
        raise UnsupportedScenario(f"{scenario.name}: " + "; ".join(problems))
    rate = scenario.speed if speed is None else speed
    if rate <= 0:
        raise UnsupportedScenario(f"speed must be positive, not {rate}")
    remote = None if bus_url is None else bus_from_url(bus_url)
    extent = timeline(scenario)
    messages = list(generate(scenario))
    meta: dict[str, Any] = {"speed": rate, **(extra_meta or {})}
    run = create_run_directory(scenario, root, extra=meta)
    start = scenario.start_s
    clock = ScaledClock(start, rate)
    live = LiveExpectations(scenario.expectations)
    wall0 = time.monotonic()
    stopped_early = False
    ledger = open_ledger(run)
    try:
        for message in messages:
            ledger.record_planned(message)
        spec = scenario.gateway_spec
        network = CarrierNetwork(scenario.network_config(), scenario.seed, scenario.name)
        handler = CarrierNetworkHandler(network)
        async with contextlib.AsyncExitStack() as bus_stack:
            events = bus if bus is not None else await bus_stack.enter_async_context(InMemoryBus())
            await bus_stack.enter_async_context(_bridged(events, remote))
            emit = _progress_emitter(events, progress)
            subscription = events.subscribe("#", maxsize=_BUS_BUFFER, overflow="drop_newest")
            async with subscription:
                cutoff = _Cutoff()
                pump = asyncio.create_task(_pump(subscription, ledger, cutoff))
                try:
                    async with running_simulator(
                        simulator_config(
                            scenario.simulator_spec, epoch_s=start, seed=scenario.seed
                        ),
                        bus=events,
                        clock=clock,
                        handler=handler,
                    ) as sim:
                        config = config_from_dict(
                            gateway_config(
                                spec,
                                host=sim.host,
                                port=sim.port,
                                store=run.path / "gateway.sqlite3",
                                seed=scenario.seed,
                                accounts=sorted(
                                    {m.account for m in messages if m.account is not None}
                                ),
                            ),
                            source=f"scenario {scenario.name}",
                        )
                        store = open_store(config)
                        try:
                            async with contextlib.AsyncExitStack() as stack:
                                client: OwnerCheckClient | None = None
                                if spec.owner_check.enabled and spec.owner_check.url is None:
                                    # No URL: the simulator's lookup API stands in for the
                                    # carrier's (with a URL the gateway makes its own client).
                                    url = await stack.enter_async_context(
                                        running_lookup(network, clock)
                                    )
                                    client = HttpOwnerCheckClient(url, timeout=10.0)
                                gateway = await stack.enter_async_context(
                                    Gateway(config, store, events, clock, owner_check=client)
                                )
                                await stack.enter_async_context(GatewayControls(gateway))
                                await stack.enter_async_context(SimulatorControls(sim.server))
                                stopped_early = await _drive(
                                    scenario,
                                    messages,
                                    gateway,
                                    ledger,
                                    clock,
                                    live,
                                    end_at=start + extent.run_end_s,
                                    emit=emit,
                                    progress_interval=progress_interval,
                                    wall0=wall0,
                                )
                                cutoff.close(clock.now(), subscription, ledger)
                        finally:
                            store.close()
                finally:
                    if not cutoff.closed:
                        cutoff.close(clock.now(), subscription, ledger)
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pump
            end = clock.now() if cutoff.at is None else cutoff.at
            results = ledger.results(end_at=end, wall_s=time.monotonic() - wall0)
            verdicts = evaluate(scenario.expectations, results)
            # Still on the bus (and its bridge): watchers see the run finish.
            emit(
                live.progress(
                    results,
                    at=end,
                    phase="finished",
                    elapsed_s=end - start,
                    progress=1.0,
                    final=True,
                )
            )
        ledger.close(results)
    except BaseException:
        ledger.close()
        raise
    report_meta = {**run.meta, **meta, "stopped_early": stopped_early}
    write_reports(run, results, verdicts, meta=report_meta)
    report = report_json(results, verdicts, meta=report_meta)
    return RunOutcome(run, results, verdicts, report, stopped_early)


def _progress_emitter(bus: Bus, progress: ProgressCallback | None) -> ProgressCallback:
    """Publish each progress event on `bus` (as the runner), then hand it to `progress`."""
    publisher = Publisher(bus, PROGRESS_COMPONENT, PROGRESS_INSTANCE)

    def emit(event: ScenarioProgress) -> None:
        with contextlib.suppress(BusClosed):  # a caller's bus closed early must not stop the run
            publisher.publish_nowait(event)
        if progress is not None:
            progress(event)

    return emit


async def _drive(
    scenario: Scenario,
    messages: Sequence[TrafficMessage],
    gateway: Gateway,
    ledger: Ledger,
    clock: ScaledClock,
    live: LiveExpectations,
    *,
    end_at: float,
    emit: ProgressCallback,
    progress_interval: float,
    wall0: float,
) -> bool:
    """Submit the traffic on time, then wait for final states; True when all became terminal."""
    spec = scenario.gateway_spec
    start = scenario.start_s
    next_progress = time.monotonic()
    accepted = 0

    def report(phase: ScenarioPhase, done: int) -> None:
        nonlocal next_progress
        if time.monotonic() < next_progress:
            return
        next_progress = time.monotonic() + progress_interval
        now = clock.now()
        share = done / len(messages) if messages else 1.0
        emit(
            live.progress(
                ledger.results(light=True, end_at=now, wall_s=time.monotonic() - wall0),
                at=now,
                phase=phase,
                elapsed_s=max(0.0, now - start),
                progress=min(1.0, share),
            )
        )

    for n, message in enumerate(messages):
        while True:
            wait = message.send_at - clock.now()
            if wait <= 0:
                break
            report("running", n)
            await asyncio.sleep(min(clock.to_real(wait), progress_interval))
        if clock.now() >= end_at:
            break
        metadata: dict[str, Any] = {"key": message.key, "stream": message.stream}
        if message.owner is not None:
            metadata["owner"] = message.owner
        if message.obtained is not None:
            metadata["obtained"] = message.obtained.isoformat()
        handed_at = clock.now()
        try:
            message_id = await gateway.submit(
                message.destination,
                message.text,
                source=message.source,
                client_ref=message.key,
                validity=message.validity_s,
                route=_route_for(spec, message),
                metadata=metadata,
            )
            accepted += 1
        except SubmitRejected as exc:
            ledger.record_refused(message.key, handed_at, exc.reason.value, exc.detail)
            continue
        if spec.quiet_hours.enabled:
            status = await gateway.status(message_id)
            if status.state is MessageState.SCHEDULED:
                when = datetime.fromtimestamp(status.next_attempt_at, UTC).isoformat()
                ledger.record_event(
                    "quiet_hours_deferred", handed_at, key=message.key, detail=f"not before {when}"
                )
    while clock.now() < end_at:
        counts = await gateway.counts()
        pending = sum(n for state, n in counts.items() if state not in TERMINAL_STATES)
        if pending == 0 and sum(counts.values()) >= accepted:
            return True
        report("draining", len(messages))
        await asyncio.sleep(_POLL_S)
    return False
