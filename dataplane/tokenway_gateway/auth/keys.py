"""API keys by digest, tenants and tiers.

A key is `tw-` + 43 base64url characters (32 random bytes). Tokenway stores and compares
only its SHA-256: the lookup is a dict get on the 32-byte digest of the presented key, so
no comparison ever touches key material (an attacker controls the key, not its digest, and
a hash-table probe on a SHA-256 leaks nothing usable about other keys). Plaintext keys are
never logged, stored or echoed in an error; `Principal.key_id` (a digest prefix) is the
only key-derived value that may reach logs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from ..api.snapshot import ApiKeyEntry, GatewayConfig
from ..server.errors import GatewayError

KeyEntry = ApiKeyEntry
KEY_PREFIX = "tw-"
KEY_BYTES = 32
MAX_KEY_LENGTH = 512  # longer bearer tokens are refused before hashing
KEY_ID_HEX = 12

_sha256 = hashlib.sha256


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. `key_id` is a digest prefix: safe for logs, never the key."""

    tenant: str
    tier: str
    key_id: str


ANONYMOUS = Principal(tenant="anonymous", tier="default", key_id="")
"""The caller of a gateway without an `auth` section (open, as the local demo)."""


def new_key() -> str:
    """A fresh key: the `tw-` prefix and 32 bytes from the OS CSPRNG, base64url without padding."""
    return KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()


def key_digest(key: str | bytes) -> str:
    """Hex SHA-256 of a key, as `auth.keys[].sha256` holds it."""
    return _sha256(key.encode() if isinstance(key, str) else key).hexdigest()


def entry_for(key: str, tenant: str, tier: str = "default", disabled: bool = False) -> KeyEntry:
    return KeyEntry(sha256=key_digest(key), tenant=tenant, tier=tier, disabled=disabled)


def _missing_key() -> GatewayError:
    return GatewayError(
        401, "You didn't provide an API key. Send it in an Authorization header: `Authorization: Bearer YOUR_KEY`.",
        code="invalid_api_key",
    )


def _unknown_key() -> GatewayError:
    return GatewayError(401, "Incorrect API key provided.", code="invalid_api_key")


def _disabled_key() -> GatewayError:
    return GatewayError(403, "This API key is disabled.", type_="permission_error", code="api_key_disabled")


class KeyStore:
    """Keys of one config snapshot (plus the watched Secret's); built once, read per request."""

    __slots__ = ("_by_digest", "size")

    def __init__(self, entries: Iterable[KeyEntry] = ()) -> None:
        by_digest: dict[bytes, Principal | None] = {}
        for entry in entries:
            digest = bytes.fromhex(entry.sha256)
            if entry.disabled or by_digest.get(digest, ...) is None:
                by_digest[digest] = None  # disabled wins over any other listing of the same key
            else:
                by_digest[digest] = Principal(entry.tenant, entry.tier, entry.sha256[:KEY_ID_HEX])
        self._by_digest = by_digest
        self.size = len(by_digest)

    @classmethod
    def from_config(cls, config: GatewayConfig, extra: Sequence[KeyEntry] = ()) -> KeyStore | None:
        """The store for a snapshot, or None when it has no `auth` section (the gateway is open)."""
        if config.auth is None:
            return None
        return cls.merged(config.auth.keys, extra)

    @classmethod
    def merged(cls, *sources: Sequence[KeyEntry]) -> KeyStore:
        """Keys from several sources (config, Secret). A key listed twice: disabled wins, else the last."""
        return cls(entry for source in sources for entry in source)

    def authenticate(self, authorization: bytes | None) -> Principal:
        """The caller of a request, from its raw `Authorization` header value.

        Raises `GatewayError`: 401 `invalid_api_key` when the header is missing, not Bearer, or
        names an unknown key; 403 `api_key_disabled` for a disabled key.
        """
        if not authorization:
            raise _missing_key()
        scheme, _, token = authorization.strip().partition(b" ")
        if scheme.lower() != b"bearer":
            raise _missing_key()
        token = token.strip()
        if not token or len(token) > MAX_KEY_LENGTH:
            raise _unknown_key()
        digest = _sha256(token).digest()
        principal = self._by_digest.get(digest, ANONYMOUS)
        if principal is ANONYMOUS:
            raise _unknown_key()
        if principal is None:
            raise _disabled_key()
        return principal

    def __len__(self) -> int:
        return self.size


class KeyFileError(ValueError):
    """A key Secret's content that cannot be used; the message never repeats a value."""


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{location}: unknown field (entries have sha256, tenant, tier, disabled)"
    if kind == "missing":
        return f"{location}: required"
    if location.endswith("sha256"):
        return f"{location}: must be the 64-hex-digit SHA-256 of the key (`tokenway keys new` prints it)"
    return f"{location}: {error['msg']}"


def parse_key_entries(data: bytes) -> list[KeyEntry]:
    """Entries from a key Secret's value: a YAML list of `{sha256, tenant, tier, disabled}`.

    A mapping `{keys: [...]}` (the gateway config's `auth` section) is accepted too. Raises
    `KeyFileError` naming the entry and field at fault, never the offending value (it might be
    a plaintext key pasted by mistake).
    """
    try:
        loaded = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise KeyFileError(f"API key entries are not valid YAML{where}") from None
    if isinstance(loaded, dict) and set(loaded) == {"keys"}:
        loaded = loaded["keys"]
    if loaded is None:
        return []
    if not isinstance(loaded, list):
        raise KeyFileError("API key entries must be a YAML list of {sha256, tenant, tier, disabled}")
    entries: list[KeyEntry] = []
    problems: list[str] = []
    for index, item in enumerate(loaded):
        if not isinstance(item, dict):
            problems.append(f"entry {index}: must be a mapping with sha256, tenant, tier, disabled")
            continue
        try:
            entries.append(KeyEntry.model_validate(item))
        except ValidationError as exc:
            problems.extend(f"entry {index}: {_describe(dict(err))}" for err in exc.errors(include_input=False))
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry.sha256 in seen:
            problems.append(f"entry {index}: the same sha256 is listed twice")
        seen.add(entry.sha256)
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise KeyFileError("invalid API key entries: " + "; ".join(shown))
    return entries
