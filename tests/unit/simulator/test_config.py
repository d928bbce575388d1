"""simulator.config: defaults (open mode), YAML loading, errors that name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.config import SimulatorConfig, config_from_mapping, load_config
from simulator.errors import ConfigError


def test_no_document_is_open_mode_with_receipts() -> None:
    config = config_from_mapping(None)
    assert config.is_open
    assert config.accounts == ()
    assert config.default_account.receipts
    assert config.receipts.stat == "DELIVRD"
    assert config.port == 2775


def test_listing_accounts_turns_open_mode_off_unless_asked() -> None:
    closed = config_from_mapping({"accounts": [{"system_id": "acme", "password": "pw"}]})
    assert not closed.is_open
    opened = config_from_mapping(
        {"open_mode": True, "accounts": [{"system_id": "acme", "password": "pw"}]}
    )
    assert opened.is_open


def test_yaml_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        """
system_id: carrier
accounts:
  - system_id: acme
    password: secret
    bind_modes: [transmitter, receiver]
    max_binds: 2
    allow_from: [127.0.0.0/8, "::1/128"]
    max_tps: 50
    window: 10
    max_queue: 100
lockout: {max_failures: 3, window_s: 10, lockout_s: 30}
tls: {port: 0, cert_file: cert.pem, key_file: /abs/key.pem}
message_ids: {format: uuid, seed: 7}
receipts: {delay_s: 0.5, stat: UNDELIV, err: 1, timezone: Asia/Tokyo}
""",
        encoding="utf-8",
    )
    config = load_config(path)
    account = config.accounts[0]
    assert account.system_id == "acme"
    assert account.password.get_secret_value() == "secret"
    assert "secret" not in repr(config)
    assert account.bind_modes == ("transmitter", "receiver")
    assert [str(n) for n in account.allow_from] == ["127.0.0.0/8", "::1/128"]
    assert config.lockout.max_failures == 3
    assert config.tls is not None
    assert config.tls.cert_file == tmp_path / "cert.pem"  # relative to the file
    assert config.tls.key_file == Path("/abs/key.pem")
    assert config.receipts.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ({"accounts": [{"system_id": "a", "password": "123456789"}]}, "accounts[0].password",
         "at most 8"),
        ({"accounts": [{"system_id": "x" * 16}]}, "accounts[0].system_id", "at most 15"),
        ({"accounts": [{"system_id": "a", "allow_from": ["10.0.0.1/8"]}]},
         "accounts[0].allow_from[0]", "network"),
        ({"accounts": [{"system_id": "a"}, {"system_id": "a"}]}, "accounts[1].system_id",
         "duplicate"),
        ({"acounts": []}, "acounts", "Extra inputs"),
        ({"receipts": {"timezone": "Mars/Olympus"}}, "receipts.timezone", "unknown time zone"),
        ({"accounts": [{"system_id": "a", "bind_modes": ["sender"]}]},
         "accounts[0].bind_modes[0]", "transmitter"),
        ({"limits": {"max_command_length": 8}}, "limits.max_command_length", "16"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_the_field(
    tmp_path: Path, document: dict[str, object], field: str, words: str
) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.field == field
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: {field}: ")
    assert words in str(caught.value)


def test_password_never_appears_in_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"accounts": [{"system_id": "a", "password": "sekrit-too-long"}]})
    assert "sekrit" not in str(caught.value)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("accounts: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: line 2"):
        load_config(path)


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_models_are_frozen() -> None:
    config = SimulatorConfig()
    with pytest.raises(ValueError, match="frozen"):
        config.port = 1


def test_outbind_section() -> None:
    config = config_from_mapping(
        {"accounts": [{"system_id": "acme", "outbind": {"port": 2776, "password": "secret"}}]}
    )
    outbind = config.accounts[0].outbind
    assert outbind is not None
    assert (outbind.host, outbind.port, outbind.system_id) == ("127.0.0.1", 2776, None)
    assert (outbind.retry_initial_s, outbind.retry_max_s) == (1.0, 60.0)
    assert "secret" not in repr(outbind)
    with pytest.raises(ConfigError, match=r"outbind\.port"):
        config_from_mapping({"accounts": [{"system_id": "acme", "outbind": {"port": 0}}]})
    with pytest.raises(ConfigError, match="at most 8 characters"):
        config_from_mapping(
            {"accounts": [{"system_id": "a", "outbind": {"port": 1, "password": "123456789"}}]}
        )
    with pytest.raises(ConfigError, match=r"outbind\.port"):
        config_from_mapping({"accounts": [{"system_id": "acme", "outbind": {}}]})
