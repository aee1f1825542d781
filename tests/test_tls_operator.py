"""InferenceGateway tls: the operator mounts the kubernetes.io/tls Secret and exposes the TLS port (pure builders)."""

from __future__ import annotations

import argparse

import pytest
from pydantic import ValidationError
from tokenway_gateway.api import InferenceGatewaySpec
from tokenway_gateway.server.main import add_arguments
from tokenway_operator.builders.gateway import gateway_children

UID = "0000-1111"


def build(spec: InferenceGatewaySpec) -> tuple[dict, dict]:  # type: ignore[type-arg]
    *_, deployment, service = gateway_children("gw", "ml", UID, spec, "tokenway:test", {})
    return deployment, service


def test_tls_secret_is_mounted_whole_and_the_port_exposed() -> None:
    spec = InferenceGatewaySpec.model_validate({
        "port": 8080,
        "tls": {"secretRef": {"name": "gw-cert"}, "clientCaSecretRef": {"name": "clients", "key": "bundle.pem"},
                "port": 9443},
    })
    deployment, service = build(spec)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    command = container["command"]
    flags = dict(zip(command[command.index("--tls-cert")::2], command[command.index("--tls-cert") + 1::2],
                     strict=False))
    assert flags == {"--tls-cert": "/etc/tokenway/tls/tls.crt", "--tls-key": "/etc/tokenway/tls/tls.key",
                     "--tls-port": "9443", "--tls-client-ca": "/etc/tokenway/client-ca/ca.crt"}
    assert {"name": "https", "containerPort": 9443, "protocol": "TCP"} in container["ports"]
    # Whole-Secret mounts, never subPath: the kubelet's atomic ..data swap must reach the files on renewal.
    assert pod["volumes"] == [
        {"name": "tls", "secret": {"secretName": "gw-cert"}},
        {"name": "client-ca", "secret": {"secretName": "clients", "items": [{"key": "bundle.pem", "path": "ca.crt"}]}},
    ]
    assert container["volumeMounts"] == [
        {"name": "tls", "mountPath": "/etc/tokenway/tls", "readOnly": True},
        {"name": "client-ca", "mountPath": "/etc/tokenway/client-ca", "readOnly": True},
    ]
    assert all("subPath" not in m for m in container["volumeMounts"])
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"},
        {"name": "https", "port": 9443, "targetPort": "https", "protocol": "TCP"},
    ]
    # The probes stay on the plain port.
    assert container["readinessProbe"]["httpGet"]["port"] == "http"

    # The command is one the gateway accepts.
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(command[2:])
    assert (args.tls_cert, args.tls_key, args.tls_client_ca, args.tls_port) == (
        "/etc/tokenway/tls/tls.crt", "/etc/tokenway/tls/tls.key", "/etc/tokenway/client-ca/ca.crt", 9443)


def test_defaults_and_no_tls() -> None:
    spec = InferenceGatewaySpec.model_validate({"tls": {"secretRef": {"name": "gw-cert"}}})
    assert spec.tls is not None and spec.tls.port == 8443
    deployment, service = build(spec)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--tls-client-ca" not in container["command"]
    assert [p["port"] for p in service["spec"]["ports"]] == [8080, 8443]

    deployment, service = build(InferenceGatewaySpec())
    pod = deployment["spec"]["template"]["spec"]
    assert "volumes" not in pod and "volumeMounts" not in pod["containers"][0]
    assert not any(arg.startswith("--tls") for arg in pod["containers"][0]["command"])
    assert len(service["spec"]["ports"]) == 1


def test_tls_port_must_differ_from_the_plain_port() -> None:
    with pytest.raises(ValidationError, match=r"tls\.port must differ"):
        InferenceGatewaySpec.model_validate({"port": 8443, "tls": {"secretRef": {"name": "x"}}})
    with pytest.raises(ValidationError):
        InferenceGatewaySpec.model_validate({"tls": {}})
