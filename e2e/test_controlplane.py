"""Tests of the real control plane used by the operator e2e tests (e2e/kube_cluster.py)."""

from __future__ import annotations

import os
import ssl
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import kubernetes
import pytest

from e2e.conftest_controlplane import control_plane  # noqa: F401 - fixture
from e2e.kube_cluster import ControlPlane, ControlPlaneError

T = TypeVar("T")

pytestmark = pytest.mark.e2e

GROUP = "e2e.tokenway.dev"
CEL_MESSAGE = "spec.min must be less than or equal to spec.max"


def _eventually(fn: Callable[[], T | None], timeout: float = 20.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def _api_client(kubeconfig: Path) -> kubernetes.client.ApiClient:
    api: kubernetes.client.ApiClient = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    return api


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create_namespace(client: httpx.Client, name: str) -> None:
    r = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text


def test_admin_kubeconfig_works_with_kubernetes_client(control_plane: ControlPlane) -> None:  # noqa: F811
    with _api_client(control_plane.kubeconfig_path) as api:
        version = kubernetes.client.VersionApi(api).get_code()
        assert version.git_version == "v1.35.4"
        assert (version.major, version.minor) == ("1", "35")
        names = {ns.metadata and ns.metadata.name for ns in kubernetes.client.CoreV1Api(api).list_namespace().items}
        assert {"default", "kube-system"} <= names
    assert control_plane.server.startswith("https://127.0.0.1:")
    assert control_plane.ca_path.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_anonymous_and_bad_token_are_rejected(control_plane: ControlPlane) -> None:  # noqa: F811
    with control_plane.http_client(token="not-a-valid-token") as client:
        assert client.get("/api/v1/namespaces").status_code == 401
    with httpx.Client(verify=ssl.create_default_context(cafile=control_plane.ca_path)) as client:
        r = client.get(f"{control_plane.server}/api/v1/namespaces")
        assert r.status_code == 403  # anonymous: authenticated as system:anonymous, no RBAC


def _crd(plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": "Range"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["min", "max"],
                                    "properties": {
                                        "min": {"type": "integer"},
                                        "max": {"type": "integer"},
                                    },
                                    "x-kubernetes-validations": [
                                        {"rule": "self.min <= self.max", "message": CEL_MESSAGE}
                                    ],
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def test_crd_with_cel_validation(control_plane: ControlPlane) -> None:  # noqa: F811
    namespace = _unique("cel")
    plural = f"ranges{uuid.uuid4().hex[:6]}"
    with control_plane.http_client() as client:
        _create_namespace(client, namespace)
        r = client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=_crd(plural))
        assert r.status_code == 201, r.text

        def established() -> bool | None:
            crd = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{GROUP}").json()
            conditions = (crd.get("status") or {}).get("conditions") or []
            ok = any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
            return True if ok else None

        _eventually(established, what="CRD Established")
        collection = f"/apis/{GROUP}/v1alpha1/namespaces/{namespace}/{plural}"

        def create(name: str, spec: dict[str, int]) -> httpx.Response | None:
            r = client.post(
                collection,
                json={
                    "apiVersion": f"{GROUP}/v1alpha1",
                    "kind": "Range",
                    "metadata": {"name": name},
                    "spec": spec,
                },
            )
            return None if r.status_code == 404 else r  # 404 until the endpoint is served

        ok = _eventually(lambda: create("valid", {"min": 1, "max": 5}), what="CR endpoint")
        assert ok.status_code == 201, ok.text
        assert client.get(f"{collection}/valid").json()["spec"] == {"min": 1, "max": 5}

        bad = _eventually(lambda: create("invalid", {"min": 7, "max": 5}), what="CR endpoint")
        assert bad.status_code == 422, bad.text
        assert CEL_MESSAGE in bad.text
        assert client.get(f"{collection}/invalid").status_code == 404

        # The rule also guards updates.
        obj = client.get(f"{collection}/valid").json()
        obj["spec"]["min"] = 9
        r = client.put(f"{collection}/valid", json=obj)
        assert r.status_code == 422 and CEL_MESSAGE in r.text, r.text

        # Structural schema validation still applies alongside CEL.
        missing = create("missing", {"min": 1})  # type: ignore[arg-type]
        assert missing is not None and missing.status_code == 422, missing and missing.text


def _status(call: Callable[[], object]) -> int:
    try:
        call()
    except kubernetes.client.ApiException as exc:
        return int(exc.status)
    return 200


def test_service_account_has_only_its_rbac(control_plane: ControlPlane) -> None:  # noqa: F811
    namespace = _unique("rbac")
    other = _unique("rbac-other")
    sa = "operator"
    with control_plane.http_client() as client:
        _create_namespace(client, namespace)
        _create_namespace(client, other)

    kubeconfig = control_plane.service_account_kubeconfig(namespace, sa)
    assert kubeconfig.is_file()
    # Idempotent: an existing ServiceAccount is reused, a fresh token issued.
    assert control_plane.service_account_kubeconfig(namespace, sa) == kubeconfig

    with _api_client(kubeconfig) as api:
        core = kubernetes.client.CoreV1Api(api)
        k = kubernetes.client
        whoami = k.AuthenticationV1Api(api).create_self_subject_review(k.V1SelfSubjectReview())
        assert whoami.status is not None
        user_info = whoami.status.user_info
        assert user_info is not None
        assert user_info.username == f"system:serviceaccount:{namespace}:{sa}"

        assert _status(lambda: core.list_namespaced_pod(namespace)) == 403

        with _api_client(control_plane.kubeconfig_path) as admin:
            rbac = k.RbacAuthorizationV1Api(admin)
            rbac.create_namespaced_role(
                namespace,
                k.V1Role(
                    metadata=k.V1ObjectMeta(name="pod-reader"),
                    rules=[k.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list"])],
                ),
            )
            rbac.create_namespaced_role_binding(
                namespace,
                k.V1RoleBinding(
                    metadata=k.V1ObjectMeta(name="pod-reader"),
                    role_ref=k.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"),
                    subjects=[k.RbacV1Subject(kind="ServiceAccount", name=sa, namespace=namespace)],
                ),
            )

        _eventually(
            lambda: True if _status(lambda: core.list_namespaced_pod(namespace)) == 200 else None,
            what="RoleBinding to take effect",
        )
        # Only what the Role grants, only in its namespace.
        assert _status(lambda: core.list_namespaced_pod(other)) == 403
        assert _status(lambda: core.list_namespaced_secret(namespace)) == 403
        assert _status(lambda: core.create_namespaced_pod(namespace, k.V1Pod(metadata=k.V1ObjectMeta(name="x")))) == 403


def test_helm_installs_a_chart(control_plane: ControlPlane, tmp_path: Path) -> None:  # noqa: F811
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: e2e-smoke\nversion: 0.1.0\nkubeVersion: '>=1.30.0-0'\n")
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    namespace = _unique("helm")
    assert "v3.20.2" in control_plane.helm("version", "--short").stdout
    control_plane.helm(
        "install", "smoke", str(chart), "--namespace", namespace, "--create-namespace",
        "--set", "greeting=hi", "--wait", "--timeout", "60s",
    )  # fmt: skip
    with control_plane.http_client() as client:
        cm = client.get(f"/api/v1/namespaces/{namespace}/configmaps/smoke-cm")
        assert cm.status_code == 200, cm.text
        assert cm.json()["data"] == {"greeting": "hi", "kube": "v1.35.4"}
        control_plane.helm("uninstall", "smoke", "--namespace", namespace, "--wait")
        assert client.get(f"/api/v1/namespaces/{namespace}/configmaps/smoke-cm").status_code == 404

    with pytest.raises(ControlPlaneError, match="exited with"):
        control_plane.helm("status", "no-such-release", "--namespace", namespace)


def test_stop_leaves_no_processes(control_plane: ControlPlane) -> None:  # noqa: F811
    cp = ControlPlane(control_plane.bin_dir)
    with cp:
        assert cp.running
        assert cp.server != control_plane.server
        pids = [p.popen.pid for p in cp._procs]
        assert len(pids) == 2
        workdir = cp.workdir
    assert not cp.running
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not workdir.exists()
    # The shared control plane is unaffected.
    with control_plane.http_client() as client:
        assert client.get("/readyz").status_code == 200


def test_startup_failure_reports_logs(control_plane: ControlPlane) -> None:  # noqa: F811
    cp = ControlPlane(
        control_plane.bin_dir,
        extra_apiserver_args=["--authorization-mode=NoSuchMode"],
        startup_timeout=60,
    )
    with pytest.raises(ControlPlaneError) as excinfo:
        cp.start()
    message = str(excinfo.value)
    assert "kube-apiserver exited" in message
    assert "NoSuchMode" in message  # the apiserver's own error, from its log tail
    assert not cp.running
