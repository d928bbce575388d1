"""The sms-harness pytest plugin: a simulated SMSC and scenario runs as pytest fixtures.

Installed with the package as a ``pytest11`` entry point, so a suite that has sms-harness
installed gets the fixtures without any import (``-p scenarios.pytest_plugin`` loads it
explicitly, e.g. from a source checkout)::

    import pytest

    @pytest.mark.smsc(accounts=[{"system_id": "billing", "password": "s3cret"}])
    @pytest.mark.asyncio
    async def test_my_esme_delivers(smsc) -> None:
        await my_esme.connect(smsc.host, smsc.port, *smsc.credentials())
        await my_esme.send("819012345678", "hello")
        ...
        assert smsc.server.stats.accepted == 1

    def test_nightly_scenario(scenario_run) -> None:
        outcome = scenario_run("scenarios/nightly.yaml", speed=50)
        outcome.assert_passed()

Fixtures:
    ``smsc_config``: the simulator's configuration mapping (the YAML layout of
        `simulator.config.SimulatorConfig`). Default `DEFAULT_SMSC_CONFIG`; override the
        fixture in a conftest, or set keys for one test with ``@pytest.mark.smsc(**keys)``
        (merged over the fixture's value, top-level keys replaced).
    ``smsc``: an async fixture (pytest-asyncio) yielding a `Smsc`: a simulator listening on a
        free loopback port, with its accounts and the server object (stats, message store,
        ``inject_mo``) and, when the configuration has a ``network`` section, the carrier
        model (handsets, threads, owner checks) on a simulated clock.
    ``scenario_run``: a factory ``scenario_run(file_or_scenario, *, speed=None) ->
        ScenarioOutcome``: runs a scenario (simulator + gateway, loopback TCP) into the test's
        temporary directory and returns the outcome with ``passed`` / ``assert_passed()``.

Invariants:
    * Every simulator the fixtures start listens on 127.0.0.1 port 0 and is stopped when the
      test ends, also when it failed.
    * ``scenario_run`` runs the scenario on an event loop of its own in a worker thread, so it
      works from plain and from async tests alike; it blocks the caller until the run ends.
    * Loading the plugin imports neither the gateway nor Textual; they are imported when a
      fixture runs.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from scenarios.expectations import ExpectationResult, RunResults
    from scenarios.runner import RunOutcome
    from scenarios.schema import Scenario
    from simulator.network import CarrierNetwork
    from simulator.server import SimulatorServer
    from simulator.testing import RunningSimulator

#: pytest-asyncio runs the async ``smsc`` fixture; without it the fixture says what is missing.
_HAVE_PYTEST_ASYNCIO: Final[bool] = importlib.util.find_spec("pytest_asyncio") is not None

__all__ = [
    "DEFAULT_SMSC_CONFIG",
    "MARKER",
    "ScenarioOutcome",
    "Smsc",
    "scenario_run",
    "smsc",
    "smsc_config",
]

#: The marker that sets simulator configuration keys for one test.
MARKER: Final[str] = "smsc"

#: The simulator configuration the ``smsc`` fixture uses unless told otherwise: one
#: transceiver account ``esme`` / ``secret`` and receipts (DELIVRD) 0.1 s after submission.
DEFAULT_SMSC_CONFIG: Final[Mapping[str, Any]] = {
    "accounts": [{"system_id": "esme", "password": "secret"}],
    "receipts": {"delay_s": 0.1, "stat": "DELIVRD"},
}


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``smsc`` marker (so ``--strict-markers`` suites accept it)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**keys): simulator configuration keys for the smsc fixture "
        "(the YAML layout of simulator.config.SimulatorConfig, merged over smsc_config)",
    )


@dataclass(frozen=True, slots=True)
class Smsc:
    """A running simulated SMSC, as the ``smsc`` fixture yields it."""

    host: str
    """Address it listens on (loopback)."""
    port: int
    """Port it listens on (a free one)."""
    accounts: tuple[tuple[str, str], ...]
    """(system_id, password) of each configured account; empty in open mode."""
    running: RunningSimulator
    """The handle `simulator.testing.running_simulator` yielded."""
    network: CarrierNetwork | None = None
    """The carrier model when the configuration has a ``network`` section: handsets
    (``network.handset(number)``), subscribers, owner checks."""

    @property
    def server(self) -> SimulatorServer:
        """The server: ``stats``, ``store`` (messages and receipts), ``accounts``, ``inject_mo``."""
        return self.running.server

    def credentials(self, index: int = 0) -> tuple[str, str]:
        """(system_id, password) of the `index`-th account.

        Raises:
            LookupError: There is no such account (open mode accepts any credentials).
        """
        if index >= len(self.accounts):
            raise LookupError(
                f"the simulator has {len(self.accounts)} account(s); "
                "in open mode any system_id/password binds"
            )
        return self.accounts[index]


def _merged(base: Mapping[str, Any], marker: pytest.Mark | None) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes configuration keys by name, e.g. "
                f"@pytest.mark.{MARKER}(accounts=[...]); got positional {marker.args!r}"
            )
        merged.update(copy.deepcopy(marker.kwargs))
    merged["host"] = "127.0.0.1"
    merged["port"] = 0
    return merged


@pytest.fixture
def smsc_config() -> dict[str, Any]:
    """The simulator configuration of the ``smsc`` fixture (override it in a conftest)."""
    return copy.deepcopy(dict(DEFAULT_SMSC_CONFIG))


async def _smsc(
    request: pytest.FixtureRequest, smsc_config: Mapping[str, Any]
) -> AsyncIterator[Smsc]:
    # Imported here: loading the plugin must stay cheap for suites that never use it.
    from simulator.carrier import carrier_handler
    from simulator.config import config_from_mapping
    from simulator.testing import running_simulator

    config = config_from_mapping(_merged(smsc_config, request.node.get_closest_marker(MARKER)))
    network = None
    handler = None
    clock = None
    if config.network is not None:
        handler, clock = carrier_handler(config.network)
        network = handler.network
    accounts = tuple((a.system_id, a.password.get_secret_value()) for a in config.accounts)
    async with running_simulator(config, handler=handler, clock=clock) as running:
        yield Smsc(running.host, running.port, accounts, running, network)


if _HAVE_PYTEST_ASYNCIO:
    import pytest_asyncio

    smsc = pytest_asyncio.fixture(_smsc, name="smsc")
else:  # pragma: no cover

    @pytest.fixture(name="smsc")
    def smsc() -> None:
        """Needs pytest-asyncio (``pip install pytest-asyncio``)."""
        pytest.fail("the smsc fixture needs pytest-asyncio (pip install pytest-asyncio)")


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """What ``scenario_run`` returns: the run's outcome with pass/fail helpers."""

    outcome: RunOutcome
    """The runner's outcome (run directory, results, verdicts, JSON report)."""

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return self.outcome.passed

    @property
    def results(self) -> RunResults:
        """The run's results (counters, outcomes, latencies)."""
        return self.outcome.results

    @property
    def verdicts(self) -> list[ExpectationResult]:
        """One verdict per expectation, in the scenario's order."""
        return self.outcome.verdicts

    @property
    def failed(self) -> list[ExpectationResult]:
        """The verdicts that failed."""
        return self.outcome.failed

    @property
    def run_dir(self) -> Path:
        """The run directory (ledger.sqlite, results.json, report.html, ...)."""
        return self.outcome.run.path

    def verdict(self, name: str) -> ExpectationResult:
        """The verdict of the expectation called `name`.

        Raises:
            KeyError: No expectation has that name.
        """
        for verdict in self.outcome.verdicts:
            if verdict.name == name:
                return verdict
        raise KeyError(f"no expectation named {name!r}; have {[v.name for v in self.verdicts]}")

    def failure_report(self) -> str:
        """One line per failed expectation with its margin, and where the run directory is."""
        lines = [f"FAILED {v.name}: {v.margin}" for v in self.failed]
        lines.append(f"run directory: {self.run_dir}")
        return "\n".join(lines)

    def assert_passed(self) -> None:
        """Fail the test (naming every failed expectation) unless every expectation held."""
        if not self.passed:
            pytest.fail(
                f"scenario {self.results.scenario}: {len(self.failed)} expectation(s) failed\n"
                + self.failure_report(),
                pytrace=False,
            )

    def assert_failed(self, *names: str) -> None:
        """Fail the test unless the run failed; with `names`, unless exactly those failed."""
        failed = [v.name for v in self.failed]
        if not failed:
            pytest.fail(f"scenario {self.results.scenario}: every expectation held", pytrace=False)
        if names and sorted(failed) != sorted(names):
            pytest.fail(f"expected {sorted(names)} to fail, but {sorted(failed)} failed")


ScenarioRunner = Callable[..., ScenarioOutcome]
"""``scenario_run(file_or_scenario, *, speed=None, timeout=120.0) -> ScenarioOutcome``."""


def _in_thread(scenario: Scenario, root: Path, speed: float | None, timeout: float) -> RunOutcome:
    from scenarios.runner import run_scenario

    async def main() -> RunOutcome:
        async with asyncio.timeout(timeout):
            return await run_scenario(scenario, root=root, speed=speed)

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = asyncio.run(main())
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name="smsh-scenario-run", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    outcome: RunOutcome = box["outcome"]
    return outcome


@pytest.fixture
def scenario_run(tmp_path: Path) -> ScenarioRunner:
    """A factory that runs a scenario and returns its `ScenarioOutcome`.

    Call it with a scenario file (path), YAML text containing a newline, or a loaded
    `scenarios.schema.Scenario`; ``speed`` overrides the scenario's speed, ``timeout`` bounds
    the run in real seconds. Run directories go under the test's ``tmp_path / "runs"``.
    """
    from scenarios.loader import load_scenario, load_scenario_text
    from scenarios.schema import Scenario

    def run(
        source: Scenario | Path | str, *, speed: float | None = None, timeout: float = 120.0
    ) -> ScenarioOutcome:
        if isinstance(source, Scenario):
            scenario = source
        elif isinstance(source, str) and "\n" in source:
            scenario = load_scenario_text(source, "<scenario_run>")
        else:
            scenario = load_scenario(source)
        return ScenarioOutcome(_in_thread(scenario, tmp_path / "runs", speed, timeout))

    return run
