"""A small async Kubernetes API client on httpx: requests with bounded retries, lists, watches.

* Retries: 429 and 5xx answers (and connection failures) are retried with
  exponential backoff and jitter; a ``Retry-After`` header sets the wait, capped by
  :attr:`RetryPolicy.max_delay`. Non-idempotent requests (POST) are retried only
  when the server surely did not act on them (429, or a failed connect).
* 401: the cached credential is dropped (a rotated token, an expired exec
  credential) and the request is tried once more.
* :meth:`KubeClient.watch_object` lists and then watches ONE named object (a
  ConfigMap, a Secret, ...) by ``fieldSelector=metadata.name=...``, which is what a
  Role with ``resourceNames`` allows. It relists on 410 and reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from .connection import KubeConnection
from .errors import KubeError, WatchExpired
from .exec_plugin import Credentials

log = logging.getLogger("tokenway.kube")

CONFIGMAPS = "/api/v1/configmaps"
SECRETS = "/api/v1/secrets"
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
WATCH_SECONDS = 290  # under the API server's 5-minute cap; a fresh watch resumes from the last version
WATCH_BACKOFF_MIN = 0.2
WATCH_BACKOFF_MAX = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a failed request is retried."""

    attempts: int = 6  # tries in all, the first included
    base_delay: float = 0.25  # first backoff; doubles per try, with jitter
    max_delay: float = 10.0  # cap on any single wait, a server's Retry-After included
    deadline: float = 60.0  # no retry would start later than this many seconds after the first try

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = self.base_delay * 2.0 ** (attempt - 1)
        return min(backoff * random.uniform(0.8, 1.2), self.max_delay)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)  # HTTP/1.1 servers: no churn


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), else the Status body's retryAfterSeconds."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return max(0.0, when.timestamp() - time.time())
    try:
        details = response.json().get("details") or {}
    except (ValueError, AttributeError):
        return None
    seconds = details.get("retryAfterSeconds") if isinstance(details, dict) else None
    return float(seconds) if isinstance(seconds, int | float) else None


def raise_for_status(response: httpx.Response) -> None:
    """KubeError with the Status body's message and reason for an error answer."""
    if response.is_success:
        return
    try:
        body = response.json()
        message, reason = body.get("message", response.text), body.get("reason", "")
    except (ValueError, AttributeError):
        message, reason = response.text, ""
    raise KubeError(response.status_code, message, reason)


def namespaced(kind_path: str, namespace: str | None, name: str | None = None) -> str:
    """``/api/v1/configmaps`` + ``ns`` -> ``/api/v1/namespaces/ns/configmaps`` (and ``/name``)."""
    prefix, _, plural = kind_path.rstrip("/").rpartition("/")
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    return f"{path}/{name}" if name else path


@dataclass(frozen=True)
class ObjectEvent:
    """One change of a watched object.

    ``ADDED``/``MODIFIED``: ``object`` is its current state (a relist after a broken
    watch repeats ``ADDED``); ``DELETED``: its last state; ``ABSENT``: a listing found
    no such object (it may be created later: the watch goes on).
    """

    type: Literal["ADDED", "MODIFIED", "DELETED", "ABSENT"]
    object: dict[str, Any] | None


class KubeClient:
    """Async access to one API server; use as ``async with KubeClient(conn) as kube: ...``."""

    def __init__(self, connection: KubeConnection, *, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.connection = connection
        self.retry = retry
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._client_creds: tuple[bytes | None, bytes | None] | None = None
        self._retired: list[httpx.AsyncClient] = []

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in [*self._retired, *([self._client] if self._client else [])]:
            await client.aclose()
        self._client, self._retired = None, []

    def _http(self, creds: Credentials) -> httpx.AsyncClient:
        """The pooled HTTP client, rebuilt when an exec plugin hands out a new client certificate."""
        identity = (creds.cert_data, creds.key_data)
        if self._client is None or identity != self._client_creds:
            if self._client is not None:
                self._retired.append(self._client)  # requests in flight on it may finish
            # HTTP/2 (as client-go speaks it): one TLS connection carries every concurrent request. Over
            # HTTP/1.1, bursts of concurrent reconciles would open, handshake and close connections by the
            # hundred once the keep-alive pool is full.
            self._client = httpx.AsyncClient(
                base_url=self.connection.server, verify=self.connection.ssl_context(creds), timeout=self._timeout,
                http2=True, limits=POOL_LIMITS)
            self._client_creds = identity
        return self._client

    async def _prepared(self, method: str, path: str, *, params: Mapping[str, str] | None, content: bytes | None,
                        headers: Mapping[str, str] | None, timeout: httpx.Timeout | float | None,
                        ) -> tuple[httpx.AsyncClient, httpx.Request]:
        creds = await self.connection.credentials()
        client = self._http(creds)
        merged = dict(headers or {})
        if creds.token:
            merged["Authorization"] = f"Bearer {creds.token}"
        extensions = {"timeout": httpx.Timeout(timeout).as_dict()} if timeout is not None else None
        request = client.build_request(method, path, params=params, content=content, headers=merged,
                                       extensions=extensions)
        return client, request

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      json_body: Any = None, content: bytes | str | None = None,
                      headers: Mapping[str, str] | None = None, retry: RetryPolicy | None = None,
                      timeout: httpx.Timeout | float | None = None) -> httpx.Response:
        """Send a request, retrying as :class:`RetryPolicy` says; returns the last response (any status)."""
        policy = retry or self.retry
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS
        headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body)
            headers.setdefault("Content-Type", "application/json")
        body = content.encode() if isinstance(content, str) else content
        started = time.monotonic()
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            client, request = await self._prepared(method, path, params=params, content=body, headers=headers,
                                                   timeout=timeout)
            retry_after: float | None = None
            last: httpx.Response | None = None
            try:
                last = await client.send(request)
            except httpx.TransportError as exc:
                # A failed connect never reached the server; other failures may have been acted on.
                if not (idempotent or isinstance(exc, httpx.ConnectError)) or attempt >= policy.attempts:
                    raise
                failure = f"{type(exc).__name__}: {exc}"
            else:
                await last.aread()
                if last.status_code == 401 and not reauthenticated:
                    reauthenticated = True
                    self.connection.invalidate()
                    attempt -= 1  # a refreshed credential is not a retry
                    continue
                retriable = last.status_code in RETRIABLE_STATUS and (idempotent or last.status_code == 429)
                if not retriable or attempt >= policy.attempts:
                    return last
                retry_after = retry_after_seconds(last)
                failure = f"{last.status_code} {_reason(last)}"
            wait = policy.delay(attempt, retry_after)
            if time.monotonic() - started + wait > policy.deadline:
                if last is not None:
                    return last
                raise httpx.ConnectError(f"gave up after {attempt} tries: {failure}", request=request)
            log.warning("%s %s: %s; retry %d/%d in %.1fs", method, path, failure, attempt, policy.attempts - 1, wait)
            await asyncio.sleep(wait)

    # ---- reads -------------------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """The object at ``path``; None when it does not exist."""
        response = await self.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        raise_for_status(response)
        result: dict[str, Any] = response.json()
        return result

    async def list(self, path: str, params: Mapping[str, str] | None = None,
                   ) -> tuple[list[dict[str, Any]], str]:
        """Every item of a collection (following continue tokens) and the list's resourceVersion."""
        query = {"limit": "500", **(params or {})}
        items: list[dict[str, Any]] = []
        while True:
            response = await self.request("GET", path, params=query)
            raise_for_status(response)
            body = response.json()
            items.extend(body.get("items") or [])
            meta = body.get("metadata") or {}
            if not meta.get("continue"):
                return items, str(meta.get("resourceVersion", ""))
            query["continue"] = meta["continue"]

    async def watch(self, path: str, resource_version: str, params: Mapping[str, str] | None = None,
                    timeout_seconds: int = WATCH_SECONDS) -> AsyncIterator[dict[str, Any]]:
        """Watch events (``{"type", "object"}``, bookmarks included) until the server ends the watch.

        Raises WatchExpired when ``resource_version`` is too old (410)."""
        query = {**(params or {}), "watch": "true", "resourceVersion": resource_version,
                 "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        async with self._stream(path, query, httpx.Timeout(10.0, read=timeout_seconds + 30.0)) as response:
            if response.status_code == 410:
                raise WatchExpired()
            if not response.is_success:
                await response.aread()
                raise_for_status(response)
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise WatchExpired()
                    raise KubeError(int(status.get("code") or 500), str(status.get("message")),
                                    str(status.get("reason") or ""))
                yield event

    @asynccontextmanager
    async def _stream(self, path: str, params: Mapping[str, str], timeout: httpx.Timeout,
                      ) -> AsyncIterator[httpx.Response]:
        reauthenticated = False
        while True:
            client, request = await self._prepared("GET", path, params=params, content=None, headers=None,
                                                   timeout=timeout)
            response = await client.send(request, stream=True)
            if response.status_code == 401 and not reauthenticated:
                await response.aclose()
                reauthenticated = True
                self.connection.invalidate()
                continue
            try:
                yield response
            finally:
                await response.aclose()
            return

    async def watch_object(self, kind_path: str, namespace: str, name: str,
                           watch_seconds: int = WATCH_SECONDS) -> AsyncIterator[ObjectEvent]:
        """List, then watch one named object forever (see :class:`ObjectEvent`).

        ``kind_path`` is the collection without a namespace: :data:`CONFIGMAPS`,
        :data:`SECRETS`, ``/apis/apps/v1/deployments``. Errors are logged and retried
        with backoff; the iterator only ends when the caller stops it."""
        path = namespaced(kind_path, namespace)
        selector = {"fieldSelector": f"metadata.name={name}"}
        what = f"{path.rsplit('/', 1)[-1]} {namespace}/{name}"
        version: str | None = None
        backoff = WATCH_BACKOFF_MIN
        while True:
            try:
                if version is None:
                    items, version = await self.list(path, selector)
                    yield ObjectEvent("ADDED", items[0]) if items else ObjectEvent("ABSENT", None)
                started = time.monotonic()
                async for event in self.watch(path, version, selector, watch_seconds):
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion", version)
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        yield ObjectEvent(event["type"], obj)
                backoff = WATCH_BACKOFF_MIN
                if time.monotonic() - started < 1.0:
                    await asyncio.sleep(WATCH_BACKOFF_MIN)  # a server ending watches at once must not spin us
            except WatchExpired:
                version = None  # list again: the current state sums up the events in between
            except (httpx.HTTPError, KubeError, ValueError, OSError) as exc:
                log.warning("watching %s failed (%s); retrying in %.1fs", what, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, WATCH_BACKOFF_MAX)
                version = None


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("message") or body.get("reason") or response.reason_phrase)
    except (ValueError, AttributeError):
        return response.reason_phrase
