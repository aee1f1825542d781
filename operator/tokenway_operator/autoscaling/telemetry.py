"""The autoscaler's own Prometheus metrics (the operator's registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter("tokenway_operator_autoscaler_decisions_total",
                    "Autoscaler decisions by result (up, down, hold, unavailable, error).", ["result"])
SCALE_EVENTS = Counter("tokenway_operator_autoscaler_scale_events_total", "Replica changes applied.", ["direction"])
TICK_SECONDS = Histogram("tokenway_operator_autoscaler_tick_seconds", "Time of one pool's autoscaler tick.",
                         buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10))
POOL_REPLICAS = Gauge("tokenway_operator_pool_replicas",
                      "Replicas of each autoscaled pool: desired (the autoscaler's decision) and ready.",
                      ["namespace", "pool", "state"])
REGION_HEALTH = Gauge("tokenway_operator_region_health",
                      "Ready share of each region's replicas, as seen from a gateway (1 = all ready).",
                      ["namespace", "gateway", "region"])
SPILLOVER_SHARE = Gauge("tokenway_operator_spillover_share",
                        "Share of a gateway's region-routed requests served outside their preferred level.",
                        ["namespace", "gateway"])
