"""deploy/kubernetes as an operator applies it: `kubectl kustomize` builds the base and both overlays,
every object validates offline (core kinds against Kubernetes' schemas with kubernetes-validate --strict,
ServiceMonitor and PrometheusRule against the prometheus-operator fields in deploy/schemas, the rules with
promtool), the generated rules and dashboards are current, and the pieces agree with the exporter: the
probes, port and metrics path it serves, the job name the shipped alerts expect, a locked-down pod, and
targets that differ only in `instance`, which the alerts aggregate away.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from azure_backup_exporter.config import DEFAULT_PORT, OPTIONS, RESERVED_PATHS
from manifests import (
    CORE_KINDS,
    KUSTOMIZATIONS,
    REPO,
    WORKLOAD_KIND,
    by_kind,
    kustomize,
    validate_core,
    validate_custom,
)

from mixin.vocabulary import Vocabulary


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_kustomize_builds_and_every_object_validates(name: str, tmp_path: Path) -> None:
    objects = kustomize(KUSTOMIZATIONS[name])
    shared = {"ServiceAccount", "ConfigMap", "Service", "ServiceMonitor", "PrometheusRule"}
    assert sorted(obj["kind"] for obj in objects) == sorted(shared | {WORKLOAD_KIND[name]})
    checked = validate_core(objects, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for obj in objects:
        if obj["kind"] not in CORE_KINDS:
            validate_custom(obj)


def test_a_misspelled_field_fails_validation(tmp_path: Path) -> None:
    objects = kustomize(KUSTOMIZATIONS["base"])
    deployment = by_kind(objects)["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesytem"] = True
    assert validate_core(objects, tmp_path).returncode != 0
    monitor = by_kind(objects)["ServiceMonitor"]
    monitor["spec"]["endpoints"][0]["intervall"] = "60s"
    with pytest.raises(jsonschema.ValidationError, match="intervall"):
        validate_custom(monitor)


def test_generated_rules_and_dashboards_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "deploy/build.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_prometheus_rule_is_the_shipped_rules_and_promtool_accepts_it(tmp_path: Path) -> None:
    spec = by_kind(kustomize(KUSTOMIZATIONS["base"]))["PrometheusRule"]["spec"]
    assert spec == yaml.safe_load((REPO / "alerts/azure-backup.rules.yaml").read_text())
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(spec))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make tools installs it"
    checked = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboards_configmap_holds_every_dashboard_for_the_grafana_sidecar() -> None:
    configmap = by_kind(kustomize(KUSTOMIZATIONS["base"]))["ConfigMap"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = {path.name: json.loads(path.read_text()) for path in (REPO / "dashboards").glob("*.json")}
    assert {name: json.loads(text) for name, text in configmap["data"].items()} == shipped


def test_pod_is_locked_down_probed_and_sized() -> None:
    pod = by_kind(kustomize(KUSTOMIZATIONS["base"]))["Deployment"]["spec"]["template"]
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["ports"][0]["containerPort"] == DEFAULT_PORT
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert {"/-/healthy", "/-/ready"} <= set(RESERVED_PATHS)  # paths the exporter serves
    resources = container["resources"]
    assert resources["requests"]["memory"] and resources["requests"]["cpu"] and resources["limits"]["memory"]
    assert 0 < spec["terminationGracePeriodSeconds"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert spec["serviceAccountName"] == "azure-backup-exporter"


@pytest.mark.parametrize("name", ["example", "sharded"])
def test_service_monitor_scrapes_the_service_as_the_job_the_alerts_expect(name: str) -> None:
    objects = by_kind(kustomize(KUSTOMIZATIONS[name]))
    monitor, service, workload = objects["ServiceMonitor"], objects["Service"], objects[WORKLOAD_KIND[name]]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == OPTIONS["web.telemetry-path"].default
    job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    assert job == Vocabulary().job_name
    assert objects["ServiceAccount"]["metadata"]["annotations"]["azure.workload.identity/client-id"]
    assert all(obj["metadata"]["namespace"] == "monitoring" for obj in objects.values())


def operator_target_labels(pod: str, address: str) -> dict[str, str]:
    """A ServiceMonitor target's labels as prometheus-operator sets them before the endpoint's own
    `relabelings`, which it appends last (pkg/prometheus/promcfg.go, generateServiceMonitorConfig)."""
    return {
        "__address__": address,
        "__meta_kubernetes_pod_name": pod,
        "namespace": "monitoring",
        "service": "azure-backup-exporter",
        "pod": pod,
        "container": "exporter",
        "job": "azure-backup-exporter",
        "endpoint": "http-metrics",
    }


def relabel(labels: dict[str, str], configs: list[dict[str, Any]]) -> dict[str, str]:
    """Prometheus's target relabelling for the forms the ServiceMonitor uses, then its defaults: `instance`
    from the address when unset, and every `__` label dropped."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace").lower()
        if action == "replace" and set(config) == {"sourceLabels", "targetLabel"}:
            labels[config["targetLabel"]] = ";".join(labels.get(name, "") for name in config["sourceLabels"])
        elif action == "labeldrop":
            labels = {
                name: value for name, value in labels.items() if not re.fullmatch(config["regex"], name)
            }
        else:
            raise AssertionError(f"relabelling not emulated here: {config}")
    labels.setdefault("instance", labels["__address__"])
    return {name: value for name, value in labels.items() if not name.startswith("__")}


def test_service_monitor_leaves_instance_the_only_label_that_differs_between_pods() -> None:
    (endpoint,) = by_kind(kustomize(KUSTOMIZATIONS["base"]))["ServiceMonitor"]["spec"]["endpoints"]
    pods = {"azure-backup-exporter-0": "10.0.0.5:10091", "azure-backup-exporter-1": "10.0.1.7:10091"}
    targets = [
        relabel(operator_target_labels(pod, address), endpoint["relabelings"])
        for pod, address in pods.items()
    ]
    assert [target["instance"] for target in targets] == list(pods)  # the pod's name, not its address
    first, second = ({k: v for k, v in target.items() if k != "instance"} for target in targets)
    assert first == second  # so `max without (instance)` merges them, as every shipped alert does
    assert "pod" not in first
