"""Pytest fixture for a real Kubernetes control plane (see e2e/kube_cluster.py).

Import the fixture where it is needed, e.g. in e2e/conftest.py::

    from e2e.conftest_controlplane import control_plane  # noqa: F401

Every import shares one etcd + kube-apiserver per test session (see
``shared_control_plane``), so importing it both in conftest.py and in a test
module does not start a second one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.kube_cluster import ControlPlane, shared_control_plane


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A started ControlPlane, shared by the whole test session."""
    with shared_control_plane() as cp:
        yield cp
