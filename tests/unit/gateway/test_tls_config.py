"""A bind's ``tls`` section: parsing, path resolution, and the client SSL context built from it
(`gateway.esme.GatewayEsme.tls_context`)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from gateway.config import BindTlsConfig, config_from_dict, load_config
from gateway.errors import GatewayConfigError
from gateway.esme import GatewayEsme
from tests.integration.test_simulator_accounts import make_certificate


def with_tls(tls: Any) -> dict[str, Any]:
    return {"binds": [{"name": "a", "system_id": "esme", "password": "pw", "tls": tls}]}


def test_no_section_means_plain_tcp() -> None:
    config = config_from_dict({"binds": [{"name": "a", "system_id": "esme"}]})
    assert config.binds[0].tls is None


def test_empty_section_enables_verified_tls_with_system_cas() -> None:
    tls = config_from_dict(with_tls({})).binds[0].tls
    assert tls == BindTlsConfig()
    assert tls is not None
    assert (tls.enabled, tls.verify, tls.ca_file, tls.server_hostname) == (True, True, None, None)


def test_full_section_is_parsed() -> None:
    tls = (
        config_from_dict(
            with_tls(
                {
                    "enabled": False,
                    "ca_file": "/etc/ca.pem",
                    "verify": False,
                    "server_hostname": "smsc.example.net",
                    "cert_file": "/etc/client.pem",
                    "key_file": "/etc/client.key",
                }
            )
        )
        .binds[0]
        .tls
    )
    assert tls is not None
    assert not tls.enabled
    assert tls.ca_file == Path("/etc/ca.pem")
    assert tls.server_hostname == "smsc.example.net"
    assert (tls.cert_file, tls.key_file) == (Path("/etc/client.pem"), Path("/etc/client.key"))


@pytest.mark.parametrize(
    ("tls", "field"),
    [
        ({"key_file": "k.pem"}, "binds.0.tls"),
        ({"ca_fle": "ca.pem"}, "binds.0.tls.ca_fle"),
        ({"verify": "maybe"}, "binds.0.tls.verify"),
        ({"server_hostname": ""}, "binds.0.tls.server_hostname"),
        ("yes", "binds.0.tls"),
    ],
)
def test_errors_name_the_tls_field(tls: Any, field: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        config_from_dict(with_tls(tls), source="gw.yaml")
    assert info.value.field == field
    assert "gw.yaml" in str(info.value)


def test_relative_files_are_resolved_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "gw.yaml").write_text(
        "binds:\n"
        "  - {name: a, system_id: esme, tls: {ca_file: certs/ca.pem,"
        " cert_file: /abs/client.pem, key_file: client.key}}\n"
        "  - {name: b, system_id: esme}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "gw.yaml")
    tls = config.binds[0].tls
    assert tls is not None
    assert tls.ca_file == tmp_path / "certs" / "ca.pem"
    assert tls.cert_file == Path("/abs/client.pem")
    assert tls.key_file == tmp_path / "client.key"
    assert config.binds[1].tls is None


def test_context_pins_the_given_ca_and_checks_the_host(tmp_path: Path) -> None:
    cert, _key = make_certificate(tmp_path, "server")
    context = GatewayEsme.tls_context(BindTlsConfig(ca_file=cert))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    # Only the pinned certificate is trusted, not the system store.
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "localhost"),),)]


def test_context_without_verification_accepts_anything(tmp_path: Path) -> None:
    context = GatewayEsme.tls_context(BindTlsConfig(verify=False))
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname


def test_context_loads_a_client_certificate(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path, "client")
    GatewayEsme.tls_context(BindTlsConfig(verify=False, cert_file=cert, key_file=key))
    combined = tmp_path / "combined.pem"
    combined.write_bytes(cert.read_bytes() + key.read_bytes())
    GatewayEsme.tls_context(BindTlsConfig(verify=False, cert_file=combined))


def test_unreadable_files_are_a_tls_setup_failure_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConnectionError, match=r"^TLS setup failed: cannot load ca_file .*nope"):
        GatewayEsme.tls_context(BindTlsConfig(ca_file=missing))
    cert, _key = make_certificate(tmp_path, "server")
    # A certificate without its key is not a usable client certificate.
    with pytest.raises(ConnectionError, match=r"^TLS setup failed: cannot load cert_file"):
        GatewayEsme.tls_context(BindTlsConfig(ca_file=cert, cert_file=cert))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(ConnectionError, match=r"^TLS setup failed: cannot load ca_file"):
        GatewayEsme.tls_context(BindTlsConfig(ca_file=garbage))
