"""The README's config example is a valid snapshot (docs that drift are worse than none)."""

from __future__ import annotations

import re

from procs import ROOT
from tokenway_gateway.config.store import parse_config


def test_readme_gateway_config_example_validates() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert blocks, "the README lost its config example"
    config = parse_config(blocks[0])
    assert [pool.name for pool in config.pools] == ["llama"]
    assert config.routes[0].rules[0].backends[0].pool == "llama"


def test_readme_quick_start_applies_a_complete_set() -> None:
    """Every file exists, and everything the applied objects reference is applied too (e2e/test_quickstart.py
    then runs the commands against a real API server)."""
    import yaml

    from e2e.quickstart import applied_files, readme_commands

    files = applied_files(readme_commands())
    assert files, "the quick start applies nothing"
    docs = [d for f in files for d in yaml.safe_load_all((ROOT / f).read_text()) if d]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    pools = {n for k, n in names if k == "InferencePool"}
    for doc in docs:
        spec = doc.get("spec") or {}
        if doc["kind"] == "RoutePolicy":
            for rule in spec["rules"]:
                targets = [b["pool"] for b in rule["backends"]] + rule.get("fallbacks", [])
                assert set(targets) <= pools, (rule["name"], sorted(set(targets) - pools))
        refs = [spec.get("apiKeySecretRef"), *[e.get("apiKeySecretRef") for e in spec.get("endpoints", [])]]
        for ref in filter(None, refs):
            assert ("Secret", ref["name"]) in names, f"{doc['metadata']['name']} needs Secret {ref['name']}"
