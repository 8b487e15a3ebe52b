#!/usr/bin/env bash
# Installs the Prometheus tools the tests run for real (promtool, prometheus, amtool,
# prometheus-alertmanager) from Debian's packages when one is missing, and setpriv (util-linux),
# with which the tests make their servers die with them. Never skips: if they
# cannot be had, it says so and fails, so that no test is silently skipped.
set -euo pipefail
need=(promtool prometheus amtool prometheus-alertmanager setpriv)
missing=()
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ensure-tools: missing ${missing[*]}; installing Debian packages prometheus prometheus-alertmanager util-linux" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: apt-get not found; install Prometheus and Alertmanager (promtool, amtool) and retry" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager util-linux >/dev/null
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ensure-tools: $tool still missing after install" >&2; exit 1; }
done
