"""Prometheus alert rules and the Grafana dashboard use only series a real /metrics page has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from deploy_support import DEPLOY, metrics_page, series_names

# A metric name in PromQL: our prefix, then the name (labels, functions and ranges around it).
_METRIC = re.compile(r"\bsuanwang_[a-z0-9_]+\b")
# Series Prometheus itself makes about a scrape target.
_PROMETHEUS_OWN = {"up"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return series_names(metrics_page(tmp_path_factory.mktemp("metrics")))


def _alert_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [(r["alert"], r["expr"]) for group in rules["groups"] for r in group["rules"]]


def _dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "suanwang.json").read_text())
    out = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        out.append((variable["name"], variable["definition"]))
    return out


def test_the_page_has_the_per_site_and_sla_series(exported: set[str]) -> None:
    assert {
        "suanwang_site_reserved_ratio",
        "suanwang_site_nodes",
        "suanwang_tasks_finished_total",
        "suanwang_task_seconds_bucket",
    } <= exported


@pytest.mark.parametrize("source", [_alert_expressions, _dashboard_expressions])
def test_every_metric_used_is_exported(source: object, exported: set[str]) -> None:
    expressions = source()  # type: ignore[operator]
    assert expressions
    for where, expr in expressions:
        names = set(_METRIC.findall(expr))
        assert names or set(re.findall(r"\b\w+\b", expr)) & _PROMETHEUS_OWN, where
        assert names <= exported, f"{where}: {sorted(names - exported)} not on /metrics"


def test_alerts_have_a_severity_and_a_summary() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


def test_prometheus_loads_the_alert_rules_and_scrapes_the_server() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["credentials_file"] == "/secrets/prometheus.token"
    assert job["static_configs"][0]["targets"] == ["server:8080"]


def test_grafana_provisions_the_dashboard_from_prometheus(tmp_path: Path) -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "suanwang.json").read_text())
    uids = {p["datasource"]["uid"] for p in dashboard["panels"]}
    assert uids == {source["uid"]}
    providers = yaml.safe_load((provisioning / "dashboards" / "suanwang.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
