"""API keys and tenants: KeyStore, the key Secret's parser, `tokenway keys`."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys

import orjson
import pytest
import yaml
from procs import _env
from tokenway_gateway.api.snapshot import GatewayConfig
from tokenway_gateway.auth import (
    KEY_PREFIX,
    KeyFileError,
    KeyStore,
    Principal,
    entry_for,
    key_digest,
    new_key,
    parse_key_entries,
)
from tokenway_gateway.server.errors import GatewayError

KEY_A = new_key()
KEY_B = new_key()
KEY_OFF = new_key()


def store() -> KeyStore:
    return KeyStore([
        entry_for(KEY_A, "team-a", "premium"),
        entry_for(KEY_B, "team-a", "premium"),
        entry_for(KEY_OFF, "team-b", "free", disabled=True),
    ])


def error_of(keys: KeyStore, header: bytes | None) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        keys.authenticate(header)
    return info.value


def test_new_keys_are_random_prefixed_and_carry_32_bytes() -> None:
    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith(KEY_PREFIX)
        raw = base64.urlsafe_b64decode(key[len(KEY_PREFIX):] + "=")
        assert len(raw) == 32


def test_known_keys_authenticate_to_their_tenant_and_share_it() -> None:
    keys = store()
    a = keys.authenticate(b"Bearer " + KEY_A.encode())
    b = keys.authenticate(b"bearer  " + KEY_B.encode() + b" ")
    assert (a.tenant, a.tier) == ("team-a", "premium")
    assert (b.tenant, b.tier) == ("team-a", "premium")
    assert a.key_id != b.key_id
    assert a.key_id == hashlib.sha256(KEY_A.encode()).hexdigest()[:12]
    assert KEY_A not in repr(a)


@pytest.mark.parametrize("header", [None, b"", b"Basic dXNlcjpwYXNz", b"Bearer", b"Bearer   ", b"tw-abc"])
def test_missing_or_malformed_header_is_401_invalid_api_key(header: bytes | None) -> None:
    error = error_of(store(), header)
    assert error.status == 401
    assert error.code == "invalid_api_key"


def test_unknown_key_is_401_and_the_error_never_echoes_it() -> None:
    stranger = new_key()
    for header in (b"Bearer " + stranger.encode(), b"Bearer " + KEY_A.encode() + b"x", b"Bearer " + b"x" * 4096):
        error = error_of(store(), header)
        assert error.status == 401
        assert error.code == "invalid_api_key"
        body = orjson.loads(error.body())["error"]
        assert set(body) == {"message", "type", "param", "code"}
        assert stranger not in error.body().decode()


def test_disabled_key_is_403() -> None:
    error = error_of(store(), b"Bearer " + KEY_OFF.encode())
    assert error.status == 403
    assert error.code == "api_key_disabled"


def test_a_key_disabled_in_any_source_stays_disabled() -> None:
    enabled = [entry_for(KEY_A, "team-a", "premium")]
    disabled = [entry_for(KEY_A, "team-a", "premium", disabled=True)]
    for merged in (KeyStore.merged(enabled, disabled), KeyStore.merged(disabled, enabled)):
        assert error_of(merged, b"Bearer " + KEY_A.encode()).status == 403
    later = KeyStore.merged(enabled, [entry_for(KEY_A, "team-z", "free")])
    assert later.authenticate(b"Bearer " + KEY_A.encode()) == Principal("team-z", "free", key_digest(KEY_A)[:12])


def test_config_without_auth_is_open_and_with_auth_needs_keys() -> None:
    assert KeyStore.from_config(GatewayConfig()) is None
    config = GatewayConfig.model_validate({"auth": {"keys": [
        {"sha256": key_digest(KEY_A).upper(), "tenant": "team-a", "tier": "premium"}]}})
    keys = KeyStore.from_config(config, extra=[entry_for(KEY_B, "team-b")])
    assert keys is not None and len(keys) == 2
    assert keys.authenticate(b"Bearer " + KEY_A.encode()).tenant == "team-a"
    assert keys.authenticate(b"Bearer " + KEY_B.encode()).tier == "default"
    empty = KeyStore.from_config(GatewayConfig.model_validate({"auth": {}}))
    assert empty is not None
    assert error_of(empty, b"Bearer " + KEY_A.encode()).status == 401


def test_config_rejects_a_digest_listed_twice_and_a_bad_digest() -> None:
    entry = {"sha256": key_digest(KEY_A), "tenant": "t"}
    with pytest.raises(ValueError, match="once"):
        GatewayConfig.model_validate({"auth": {"keys": [entry, entry]}})
    with pytest.raises(ValueError):
        GatewayConfig.model_validate({"auth": {"keys": [{"sha256": "abc", "tenant": "t"}]}})


def test_parse_key_entries_reads_a_secret_list_or_an_auth_mapping() -> None:
    items = [entry_for(KEY_A, "team-a", "premium").dump(), {"sha256": key_digest(KEY_B), "tenant": "team-b"}]
    entries = parse_key_entries(yaml.safe_dump(items).encode())
    assert [(e.tenant, e.tier, e.disabled) for e in entries] == [("team-a", "premium", False),
                                                                 ("team-b", "default", False)]
    assert parse_key_entries(yaml.safe_dump({"keys": items}).encode()) == entries
    assert parse_key_entries(b"") == []
    assert parse_key_entries(b"[]") == []


@pytest.mark.parametrize(("data", "expected"), [
    (b"- sha256: [unclosed\n", "not valid YAML at line"),
    (b"sha256: abc\ntenant: x\n", "must be a YAML list"),
    (b"- just-a-string\n", "entry 0: must be a mapping"),
    (b"- {tenant: a}\n", "entry 0: sha256: required"),
    (b"- {sha256: " + KEY_A.encode() + b", tenant: a}\n", "entry 0: sha256: must be the 64-hex-digit SHA-256"),
    (b"- {key: " + KEY_A.encode() + b", sha256: " + key_digest(KEY_A).encode() + b", tenant: a}\n",
     "entry 0: key: unknown field"),
    (b"- {sha256: " + key_digest(KEY_A).encode() + b", tenant: a}\n- {sha256: " + key_digest(KEY_A).encode()
     + b", tenant: b}\n", "entry 1: the same sha256 is listed twice"),
])
def test_parse_key_entries_errors_name_the_entry_and_never_the_value(data: bytes, expected: str) -> None:
    with pytest.raises(KeyFileError) as info:
        parse_key_entries(data)
    assert expected in str(info.value)
    assert KEY_A not in str(info.value)


def _tokenway(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", *args], input=stdin, capture_output=True,
                          text=True, env=_env(), timeout=60)


def test_keys_new_prints_a_fresh_key_once_and_an_entry_that_authenticates_it() -> None:
    outputs = [_tokenway("keys", "new", "--tenant", "team-a", "--tier", "premium") for _ in range(2)]
    keys = []
    for result in outputs:
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        key_lines = [line for line in lines if line.startswith(KEY_PREFIX)]
        assert len(key_lines) == 1
        key = key_lines[0]
        assert result.stdout.count(key) == 1
        keys.append(key)
        entries = parse_key_entries(result.stdout.split(key, 1)[1].encode())  # what follows the key is YAML
        assert len(entries) == 1
        assert (entries[0].tenant, entries[0].tier, entries[0].disabled) == ("team-a", "premium", False)
        assert KeyStore(entries).authenticate(f"Bearer {key}".encode()).tenant == "team-a"
    assert keys[0] != keys[1]


def test_keys_hash_prints_the_entry_of_an_existing_key_without_the_key() -> None:
    result = _tokenway("keys", "hash", "--tenant", "team-c", "--disabled", stdin=KEY_A + "\n")
    assert result.returncode == 0, result.stderr
    assert KEY_A not in result.stdout
    (entry,) = parse_key_entries(result.stdout.encode())
    assert (entry.sha256, entry.tenant, entry.tier, entry.disabled) == (key_digest(KEY_A), "team-c", "default", True)


def test_keys_cli_rejects_bad_input_with_exit_2() -> None:
    assert _tokenway("keys", "hash", "--tenant", "x", stdin="").returncode == 2
    bad = _tokenway("keys", "new", "--tenant", "")
    assert bad.returncode == 2
    assert "--tenant" in bad.stderr
