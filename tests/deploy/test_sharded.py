"""deploy/kubernetes/overlays/sharded: N pods of a StatefulSet, pod i collecting shard i of N.

No cluster runs here, so each pod is built as the StatefulSet controller and the kubelet would build it from
the manifest kubectl renders: the controller names pod i `<name>-i` and labels it
`apps.kubernetes.io/pod-index: "i"` (KEP-4017, Kubernetes 1.28+); the kubelet resolves the container's
environment (values, and the downward API's `metadata.labels['...']`, empty for a label the pod lacks) and
expands `$(VAR)` in its args. The exporter's own command line and configuration loader then read the
result, as the container would at start.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from azure_backup_exporter.cli import serve
from azure_backup_exporter.config import OPTIONS, Config, ConfigError, load_config
from manifests import KUSTOMIZATIONS, REPO, by_kind, kustomize, validate_core

POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
SHIPPED_SHARDS = 3
OLDEST_KUBERNETES = "1.28.0"  # the first with the pod-index label on by default (beta); GA in 1.32


def statefulset_pod(statefulset: dict[str, Any], ordinal: int, *, index_label: bool = True) -> dict[str, Any]:
    """Pod `ordinal` of the StatefulSet as its controller creates it (the labels that matter here)."""
    name = f"{statefulset['metadata']['name']}-{ordinal}"
    labels = {
        **statefulset["spec"]["template"]["metadata"]["labels"],
        "statefulset.kubernetes.io/pod-name": name,
    }
    if index_label:
        labels[POD_INDEX_LABEL] = str(ordinal)
    return {"metadata": {"name": name, "labels": labels}, "spec": statefulset["spec"]["template"]["spec"]}


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of `$(VAR)` in args and env values: a defined variable's value, `$$` for `$`,
    and a reference to an undefined variable left as written."""
    return re.sub(
        r"\$\$|\$\(([^)]*)\)",
        lambda match: "$" if match[0] == "$$" else env.get(match[1], match[0]),
        text,
    )


def field_of(pod: dict[str, Any], path: str) -> str:
    """A downward API `fieldRef` as an environment variable's value."""
    if path == "metadata.name":
        return pod["metadata"]["name"]
    label = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
    assert label, f"fieldRef not emulated here: {path}"
    return pod["metadata"]["labels"].get(label[1], "")


def container_start(pod: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The exporter container's arguments and environment once the kubelet has resolved them."""
    (container,) = pod["spec"]["containers"]
    env: dict[str, str] = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = expand(variable["value"], env)
        else:
            env[variable["name"]] = field_of(pod, variable["valueFrom"]["fieldRef"]["fieldPath"])
    return [expand(arg, env) for arg in container["args"]], env


def exporter_config(args: list[str], env: dict[str, str]) -> Config:
    """What `azure-backup-exporter <args>` (the image's entrypoint) loads, `env` being all its environment."""
    command, *rest = args
    assert command == "serve"
    with serve.make_context("serve", rest) as context:
        flags = {param.opts[0].removeprefix("--"): context.params[param.name] for param in serve.params}
    return load_config({name: value for name, value in flags.items() if name in OPTIONS}, env)


def shards_of(statefulset: dict[str, Any]) -> list[tuple[int, int]]:
    """(`--shard.index`, `--shard.count`) of each pod of the StatefulSet, by ordinal."""
    shards = []
    for ordinal in range(statefulset["spec"]["replicas"]):
        config = exporter_config(*container_start(statefulset_pod(statefulset, ordinal)))
        shards.append((config.shard_index, config.shard_count))
    return shards


def test_sharded_overlay_is_a_statefulset_of_one_pod_per_shard_behind_a_headless_service(
    tmp_path: Path,
) -> None:
    objects = kustomize(KUSTOMIZATIONS["sharded"])
    kinds = by_kind(objects)
    assert "Deployment" not in kinds
    statefulset, service = kinds["StatefulSet"], kinds["Service"]
    spec = statefulset["spec"]
    assert spec["replicas"] == SHIPPED_SHARDS
    assert spec["podManagementPolicy"] == "Parallel"  # shards start and stop without waiting for each other
    assert "ordinals" not in spec  # ordinals, hence shard indexes, start at 0
    assert spec["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    checked = validate_core(objects, tmp_path, kubernetes_version=OLDEST_KUBERNETES)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_pod_collects_the_shard_of_its_ordinal_out_of_as_many_as_there_are_pods() -> None:
    statefulset = by_kind(kustomize(KUSTOMIZATIONS["sharded"]))["StatefulSet"]
    assert shards_of(statefulset) == [(index, SHIPPED_SHARDS) for index in range(SHIPPED_SHARDS)]


def test_the_pod_is_the_base_pod_with_only_its_shard_added() -> None:
    single = by_kind(kustomize(KUSTOMIZATIONS["example"]))["Deployment"]["spec"]["template"]
    sharded = by_kind(kustomize(KUSTOMIZATIONS["sharded"]))["StatefulSet"]["spec"]["template"]
    (container,) = sharded["spec"]["containers"]
    added_args = [arg for arg in container["args"] if arg.startswith("--shard.")]
    added_env = [
        var for var in container["env"] if var["name"] in ("POD_INDEX", "AZURE_BACKUP_EXPORTER_SHARD_COUNT")
    ]
    assert added_args == ["--shard.index=$(POD_INDEX)"] and len(added_env) == 2
    container["args"] = [arg for arg in container["args"] if arg not in added_args]
    container["env"] = [var for var in container["env"] if var not in added_env]
    assert sharded == single  # security context, probes, resources, identity: the one pod of the component


def test_a_pod_without_the_pod_index_label_refuses_to_start_rather_than_collect_shard_0() -> None:
    statefulset = by_kind(kustomize(KUSTOMIZATIONS["sharded"]))["StatefulSet"]
    args, env = container_start(statefulset_pod(statefulset, 2, index_label=False))  # before Kubernetes 1.28
    assert env["POD_INDEX"] == ""
    with pytest.raises(ConfigError, match=r"^--shard\.index: expected a whole number"):
        exporter_config(args, env)
    # why a flag: the same empty value in the variable counts as unset, and the pod would quietly be shard 0
    as_variable = {**env, "AZURE_BACKUP_EXPORTER_SHARD_INDEX": env["POD_INDEX"]}
    assert (
        exporter_config([arg for arg in args if not arg.startswith("--shard.")], as_variable).shard_index == 0
    )


@pytest.mark.parametrize("shards", [1, 5])
def test_changing_the_count_in_the_overlay_changes_the_pods_and_their_shard_count_together(
    shards: int, tmp_path: Path
) -> None:
    tree = tmp_path / "kubernetes"
    shutil.copytree(REPO / "deploy/kubernetes", tree)
    kustomization = tree / "overlays/sharded/kustomization.yaml"
    text = kustomization.read_text()
    assert text.count(f"count: {SHIPPED_SHARDS}") == 1  # the one place the number is written
    kustomization.write_text(text.replace(f"count: {SHIPPED_SHARDS}", f"count: {shards}"))
    statefulset = by_kind(kustomize(tree / "overlays/sharded"))["StatefulSet"]
    assert statefulset["spec"]["replicas"] == shards
    assert shards_of(statefulset) == [(index, shards) for index in range(shards)]
