"""The README's Kubernetes quick start as data: its commands, read from the README itself.

Used by e2e/test_quickstart.py (runs them against the real API server) and
tests/test_readme.py (checks the files they name exist).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_NAMESPACE = "tokenway-demo"


def readme_commands(readme: Path = ROOT / "README.md") -> list[list[str]]:
    """The commands of the README's "On Kubernetes" block (continuation lines joined, comments dropped)."""
    text = readme.read_text()
    if "### On Kubernetes" not in text:
        raise AssertionError("the README lost its Kubernetes quick start")
    section = text.split("### On Kubernetes", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    if block is None:
        raise AssertionError("the README's Kubernetes section has no bash block")
    joined = block.group(1).replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def flag_values(words: list[str], *names: str) -> list[str]:
    """Every value given to one of ``names`` (``-f a -f b`` -> ``[a, b]``)."""
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in names]


def applied_files(commands: list[list[str]]) -> list[str]:
    return [file for words in commands if "apply" in words for file in flag_values(words, "-f", "--filename")]
