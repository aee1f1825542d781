"""The shared Kubernetes client (tokenway_gateway.kube): kubeconfigs, exec plugins, retries, watches.

Retries and watch edge cases (429 with Retry-After, 5xx, 410 Gone) are driven by a
scripted API server on loopback (``ScriptedApiServer``, a stand-in that answers what
each test scripts: the real kube-apiserver cannot be made to answer 429 on demand).
e2e/test_kube_client.py runs the same client against the real API server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import stat
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from tokenway_gateway.config.kube_source import KubeConfigMapSource, kube_source_from_arg
from tokenway_gateway.config.store import ConfigStore
from tokenway_gateway.kube import (
    CONFIGMAPS,
    SECRETS,
    KubeClient,
    KubeConnection,
    KubeCredentialsError,
    ObjectEvent,
    RetryPolicy,
    namespaced,
)
from tokenway_gateway.kube.client import retry_after_seconds

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.3, deadline=5.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ScriptedApiServer:
    """An HTTP server on loopback that answers with whatever ``handler`` says, and records requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[web.Request] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        return await self.handler(request)

    async def __aenter__(self) -> ScriptedApiServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def _stream(request: web.Request, events: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for event in events:
        await response.write((json.dumps(event) + "\n").encode())
    await response.write_eof()
    return response


def _kubeconfig(tmp_path: Path, server: str, user: dict[str, Any], name: str = "config",
                context: str = "c", **extra: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({
        "current-context": context,
        "contexts": [{"name": context, "context": {"cluster": "k", "user": "u", "namespace": "ns"}}],
        "clusters": [{"name": "k", "cluster": {"server": server, **extra}}],
        "users": [{"name": "u", "user": user}],
    }))
    return path


# ---- kubeconfig ---------------------------------------------------------------------------------


def test_kubeconfig_token_ca_and_namespace(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "https://127.0.0.1:6443/", {"token": "tok"},
                       **{"certificate-authority-data": base64.b64encode(b"CA").decode()})
    conn = KubeConnection.from_kubeconfig(path)
    assert conn.server == "https://127.0.0.1:6443" and conn.ca_data == b"CA" and conn.namespace == "ns"
    assert asyncio.run(conn.auth_headers()) == {"Authorization": "Bearer tok"}


def test_kubeconfig_files_merge_first_wins_and_context_is_chosen(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA-FILE")
    first = tmp_path / "first"
    first.write_text(json.dumps({
        "current-context": "a",
        "contexts": [{"name": "a", "context": {"cluster": "k1", "user": "u1"}}],
        "clusters": [{"name": "k1", "cluster": {"server": "https://one", "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u1", "user": {"token": "one"}}],
    }))
    second = _kubeconfig(tmp_path, "https://two", {"token": "two"}, name="second", context="b")
    both = os.pathsep.join([str(first), str(second)])
    conn = KubeConnection.from_kubeconfig(both)
    assert conn.server == "https://one" and conn.token == "one" and conn.ca_data == b"CA-FILE"
    conn = KubeConnection.from_kubeconfig(both, context="b")
    assert conn.server == "https://two" and conn.token == "two"
    with pytest.raises(ValueError, match="no context named 'nope'"):
        KubeConnection.from_kubeconfig(both, context="nope")


def test_from_env_prefers_an_explicit_kubeconfig_and_explains_failures(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = _kubeconfig(tmp_path, "https://explicit", {"token": "t"})
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert KubeConnection.from_env(path).server == "https://explicit"
    with pytest.raises(KubeCredentialsError, match="no Kubernetes credentials"):
        KubeConnection.from_env()
    legacy = _kubeconfig(tmp_path, "https://gke", {"auth-provider": {"name": "gcp"}}, name="legacy")
    with pytest.raises(KubeCredentialsError, match="gke-gcloud-auth-plugin"):
        KubeConnection.from_env(legacy)


@pytest.mark.parametrize("command", [["gateway", "--kube-configmap", "ns/cm", "--port", "0"],
                                     ["operator", "--standalone", "--metrics-port", "0", "--liveness", ""]],
                         ids=["gateway", "operator"])
def test_gateway_and_operator_take_the_same_kubeconfig_flags(command: list[str], tmp_path: Path) -> None:
    import subprocess

    from procs import _env

    path = _kubeconfig(tmp_path, "https://127.0.0.1:1", {"token": "t"})
    env = {**_env(), "KUBECONFIG": str(tmp_path / "not-this-one"), "KUBERNETES_SERVICE_HOST": ""}
    result = subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", *command, "--kubeconfig", str(path),
                             "--context", "staging"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"kubeconfig {path} is unusable" in result.stderr and "no context named 'staging'" in result.stderr
    assert "Traceback" not in result.stderr


# ---- exec credential plugins --------------------------------------------------------------------


def _plugin(tmp_path: Path, *, lifetime: float = 3600, api_version: str = "client.authentication.k8s.io/v1",
            fail: bool = False) -> Path:
    """A credential plugin script: counts its runs, records its request, prints token tok-<run>."""
    script = tmp_path / "bin" / "plugin"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"""#!{sys.executable}
import json, os, sys, time
from datetime import datetime, timedelta, timezone
runs = os.path.join(os.path.dirname(__file__), "runs")
n = int(open(runs).read()) + 1 if os.path.exists(runs) else 1
open(runs, "w").write(str(n))
open(os.path.join(os.path.dirname(__file__), "request.json"), "w").write(json.dumps({{
    "info": json.loads(os.environ["KUBERNETES_EXEC_INFO"]), "region": os.environ.get("AWS_REGION"),
    "args": sys.argv[1:]}}))
if {fail!r}:
    print("token expired: run aws sso login", file=sys.stderr)
    sys.exit(3)
expires = datetime.now(timezone.utc) + timedelta(seconds={lifetime!r})
print(json.dumps({{"apiVersion": "{api_version}", "kind": "ExecCredential",
                  "status": {{"token": f"tok-{{n}}", "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}}}))
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _exec_kubeconfig(tmp_path: Path, server: str, api_version: str = "client.authentication.k8s.io/v1",
                     **exec_extra: Any) -> Path:
    user = {"exec": {"apiVersion": api_version, "command": "./bin/plugin", "args": ["eks", "get-token"],
                     "env": [{"name": "AWS_REGION", "value": "eu-west-1"}], **exec_extra}}
    return _kubeconfig(tmp_path, server, user)


def _runs(tmp_path: Path) -> int:
    return int((tmp_path / "bin" / "runs").read_text())


async def test_exec_plugin_runs_once_for_concurrent_callers_and_is_cached(tmp_path: Path) -> None:
    _plugin(tmp_path)
    conn = KubeConnection.from_kubeconfig(_exec_kubeconfig(tmp_path, "https://eks.example", provideClusterInfo=True))
    tokens = await asyncio.gather(*(conn.credentials() for _ in range(10)))
    assert {t.token for t in tokens} == {"tok-1"} and _runs(tmp_path) == 1
    assert (await conn.credentials()).token == "tok-1" and _runs(tmp_path) == 1  # cached
    expires_at = tokens[0].expires_at
    assert expires_at is not None and abs(expires_at - (time.time() + 3600)) < 5
    request = json.loads((tmp_path / "bin" / "request.json").read_text())
    assert request["info"]["apiVersion"] == "client.authentication.k8s.io/v1"
    assert request["info"]["kind"] == "ExecCredential" and request["info"]["spec"]["interactive"] is False
    assert request["info"]["spec"]["cluster"]["server"] == "https://eks.example"  # provideClusterInfo
    assert request["region"] == "eu-west-1" and request["args"] == ["eks", "get-token"]


async def test_exec_token_is_refreshed_when_it_is_about_to_expire(tmp_path: Path) -> None:
    _plugin(tmp_path, lifetime=31, api_version="client.authentication.k8s.io/v1beta1")
    conn = KubeConnection.from_kubeconfig(
        _exec_kubeconfig(tmp_path, "https://aks.example", api_version="client.authentication.k8s.io/v1beta1"))
    assert (await conn.credentials()).token == "tok-1"
    await asyncio.sleep(1.5)  # refreshed 30 s before expiry: a 31 s token is stale after ~1 s
    assert (await conn.credentials()).token == "tok-2" and _runs(tmp_path) == 2


async def test_exec_credential_authenticates_requests_and_a_401_runs_the_plugin_again(tmp_path: Path) -> None:
    _plugin(tmp_path)

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer tok-2":
            return web.json_response({"kind": "Status", "code": 401, "reason": "Unauthorized"}, status=401)
        return web.json_response({"kind": "ConfigMap", "metadata": {"name": "cm"}})

    async with ScriptedApiServer(handler) as api:
        conn = KubeConnection.from_kubeconfig(_exec_kubeconfig(tmp_path, api.url))
        async with KubeClient(conn, retry=FAST) as client:
            found = await client.get_json("/api/v1/namespaces/ns/configmaps/cm")
    assert found == {"kind": "ConfigMap", "metadata": {"name": "cm"}}
    assert _runs(tmp_path) == 2 and len(api.requests) == 2  # tok-1 refused, the plugin ran again, tok-2 accepted


async def test_exec_plugin_failures_are_one_line_errors(tmp_path: Path) -> None:
    _plugin(tmp_path, fail=True)
    conn = KubeConnection.from_kubeconfig(_exec_kubeconfig(tmp_path, "https://x"))
    with pytest.raises(KubeCredentialsError, match="exited with code 3: token expired: run aws sso login"):
        await conn.credentials()
    missing = _kubeconfig(tmp_path, "https://x", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-plugin-tw",
        "installHint": "install it with: brew install no-such-plugin"}}, name="missing")
    with pytest.raises(KubeCredentialsError, match="brew install no-such-plugin"):
        await KubeConnection.from_kubeconfig(missing).credentials()
    with pytest.raises(KubeCredentialsError, match="apiVersion"):
        KubeConnection.from_kubeconfig(_kubeconfig(tmp_path, "https://x", {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}}, name="old"))


# ---- retries ------------------------------------------------------------------------------------


def _status(code: int, message: str, **headers: str) -> web.Response:
    body = {"kind": "Status", "status": "Failure", "message": message, "code": code}
    return web.json_response(body, status=code, headers=headers)


async def test_429_is_retried_after_the_servers_retry_after(caplog: pytest.LogCaptureFixture) -> None:
    answers = [_status(429, "storage is (re)initializing", **{"Retry-After": "1"}),
               web.json_response({"items": [], "metadata": {"resourceVersion": "5"}})]

    async def handler(request: web.Request) -> web.StreamResponse:
        return answers.pop(0)

    async with ScriptedApiServer(handler) as api, \
            KubeClient(KubeConnection(server=api.url, token="t"), retry=RetryPolicy(max_delay=5)) as client:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="tokenway.kube"):
            items, version = await client.list("/api/v1/configmaps")
        elapsed = time.monotonic() - started
    assert (items, version) == ([], "5") and len(api.requests) == 2
    assert 0.9 <= elapsed < 3, elapsed  # waited what Retry-After said, not the 0.25 s backoff
    (record,) = [r for r in caplog.records if r.name == "tokenway.kube"]
    assert record.levelno == logging.WARNING and "storage is (re)initializing" in record.getMessage()


async def test_retry_after_is_bounded_and_attempts_are_limited() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return _status(429, "slow down", **{"Retry-After": "3600"})

    async with ScriptedApiServer(handler) as api, \
            KubeClient(KubeConnection(server=api.url), retry=FAST) as client:
        started = time.monotonic()
        response = await client.request("GET", "/api/v1/namespaces")
        elapsed = time.monotonic() - started
    assert response.status_code == 429 and len(api.requests) == FAST.attempts
    assert elapsed < 2.0, elapsed  # 3 waits capped at max_delay 0.3 s, not an hour


async def test_5xx_is_retried_for_idempotent_requests_only() -> None:
    answers: dict[str, list[int]] = {"GET": [503, 502, 200], "POST": [500, 200], "PATCH": [504, 200]}

    async def handler(request: web.Request) -> web.StreamResponse:
        code = answers[request.method].pop(0)
        return web.json_response({}, status=200) if code == 200 else _status(code, "apiserver hiccup")

    async with ScriptedApiServer(handler) as api, \
            KubeClient(KubeConnection(server=api.url), retry=FAST) as client:
        assert (await client.request("GET", "/api/v1/pods")).status_code == 200
        assert (await client.request("PATCH", "/api/v1/pods/p", content=b"{}")).status_code == 200
        # A POST answered 500 may have been acted on: not retried.
        assert (await client.request("POST", "/api/v1/namespaces/ns/events", json_body={})).status_code == 500
    assert [r.method for r in api.requests] == ["GET", "GET", "GET", "PATCH", "PATCH", "POST"]


async def test_a_refused_connection_is_retried_then_raised() -> None:
    import httpx

    async with KubeClient(KubeConnection(server="http://127.0.0.1:1"), retry=FAST) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ConnectError):
            await client.request("POST", "/api/v1/namespaces")  # nothing was sent: safe to retry even a POST
    assert time.monotonic() - started >= 0.03  # it did back off between tries


def test_retry_after_forms() -> None:
    import httpx

    date = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    assert 28 <= (retry_after_seconds(httpx.Response(429, headers={"Retry-After": date})) or 0) <= 31
    status = {"kind": "Status", "details": {"retryAfterSeconds": 4}}
    assert retry_after_seconds(httpx.Response(429, json=status)) == 4.0
    assert retry_after_seconds(httpx.Response(503, text="no")) is None


# ---- watch_object -------------------------------------------------------------------------------


def test_namespaced_paths() -> None:
    assert namespaced(CONFIGMAPS, "ml") == "/api/v1/namespaces/ml/configmaps"
    assert namespaced(SECRETS, "ml", "keys") == "/api/v1/namespaces/ml/secrets/keys"
    assert namespaced("/apis/apps/v1/deployments", "ml") == "/apis/apps/v1/namespaces/ml/deployments"


def _obj(name: str, rv: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": rv}, "data": data}


async def _take(events: AsyncIterator[ObjectEvent], n: int, timeout: float = 10) -> list[ObjectEvent]:
    taken: list[ObjectEvent] = []

    async def run() -> None:
        async for event in events:
            taken.append(event)
            if len(taken) == n:
                return

    await asyncio.wait_for(run(), timeout)
    return taken


async def test_watch_object_lists_watches_relists_on_410_and_reports_absence() -> None:
    lists = [[_obj("keys", "10", k="a")], [], [_obj("keys", "30", k="c")]]

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.path == "/api/v1/namespaces/ml/secrets"
        assert request.query["fieldSelector"] == "metadata.name=keys"  # what a resourceNames Role allows
        if "watch" not in request.query:
            version = {3: "20", 2: "30", 1: "40"}[len(lists)]
            return web.json_response({"items": lists.pop(0), "metadata": {"resourceVersion": version}})
        if request.query["resourceVersion"] == "20":
            return await _stream(request, [
                {"type": "MODIFIED", "object": _obj("keys", "11", k="b")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
                {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}])
        if request.query["resourceVersion"] == "30":
            return await _stream(request, [{"type": "ERROR", "object": {"code": 410, "message": "gone"}}])
        return await _stream(request, [{"type": "DELETED", "object": _obj("keys", "41", k="c")}])

    async with ScriptedApiServer(handler) as api, KubeClient(KubeConnection(server=api.url)) as client:
        events = await _take(client.watch_object(SECRETS, "ml", "keys"), 5)
    assert [(e.type, (e.object or {}).get("data")) for e in events] == [
        ("ADDED", {"k": "a"}), ("MODIFIED", {"k": "b"}), ("ABSENT", None), ("ADDED", {"k": "c"}),
        ("DELETED", {"k": "c"})]


async def test_watch_object_survives_server_errors() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return _status(403, "forbidden: the Role is not bound yet")
        if "watch" not in request.query:
            return web.json_response({"items": [_obj("cm", "7", x="1")], "metadata": {"resourceVersion": "7"}})
        await asyncio.sleep(30)
        return web.Response()

    async with ScriptedApiServer(handler) as api, KubeClient(KubeConnection(server=api.url)) as client:
        (event,) = await _take(client.watch_object(CONFIGMAPS, "ml", "cm"), 1)
    assert event.type == "ADDED" and event.object is not None and event.object["data"] == {"x": "1"}


# ---- the gateway's ConfigMap source on top of it ------------------------------------------------


def test_kube_source_from_arg() -> None:
    source = kube_source_from_arg("ml/gw-config", ConfigStore())
    assert (source.namespace, source.name, source.key) == ("ml", "gw-config", "config.yaml")
    with pytest.raises(ValueError):
        kube_source_from_arg("ml/", ConfigStore())


def _config_text(url: str) -> str:
    return f"version: '{url[-6:]}'\npools:\n- name: a\n  models: [{{name: m}}]\n  endpoints: [{{url: '{url}'}}]\n"


async def test_kube_source_applies_each_revision_and_keeps_the_good_one_on_a_bad_one() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.headers["Authorization"] == "Bearer t"
        if "watch" not in request.query:
            cm = _obj("gw-config", "1", **{"config.yaml": _config_text("http://10.0.0.1:8000")})
            return web.json_response({"items": [cm], "metadata": {"resourceVersion": "1"}})
        if request.query["resourceVersion"] == "1":
            return await _stream(request, [
                {"type": "MODIFIED", "object": _obj("gw-config", "2", **{"config.yaml": _config_text(
                    "http://10.0.0.2:8000")})},
                {"type": "MODIFIED", "object": _obj("gw-config", "3", **{"config.yaml": "pools: [{}]"})}])
        await asyncio.sleep(30)
        return web.Response()

    store = ConfigStore()
    seen: list[str] = []
    store.subscribe(lambda config: seen.append(config.pools[0].endpoints[0].url))
    async with ScriptedApiServer(handler) as api:
        source = KubeConfigMapSource("ml", "gw-config", store, connection=KubeConnection(server=api.url, token="t"))
        task = asyncio.create_task(source.run())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if store.rejected:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert seen == ["http://10.0.0.1:8000", "http://10.0.0.2:8000"]
    assert store.rejected >= 1 and store.current is not None
    assert store.current.pools[0].endpoints[0].url == "http://10.0.0.2:8000"  # the bad revision did not replace it
