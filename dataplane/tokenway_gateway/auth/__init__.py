"""API keys and tenants: who is calling, by the SHA-256 of their key.

Public API (the `authenticate` stage and the key Secret watch use these):

- `KeyStore.from_config(config) -> KeyStore | None`  (None: no `auth` section, the gateway is open)
- `KeyStore(entries)` / `KeyStore.merged(config_entries, secret_entries)`
- `KeyStore.authenticate(authorization: bytes | None) -> Principal`  (raises `GatewayError` 401/403)
- `parse_key_entries(data: bytes) -> list[KeyEntry]`  (a Secret's content; raises `KeyFileError`)
- `new_key() -> str`, `key_digest(key) -> str`, `entry_for(key, tenant, tier) -> KeyEntry`
"""

from .keys import (
    ANONYMOUS,
    KEY_PREFIX,
    KeyEntry,
    KeyFileError,
    KeyStore,
    Principal,
    entry_for,
    key_digest,
    new_key,
    parse_key_entries,
)

__all__ = [
    "ANONYMOUS",
    "KEY_PREFIX",
    "KeyEntry",
    "KeyFileError",
    "KeyStore",
    "Principal",
    "entry_for",
    "key_digest",
    "new_key",
    "parse_key_entries",
]
