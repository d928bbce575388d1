"""gateway.config: validation, cross-references, errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import config_from_dict, load_config
from gateway.errors import GatewayConfigError
from gateway.policy import Scope
from sms.receipt import IdBase

MINIMAL: dict[str, Any] = {"binds": [{"name": "a", "system_id": "esme", "password": "pw"}]}


def test_minimal_config_has_working_defaults() -> None:
    config = config_from_dict(MINIMAL)
    assert config.binds[0].session_names == ["a"]
    assert config.routes[0].name == "default"
    assert config.store.synchronous == "FULL"
    assert config.id_rule().casefold


def test_count_expands_sessions_and_rates_become_overrides() -> None:
    config = config_from_dict(
        {
            "binds": [{"name": "a", "system_id": "x", "count": 3, "rate": {"rate": 10}}],
            "routes": [{"name": "jp", "prefixes": ["+81"], "rate": {"rate": 5, "burst": 2}}],
            "rates": {"global": {"rate": 100}, "senders": {"ACME": {"rate": 1}}},
        }
    )
    assert config.binds[0].session_names == ["a-1", "a-2", "a-3"]
    limits = config.rate_limits()
    assert limits.delay_until_available(10, 0.0, bind="a-2") == 0.0
    assert limits.delay_until_available(11, 0.0, bind="a-2") == float("inf")
    assert limits.delay_until_available(3, 0.0, bind="x", route="jp") == float("inf")
    assert limits.delay_until_available(2, 0.0, bind="x", sender="ACME") == float("inf")
    assert (Scope.BIND, "a-3") in limits._overrides


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"binds": [{"name": "a", "system_id": "x", "window": 0}]}, "binds.0.window"),
        ({"binds": [{"name": "a", "system_id": "x", "password": "123456789"}]}, "binds.0.password"),
        ({"binds": [{"name": "a", "system_id": "x", "typo": 1}]}, "binds.0.typo"),
        ({"binds": []}, "binds"),
        ({"routes": [{"name": "r", "profile": "jp-nowhere"}]}, "routes.0.profile"),
        ({"routes": [{"name": "r", "prefixes": ["81"]}]}, "routes.0.prefixes"),
        ({"routes": [{"name": "r", "binds": ["ghost"]}]}, "(root)"),
        ({"store": {"synchronous": "OFF"}}, "store.synchronous"),
        ({"receipts": {"resp_id": "hex", "receipt_id": "text"}}, "receipts"),
    ],
)
def test_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        config_from_dict({**MINIMAL, **change}, source="gw.yaml")
    assert info.value.field == field
    assert f"gw.yaml: {field}" in str(info.value)


def test_route_bind_reference_error_names_the_route() -> None:
    with pytest.raises(GatewayConfigError, match=r"routes\.0\.binds: no bind named 'ghost'"):
        config_from_dict({**MINIMAL, "routes": [{"name": "r", "binds": ["ghost"]}]})


def test_receiver_only_config_is_refused() -> None:
    with pytest.raises(GatewayConfigError, match="transmitter or transceiver"):
        config_from_dict({"binds": [{"name": "a", "system_id": "x", "mode": "receiver"}]})


def test_kannel_msg_id_type_sets_the_id_rule() -> None:
    config = config_from_dict({**MINIMAL, "receipts": {"kannel_msg_id_type": 1}})
    rule = config.id_rule()
    assert (rule.resp_base, rule.receipt_base) == (IdBase.HEX, IdBase.DECIMAL)


def test_load_config_resolves_the_store_path_and_reports_yaml_errors(tmp_path: Path) -> None:
    good = tmp_path / "gw.yaml"
    good.write_text(
        "store: {path: data/gw.sqlite3}\nbinds:\n  - {name: a, system_id: x}\n", encoding="utf-8"
    )
    assert load_config(good).store.path == tmp_path / "data" / "gw.sqlite3"
    bad = tmp_path / "bad.yaml"
    bad.write_text("binds: [\n  - oops: {\n", encoding="utf-8")
    with pytest.raises(GatewayConfigError, match=r"bad\.yaml: line \d+: not valid YAML"):
        load_config(bad)
    with pytest.raises(GatewayConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n", encoding="utf-8")
    with pytest.raises(GatewayConfigError, match="must be a mapping"):
        load_config(scalar)


def test_the_documented_examples_validate() -> None:
    import textwrap

    import yaml

    import gateway.config as module

    doc = module.__doc__ or ""
    blocks = doc.split("::\n")[1:]
    assert len(blocks) == 2
    for block in blocks:
        lines: list[str] = []
        for line in block.splitlines():
            if line.strip() and not line.startswith(" "):
                break
            lines.append(line)
        config = config_from_dict(yaml.safe_load(textwrap.dedent("\n".join(lines))))
        assert config.binds
