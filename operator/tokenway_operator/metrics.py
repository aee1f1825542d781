"""The operator's own Prometheus metrics (the default registry also carries process RSS/CPU)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

RECONCILES = Counter("tokenway_operator_reconciles_total", "Reconciles by kind and result.", ["kind", "result"])
RECONCILE_SECONDS = Histogram(
    "tokenway_operator_reconcile_duration_seconds", "Time to reconcile one object.", ["kind"], buckets=_BUCKETS,
)
ERRORS = Counter("tokenway_operator_errors_total", "Reconcile errors by kind and reason.", ["kind", "reason"])
APPLIES = Counter("tokenway_operator_applies_total", "Server-side applies by kind and result.", ["kind", "result"])
DRIFT_CORRECTIONS = Counter(
    "tokenway_operator_drift_corrections_total", "Children re-applied after a foreign change.", ["kind", "cause"],
)
COMPILES = Counter("tokenway_operator_config_compiles_total", "Gateway config compilations.")
COMPILE_SECONDS = Histogram(
    "tokenway_operator_config_compile_duration_seconds", "Time to compile and write one namespace's config.",
    buckets=_BUCKETS,
)
CONFIG_WRITES = Counter("tokenway_operator_config_writes_total", "Gateway ConfigMaps written (new versions).")
MANAGED = Gauge("tokenway_operator_managed_objects", "Tokenway objects seen, by kind.", ["kind"])
