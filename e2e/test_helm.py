"""The Helm chart against the pinned helm and a real API server.

* ``helm lint --strict`` and the values schema (unknown keys and bad values are rejected);
* ``helm template`` for several value sets, checked for what the operator needs
  (args, env, probes, security context, RBAC) and then server-side dry-run applied,
  object by object, against a real kube-apiserver (with the chart's CRDs installed);
* ``helm install`` / ``helm upgrade`` into that API server: the operator Deployment,
  ServiceAccount, RBAC, CRDs and the kopf peering object exist, and the operator's
  ServiceAccount can do what the operator does (and no more);
* examples/ dry-run applied against the generated CRDs (OpenAPI + CEL validation).

The helm binary is the pinned one from e2e/controlplane/build.sh (``kube_bin_dir``
fixture when a conftest provides it, else ``$TOKENWAY_CONTROLPLANE_BIN`` or build.sh);
``$TOKENWAY_HELM`` overrides it.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from e2e.conftest_controlplane import control_plane  # noqa: F401 - fixture (shared per session)
from e2e.kube_cluster import BIN_DIR_ENV, ControlPlane, build_binaries

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "tokenway"
EXAMPLES = ROOT / "examples"
FIELD_MANAGER = "tokenway-e2e-helm"
TOKENWAY_KINDS = {"InferencePool", "RoutePolicy", "CachePolicy", "InferenceGateway"}
TOKENWAY_CRDS = {
    f"{plural}.tokenway.io" for plural in ("inferencepools", "routepolicies", "cachepolicies", "inferencegateways")
}
PEERING_CRDS = {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}

# Value sets rendered and dry-run applied; each must be a valid install.
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "namespaced": ["operator.watchNamespaces={tw-e2e-team-a,tw-e2e-team-b}"],
    "ha": ["operator.replicas=2", "operator.logLevel=debug"],
    "standalone": ["peering.enabled=false", "metrics.enabled=false"],
    "pinned": [
        "operator.image.digest=sha256:" + "a" * 64,
        "gateway.image.tag=9.9.9",
        "engineImages.vllm=vllm/vllm-openai:v0.11.0",
        "serviceAccount.name=custom-sa",
        "fullnameOverride=tw",
    ],
}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def helm_bin(request: pytest.FixtureRequest) -> str:
    if os.environ.get("TOKENWAY_HELM"):
        return os.environ["TOKENWAY_HELM"]
    try:
        bin_dir = Path(request.getfixturevalue("kube_bin_dir"))
    except pytest.FixtureLookupError:
        bin_dir = Path(os.environ[BIN_DIR_ENV]) if os.environ.get(BIN_DIR_ENV) else build_binaries()
    return str(bin_dir / "helm")


def run_helm(
    helm: str, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [helm, *args], capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def set_flags(values: list[str]) -> list[str]:
    return [arg for value in values for arg in ("--set", value)]


def render(
    helm: str,
    values: list[str],
    *,
    release: str = "tw",
    namespace: str = "tokenway-system",
    show_only: str | None = None,
) -> list[dict[str, Any]]:
    args = ["template", release, str(CHART), "--namespace", namespace, *set_flags(values)]
    if show_only:
        args += ["--show-only", show_only]
    return [doc for doc in yaml.safe_load_all(run_helm(helm, *args).stdout) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {[d['metadata']['name'] for d in matches]}"
    return matches[0]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "operator")


def rule_triples(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """PolicyRules as (apiGroup, resource, verb) triples (camelCase or snake_case keys)."""
    triples: set[tuple[str, str, str]] = set()
    for rule in rules:
        groups = rule.get("apiGroups", rule.get("api_groups", []))
        for group in groups:
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    triples.add((group, resource, verb))
    return triples


class Api:
    """Just enough of a dynamic client: discovery, server-side apply, get."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}

    def _discover(self, api_version: str) -> None:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        r = self.client.get(path)
        assert r.status_code == 200, f"discovery {path}: {r.status_code} {r.text}"
        for res in r.json()["resources"]:
            if "/" not in res["name"]:
                self._resources[(api_version, res["kind"])] = (res["name"], res["namespaced"])

    def path(self, obj: dict[str, Any], namespace: str | None = None) -> str:
        api_version, kind = obj["apiVersion"], obj["kind"]
        if (api_version, kind) not in self._resources:
            self._discover(api_version)
        plural, namespaced = self._resources[(api_version, kind)]
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        ns = obj["metadata"].get("namespace") or namespace
        if namespaced:
            assert ns, f"{kind}/{obj['metadata']['name']} needs a namespace"
            base += f"/namespaces/{ns}"
        return f"{base}/{plural}/{obj['metadata']['name']}"

    def apply(self, obj: dict[str, Any], namespace: str | None = None, *, dry_run: bool = True) -> httpx.Response:
        params = {"fieldManager": FIELD_MANAGER, "force": "true", "fieldValidation": "Strict"}
        if dry_run:
            params["dryRun"] = "All"
        return self.client.patch(
            self.path(obj, namespace),
            params=params,
            content=json.dumps(obj),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> httpx.Response:
        obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
        return self.client.get(self.path(obj, namespace))

    def ensure_namespace(self, name: str) -> None:
        r = self.client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
        assert r.status_code in (201, 409), r.text


# --------------------------------------------------------------------------- lint and render


def test_helm_lint_strict(helm_bin: str) -> None:
    for name, values in VARIANTS.items():
        proc = run_helm(helm_bin, "lint", "--strict", str(CHART), *set_flags(values), check=False)
        assert proc.returncode == 0, f"{name}:\n{proc.stdout}\n{proc.stderr}"
    proc = run_helm(helm_bin, "lint", "--strict", str(CHART), "--set", "serviceMonitor.enabled=true")
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (["bogus=1"], "additional properties 'bogus' not allowed"),
        (["operator.bogus=1"], "additional properties 'bogus' not allowed"),
        (["operator.image.pullPolicy=Sometimes"], "pullPolicy"),
        (["operator.logLevel=verbose"], "logLevel"),
        (["operator.watchNamespaces={Bad_NS}"], "watchNamespaces"),
        (["metrics.port=70000"], "port"),
        (["operator.replicas=2", "peering.enabled=false"], "needs peering.enabled=true"),
        (["serviceMonitor.enabled=true", "metrics.enabled=false"], "needs metrics.enabled"),
    ],
)
def test_bad_values_are_rejected(helm_bin: str, values: list[str], error: str) -> None:
    proc = run_helm(helm_bin, "template", "tw", str(CHART), *set_flags(values), check=False)
    assert proc.returncode != 0, proc.stdout
    assert error in proc.stderr, proc.stderr


def test_values_file_matches_schema() -> None:
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(values)
    # Every top-level key is documented by the schema.
    assert set(values) <= set(schema["properties"])


def test_operator_deployment_defaults(helm_bin: str) -> None:
    docs = render(helm_bin, [])
    deploy = find(docs, "Deployment")
    pod = deploy["spec"]["template"]
    container = operator_container(docs)
    assert container["image"] == "ghcr.io/tokenway/tokenway-operator:0.1.0"
    assert container["args"][0] == "operator"
    assert not any(a.startswith("--namespace") for a in container["args"])  # the whole cluster
    assert "--peering=tokenway" in container["args"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert "--metrics-port=9090" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["TOKENWAY_GATEWAY_IMAGE"]["value"] == "ghcr.io/tokenway/tokenway-gateway:0.1.0"
    assert env["GATEWAY_IMAGE"]["value"] == env["TOKENWAY_GATEWAY_IMAGE"]["value"]
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"healthz": 8080, "metrics": 9090}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["runAsNonRoot"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert deploy["spec"]["strategy"]["type"] == "Recreate"
    sa = find(docs, "ServiceAccount")["metadata"]["name"]
    assert pod["spec"]["serviceAccountName"] == sa
    binding = find(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "tokenway-system"}]
    assert find(docs, "ClusterKopfPeering")["metadata"]["name"] == "tokenway"
    labels = deploy["metadata"]["labels"]
    for key in (
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
    ):
        assert key in labels


def test_variants_render_what_they_promise(helm_bin: str) -> None:
    namespaced = render(helm_bin, VARIANTS["namespaced"])
    args = operator_container(namespaced)["args"]
    assert {"--namespace=tw-e2e-team-a", "--namespace=tw-e2e-team-b"} <= set(args)
    bindings = [d for d in namespaced if d["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == {"tw-e2e-team-a", "tw-e2e-team-b"}
    peerings = [d for d in namespaced if d["kind"] == "KopfPeering"]
    assert {p["metadata"]["namespace"] for p in peerings} == {"tw-e2e-team-a", "tw-e2e-team-b"}
    cluster_rules = rule_triples(find(namespaced, "ClusterRole", "tw-tokenway-operator-cluster")["rules"])
    assert all(group in ("apiextensions.k8s.io", "") for group, _, _ in cluster_rules)
    assert ("", "namespaces", "list") in cluster_rules

    ha = render(helm_bin, VARIANTS["ha"])
    assert find(ha, "Deployment")["spec"]["replicas"] == 2
    assert find(ha, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "--log-level=debug" in operator_container(ha)["args"]

    standalone = render(helm_bin, VARIANTS["standalone"])
    args = operator_container(standalone)["args"]
    assert "--standalone" in args and not any(a.startswith("--peering") for a in args)
    assert "--metrics-port=0" in args
    assert not [d for d in standalone if d["kind"] in ("ClusterKopfPeering", "Service")]
    rules = rule_triples(find(standalone, "ClusterRole")["rules"])
    assert not any(group == "kopf.dev" for group, _, _ in rules)

    pinned = render(helm_bin, VARIANTS["pinned"])
    container = operator_container(pinned)
    assert container["image"] == "ghcr.io/tokenway/tokenway-operator@sha256:" + "a" * 64
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TOKENWAY_GATEWAY_IMAGE"] == "ghcr.io/tokenway/tokenway-gateway:9.9.9"
    assert env["TOKENWAY_VLLM_IMAGE"] == "vllm/vllm-openai:v0.11.0"
    assert find(pinned, "Deployment")["metadata"]["name"] == "tw-operator"
    assert find(pinned, "ServiceAccount")["metadata"]["name"] == "custom-sa"

    monitored = render(helm_bin, ["serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom"])
    monitor = find(monitored, "ServiceMonitor")
    service = find(monitored, "Service")
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_operator_cli_accepts_rendered_args(helm_bin: str, variant: str) -> None:
    """The chart's args parse with the real `tokenway` parser (the image's ENTRYPOINT is `tokenway`)."""
    cli = pytest.importorskip("tokenway_gateway.cli")
    pytest.importorskip("tokenway_operator.cli")
    docs = render(helm_bin, VARIANTS[variant])
    container = operator_container(docs)
    args = list(container["args"])
    try:
        parsed = cli.build_parser(args).parse_args(args)
    except SystemExit as exc:
        raise AssertionError(f"`tokenway {' '.join(args)}` is rejected by the operator's CLI") from exc
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    if "peering.enabled=false" in VARIANTS[variant]:
        assert parsed.standalone
    else:
        assert not parsed.standalone and parsed.peering == values["peering"]["name"]
    assert parsed.liveness == "http://0.0.0.0:8080/healthz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert parsed.metrics_port == ports.get("metrics", 0)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TOKENWAY_GATEWAY_IMAGE"].startswith("ghcr.io/tokenway/tokenway-gateway")


def test_cluster_role_is_least_privilege(helm_bin: str) -> None:
    rules = rule_triples(find(render(helm_bin, []), "ClusterRole")["rules"])
    # Never Secrets: API keys reach pods through secretKeyRef env, read by the kubelet.
    assert not any(resource == "secrets" for _, resource, _ in rules)
    assert not any("*" in triple for triple in rules)
    assert not any(verb == "impersonate" for _, _, verb in rules)
    # escalate/bind only on namespaced Roles: a gateway's Role grants its one API-key Secret, which the
    # operator itself never holds.
    assert {(g, r) for g, r, v in rules if v in ("escalate", "bind")} == {("rbac.authorization.k8s.io", "roles")}
    # Read-only where the operator only observes.
    for group, resource in (
        ("discovery.k8s.io", "endpointslices"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("", "namespaces"),
    ):
        assert {v for g, r, v in rules if (g, r) == (group, resource)} == {"get", "list", "watch"}
    for kind in TOKENWAY_CRDS:
        plural = kind.split(".")[0]
        assert ("tokenway.io", plural, "watch") in rules
        assert ("tokenway.io", f"{plural}/status", "patch") in rules
        assert ("tokenway.io", plural, "delete") not in rules


def test_cluster_role_matches_operator_rules(helm_bin: str) -> None:
    """OPERATOR_RULES (operator/tokenway_operator/rbac.py) is the one list; the chart's copy must equal it."""
    rbac = pytest.importorskip("tokenway_operator.rbac")
    expected = rule_triples(list(rbac.OPERATOR_RULES))
    rendered = rule_triples(find(render(helm_bin, []), "ClusterRole")["rules"])
    assert rendered == expected, (
        f"chart grants more: {sorted(rendered - expected)}\nchart lacks: {sorted(expected - rendered)}"
    )


# --------------------------------------------------------------------------- against the API server


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> Iterator[Api]:  # noqa: F811
    with control_plane.http_client() as client:
        yield Api(client)


@pytest.fixture(scope="module")
def release(control_plane: ControlPlane, helm_bin: str, api: Api) -> Iterator[dict[str, str]]:  # noqa: F811
    """The chart installed under a unique release name (the peering name too: it is cluster-scoped)."""
    crds = {p.name for p in (CHART / "crds").glob("*.yaml")} if (CHART / "crds").is_dir() else set()
    assert crds, "charts/tokenway/crds/ is empty: run `tokenway crds` (writes crds/ and charts/tokenway/crds/)"
    suffix = uuid.uuid4().hex[:6]
    info = {"name": f"tw-{suffix}", "namespace": f"tw-helm-{suffix}", "peering": f"tw-helm-{suffix}"}
    env = control_plane.env()
    kubeconfig = str(control_plane.kubeconfig_path)
    run_helm(
        helm_bin,
        "install",
        info["name"],
        str(CHART),
        "--kubeconfig",
        kubeconfig,
        "--namespace",
        info["namespace"],
        "--create-namespace",
        "--set",
        f"peering.name={info['peering']}",
        "--timeout",
        "120s",
        env=env,
    )
    try:
        yield info
    finally:
        run_helm(
            helm_bin,
            "uninstall",
            info["name"],
            "--kubeconfig",
            kubeconfig,
            "--namespace",
            info["namespace"],
            "--wait=false",
            check=False,
            env=env,
        )


def test_helm_install_creates_operator_and_crds(release: dict[str, str], api: Api) -> None:
    ns, name = release["namespace"], release["name"]
    operator = f"{name}-tokenway-operator"
    r = api.get("apps/v1", "Deployment", operator, ns)
    assert r.status_code == 200, r.text
    container = r.json()["spec"]["template"]["spec"]["containers"][0]
    assert f"--peering={release['peering']}" in container["args"]
    for kind, obj_name, obj_ns in (
        ("ServiceAccount", operator, ns),
        ("Service", f"{operator}-metrics", ns),
    ):
        assert api.get("v1", kind, obj_name, obj_ns).status_code == 200, kind
    assert api.get("rbac.authorization.k8s.io/v1", "ClusterRole", operator).status_code == 200
    assert api.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", operator).status_code == 200
    assert api.get("kopf.dev/v1", "ClusterKopfPeering", release["peering"]).status_code == 200
    for crd in sorted(TOKENWAY_CRDS | PEERING_CRDS):
        r = api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd)
        assert r.status_code == 200, f"CRD {crd} missing"
        conditions = {c["type"]: c["status"] for c in r.json()["status"].get("conditions", [])}
        assert conditions.get("Established") == "True", (crd, conditions)


def test_helm_upgrade_changes_values(
    release: dict[str, str],
    helm_bin: str,
    control_plane: ControlPlane,  # noqa: F811
    api: Api,
) -> None:
    run_helm(
        helm_bin,
        "upgrade",
        release["name"],
        str(CHART),
        "--kubeconfig",
        str(control_plane.kubeconfig_path),
        "--namespace",
        release["namespace"],
        "--reuse-values",
        "--set",
        "gateway.image.tag=1.2.3",
        "--timeout",
        "120s",
        env=control_plane.env(),
    )
    r = api.get("apps/v1", "Deployment", f"{release['name']}-tokenway-operator", release["namespace"])
    env = {e["name"]: e.get("value") for e in r.json()["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TOKENWAY_GATEWAY_IMAGE"] == "ghcr.io/tokenway/tokenway-gateway:1.2.3"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_objects_pass_server_side_dry_run(
    variant: str, release: dict[str, str], helm_bin: str, api: Api
) -> None:
    """Every object of every variant is valid for the real API server (schema, defaults, admission)."""
    namespace = f"tw-dry-{variant}"
    for ns in (namespace, "tw-e2e-team-a", "tw-e2e-team-b"):
        api.ensure_namespace(ns)
    docs = render(helm_bin, VARIANTS[variant], release=f"dry-{variant}", namespace=namespace)
    assert docs
    failures = []
    for doc in docs:
        r = api.apply(doc, namespace)
        if r.status_code not in (200, 201):
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {r.status_code} {r.text}")
    assert not failures, "\n".join(failures)


def test_service_monitor_renders_valid_for_its_crd(helm_bin: str) -> None:
    """No prometheus-operator here: check the ServiceMonitor's shape against the fields it must have."""
    doc = find(render(helm_bin, ["serviceMonitor.enabled=true"]), "ServiceMonitor")
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    endpoint = doc["spec"]["endpoints"][0]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "relabelings", "metricRelabelings"}
    assert doc["spec"]["namespaceSelector"]["matchNames"] == ["tokenway-system"]


def test_operator_service_account_has_what_the_operator_needs(
    release: dict[str, str],
    control_plane: ControlPlane,  # noqa: F811
    api: Api,
) -> None:
    sa = f"{release['name']}-tokenway-operator"
    token = control_plane.service_account_token(release["namespace"], sa)

    def allowed(
        verb: str, group: str, resource: str, namespace: str | None = "anywhere", subresource: str = ""
    ) -> bool:
        attrs: dict[str, Any] = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attrs["namespace"] = namespace
        if subresource:
            attrs["subresource"] = subresource
        with control_plane.http_client(token=token) as client:
            r = client.post(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                json={
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SelfSubjectAccessReview",
                    "spec": {"resourceAttributes": attrs},
                },
            )
        assert r.status_code == 201, r.text
        return bool(r.json()["status"]["allowed"])

    assert allowed("watch", "tokenway.io", "inferencepools", None)
    assert allowed("patch", "tokenway.io", "inferencegateways", subresource="status")
    assert allowed("patch", "kopf.dev", "clusterkopfpeerings", None)
    assert allowed("create", "apps", "deployments")
    assert allowed("delete", "policy", "poddisruptionbudgets")
    assert allowed("create", "", "events")
    assert allowed("list", "discovery.k8s.io", "endpointslices", None)
    assert allowed("watch", "apiextensions.k8s.io", "customresourcedefinitions", None)
    assert not allowed("get", "", "secrets")
    assert not allowed("delete", "tokenway.io", "inferencepools")
    assert not allowed("create", "apiextensions.k8s.io", "customresourcedefinitions", None)
    assert not allowed("create", "rbac.authorization.k8s.io", "clusterroles", None)

    # RBAC escalation: the operator can grant the gateway its Role (configmaps read) and bind it.
    namespace = f"tw-escalation-{uuid.uuid4().hex[:6]}"
    api.ensure_namespace(namespace)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "tokenway-gateway", "namespace": namespace},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": ["tokenway-config"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "tokenway-gateway", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tokenway-gateway"},
        "subjects": [{"kind": "ServiceAccount", "name": "tokenway-gateway", "namespace": namespace}],
    }
    with control_plane.http_client(token=token) as client:
        as_operator = Api(client)
        for obj in (role, binding):
            r = as_operator.apply(obj, dry_run=False)
            assert r.status_code in (200, 201), f"{obj['kind']}: {r.status_code} {r.text}"


def test_examples_pass_server_side_dry_run(release: dict[str, str], api: Api) -> None:
    """examples/ against the generated CRDs: OpenAPI schema, defaults and CEL rules on the real server."""
    namespace = "tw-examples"
    api.ensure_namespace(namespace)
    docs = [d for path in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]
    assert {d["kind"] for d in docs} >= TOKENWAY_KINDS
    failures = []
    for doc in docs:
        r = api.apply(doc, namespace)
        if r.status_code not in (200, 201):
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {r.status_code} {r.text}")
        elif doc["kind"] in TOKENWAY_KINDS:
            # Nothing was pruned: every field of the example is in the CRD schema.
            served = r.json()["spec"]
            missing = _missing_paths(doc["spec"], served)
            if missing:
                failures.append(f"{doc['kind']}/{doc['metadata']['name']}: pruned {missing}")
    assert not failures, "\n".join(failures)


def test_crd_rejects_what_the_models_reject(release: dict[str, str], api: Api) -> None:
    """The CEL rules the models carry are enforced by the server (an external pool needs endpoints)."""
    api.ensure_namespace("tw-examples")
    bad = {
        "apiVersion": "tokenway.io/v1alpha1",
        "kind": "InferencePool",
        "metadata": {"name": "bad-external", "namespace": "tw-examples"},
        "spec": {"engine": "external", "models": [{"name": "m"}]},
    }
    r = api.apply(bad)
    assert r.status_code == 422, r.text
    assert "external" in r.text


def _missing_paths(sent: Any, served: Any, path: str = "spec") -> list[str]:
    if isinstance(sent, dict):
        if not isinstance(served, dict):
            return [path]
        missing: list[str] = []
        for key, value in sent.items():
            if key not in served:
                missing.append(f"{path}.{key}")
            else:
                missing += _missing_paths(value, served[key], f"{path}.{key}")
        return missing
    if isinstance(sent, list) and isinstance(served, list):
        return [
            m for i, (a, b) in enumerate(zip(sent, served, strict=False)) for m in _missing_paths(a, b, f"{path}[{i}]")
        ]
    return []
