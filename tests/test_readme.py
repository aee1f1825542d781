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
