from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import ProcessFactory, processes


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcessFactory]:
    yield from processes(tmp_path)


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessFactory]:
    yield from processes(tmp_path_factory.mktemp("procs"))
