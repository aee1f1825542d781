from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for sub in ("dataplane", "operator", "tests"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

from procs import ProcessFactory, processes  # noqa: E402


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcessFactory]:
    yield from processes(tmp_path)


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessFactory]:
    yield from processes(tmp_path_factory.mktemp("procs"))
