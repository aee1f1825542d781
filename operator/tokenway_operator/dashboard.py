"""The Grafana dashboard shipped in the chart (charts/tokenway/dashboards/tokenway.json), generated here.

Per pool: TTFT and ITL p50/p95, queue depth (engines and gateway), replicas desired and
ready, tokens/s, saturation, prefix-cache hit rate, and per gateway the spillover share.
The series are the ones the generated scrape config labels (namespace, pool, gateway) and
the operator exports. ``python -m tokenway_operator.dashboard --write`` regenerates the file;
a test keeps it in sync and runs every query against a real Prometheus.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CHART_FILE = Path(__file__).resolve().parents[2] / "charts" / "tokenway" / "dashboards" / "tokenway.json"
UID = "tokenway-pools"

P = 'namespace="$namespace", pool=~"$pool"'
W = "$__rate_interval"


def _quantiles(metric: str) -> list[tuple[str, str]]:
    return [(f"histogram_quantile({q}, sum by (pool, le) (rate({metric}_bucket{{{P}}}[{W}])))", f"{{{{pool}}}} p{n}")
            for q, n in ((0.5, 50), (0.95, 95))]


PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("TTFT p50 / p95 (gateway)", "s", _quantiles("tokenway_ttft_seconds")),
    ("ITL p50 / p95 (gateway)", "s", _quantiles("tokenway_itl_seconds")),
    ("Queue depth", "short", [
        (f"sum by (pool) (vllm:num_requests_waiting{{{P}}})", "{{pool}} engines"),
        (f"sum by (pool) (tokenway_queue_depth{{{P}}})", "{{pool}} gateway"),
    ]),
    ("Replicas desired / ready", "short", [
        (f'tokenway_operator_pool_replicas{{{P}, state="desired"}}', "{{pool}} desired"),
        (f'tokenway_operator_pool_replicas{{{P}, state="ready"}}', "{{pool}} ready"),
    ]),
    ("Tokens / s", "short", [
        (f"sum by (pool) (rate(tokenway_completion_tokens_total{{{P}}}[{W}]))", "{{pool}} completion"),
        (f"sum by (pool) (rate(tokenway_prompt_tokens_total{{{P}}}[{W}]))", "{{pool}} prompt"),
    ]),
    ("Saturation (KV-cache use)", "percentunit", [
        (f"avg by (pool) (vllm:kv_cache_usage_perc{{{P}}})", "{{pool}} KV cache"),
    ]),
    ("Prefix-cache hit rate", "percentunit", [
        (f"sum by (pool) (rate(vllm:prefix_cache_hits_total{{{P}}}[{W}])) / "
         f"sum by (pool) (rate(vllm:prefix_cache_queries_total{{{P}}}[{W}]))", "{{pool}}"),
    ]),
    ("Spillover share (per gateway)", "percentunit", [
        ('sum by (gateway) (rate(tokenway_region_requests_total{namespace="$namespace", spilled="true"}'
         f"[{W}])) / sum by (gateway) (rate(tokenway_region_requests_total{{namespace=\"$namespace\"}}[{W}]))",
         "{{gateway}}"),
    ]),
    ("Requests / s by serving region", "reqps", [
        (f'sum by (region) (rate(tokenway_region_requests_total{{namespace="$namespace"}}[{W}]))', "{{region}}"),
    ]),
]


def _panel(index: int, title: str, unit: str, targets: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": index + 1, "type": "timeseries", "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
                     "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                    for i, (expr, legend) in enumerate(targets)],
    }


def _variable(name: str, query: str, multi: bool) -> dict[str, Any]:
    return {"name": name, "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": query, "refId": name}, "definition": query, "refresh": 2, "includeAll": multi,
            "multi": multi, "sort": 1, **({"allValue": ".*"} if multi else {})}


def dashboard() -> dict[str, Any]:
    return {
        "uid": UID, "title": "Tokenway: inference pools", "tags": ["tokenway"], "timezone": "browser",
        "schemaVersion": 39, "version": 1, "editable": True, "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            _variable("namespace", "label_values(vllm:num_requests_running, namespace)", multi=False),
            _variable("pool", 'label_values(vllm:num_requests_running{namespace="$namespace"}, pool)', multi=True),
        ]},
        "panels": [_panel(i, title, unit, targets) for i, (title, unit, targets) in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def queries() -> list[str]:
    return [expr for _, _, targets in PANELS for expr, _ in targets]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {CHART_FILE}")
    args = parser.parse_args(argv)
    if args.write:
        CHART_FILE.parent.mkdir(parents=True, exist_ok=True)
        CHART_FILE.write_text(render())
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
