"""deploy/kubernetes as kubectl builds it, and the offline validators the tests/deploy tests share."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZATIONS = {
    "base": REPO / "deploy/kubernetes/base",
    "example": REPO / "deploy/kubernetes/overlays/example",
    "sharded": REPO / "deploy/kubernetes/overlays/sharded",
}
WORKLOAD_KIND = {"base": "Deployment", "example": "Deployment", "sharded": "StatefulSet"}
CR_SCHEMAS = json.loads((REPO / "deploy/schemas/prometheus-operator.json").read_text())
CORE_KINDS = {"ServiceAccount", "ConfigMap", "Service", "Deployment", "StatefulSet"}


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing (preinstalled here; see scripts/ensure-image-tools.sh)"
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in objects}


def validate_core(
    objects: list[dict[str, Any]], tmp_path: Path, kubernetes_version: str | None = None
) -> subprocess.CompletedProcess[str]:
    """kubernetes-validate --strict on the core kinds, against its latest schemas or those of a version."""
    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump_all([obj for obj in objects if obj["kind"] in CORE_KINDS]))
    command = [str(Path(sys.executable).with_name("kubernetes-validate")), "--strict", "--quiet", str(path)]
    if kubernetes_version:
        command[1:1] = ["--kubernetes-version", kubernetes_version]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def validate_custom(obj: dict[str, Any]) -> None:
    schema = {**CR_SCHEMAS[obj["kind"]], "definitions": CR_SCHEMAS["definitions"]}
    jsonschema.validate(obj, schema)
