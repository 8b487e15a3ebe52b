"""The test copies of the shipped rules and Alertmanager configuration differ from the shipped files only
where the end-to-end suite needs them to: waits (`for:`, group waits), tunable thresholds when asked, and
the webhook URLs. Everything a user's alert is made of (expressions, labels, annotations, routing,
inhibitions) is the shipped text."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.alertmanager import EXAMPLE_CONFIG, derive_alertmanager_config

from e2e.rules import SHIPPED_RULES, RulesTransformError, derive_test_rules

pytestmark = pytest.mark.e2e

PROMTOOL = "/usr/bin/promtool"
AMTOOL = "/usr/bin/amtool"
WAITS = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}


def rules_by_name(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Rules by name and severity (an alert may have a warning and a critical rule)."""
    groups = yaml.safe_load(text)["groups"]
    return {
        (rule.get("alert") or rule["record"], rule.get("labels", {}).get("severity", "")): rule
        for group in groups
        for rule in group["rules"]
    }


def without(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in keys}


def test_derived_rules_change_only_the_for_lines() -> None:
    shipped = SHIPPED_RULES.read_text()
    derived = derive_test_rules(shipped, {"AzureBackupExporterDown": "7s"}, "2s")
    changed = [(a, b) for a, b in zip(shipped.splitlines(), derived.splitlines(), strict=True) if a != b]
    assert changed and all(
        a.strip().startswith("for: ") and b.strip().startswith("for: ") for a, b in changed
    )

    shipped_rules, derived_rules = rules_by_name(shipped), rules_by_name(derived)
    assert list(derived_rules) == list(shipped_rules)
    for (name, severity), rule in derived_rules.items():
        assert without(rule, "for") == without(shipped_rules[(name, severity)], "for"), name
        if "for" in shipped_rules[(name, severity)]:
            assert rule["for"] == ("7s" if name == "AzureBackupExporterDown" else "2s"), name
        else:
            assert "for" not in rule, name
    assert len(changed) == sum("for" in rule for rule in shipped_rules.values())


def test_without_a_default_only_the_named_alerts_change() -> None:
    shipped = SHIPPED_RULES.read_text()
    derived = rules_by_name(derive_test_rules(shipped, {"AzureBackupJobFailed": "3s"}))
    for (name, severity), rule in rules_by_name(shipped).items():
        expected = "3s" if name == "AzureBackupJobFailed" else rule.get("for")
        assert derived[(name, severity)].get("for") == expected, name


def test_keep_firing_for_changes_only_when_asked() -> None:
    shipped = SHIPPED_RULES.read_text()
    derived = derive_test_rules(shipped, {}, keep_firing_for="3s")
    changed = [(a, b) for a, b in zip(shipped.splitlines(), derived.splitlines(), strict=True) if a != b]
    assert changed and all(b.strip() == "keep_firing_for: 3s" for _, b in changed)
    assert len(changed) == sum("keep_firing_for" in rule for rule in rules_by_name(shipped).values())


def test_a_tunable_changes_only_its_number() -> None:
    shipped = SHIPPED_RULES.read_text()
    derived = derive_test_rules(shipped, {}, tunables={"rpo_slack_seconds": 60})
    changed = [(a, b) for a, b in zip(shipped.splitlines(), derived.splitlines(), strict=True) if a != b]
    assert changed == [
        (line, line.replace("7200  # tunable", "60  # tunable"))
        for line in shipped.splitlines()
        if "# tunable: rpo_slack_seconds" in line
    ]
    assert len(changed) == 1


def test_unknown_alert_or_tunable_is_an_error_not_a_silent_production_value() -> None:
    shipped = SHIPPED_RULES.read_text()
    with pytest.raises(RulesTransformError, match="AzureBackupNoSuchAlert"):
        derive_test_rules(shipped, {"AzureBackupNoSuchAlert": "1s"})
    with pytest.raises(RulesTransformError, match="no_such_threshold"):
        derive_test_rules(shipped, {}, tunables={"no_such_threshold": 1})
    # An alert without `for:` (AzureBackupProtectionDisabled fires at once) cannot be given one.
    with pytest.raises(RulesTransformError, match="AzureBackupProtectionDisabled"):
        derive_test_rules(shipped, {"AzureBackupProtectionDisabled": "1s"})


def test_derived_rules_pass_promtool() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / SHIPPED_RULES.name
        shipped = SHIPPED_RULES.read_text()
        path.write_text(derive_test_rules(shipped, {}, "2s", {"rpo_slack_seconds": 60}, keep_firing_for="2s"))
        result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_derived_alertmanager_config_keeps_routing_and_inhibitions() -> None:
    example = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    derived = derive_alertmanager_config(example, lambda name: f"http://127.0.0.1:9/{name}", WAITS)
    assert derived["inhibit_rules"] == example["inhibit_rules"]
    assert without(derived["route"], "routes", *WAITS) == without(example["route"], "routes", *WAITS)
    for shipped_route, route in zip(example["route"]["routes"], derived["route"]["routes"], strict=True):
        assert without(route, *WAITS) == without(shipped_route, *WAITS)
        assert {key: route[key] for key in WAITS if key in shipped_route} == {
            key: WAITS[key] for key in WAITS if key in shipped_route
        }
    assert {key: derived["route"][key] for key in WAITS} == WAITS
    urls = {r["name"]: [w["url"] for w in r["webhook_configs"]] for r in derived["receivers"]}
    assert urls == {"pager": ["http://127.0.0.1:9/pager"], "ticket": ["http://127.0.0.1:9/ticket"]}
    assert example["receivers"][0]["webhook_configs"][0]["url"].startswith(
        "https://"
    )  # not modified in place

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "alertmanager.yml"
        path.write_text(yaml.safe_dump(derived))
        check = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        route = subprocess.run(
            [AMTOOL, "config", "routes", "test", f"--config.file={path}", "severity=critical", "vault=rsv-a"],
            capture_output=True,
            text=True,
        )
    assert route.stdout.strip() == "pager", route.stdout + route.stderr
