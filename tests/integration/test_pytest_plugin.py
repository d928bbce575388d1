"""The pytest plugin (`scenarios.pytest_plugin`), loaded into a separate pytest run by pytester.

The inner runs load the plugin with ``-p scenarios.pytest_plugin`` (the ``pytest11`` entry point
exists only once the package is reinstalled); a separate test checks that pyproject.toml
declares that entry point for the same module.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "library" / "smoke.yaml"
PLUGIN = "scenarios.pytest_plugin"


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the inner session in a subprocess with the plugin loaded explicitly."""
    return pytester.runpytest_subprocess(
        "-p", PLUGIN, "-p", "no:cacheprovider", "--strict-markers", *args, timeout=120
    )


def test_pyproject_declares_the_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    plugins = project["entry-points"]["pytest11"]
    # Named after the module, so `-p scenarios.pytest_plugin` and the entry point never
    # register the module twice.
    assert plugins == {PLUGIN: PLUGIN}


@pytest.mark.parametrize("explicit", [False, True], ids=["entry-point", "entry-point-and-p"])
def test_the_declared_entry_point_loads_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, explicit: bool
) -> None:
    # What reinstalling the package will do, without touching the environment: a dist-info
    # carrying pyproject.toml's pytest11 table, on the inner run's path.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    table = project["entry-points"]["pytest11"]
    site = pytester.mkdir("site")
    info = site / "sms_harness_probe-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sms-harness-probe\nVersion: 0.0\n")
    lines = [f"{name} = {target}" for name, target in table.items()]
    (info / "entry_points.txt").write_text("[pytest11]\n" + "\n".join(lines) + "\n")
    monkeypatch.setenv("PYTHONPATH", f"{site}:{ROOT}")
    pytester.makepyfile(
        test_loaded="""
        def test_fixtures_exist(smsc_config, scenario_run):
            assert smsc_config["accounts"][0]["system_id"] == "esme"
            assert callable(scenario_run)
        """
    )

    args = ["-p", PLUGIN] if explicit else []
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", "-q", timeout=120)

    result.assert_outcomes(passed=1)


def test_smsc_fixture_serves_a_real_esme(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_esme="""
        import pytest
        from simulator.smpp.pdu import SubmitSm, SubmitSmResp
        from simulator.testing import SmppTestClient

        @pytest.mark.asyncio
        async def test_default_account(smsc):
            assert smsc.host == "127.0.0.1" and smsc.port > 0
            assert smsc.credentials() == ("esme", "secret")
            assert smsc.network is None
            client = await SmppTestClient.connect(smsc.host, smsc.port)
            try:
                system_id, password = smsc.credentials()
                await client.bind(system_id, password, "transceiver")
                resp = await client.request(
                    SubmitSm(source_addr="12345", destination_addr="819012345678",
                             short_message=b"hello", registered_delivery=1)
                )
                assert isinstance(resp, SubmitSmResp) and resp.command_status == 0
                receipts = await client.deliveries(1, within=5.0)
                assert b"stat:DELIVRD" in receipts[0].short_message
            finally:
                await client.close()
            assert smsc.server.stats.accepted == 1
            assert smsc.server.store.get(resp.message_id) is not None

        @pytest.mark.smsc(accounts=[{"system_id": "billing", "password": "pw1"},
                                    {"system_id": "alerts", "password": "pw2"}],
                          receipts={"delay_s": 0.05, "stat": "UNDELIV"})
        @pytest.mark.asyncio
        async def test_marker_configures(smsc):
            assert smsc.accounts == (("billing", "pw1"), ("alerts", "pw2"))
            assert smsc.credentials(1) == ("alerts", "pw2")
            with pytest.raises(LookupError):
                smsc.credentials(2)
            client = await SmppTestClient.connect(smsc.host, smsc.port)
            try:
                await client.bind("billing", "pw1", "transceiver")
                await client.request(
                    SubmitSm(source_addr="12345", destination_addr="819012345678",
                             short_message=b"x", registered_delivery=1)
                )
                receipts = await client.deliveries(1, within=5.0)
                assert b"stat:UNDELIV" in receipts[0].short_message
            finally:
                await client.close()
        """
    )

    result = run_inner(pytester, "-q")

    result.assert_outcomes(passed=2)


def test_smsc_with_a_network_section_exposes_the_carrier_model(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_network="""
        import pytest
        from simulator.smpp.pdu import SubmitSm
        from simulator.testing import SmppTestClient

        def network(outcome):
            outcomes = {"delivered": 0, "expired": 0, "unknown_subscriber": 0, "rejected": 0,
                        "unknown": 0, outcome: 1.0}
            return {"seed": 3, "speed": 1000, "config": {
                "absence": {"p_absent": 0},
                "subscribers": [{"number": "09012345678"}],
                "routes": {"domestic_direct": {"outcomes": outcomes,
                                               "latency": {"kind": "fixed", "seconds": 1}}},
            }}

        async def send(smsc):
            client = await SmppTestClient.connect(smsc.host, smsc.port)
            try:
                await client.bind(*smsc.credentials(), "transceiver")
                await client.request(
                    SubmitSm(source_addr="12345", destination_addr="819012345678",
                             short_message=b"hello", registered_delivery=1)
                )
                (receipt,) = await client.deliveries(1, within=10.0)
                return receipt.short_message
            finally:
                await client.close()

        @pytest.mark.smsc(network=network("delivered"))
        @pytest.mark.asyncio
        async def test_delivered_into_the_handset(smsc):
            assert b"stat:DELIVRD" in await send(smsc)
            (thread,) = smsc.network.handset("09012345678").threads
            assert thread.sender == "12345"
            assert [m.text for m in thread.messages] == ["hello"]

        @pytest.mark.smsc(network=network("rejected"))
        @pytest.mark.asyncio
        async def test_the_model_decides_the_fate(smsc):
            assert b"stat:REJECTD" in await send(smsc)
            assert smsc.network.handset("09012345678").threads == ()
        """
    )

    run_inner(pytester, "-q").assert_outcomes(passed=2)


def test_smsc_config_can_be_overridden_in_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def smsc_config():
            return {"accounts": [{"system_id": "fromconftest", "password": "x"}]}
        """
    )
    pytester.makepyfile(
        test_override="""
        import pytest

        @pytest.mark.asyncio
        async def test_override(smsc):
            assert smsc.accounts == (("fromconftest", "x"),)
            assert [a for a in smsc.server.config.accounts][0].system_id == "fromconftest"
        """
    )

    run_inner(pytester, "-q").assert_outcomes(passed=1)


def test_smsc_marker_rejects_positional_arguments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.smsc({"accounts": []})
        @pytest.mark.asyncio
        async def test_bad(smsc):
            pass
        """
    )

    result = run_inner(pytester, "-q")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*takes configuration keys by name*"])


def test_scenario_run_passes_and_fails(pytester: pytest.Pytester) -> None:
    failing = SMOKE.read_text(encoding="utf-8").partition("\nexpectations:")[0] + (
        "\nexpectations:\n  - delivered_ratio <= 0.5\n  - all_terminal\n"
    )
    pytester.makepyfile(
        test_scenarios=f"""
        import asyncio
        import pytest

        SMOKE = {str(SMOKE)!r}
        FAILING = {failing!r}

        def test_smoke_file(scenario_run, tmp_path):
            outcome = scenario_run(SMOKE)
            outcome.assert_passed()
            assert outcome.results.counter("messages_delivered") == 20
            assert outcome.verdict("all_terminal").passed
            assert (outcome.run_dir / "ledger.sqlite").is_file()
            assert outcome.run_dir.parent == tmp_path / "runs"

        @pytest.mark.asyncio
        async def test_from_an_async_test(scenario_run):
            outcome = scenario_run(FAILING, speed=20)
            outcome.assert_failed("delivered_ratio <= 0.5")
            assert not outcome.passed
            assert outcome.verdict("all_terminal").passed

        def test_a_failing_run_fails_the_test(scenario_run):
            scenario_run(FAILING).assert_passed()
        """
    )

    result = run_inner(pytester, "-q")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*scenario smoke: 1 expectation(s) failed*",
            "*FAILED delivered_ratio <= 0.5: delivered_ratio 1 > 0.5*",
            "*run directory: *",
        ]
    )


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.smsc(**keys): simulator configuration keys*"])
