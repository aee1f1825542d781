"""Errors of the Kubernetes client."""

from __future__ import annotations


class KubeCredentialsError(RuntimeError):
    """Neither in-cluster credentials nor a usable kubeconfig (or its exec plugin failed)."""


class KubeError(Exception):
    """The API server answered a request with an error status."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message


class WatchExpired(Exception):
    """The resourceVersion a watch resumes from is gone (HTTP 410): list again."""
