"""The Kubernetes client shared by the gateway and the operator (the gateway never imports kopf).

``KubeConnection`` says where the API server is and how to authenticate (in-cluster,
kubeconfig with token, certificate or exec plugin); ``KubeClient`` sends requests with
bounded retries and lists and watches objects, e.g. one named ConfigMap or Secret
with :meth:`KubeClient.watch_object`.
"""

from .client import (
    CONFIGMAPS,
    NO_RETRY,
    SECRETS,
    KubeClient,
    ObjectEvent,
    RetryPolicy,
    namespaced,
    raise_for_status,
)
from .connection import KubeConnection
from .errors import KubeCredentialsError, KubeError, WatchExpired
from .exec_plugin import Credentials, ExecConfig

__all__ = [
    "CONFIGMAPS",
    "NO_RETRY",
    "SECRETS",
    "Credentials",
    "ExecConfig",
    "KubeClient",
    "KubeConnection",
    "KubeCredentialsError",
    "KubeError",
    "ObjectEvent",
    "RetryPolicy",
    "WatchExpired",
    "namespaced",
    "raise_for_status",
]
